"""Shared by the fallback tests: each provider's drop-in as a source whose own calls fail
(the mock's `x-mock-error`), each provider's raw SDK client as a target, and how each
source's caller calls, streams and reads text, so that a test can run any of the 20
directional pairs through a real fallback."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Dict, List, Optional, Tuple

import anthropic
import boto3
import httpx2
import openai
from botocore.config import Config
from google import genai
from mistralai.client import Mistral as RawMistral

import costline
from costline import bedrock as costline_bedrock
from costline.anthropic import Anthropic, AsyncAnthropic
from costline.google import Client as GeminiClient
from costline.mistral import Mistral
from costline.openai import AsyncOpenAI, OpenAI

PROVIDERS = ["openai", "anthropic", "google", "mistral", "bedrock"]
PAIRS = [(s, t) for s in PROVIDERS for t in PROVIDERS if s != t]
PROMPT = "Say hello to the mock."
TEXT = "Hello from the mock provider."
SOURCE_MODELS = {
    "openai": "gpt-4o",
    "anthropic": "claude-haiku-4-5",
    "google": "gemini-2.5-flash",
    "mistral": "mistral-small-latest",
    "bedrock": "us.anthropic.claude-haiku-4-5-20251001-v1:0",
}
# Every target serves under this model, priced by the `priced` fixture, with the usage the
# mock is told to report: 10 input tokens at $0.00001, 20 output tokens at $0.00002.
TARGET_MODEL = "fallback-model"
PRICES = {TARGET_MODEL: {"input": "0.00001", "output": "0.00002"}}
TOKENS = {"x-mock-prompt-tokens": "10", "x-mock-completion-tokens": "20"}
TARGET_COST = Decimal("0.0005")
# What each source's primary fails with (retryable: 5xx, Anthropic 529).
FAIL = {"openai": "503", "anthropic": "529", "google": "503", "mistral": "503", "bedrock": "503"}


def bedrock_kwargs(mock: Any) -> Dict[str, Any]:
    return dict(
        region_name="us-east-1",
        endpoint_url=mock.bedrock_endpoint_url,
        aws_access_key_id="AKIDMOCK",
        aws_secret_access_key="secret",
        config=Config(retries={"max_attempts": 1}),
    )


def with_headers(client: Any, headers: Dict[str, str]) -> Any:
    """Send the mock's x-mock-* headers with every request of a boto3 client."""

    def add(request: Any, **_: Any) -> None:
        for name, value in headers.items():
            request.headers[name] = value

    client.meta.events.register("before-sign.bedrock-runtime", add)
    return client


def raw_target(mock: Any, provider: str, headers: Optional[Dict[str, str]] = None, is_async: bool = False) -> Any:
    """A provider SDK's own client against the mock, sending `headers` (default: TOKENS)."""
    headers = dict(TOKENS if headers is None else headers)
    if provider == "openai":
        cls = openai.AsyncOpenAI if is_async else openai.OpenAI
        return cls(base_url=mock.openai_base_url, api_key="test", max_retries=0, default_headers=headers)
    if provider == "anthropic":
        cls = anthropic.AsyncAnthropic if is_async else anthropic.Anthropic
        return cls(base_url=mock.anthropic_base_url, api_key="test", max_retries=0, default_headers=headers)
    if provider == "mistral":
        return RawMistral(
            api_key="test",
            server_url=mock.mistral_server_url,
            client=httpx2.Client(headers=headers),
            async_client=httpx2.AsyncClient(headers=headers),
        )
    if provider == "google":
        return genai.Client(api_key="test", http_options={"base_url": mock.gemini_base_url, "headers": headers})
    return with_headers(boto3.client("bedrock-runtime", **bedrock_kwargs(mock)), headers)


def target(mock: Any, provider: str, **kwargs: Any) -> Dict[str, Any]:
    return {"provider": provider, "model": TARGET_MODEL, "client": raw_target(mock, provider, **kwargs)}


