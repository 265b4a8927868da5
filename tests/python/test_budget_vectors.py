"""Replays tests/vectors/budgets.json (the Rust suite replays the same file):
which calls a set of budgets lets through, through the binding's own
reserve and settle."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

import costline
from costline import _native

FILE = json.loads((Path(__file__).resolve().parents[1] / "vectors" / "budgets.json").read_text())


def _budget(spec):
    return costline.Budget(
        spec["limit_usd"],
        spec["period"],
        agent=spec.get("agent"),
        tags=spec.get("tags"),
        action=spec.get("action", "block"),
        name=spec.get("name"),
    )


@pytest.mark.parametrize("case", FILE["cases"], ids=[c["name"] for c in FILE["cases"]])
def test_budget_vector(case, budgets):
    costline.configure(prices=FILE["prices"])
    budgets(*[_budget(b) for b in case["budgets"]])
    for i, call in enumerate(case["calls"]):
        path = call.get("agent_path", [])
        try:
            held = _native.budget_reserve(
                "openai",
                "chat",
                "budget-model",
                FILE["request"],
                False,
                call.get("run_id"),
                path[-1] if path else None,
                path,
                call.get("tags", {}),
                {},
                [],
            )
        except costline.BudgetExceededError as exc:
            assert call["expect"] == "blocked", f"call {i} was blocked: {exc}"
            assert (exc.budget_name, exc.scope) == (call["budget_name"], call["scope"])
            continue
        assert call["expect"] == "ok", f"call {i} went through"
        if held is not None:
            held.settle(call["actual_usd"])
    rows = {r["name"]: r for r in costline.budget_status()}
    for want in case["status"]:
        row = rows[want["name"]]
        assert (row["spent_usd"], row["reserved_usd"]) == (Decimal(want["spent_usd"]), 0)
