"""The routed client over each of the five providers (issue 11): whoever serves, the caller
gets openai objects (plain and streamed), and each attempt is recorded exactly once,
whether the provider's client is the SDK's own or a costline drop-in. AsyncCostline too."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import openai
import pytest
from routing_support import HELLO, METADATA, PROVIDER_MODELS, SUMMARY, client_for

import costline
from costline import AsyncCostline, Costline
from costline_fixtures import read_events


def only(provider, client):
    model = PROVIDER_MODELS[provider]
    return Costline(providers={provider: client}, models=[{"model": model, "provider": provider, "quality": 60}])


@pytest.mark.parametrize("drop_in", [False, True], ids=["sdk-client", "drop-in"])
@pytest.mark.parametrize("provider", sorted(PROVIDER_MODELS))
def test_each_provider_answers_as_openai_plain_and_streamed(mock, ledger, provider, drop_in):
    client = only(provider, client_for(mock, provider, drop_in=drop_in))
    model = PROVIDER_MODELS[provider]

    r = client.chat.completions.create(model="auto", metadata=METADATA, messages=SUMMARY, max_tokens=50)
    assert isinstance(r, openai.types.chat.ChatCompletion)
    assert r.choices[0].message.content == HELLO and r.choices[0].finish_reason == "stop"
    assert (r.costline.routed_to, r.costline.provider) == (model, provider)
    assert isinstance(r.costline.cost_usd, Decimal) and r.costline.cost_usd > 0

    stream = client.chat.completions.create(
        model="auto", metadata=METADATA, messages=SUMMARY, max_tokens=50, stream=True
    )
    chunks = list(stream)
    assert chunks and all(isinstance(c, openai.types.chat.ChatCompletionChunk) for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == HELLO
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert stream.costline.routed_to == model and stream.costline.cost_usd > 0

    # One event per call: the drop-in did not record the routed client's attempt again.
    events = read_events(ledger)
    assert sorted((e["provider"], e["model"], e["stream"], e["attempt"]) for e in events) == [
        (provider, model, False, 1),
        (provider, model, True, 1),
    ]
    assert all(e["tags"] == METADATA and e["usage_source"] == "provider" for e in events)
    assert all(e["output_tokens"] > 0 and e["status"] == "ok" for e in events)
    assert {Decimal(e["cost_usd"]) for e in events if not e["stream"]} == {r.costline.cost_usd}


def test_a_drop_in_still_meters_its_own_calls_outside_the_routed_client(mock, ledger):
    drop_in = client_for(mock, "openai", drop_in=True)
    only("openai", drop_in).chat.completions.create(model="auto", messages=SUMMARY, max_tokens=50)
    drop_in.chat.completions.create(model="gpt-4o-mini", messages=SUMMARY, max_tokens=50)
    events = read_events(ledger)
    assert sorted(e.get("call_id") is None for e in events) == [False, True]


def async_routed(mock, headers=None, **options):
    return AsyncCostline(
        providers={
            "openai": client_for(mock, "openai", headers=(headers or {}).get("openai"), is_async=True),
            "anthropic": client_for(mock, "anthropic", headers=(headers or {}).get("anthropic"), is_async=True),
        },
        models=[
            {"model": "gpt-4o-mini", "provider": "openai", "quality": 55},
            {"model": "claude-haiku-4-5", "provider": "anthropic", "quality": 62},
        ],
        **options,
    )


def test_async_client_routes_plain_and_streamed(mock, ledger):
    async def main():
        client = async_routed(mock)
        r = await client.chat.completions.create(
            model="auto", routing={"prefer": "highest_quality"}, metadata=METADATA, messages=SUMMARY, max_tokens=50
        )
        stream = await client.chat.completions.create(
            model="auto", routing={"prefer": "lowest_cost"}, messages=SUMMARY, max_tokens=50, stream=True
        )
        chunks = [c async for c in stream]
        return r, stream, chunks

    r, stream, chunks = asyncio.run(main())
    assert isinstance(r, openai.types.chat.ChatCompletion) and r.costline.routed_to == "claude-haiku-4-5"
    assert r.choices[0].message.content == HELLO
    assert all(isinstance(c, openai.types.chat.ChatCompletionChunk) and c.choices for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == HELLO
    assert stream.costline.routed_to == "gpt-4o-mini" and stream.costline.cost_usd > 0
    events = read_events(ledger)
    assert sorted((e["provider"], e["stream"]) for e in events) == [("anthropic", False), ("openai", True)]


def test_async_client_falls_back_to_the_next_candidate(mock, ledger):
    async def main():
        client = async_routed(mock, headers={"openai": {"x-mock-error": "503"}})
        return await client.chat.completions.create(
            model="auto", routing={"prefer": "lowest_cost"}, messages=SUMMARY, max_tokens=50
        )

    r = asyncio.run(main())
    assert r.costline.routed_to == "claude-haiku-4-5" and r.costline.attempts == 2
    events = sorted(read_events(ledger), key=lambda e: e["attempt"])
    assert [(e["provider"], e["status"], e["attempt"]) for e in events] == [
        ("openai", "error", 1),
        ("anthropic", "ok", 2),
    ]


def test_async_routing_error_is_raised_before_sending(mock, ledger):
    async def main():
        await async_routed(mock).chat.completions.create(
            model="auto", routing={"max_cost_usd": "0.0000001"}, messages=SUMMARY, max_tokens=50
        )

    with pytest.raises(costline.RoutingError) as caught:
        asyncio.run(main())
    assert caught.value.code == "over_max_cost" and mock.requests() == []


# Every provider has an async path (Bedrock's boto3 client runs in a worker thread).
ASYNC_PROVIDERS = sorted(PROVIDER_MODELS)


@pytest.mark.parametrize("drop_in", [False, True], ids=["sdk-client", "drop-in"])
@pytest.mark.parametrize("provider", ASYNC_PROVIDERS)
def test_async_each_provider_answers_as_openai_once_per_attempt(mock, ledger, provider, drop_in):
    model = PROVIDER_MODELS[provider]

    async def main():
        client = AsyncCostline(
            providers={provider: client_for(mock, provider, drop_in=drop_in, is_async=True)},
            models=[{"model": model, "provider": provider, "quality": 60}],
        )
        r = await client.chat.completions.create(model="auto", metadata=METADATA, messages=SUMMARY, max_tokens=50)
        stream = await client.chat.completions.create(model="auto", messages=SUMMARY, max_tokens=50, stream=True)
        return r, [c async for c in stream]

    r, chunks = asyncio.run(main())
    assert isinstance(r, openai.types.chat.ChatCompletion) and r.choices[0].message.content == HELLO
    assert all(isinstance(c, openai.types.chat.ChatCompletionChunk) for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == HELLO
    events = read_events(ledger)
    assert sorted((e["provider"], e["stream"], e.get("attempt")) for e in events) == [
        (provider, False, 1),
        (provider, True, 1),
    ]


def test_a_candidate_that_cannot_express_the_request_is_skipped(mock, ledger):
    client = Costline(
        providers={"bedrock": client_for(mock, "bedrock"), "openai": client_for(mock, "openai")},
        models=[
            {"model": PROVIDER_MODELS["bedrock"], "provider": "bedrock", "quality": 60},
            {"model": "gpt-4o", "provider": "openai", "quality": 60},
        ],
    )
    image = {"type": "image_url", "image_url": {"url": "https://example.com/receipt.png"}}
    messages = [{"role": "user", "content": [{"type": "text", "text": "What is this?"}, image]}]
    assert client.route(messages=messages, max_tokens=50, routing={"prefer": "lowest_cost"})["provider"] == "bedrock"
    r = client.chat.completions.create(
        model="auto", routing={"prefer": "lowest_cost"}, messages=messages, max_tokens=50
    )
    # Bedrock takes image bytes only: nothing was sent to it, gpt-4o served as attempt 1.
    assert (r.costline.routed_to, r.costline.attempts) == ("gpt-4o", 1)
    assert [req["provider"] for req in mock.requests()] == ["openai"]
    assert [(e["provider"], e["attempt"]) for e in read_events(ledger)] == [("openai", 1)]


def test_a_bedrock_drop_in_under_an_attempt_timeout_records_each_attempt_once(mock, ledger):
    # With a timeout, the Bedrock call runs in a worker thread: the drop-in there must
    # still see that the routed client records the attempt.
    model = PROVIDER_MODELS["bedrock"]
    client = Costline(
        providers={"bedrock": client_for(mock, "bedrock", drop_in=True)},
        models=[{"model": model, "provider": "bedrock", "quality": 60}],
        fallback={"attempt_timeout_s": 60},
    )
    r = client.chat.completions.create(model="auto", messages=SUMMARY, max_tokens=50)
    assert r.choices[0].message.content == HELLO
    assert [(e["provider"], e["attempt"]) for e in read_events(ledger)] == [("bedrock", 1)]
