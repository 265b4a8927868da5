"""Fallback chains (issue 10): a drop-in whose provider fails walks its chain of raw
clients, and the caller keeps its own SDK's types. The mock fails the primary with
`x-mock-error`; the target answers."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path

import anthropic
import openai
import pytest

import costline
from costline.anthropic import Anthropic
from costline.openai import OpenAI
from costline_fixtures import read_events

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "translate"
HI = [{"role": "user", "content": "Say hello to the mock."}]


@pytest.mark.parametrize("name", ["requests.json", "responses.json", "streams.json", "unsupported.json"])
def test_translation_vectors_replay_through_the_binding(name):
    cases = json.loads((VECTORS / name).read_text())["cases"]
    for case in cases:
        args = (case["kind"], case["source"], case["target"], case["input"], case["options"])
        if "error" in case:
            with pytest.raises(costline.FallbackUnsupportedError) as caught:
                costline._native.translate(*args)
            assert (caught.value.feature, caught.value.target) == (case["error"]["feature"], case["error"]["target"])
        else:
            assert costline._native.translate(*args) == case["expected"], case["name"]


def failing_openai(mock, status="503", **chain):
    return OpenAI(
        base_url=mock.openai_base_url,
        api_key="test",
        max_retries=0,
        default_headers={"x-mock-error": status},
        costline={
            "fallback": chain.get("fallback")
            or [
                {
                    "provider": "anthropic",
                    "model": "claude-haiku-4-5",
                    "client": anthropic.Anthropic(base_url=mock.anthropic_base_url, api_key="test", max_retries=0),
                },
            ]
        },
    )


def failing_anthropic(mock, status="529"):
    return Anthropic(
        base_url=mock.anthropic_base_url,
        api_key="test",
        max_retries=0,
        default_headers={"x-mock-error": status},
        costline={
            "fallback": [
                {
                    "provider": "openai",
                    "model": "gpt-4o",
                    "client": openai.OpenAI(base_url=mock.openai_base_url, api_key="test", max_retries=0),
                },
            ]
        },
    )


def test_openai_caller_served_by_anthropic_gets_a_chat_completion(mock, ledger):
    client = failing_openai(mock)
    reply = client.chat.completions.create(model="gpt-4o", messages=HI, max_tokens=50)
    assert isinstance(reply, openai.types.chat.ChatCompletion)
    assert reply.choices[0].message.content == "Hello from the mock provider."
    assert reply.choices[0].finish_reason == "stop"
    assert reply.model.startswith("claude-haiku-4-5")
    info = reply.costline
    assert info["served_by"] == "anthropic/claude-haiku-4-5" and info["attempts"] == 2
    assert isinstance(info["cost_usd"], Decimal) and info["cost_usd"] > 0
    assert "costline" not in reply.model_dump()
    sent = mock.requests("/v1/messages")[-1]["body"]
    assert sent["model"] == "claude-haiku-4-5" and sent["max_tokens"] == 50
    assert sent["messages"] == [{"role": "user", "content": [{"type": "text", "text": HI[0]["content"]}]}]


def test_each_attempt_is_an_event_linked_by_call_id(mock, ledger):
    reply = failing_openai(mock).chat.completions.create(model="gpt-4o", messages=HI)
    events = sorted(read_events(ledger), key=lambda e: e["attempt"])
    assert [(e["provider"], e["status"], e["attempt"]) for e in events] == [
        ("openai", "error", 1),
        ("anthropic", "ok", 2),
    ]
    assert events[0]["call_id"] == events[1]["call_id"] == reply.costline["call_id"]
    assert events[0]["error_type"] == "InternalServerError" and events[0]["cost_usd"] == "0"
    assert events[1]["model"] == "claude-haiku-4-5" and Decimal(events[1]["cost_usd"]) == reply.costline["cost_usd"]


def test_anthropic_caller_served_by_openai_gets_a_message(mock, ledger):
    reply = failing_anthropic(mock).messages.create(
        model="claude-haiku-4-5", max_tokens=50, system="Be brief.", messages=HI
    )
    assert isinstance(reply, anthropic.types.Message)
    assert reply.content[0].text == "Hello from the mock provider."
    assert reply.stop_reason == "end_turn"
    assert reply.costline["served_by"] == "openai/gpt-4o"
    sent = mock.requests("/v1/chat/completions")[-1]["body"]
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    assert sent["max_completion_tokens"] == 50


def test_openai_stream_falls_back_to_anthropic_chunks(mock, ledger):
    stream = failing_openai(mock).chat.completions.create(
        model="gpt-4o", messages=HI, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert all(isinstance(c, openai.types.chat.ChatCompletionChunk) for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from the mock provider."
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    events = sorted(read_events(ledger), key=lambda e: e["attempt"])
    assert [(e["provider"], e["status"], e["stream"]) for e in events] == [
        ("openai", "error", True),
        ("anthropic", "ok", True),
    ]


def test_anthropic_stream_falls_back_to_openai_events(mock, ledger):
    events = list(
        failing_anthropic(mock).messages.create(model="claude-haiku-4-5", max_tokens=50, messages=HI, stream=True)
    )
    assert [e.type for e in events][:2] == ["message_start", "content_block_start"]
    assert [e.type for e in events][-2:] == ["message_delta", "message_stop"]
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta")
    assert text == "Hello from the mock provider."
    assert events[-2].usage.output_tokens > 0


def test_a_tool_call_round_trip_reaches_the_target_translated(mock, ledger):
    """The caller's history holds a tool call and its result; the fallback target
    receives them in its own shape (tool_use / tool_result blocks)."""
    messages = [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Paris"}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
    ]
    tools = [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}]
    reply = failing_openai(mock).chat.completions.create(model="gpt-4o", messages=messages, tools=tools)
    assert reply.choices[0].message.content == "Hello from the mock provider."
    sent = mock.requests("/v1/messages")[-1]["body"]
    assert sent["messages"][1]["content"] == [
        {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Paris"}}
    ]
    assert sent["messages"][2]["content"] == [{"type": "tool_result", "tool_use_id": "call_1", "content": "18C"}]
    assert sent["tools"] == [{"name": "weather", "input_schema": {"type": "object"}}]


def test_caller_errors_never_fall_back(mock, ledger):
    with pytest.raises(openai.BadRequestError):
        failing_openai(mock, "400").chat.completions.create(model="gpt-4o", messages=HI)
    assert mock.requests("/v1/messages") == []


def test_an_untranslatable_request_raises_naming_the_feature(mock, ledger):
    with pytest.raises(costline.FallbackUnsupportedError) as caught:
        failing_openai(mock).chat.completions.create(model="gpt-4o", messages=HI, logprobs=True)
    assert (caught.value.feature, caught.value.target) == ("logprobs", "anthropic")


def test_the_last_failure_is_raised_when_every_target_fails(mock, ledger):
    dead = anthropic.Anthropic(
        base_url=mock.anthropic_base_url, api_key="test", max_retries=0, default_headers={"x-mock-error": "529"}
    )
    client = failing_openai(mock, fallback=[{"provider": "anthropic", "model": "claude-haiku-4-5", "client": dead}])
    with pytest.raises(anthropic.APIStatusError):
        client.chat.completions.create(model="gpt-4o", messages=HI)
    events = read_events(ledger)
    assert sorted(e["attempt"] for e in events) == [1, 2] and {e["status"] for e in events} == {"error"}


def test_a_drop_in_is_refused_as_a_target(mock):
    with pytest.raises(TypeError, match="not a costline drop-in"):
        failing_openai(mock, fallback=[{"provider": "anthropic", "model": "m", "client": Anthropic(api_key="x")}])


def raw_target(mock, provider):
    if provider == "mistral":
        from mistralai.client import Mistral

        return Mistral(api_key="test", server_url=mock.mistral_server_url)
    if provider == "google":
        from google import genai

        return genai.Client(api_key="test", http_options={"base_url": mock.gemini_base_url})
    import boto3
    from botocore.config import Config

    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=mock.bedrock_endpoint_url,
        aws_access_key_id="AKIDMOCK",
        aws_secret_access_key="secret",
        config=Config(retries={"max_attempts": 1}),
    )


TARGET_MODELS = {
    "mistral": "mistral-small-latest",
    "google": "gemini-2.5-flash",
    "bedrock": "us.anthropic.claude-haiku-4-5-20251001-v1:0",
}


@pytest.mark.parametrize("provider", sorted(TARGET_MODELS))
@pytest.mark.parametrize("source", ["openai", "anthropic"])
def test_each_target_serves_the_callers_types(mock, ledger, source, provider):
    chain = [{"provider": provider, "model": TARGET_MODELS[provider], "client": raw_target(mock, provider)}]
    cls, base_url, error = (
        (OpenAI, mock.openai_base_url, "503") if source == "openai" else (Anthropic, mock.anthropic_base_url, "529")
    )
    client = cls(
        base_url=base_url,
        api_key="test",
        max_retries=0,
        default_headers={"x-mock-error": error},
        costline={"fallback": chain},
    )
    if source == "openai":
        reply = client.chat.completions.create(model="gpt-4o", messages=HI, max_tokens=50)
        assert isinstance(reply, openai.types.chat.ChatCompletion)
        assert reply.choices[0].message.content == "Hello from the mock provider."
        chunks = list(client.chat.completions.create(model="gpt-4o", messages=HI, stream=True))
        assert all(isinstance(c, openai.types.chat.ChatCompletionChunk) for c in chunks)
        assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Hello from the mock provider."
    else:
        reply = client.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=HI)
        assert isinstance(reply, anthropic.types.Message)
        assert reply.content[0].text == "Hello from the mock provider."
        events = list(client.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=HI, stream=True))
        text = "".join(e.delta.text for e in events if e.type == "content_block_delta")
        assert text == "Hello from the mock provider."
    assert reply.costline["served_by"] == f"{provider}/{TARGET_MODELS[provider]}"
    served = [e for e in read_events(ledger) if e["status"] == "ok"]
    assert sorted((e["provider"], e["stream"], e["attempt"]) for e in served) == [
        (provider, False, 2),
        (provider, True, 2),
    ]
    assert all(e["usage_source"] == "provider" and e["output_tokens"] > 0 for e in served)


def slow_claude(mock, ms):
    return anthropic.Anthropic(
        base_url=mock.anthropic_base_url, api_key="test", max_retries=0, default_headers={"x-mock-error": f"slow:{ms}"}
    )


def test_the_attempt_timeout_cuts_a_slow_target(mock, ledger):
    target = {"provider": "anthropic", "model": "claude-haiku-4-5", "client": slow_claude(mock, 5000)}
    client = failing_openai(mock, fallback={"targets": [target], "attempt_timeout_s": 0.3})
    started = time.monotonic()
    with pytest.raises(anthropic.APITimeoutError):
        client.chat.completions.create(model="gpt-4o", messages=HI)
    assert time.monotonic() - started < 4.0  # the 5 s answer was not waited for
    events = sorted(read_events(ledger), key=lambda e: e["attempt"])
    assert [(e["attempt"], e["status"], e["error_type"]) for e in events] == [
        (1, "error", "InternalServerError"),
        (2, "error", "APITimeoutError"),
    ]


def test_no_attempt_starts_after_the_deadline(mock, ledger):
    slow = {"provider": "anthropic", "model": "claude-haiku-4-5", "client": slow_claude(mock, 5000)}
    fine = {
        "provider": "anthropic",
        "model": "claude-haiku-4-5",
        "client": anthropic.Anthropic(base_url=mock.anthropic_base_url, api_key="test", max_retries=0),
    }
    client = failing_openai(mock, fallback={"targets": [slow, fine], "attempt_timeout_s": 0.5, "deadline_s": 0.5})
    started = time.monotonic()
    with pytest.raises(costline.FallbackDeadlineError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=HI)
    assert time.monotonic() - started < 4.0
    assert isinstance(caught.value.__cause__, anthropic.APITimeoutError)
    assert sorted(e["attempt"] for e in read_events(ledger)) == [1, 2]


def test_fallback_options_are_checked_when_the_client_is_made(mock):
    target = {"provider": "anthropic", "model": "m", "client": object()}
    with pytest.raises(costline.ConfigError, match="never falls back"):
        failing_openai(mock, fallback={"targets": [target], "retry_on": ["400"]})


def test_async_clients_fall_back_plain_and_streamed(mock, ledger):
    import asyncio

    from costline.anthropic import AsyncAnthropic
    from costline.openai import AsyncOpenAI

    async def main():
        target = anthropic.AsyncAnthropic(base_url=mock.anthropic_base_url, api_key="test", max_retries=0)
        client = AsyncOpenAI(
            base_url=mock.openai_base_url,
            api_key="test",
            max_retries=0,
            default_headers={"x-mock-error": "503"},
            costline={"fallback": [{"provider": "anthropic", "model": "claude-haiku-4-5", "client": target}]},
        )
        reply = await client.chat.completions.create(model="gpt-4o", messages=HI)
        stream = await client.chat.completions.create(model="gpt-4o", messages=HI, stream=True)
        chunks = [c async for c in stream]
        back = AsyncAnthropic(
            base_url=mock.anthropic_base_url,
            api_key="test",
            max_retries=0,
            default_headers={"x-mock-error": "529"},
            costline={
                "fallback": [
                    {
                        "provider": "openai",
                        "model": "gpt-4o",
                        "client": openai.AsyncOpenAI(base_url=mock.openai_base_url, api_key="test", max_retries=0),
                    }
                ]
            },
        )
        message = await back.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=HI)
        return reply, chunks, message

    reply, chunks, message = asyncio.run(main())
    assert isinstance(reply, openai.types.chat.ChatCompletion)
    assert reply.choices[0].message.content == "Hello from the mock provider."
    assert all(isinstance(c, openai.types.chat.ChatCompletionChunk) for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Hello from the mock provider."
    assert isinstance(message, anthropic.types.Message) and message.costline["served_by"] == "openai/gpt-4o"
    served = sorted((e["provider"], e["stream"]) for e in read_events(ledger) if e["status"] == "ok")
    assert served == [("anthropic", False), ("anthropic", True), ("openai", False)]


def test_the_messages_stream_helper_falls_back_too(mock, ledger):
    with failing_anthropic(mock).messages.stream(model="claude-haiku-4-5", max_tokens=50, messages=HI) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Hello from the mock provider."
    assert final.content[0].text == text and final.usage.output_tokens > 0
    events = sorted(read_events(ledger), key=lambda e: e["attempt"])
    assert [(e["provider"], e["status"], e["stream"]) for e in events] == [
        ("anthropic", "error", True),
        ("openai", "ok", True),
    ]
