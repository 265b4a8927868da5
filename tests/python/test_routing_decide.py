"""The routing decision through the binding (issue 11): the shared vectors replayed, and
the error fields every costline error carries (`code`, `details`, `request_id`)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from routing_support import VECTORS

import costline


@pytest.mark.parametrize("case", VECTORS["cases"], ids=[c["name"] for c in VECTORS["cases"]])
def test_routing_vectors_replay_through_the_binding(case, vector_prices):
    expected = case["expected"]
    if "error_code" in expected:
        with pytest.raises(costline.RoutingError) as caught:
            costline._native.decide(case["input"])
        assert caught.value.code == expected["error_code"]
        assert isinstance(caught.value.details, dict)
        return
    got = costline._native.decide(case["input"])
    assert got["model"] == expected["model"], got["reason"]
    for key in ("required_level", "level_raised"):
        if key in expected:
            assert got[key] == expected[key]


def test_decide_takes_json_text_too(vector_prices):
    case = VECTORS["cases"][0]
    assert costline._native.decide(json.dumps(case["input"]))["model"] == case["expected"]["model"]


def test_decide_returns_the_pick_its_reason_and_the_table(vector_prices):
    got = costline.decide(VECTORS["cases"][0]["input"])
    assert got["model"] == "gpt-4.1-nano" and got["provider"] == "openai"
    assert got["reason"].startswith("gpt-4.1-nano (openai): cheapest")
    assert 0 < got["confidence"] <= 1 and got["difficulty"]["level"] == 1
    assert isinstance(got["cost_usd"], Decimal)
    assert [row["model"] for row in got["candidates"]] == [
        c["model"] for c in VECTORS["cases"][0]["input"]["candidates"]
    ]
    assert all(isinstance(row["cost_usd"], Decimal) for row in got["candidates"])


def test_routing_error_over_max_cost_carries_code_and_details(vector_prices):
    over = next(c for c in VECTORS["cases"] if c["expected"].get("error_code") == "over_max_cost")
    with pytest.raises(costline.RoutingError) as caught:
        costline.decide(over["input"])
    err = caught.value
    assert isinstance(err, costline.CostlineError)
    assert err.code == "over_max_cost" and err.request_id is None
    assert err.details["max_cost_usd"] == "0.00001" and err.details["cheapest_model"] == "gpt-4.1-nano"
    assert "exceeds max_cost_usd" in str(err)


def test_invalid_routing_input_is_a_routing_error():
    with pytest.raises(costline.RoutingError) as caught:
        costline._native.decide({"request": {"messages": []}, "prefer": "fastest_please"})
    assert caught.value.code == "invalid_input"


def test_every_costline_error_has_code_details_and_request_id():
    for cls in (
        costline.CostlineError,
        costline.ConfigError,
        costline.PricesError,
        costline.BudgetExceededError,
        costline.FallbackUnsupportedError,
        costline.RoutingError,
    ):
        assert issubclass(cls, costline.CostlineError)
        err = cls("boom")
        assert err.details is None and err.request_id is None
        assert err.code is None if cls is costline.CostlineError else isinstance(err.code, str)
    with pytest.raises(costline.ConfigError) as caught:
        costline.configure(timeout_s=-1)
    assert caught.value.code == "config" and caught.value.request_id is None
    # The existing subclasses keep their own fields.
    assert costline.BudgetExceededError.code == "budget_exceeded"
