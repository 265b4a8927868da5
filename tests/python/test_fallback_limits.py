"""Fallback limits: the per-attempt timeout and the deadline hold for Bedrock targets
(boto3 has no per-call timeout), and budgets skip a target whose worst case would break
a cap, releasing what failed attempts reserved."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import anthropic
import pytest
from botocore.exceptions import ReadTimeoutError
from budget_support import status
from fallback_support import PRICES, TARGET_COST, TARGET_MODEL, call, call_async, raw_target, source, target

import costline
from costline_fixtures import read_events

SLOW = {"x-mock-error": "slow:5000"}


def slow_bedrock(mock):
    return {"provider": "bedrock", "model": TARGET_MODEL, "client": raw_target(mock, "bedrock", SLOW)}


def test_a_bedrock_targets_attempt_timeout_holds(mock, ledger):
    client = source(mock, "openai", {"targets": [slow_bedrock(mock)], "attempt_timeout_s": 0.3})
    started = time.monotonic()
    with pytest.raises(ReadTimeoutError):
        call(client, "openai", stream=False)
    assert time.monotonic() - started < 4.0  # the 5 s answer was not waited for
    events = sorted(read_events(ledger), key=lambda e: e["attempt"])
    assert [(e["provider"], e["attempt"], e["status"], e["error_type"]) for e in events] == [
        ("openai", 1, "error", "InternalServerError"),
        ("bedrock", 2, "error", "ReadTimeoutError"),
    ]


def test_the_deadline_holds_across_a_slow_bedrock_target(mock, ledger):
    fallback = {"targets": [slow_bedrock(mock), target(mock, "openai")], "attempt_timeout_s": 5, "deadline_s": 0.5}
    client = source(mock, "mistral", fallback)
    started = time.monotonic()
    with pytest.raises(costline.FallbackDeadlineError) as caught:
        call(client, "mistral", stream=True)
    assert time.monotonic() - started < 4.0
    assert isinstance(caught.value.__cause__, ReadTimeoutError)
    assert sorted(e["attempt"] for e in read_events(ledger)) == [1, 2]
    assert mock.requests("/v1/chat/completions") == []  # no attempt started after the deadline


def test_an_async_caller_awaits_a_bedrock_target_within_its_timeout(mock, ledger):
    async def main():
        client = source(mock, "google", {"targets": [slow_bedrock(mock)], "attempt_timeout_s": 0.3}, is_async=True)
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        beat = asyncio.ensure_future(ticker())
        try:
            with pytest.raises(ReadTimeoutError):
                await call_async(client, "google", stream=False)
        finally:
            beat.cancel()
        return ticks

    started = time.monotonic()
    ticks = asyncio.run(main())
    assert time.monotonic() - started < 4.0
    assert ticks > 0  # the event loop ran while boto3 waited in its thread


EXPENSIVE = "expensive-model"
BUDGET_PRICES = {**PRICES, EXPENSIVE: {"input": "0.001", "output": "0.001"}}


@pytest.fixture
def capped(budgets):
    """A $0.01/day cap: the expensive target's worst case (50 output tokens at $0.001)
    breaks it, the fallback model's ($0.00002) does not."""
    budgets(costline.Budget("0.01", "day"))
    costline.configure(prices=BUDGET_PRICES)


def expensive(mock):
    return {"provider": "anthropic", "model": EXPENSIVE, "client": raw_target(mock, "anthropic")}


def test_a_target_whose_worst_case_breaks_a_cap_is_skipped(mock, ledger, capped):
    client = source(mock, "openai", [expensive(mock), target(mock, "google")])
    reply = call(client, "openai", stream=False)
    assert reply.costline["served_by"] == f"google/{TARGET_MODEL}" and reply.costline["attempts"] == 3
    assert mock.requests("/v1/messages") == []  # the expensive target was never called
    events = sorted(read_events(ledger), key=lambda e: e["attempt"])
    assert [(e["provider"], e["model"], e["status"], e["attempt"]) for e in events] == [
        ("openai", "gpt-4o", "error", 1),
        ("anthropic", EXPENSIVE, "blocked", 2),
        ("google", TARGET_MODEL, "ok", 3),
    ]
    assert len({e["call_id"] for e in events}) == 1
    row = status()
    assert (row["spent_usd"], row["reserved_usd"]) == (TARGET_COST, 0)


def test_when_budgets_leave_no_target_the_error_names_the_skipped_ones(mock, ledger, capped):
    client = source(mock, "bedrock", [expensive(mock)])
    with pytest.raises(costline.BudgetExceededError) as caught:
        call(client, "bedrock", stream=True)
    err = caught.value
    assert err.skipped == [{"target": f"anthropic/{EXPENSIVE}", "reason": err.skipped[0]["reason"]}]
    assert "anthropic/expensive-model" in str(err) and "global/day" in err.skipped[0]["reason"]
    assert err.limit_usd == Decimal("0.01")
    assert type(err.__cause__).__name__ == "ServiceUnavailableException"  # the primary's failure
    row = status()
    assert (row["spent_usd"], row["reserved_usd"]) == (0, 0)


def test_failed_attempts_release_their_reservations(mock, ledger, capped):
    dead = {
        "provider": "anthropic",
        "model": TARGET_MODEL,
        "client": raw_target(mock, "anthropic", {"x-mock-error": "529"}),
    }
    client = source(mock, "google", [dead, {**dead}])
    with pytest.raises(anthropic.APIStatusError):
        call(client, "google", stream=False)
    assert len(mock.requests("/v1/messages")) == 2  # both targets reserved and were tried
    events = read_events(ledger)
    assert sorted((e["attempt"], e["status"]) for e in events) == [(1, "error"), (2, "error"), (3, "error")]
    row = status()
    assert (row["spent_usd"], row["reserved_usd"]) == (0, 0)


def test_the_deadline_counts_the_primarys_own_time(mock, ledger):
    # The primary takes 0.6 s to fail: with a 0.5 s deadline for the whole call, no
    # fallback may start.
    fallback = {"targets": [target(mock, "openai")], "deadline_s": 0.5}
    client = source(mock, "anthropic", fallback, fail="slow:600,529")
    with pytest.raises(costline.FallbackDeadlineError) as caught:
        call(client, "anthropic", stream=False)
    assert isinstance(caught.value.__cause__, anthropic.APIStatusError)
    assert mock.requests("/v1/chat/completions") == []
    assert [(e["attempt"], e["status"]) for e in read_events(ledger)] == [(1, "error")]
