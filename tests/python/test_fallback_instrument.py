"""`costline.instrument(client, costline={"fallback": [...]})`: an SDK client built
elsewhere and instrumented in place walks its chain exactly like the drop-in: each
provider's own client (its calls failing with the mock's `x-mock-error`) falls back to
another provider's raw client, plain and streamed, sync and async, with every attempt an
event linked by `call_id` and `response.costline` on what the caller gets."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from fallback_support import (
    FAIL,
    PROVIDERS,
    TARGET_COST,
    TARGET_MODEL,
    TEXT,
    assert_chunk_types,
    assert_reply_type,
    call,
    call_async,
    configure_prices,
    raw_target,
    reply_text,
    stream_info,
    stream_items,
    stream_text,
    target,
)

import costline
from costline_fixtures import read_events

# Each source served by the next provider in the list (every provider is a target once).
TARGETS = {p: PROVIDERS[(i + 1) % len(PROVIDERS)] for i, p in enumerate(PROVIDERS)}


@pytest.fixture
def priced(ledger):
    configure_prices()
    yield
    costline.flush(30)
    costline.configure(prices={})


def instrumented(mock, provider, fallback, is_async=False):
    """The provider SDK's own client, its calls failing, instrumented with a chain."""
    client = raw_target(mock, provider, headers={"x-mock-error": FAIL[provider]}, is_async=is_async)
    same = costline.instrument(client, costline={"fallback": fallback})
    assert same is client
    return client


def assert_linked(ledger, source_provider, target_provider, calls):
    assert costline.flush(30)
    by_call = {}
    for e in read_events(ledger):
        by_call.setdefault(e["call_id"], []).append(e)
    assert len(by_call) == calls, by_call
    for attempts in by_call.values():
        attempts.sort(key=lambda e: e["attempt"])
        assert [(e["provider"], e["status"], e["attempt"]) for e in attempts] == [
            (source_provider, "error", 1),
            (target_provider, "ok", 2),
        ]
        served = attempts[1]
        assert served["model"] == TARGET_MODEL and Decimal(served["cost_usd"]) == TARGET_COST
    return by_call


@pytest.mark.parametrize("source_provider", PROVIDERS)
def test_an_instrumented_client_falls_back_like_the_drop_in(mock, ledger, priced, source_provider):
    target_provider = TARGETS[source_provider]
    client = instrumented(mock, source_provider, [target(mock, target_provider)])

    reply = call(client, source_provider, stream=False)
    assert_reply_type(source_provider, reply)
    assert reply_text(source_provider, reply) == TEXT
    info = reply.costline
    assert info["served_by"] == f"{target_provider}/{TARGET_MODEL}" and info["attempts"] == 2
    assert info["cost_usd"] == TARGET_COST

    stream = call(client, source_provider, stream=True)
    items = stream_items(source_provider, stream)
    assert_chunk_types(source_provider, items)
    assert stream_text(source_provider, items) == TEXT
    streamed = stream_info(source_provider, stream, items)
    assert streamed["served_by"] == f"{target_provider}/{TARGET_MODEL}" and streamed["cost_usd"] == TARGET_COST

    by_call = assert_linked(ledger, source_provider, target_provider, calls=2)
    assert info["call_id"] in by_call and streamed["call_id"] in by_call


ASYNC_SOURCES = ["openai", "anthropic", "google", "mistral"]  # boto3 has no async client


@pytest.mark.parametrize("source_provider", ASYNC_SOURCES)
def test_an_instrumented_async_client_falls_back_like_the_drop_in(mock, ledger, priced, source_provider):
    target_provider = TARGETS[source_provider]

    async def main():
        client = instrumented(mock, source_provider, [target(mock, target_provider, is_async=True)], is_async=True)
        reply = await call_async(client, source_provider, stream=False)
        stream = await call_async(client, source_provider, stream=True)
        items = [item async for item in stream]
        return reply, stream, items

    reply, stream, items = asyncio.run(main())
    assert_reply_type(source_provider, reply)
    assert_chunk_types(source_provider, items)
    assert stream_text(source_provider, items) == TEXT
    assert reply.costline["cost_usd"] == TARGET_COST
    assert stream_info(source_provider, stream, items)["served_by"] == f"{target_provider}/{TARGET_MODEL}"
    assert_linked(ledger, source_provider, target_provider, calls=2)


@pytest.mark.parametrize("source_provider", PROVIDERS)
def test_instrumenting_again_without_a_chain_stops_falling_back(mock, ledger, source_provider):
    client = instrumented(mock, source_provider, [target(mock, TARGETS[source_provider])])
    costline.instrument(client, costline={"tags": {"team": "a"}})
    with pytest.raises(Exception):
        call(client, source_provider, stream=False)
    assert costline.flush(30)
    events = read_events(ledger)
    assert [(e["provider"], e["status"]) for e in events] == [(source_provider, "error")]
    assert events[0]["tags"] == {"team": "a"}