def source(mock: Any, provider: str, fallback: Any, is_async: bool = False, fail: Optional[str] = None) -> Any:
    """The provider's costline drop-in, its own calls failing with `fail` (default FAIL)."""
    error = {"x-mock-error": fail or FAIL[provider]}
    options = {"fallback": fallback}
    if provider == "openai":
        cls = AsyncOpenAI if is_async else OpenAI
        return cls(
            base_url=mock.openai_base_url, api_key="test", max_retries=0, default_headers=error, costline=options
        )
    if provider == "anthropic":
        cls = AsyncAnthropic if is_async else Anthropic
        return cls(
            base_url=mock.anthropic_base_url, api_key="test", max_retries=0, default_headers=error, costline=options
        )
    if provider == "google":
        return GeminiClient(
            api_key="test", http_options={"base_url": mock.gemini_base_url, "headers": error}, costline=options
        )
    if provider == "mistral":
        return Mistral(
            api_key="test",
            server_url=mock.mistral_server_url,
            client=httpx2.Client(headers=error),
            async_client=httpx2.AsyncClient(headers=error),
            costline=options,
        )
    return with_headers(costline_bedrock.client(**bedrock_kwargs(mock), costline=options), error)


def call(client: Any, provider: str, stream: bool, **extra: Any) -> Any:
    """One chat call in the source's own API; a stream is returned unread."""
    model = SOURCE_MODELS[provider]
    if provider == "openai":
        return client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": PROMPT}], max_tokens=50, stream=stream, **extra
        )
    if provider == "anthropic":
        return client.messages.create(
            model=model, max_tokens=50, messages=[{"role": "user", "content": PROMPT}], stream=stream, **extra
        )
    if provider == "google":
        method = client.models.generate_content_stream if stream else client.models.generate_content
        return method(model=model, contents=PROMPT, config={"max_output_tokens": 50, **extra})
    if provider == "mistral":
        method = client.chat.stream if stream else client.chat.complete
        return method(model=model, messages=[{"role": "user", "content": PROMPT}], max_tokens=50, **extra)
    method = client.converse_stream if stream else client.converse
    return method(
        modelId=model,
        messages=[{"role": "user", "content": [{"text": PROMPT}]}],
        inferenceConfig={"maxTokens": 50},
        **extra,
    )


async def call_async(client: Any, provider: str, stream: bool) -> Any:
    model = SOURCE_MODELS[provider]
    messages = [{"role": "user", "content": PROMPT}]
    if provider == "openai":
        return await client.chat.completions.create(model=model, messages=messages, max_tokens=50, stream=stream)
    if provider == "anthropic":
        return await client.messages.create(model=model, max_tokens=50, messages=messages, stream=stream)
    if provider == "google":
        models = client.aio.models
        method = models.generate_content_stream if stream else models.generate_content
        return await method(model=model, contents=PROMPT, config={"max_output_tokens": 50})
    method = client.chat.stream_async if stream else client.chat.complete_async
    return await method(model=model, messages=messages, max_tokens=50)


def stream_items(provider: str, stream: Any) -> List[Any]:
    """A source's stream read to its end, as the items its caller iterates."""
    if provider == "bedrock":
        return list(stream["stream"])
    return list(stream)


def reply_text(provider: str, reply: Any) -> str:
    if provider in ("openai", "mistral"):
        return reply.choices[0].message.content
    if provider == "anthropic":
        return reply.content[0].text
    if provider == "google":
        return reply.text
    return reply["output"]["message"]["content"][0]["text"]


def stream_text(provider: str, items: List[Any]) -> str:
    if provider == "openai":
        return "".join(c.choices[0].delta.content or "" for c in items if c.choices)
    if provider == "anthropic":
        return "".join(e.delta.text for e in items if e.type == "content_block_delta")
    if provider == "google":
        return "".join(c.text or "" for c in items)
    if provider == "mistral":
        return "".join(e.data.choices[0].delta.content or "" for e in items if e.data.choices)
    return "".join(e["contentBlockDelta"]["delta"].get("text", "") for e in items if "contentBlockDelta" in e)


