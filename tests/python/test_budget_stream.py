"""A stream metered against its budgets as it goes (`enforce_stream`) is
counted by the core's `budget::StreamBudget`, the one rule Node uses too: the
Python layer hands it the stream observer, never a token count of its own."""

from __future__ import annotations

import pytest
from openai.types.chat import ChatCompletionChunk

import costline
from costline import _native

PROMPT = {"model": "budget-model", "messages": [{"role": "user", "content": "hi"}]}


def chunk(text: str) -> ChatCompletionChunk:
    return ChatCompletionChunk.model_validate(
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "budget-model",
            "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}],
        }
    )


def reserve_stream():
    return _native.budget_reserve("openai", "chat", "budget-model", PROMPT, True, None, None, [], {}, {}, [])


def test_the_core_counts_a_metered_streams_output_and_stops_it_at_the_cap(budgets):
    # $0.00001 a token: $0.005 is about 500 tokens of output.
    budgets(costline.Budget("0.005", "day", enforce_stream=True))
    held = reserve_stream()
    assert held.enforce_stream
    observer = _native.StreamObserver("openai", "chat", False)
    passed = 0
    with pytest.raises(costline.BudgetExceededError) as raised:
        for _ in range(5000):
            observer.observe(chunk(" word"))
            held.stream_check(observer)
            passed += 1
    assert 300 < passed < 500, passed
    assert raised.value.budget_name == "global/day"
    held.settle(held.amount_usd)
    assert costline.flush(30)


def test_checking_a_stream_without_new_output_changes_nothing(budgets):
    budgets(costline.Budget("0.005", "day", enforce_stream=True))
    held = reserve_stream()
    observer = _native.StreamObserver("openai", "chat", False)
    before = held.amount_usd
    for _ in range(3):
        held.stream_check(observer)
    assert held.amount_usd == before
    held.release()
