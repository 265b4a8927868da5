"""Text crosses into the core as CPython holds it (no bytes copy on the hot
path): non-ASCII attribution and prompts arrive exactly, and text CPython cannot
give as UTF-8 (a lone surrogate) never breaks the call it rides on."""

from __future__ import annotations

from decimal import Decimal

import pytest

import costline
from costline import _native
from costline.openai import OpenAI
from costline_fixtures import read_events


@pytest.fixture
def client(mock):
    return OpenAI(base_url=mock.openai_base_url, api_key="test", max_retries=0)


def test_non_ascii_attribution_reaches_the_event_exactly(client, ledger):
    with costline.run(agent="rédacteur", tags={"client": "Zürich 東京", "ключ": "значение"}):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "héllo 你好"}])
    [event] = read_events(ledger)
    assert event["agent"] == "rédacteur"
    assert event["tags"]["client"] == "Zürich 東京" and event["tags"]["ключ"] == "значение"


def test_a_lone_surrogate_in_attribution_never_loses_a_guarded_call(client, ledger, budgets):
    """No UTF-8 text holds a lone surrogate: it becomes U+FFFD characters, and the call is
    guarded and recorded all the same (it used to fail the reservation, and the
    call went out unguarded)."""
    budgets(costline.Budget("1000", "total"))
    with costline.run(agent="a\ud800b", tags={"t": "x\udfffy"}):
        reply = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content is not None
    [event] = read_events(ledger)
    agent, tag = event["agent"], event["tags"]["t"]
    assert event["status"] == "ok" and agent[0] + agent[-1] == "ab" and set(agent[1:-1]) == {"\ufffd"}
    assert tag[0] + tag[-1] == "xy" and set(tag[1:-1]) == {"\ufffd"}
    assert Decimal(event["cost_usd"]) > 0


def _reserved_nanos(text: str) -> int:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": text}], "max_tokens": 10}
    held = _native.budget_reserve("openai", "chat", "gpt-4o", body, False, None, None, [], {}, {}, [])
    assert held is not None
    amount = Decimal(held.amount_usd)
    held.release()
    return int(amount * 10**9)


@pytest.mark.parametrize("text", ["héllo wörld", "你好，世界。今日は", "emoji 🎉🚀 and ascii", "Ωμέγα " * 20])
def test_the_guarded_worst_case_counts_non_ascii_prompts_exactly(budgets, text):
    """The reserve counts the prompt the core reads from CPython's own buffer:
    its token count must be the count of the very same text (each token costs
    the same, so amounts scale with counts)."""
    budgets(costline.Budget("1000", "total"))
    empty, ascii_ref = _reserved_nanos(""), _reserved_nanos("hello world, how are you")
    per_token_ref = (ascii_ref - empty) / costline.count_tokens("hello world, how are you", model="gpt-4o")
    got = _reserved_nanos(text) - empty
    assert got == per_token_ref * costline.count_tokens(text, model="gpt-4o")
    assert got > 0