def assert_reply_type(provider: str, reply: Any) -> None:
    if provider == "openai":
        assert type(reply) is openai.types.chat.ChatCompletion
    elif provider == "anthropic":
        assert type(reply) is anthropic.types.Message
    elif provider == "google":
        assert type(reply) is genai.types.GenerateContentResponse
    elif provider == "mistral":
        from mistralai.client import models

        assert type(reply) is models.ChatCompletionResponse
    else:
        # boto3's converse dict: a dict (costline's subclass only adds `.costline`).
        assert isinstance(reply, dict) and set(reply) == {
            "ResponseMetadata",
            "output",
            "stopReason",
            "usage",
            "metrics",
        }
        assert reply["ResponseMetadata"]["HTTPStatusCode"] == 200


def assert_chunk_types(provider: str, items: List[Any]) -> None:
    assert items
    if provider == "openai":
        assert all(type(c) is openai.types.chat.ChatCompletionChunk for c in items)
    elif provider == "anthropic":
        assert all(type(e).__module__.startswith("anthropic.types.raw_") for e in items)
        assert [e.type for e in items][0] == "message_start" and items[-1].type == "message_stop"
    elif provider == "google":
        assert all(type(c) is genai.types.GenerateContentResponse for c in items)
    elif provider == "mistral":
        from mistralai.client import models

        assert all(type(e) is models.CompletionEvent for e in items)
    else:
        assert all(isinstance(e, dict) and len(e) == 1 for e in items)
        assert list(items[0]) == ["messageStart"] and "metadata" in items[-1]


def stream_info(provider: str, stream: Any, items: List[Any]) -> Dict[str, Any]:
    """`costline` of a fallback stream: on the stream object, except for Gemini, whose
    stream is the SDK's generator: on each chunk (one dict, completed when it ends)."""
    if provider == "google":
        assert all(c.costline is items[0].costline for c in items)
        return items[-1].costline
    return stream.costline


def priced_ok(events: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [e for e in events if e["status"] == "ok"]


def configure_prices() -> None:
    costline.configure(prices=PRICES)


def stream_tool_call(provider: str, items: List[Any]) -> Tuple[str, str, Dict[str, Any], str]:
    """(id, name, arguments, finish reason) of the one tool call in a stream, put together
    from its items as a caller of the provider's SDK does (pieces of arguments joined)."""
    calls: Dict[Any, Dict[str, Any]] = {}
    finish = ""

    def piece(key: Any, call_id: Any = None, name: Any = None, args: Any = None) -> None:
        call = calls.setdefault(key, {"id": "", "name": "", "args": ""})
        call["id"] = call_id or call["id"]
        call["name"] = name or call["name"]
        if isinstance(args, dict):  # mistralai may give the arguments parsed
            call["args"] = args
        elif args:
            call["args"] += args

    for item in items:
        if provider in ("openai", "mistral"):
            choices = item.choices if provider == "openai" else item.data.choices
            for choice in choices:
                for tc in choice.delta.tool_calls or ():
                    piece(tc.index, tc.id, tc.function.name, tc.function.arguments)
                finish = choice.finish_reason or finish
        elif provider == "anthropic":
            if item.type == "content_block_start" and item.content_block.type == "tool_use":
                piece(item.index, item.content_block.id, item.content_block.name)
            elif item.type == "content_block_delta" and item.delta.type == "input_json_delta":
                piece(item.index, args=item.delta.partial_json)
            elif item.type == "message_delta":
                finish = item.delta.stop_reason
        elif provider == "google":
            for fc in item.function_calls or ():
                piece(len(calls), fc.id, fc.name, fc.args)
            candidate = item.candidates[0] if item.candidates else None
            finish = candidate.finish_reason.name if candidate and candidate.finish_reason else finish
        else:
            body = next(iter(item.values()))
            use = (body.get("start") or body.get("delta") or {}).get("toolUse")
            if use is not None:
                piece(body["contentBlockIndex"], use.get("toolUseId"), use.get("name"), use.get("input"))
            finish = body.get("stopReason", finish)
    [call] = calls.values()
    args = call["args"] if isinstance(call["args"], dict) else json.loads(call["args"])
    return call["id"], call["name"], args, str(finish)
