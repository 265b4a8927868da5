"""All 20 directional fallback pairs among OpenAI, Anthropic, Gemini, Mistral and
Bedrock, through the real SDKs and the mock: the source drop-in's call fails (the mock's
`x-mock-error`), the target's raw client serves it, and the caller gets its own SDK's
types, plain and streamed, with every attempt an event linked by `call_id` and the
served attempt priced under the target's model."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest
from fallback_support import (
    PAIRS,
    PROVIDERS,
    TARGET_COST,
    TARGET_MODEL,
    TEXT,
    assert_chunk_types,
    assert_reply_type,
    call,
    call_async,
    configure_prices,
    reply_text,
    source,
    stream_info,
    stream_items,
    stream_text,
    target,
)

import costline
from costline_fixtures import read_events


@pytest.fixture
def priced(ledger):
    configure_prices()
    yield
    costline.flush(30)
    costline.configure(prices={})


@pytest.mark.parametrize("source_provider,target_provider", PAIRS, ids=[f"{s}-to-{t}" for s, t in PAIRS])
def test_the_caller_gets_its_own_sdk_types_from_another_provider(
    mock, ledger, priced, source_provider, target_provider
):
    client = source(mock, source_provider, [target(mock, target_provider)])

    reply = call(client, source_provider, stream=False)
    assert_reply_type(source_provider, reply)
    info = reply.costline
    assert info["served_by"] == f"{target_provider}/{TARGET_MODEL}" and info["attempts"] == 2
    assert info["cost_usd"] == TARGET_COST

    stream = call(client, source_provider, stream=True)
    items = stream_items(source_provider, stream)
    assert_chunk_types(source_provider, items)
    assert stream_text(source_provider, items) == TEXT
    streamed = stream_info(source_provider, stream, items)
    assert streamed["served_by"] == f"{target_provider}/{TARGET_MODEL}"
    assert streamed["cost_usd"] == TARGET_COST

    assert costline.flush(30)
    events = read_events(ledger)
    by_call = {}
    for e in events:
        by_call.setdefault(e["call_id"], []).append(e)
    assert len(by_call) == 2, events
    for attempts in by_call.values():
        attempts.sort(key=lambda e: e["attempt"])
        assert [(e["provider"], e["status"], e["attempt"]) for e in attempts] == [
            (source_provider, "error", 1),
            (target_provider, "ok", 2),
        ]
        failed, served = attempts
        assert failed["cost_usd"] == "0" and failed["stream"] == served["stream"]
        assert served["model"] == TARGET_MODEL and Decimal(served["cost_usd"]) == TARGET_COST
        assert (served["input_tokens"], served["output_tokens"]) == (10, 20)
        assert served["usage_source"] == "provider"
    assert info["call_id"] in by_call and streamed["call_id"] in by_call


@pytest.mark.parametrize("source_provider", PROVIDERS)
def test_the_fallback_reply_carries_the_answer_text(mock, ledger, source_provider):
    # The text survives the round trip through another API (Anthropic <-> OpenAI is
    # test_fallback.py's; here every source, each through a different target).
    target_provider = PROVIDERS[(PROVIDERS.index(source_provider) + 2) % len(PROVIDERS)]
    reply = call(source(mock, source_provider, [target(mock, target_provider)]), source_provider, stream=False)
    assert reply_text(source_provider, reply) == TEXT


def test_the_bedrock_costline_is_an_attribute_not_a_key(mock, ledger):
    reply = call(source(mock, "bedrock", [target(mock, "openai")]), "bedrock", stream=False)
    assert "costline" not in reply and isinstance(reply, dict)
    json.dumps(reply)  # exactly boto3's (JSON-able) shape; the Decimal cost is not in it
    stream = call(source(mock, "bedrock", [target(mock, "anthropic")]), "bedrock", stream=True)
    assert set(stream) == {"ResponseMetadata", "stream"} and stream.costline["served_by"].startswith("anthropic/")


def test_gemini_and_mistral_replies_keep_costline_out_of_their_dumps(mock, ledger):
    google = call(source(mock, "google", [target(mock, "openai")]), "google", stream=False)
    mistral = call(source(mock, "mistral", [target(mock, "anthropic")]), "mistral", stream=False)
    for reply in (google, mistral):
        assert reply.costline["attempts"] == 2
        assert "costline" not in reply.model_dump()


ASYNC_PAIRS = [("google", "bedrock"), ("mistral", "google"), ("openai", "mistral"), ("anthropic", "bedrock")]


@pytest.mark.parametrize("source_provider,target_provider", ASYNC_PAIRS, ids=[f"{s}-to-{t}" for s, t in ASYNC_PAIRS])
def test_async_callers_fall_back_to_async_targets(mock, ledger, priced, source_provider, target_provider):
    """Gemini's client.aio and Mistral's *_async as sources; Mistral, Gemini (client.aio)
    and Bedrock (boto3 in a worker thread) as async targets."""

    async def main():
        client = source(mock, source_provider, [target(mock, target_provider, is_async=True)], is_async=True)
        reply = await call_async(client, source_provider, stream=False)
        stream = await call_async(client, source_provider, stream=True)
        items = [item async for item in stream]
        return reply, stream, items

    reply, stream, items = asyncio.run(main())
    assert_reply_type(source_provider, reply)
    assert_chunk_types(source_provider, items)
    assert stream_text(source_provider, items) == TEXT
    assert reply.costline["cost_usd"] == TARGET_COST
    assert costline.flush(30)
    served = sorted(
        (e["provider"], e["stream"], e["attempt"], Decimal(e["cost_usd"]))
        for e in read_events(ledger)
        if e["status"] == "ok"
    )
    assert served == [(target_provider, False, 2, TARGET_COST), (target_provider, True, 2, TARGET_COST)]
