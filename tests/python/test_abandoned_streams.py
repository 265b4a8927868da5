"""A fallback stream (the target's answer as the caller's chunks) and a routed client's
stream that the caller drops without reading to the end or closing are still recorded,
as the plain drop-in records an abandoned stream: one event, `status: "ok"`, the tokens
the stream reported so far or an estimate, and the budget reservation settled (the
request was sent and billed)."""

from __future__ import annotations

import asyncio
import gc

import pytest
from budget_support import status
from fallback_support import PRICES, call, call_async, source, target
from routing_support import CANDIDATES, SUMMARY, VECTORS, client_for

import costline
from costline import AsyncCostline, Costline
from costline_fixtures import read_events

READS = {"unread": 0, "part-read": 1}


@pytest.fixture
def held(budgets):
    """A budget, so that each attempt holds a reservation the abandoned stream must settle."""
    budgets(costline.Budget("100", "day"))
    costline.configure(prices={**PRICES, **VECTORS["prices"]})


def assert_abandoned_recorded(ledger, provider):
    events = [e for e in read_events(ledger) if e["status"] != "error"]
    assert [(e["provider"], e["status"], e["stream"]) for e in events] == [(provider, "ok", True)], events
    assert events[0]["input_tokens"] > 0
    row = status()
    assert row["reserved_usd"] == 0 and row["spent_usd"] > 0
    return events[0]


def read(stream, n):
    it = iter(stream)
    for _ in range(n):
        next(it)


async def aread(stream, n):
    it = stream.__aiter__()
    for _ in range(n):
        await it.__anext__()


# --- fallback streams ---------------------------------------------------------------

# Anthropic's events are read by the drop-ins' stream observer; Gemini's by their usage.
FALLBACK_TARGETS = ["anthropic", "google"]


@pytest.mark.parametrize("reads", READS, ids=list(READS))
@pytest.mark.parametrize("target_provider", FALLBACK_TARGETS)
def test_a_fallback_stream_dropped_is_recorded_when_collected(mock, ledger, held, target_provider, reads):
    client = source(mock, "openai", [target(mock, target_provider)])
    stream = call(client, "openai", stream=True)
    read(stream, READS[reads])
    assert status()["reserved_usd"] > 0
    del stream
    gc.collect()
    event = assert_abandoned_recorded(ledger, target_provider)
    assert event["attempt"] == 2 and event["call_id"]


@pytest.mark.parametrize("reads", READS, ids=list(READS))
@pytest.mark.parametrize("target_provider", FALLBACK_TARGETS)
def test_an_async_fallback_stream_dropped_is_recorded_when_collected(mock, ledger, held, target_provider, reads):
    async def main():
        client = source(mock, "openai", [target(mock, target_provider, is_async=True)], is_async=True)
        stream = await call_async(client, "openai", stream=True)
        await aread(stream, READS[reads])
        del stream
        gc.collect()
        await asyncio.sleep(0)  # let the loop run what the collection scheduled

    asyncio.run(main())
    assert_abandoned_recorded(ledger, target_provider)


def test_a_bedrock_callers_fallback_stream_dropped_is_recorded(mock, ledger, held):
    response = call(source(mock, "bedrock", [target(mock, "openai")]), "bedrock", stream=True)
    next(iter(response["stream"]))
    del response
    gc.collect()
    assert_abandoned_recorded(ledger, "openai")


# --- routed-client streams ----------------------------------------------------------

ROUTES = {"openai": "lowest_cost", "anthropic": "highest_quality"}


def routed(mock, is_async=False):
    providers = {p: client_for(mock, p, is_async=is_async) for p in ("openai", "anthropic")}
    return (AsyncCostline if is_async else Costline)(providers=providers, models=CANDIDATES)


@pytest.mark.parametrize("reads", READS, ids=list(READS))
@pytest.mark.parametrize("provider", ROUTES)
def test_a_routed_stream_dropped_is_recorded_when_collected(mock, ledger, held, provider, reads):
    stream = routed(mock).chat.completions.create(
        model="auto", routing={"prefer": ROUTES[provider]}, messages=SUMMARY, max_tokens=100, stream=True
    )
    read(stream, READS[reads])
    del stream
    gc.collect()
    assert_abandoned_recorded(ledger, provider)


@pytest.mark.parametrize("reads", READS, ids=list(READS))
@pytest.mark.parametrize("provider", ROUTES)
def test_an_async_routed_stream_dropped_is_recorded_when_collected(mock, ledger, held, provider, reads):
    async def main():
        stream = await routed(mock, is_async=True).chat.completions.create(
            model="auto", routing={"prefer": ROUTES[provider]}, messages=SUMMARY, max_tokens=100, stream=True
        )
        await aread(stream, READS[reads])
        del stream
        gc.collect()
        await asyncio.sleep(0)

    asyncio.run(main())
    assert_abandoned_recorded(ledger, provider)
