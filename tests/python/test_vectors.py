"""Replays the shared vectors in tests/vectors/ (the Rust suite replays the
same files): usage payload -> tokens and exact cost; text -> token count."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

import costline
from costline import _native

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


# Every field a vector must have: a vector missing one fails, never passes by default.
REQUIRED = {
    "usage_cost.json": {"name", "provider", "model", "usage_parts", "expected"},
    "model_resolution.json": {"provider", "model", "expected_price_key", "step"},
    "tokens.json": {"text", "model", "tokens"},
}
# Inputs a usage vector may leave out, and what that means.
OPTIONAL = {"usage_cost.json": {"operation", "resolved_model", "note"}}
EXPECTED_USAGE_FIELDS = {
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_input_tokens",
    "reasoning_tokens",
    "cost_usd",
    "cost_source",
    "price_key",
}


def load(name: str, key: str | None = None) -> list:
    """The cases of a vector file: the list itself, or the list under `key`."""
    data = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    cases = data[key] if key is not None else data
    assert isinstance(cases, list) and cases, f"{name}: expected a non-empty list of cases"
    return cases


@pytest.mark.parametrize(
    ("name", "key"), [("usage_cost.json", "vectors"), ("model_resolution.json", "cases"), ("tokens.json", None)]
)
def test_every_vector_has_every_required_field(name, key):
    for case in load(name, key):
        missing = REQUIRED[name] - case.keys()
        unknown = case.keys() - REQUIRED[name] - OPTIONAL.get(name, set())
        assert not missing and not unknown, f"{name}: {case}: missing {missing}, unknown {unknown}"
        if name == "usage_cost.json":
            # `usage_source` may be left out: "provider" (a malformed payload says "estimate").
            assert case["expected"].keys() - {"usage_source"} == EXPECTED_USAGE_FIELDS, case


@pytest.mark.parametrize("case", load("usage_cost.json", "vectors"), ids=lambda c: c["name"])
def test_usage_cost_vector(case):
    event = json.loads(
        _native.preview_event(
            case["provider"],
            case.get("operation", "chat"),
            case["model"],
            case.get("resolved_model"),
            case["usage_parts"],
        )
    )
    expected = case["expected"]
    for field in (
        "input_tokens",
        "output_tokens",
        "cached_input_tokens",
        "cache_write_input_tokens",
        "reasoning_tokens",
    ):
        assert event[field] == expected[field], field
    if expected["cost_usd"] is None:
        assert event["cost_usd"] is None
    else:
        assert Decimal(event["cost_usd"]) == Decimal(expected["cost_usd"])
    assert event["cost_source"] == expected["cost_source"]
    assert event["price_key"] == expected["price_key"]
    assert event["usage_source"] == expected.get("usage_source", "provider")


@pytest.mark.parametrize("case", load("model_resolution.json", "cases"), ids=lambda c: f"{c['provider']}:{c['model']}")
def test_model_resolution_vector(case):
    assert _native.price_key(case["provider"], case["model"]) == case["expected_price_key"]


@pytest.mark.parametrize("case", load("tokens.json"), ids=lambda c: f"{c['model']}:{c['text'][:20]!r}")
def test_token_count_vector(case):
    assert costline.count_tokens(case["text"], case["model"]) == case["tokens"]


def test_cost_of_the_issue_example():
    assert costline.cost("gpt-4o", input_tokens=1000, output_tokens=500, cached_input_tokens=200) == Decimal("0.00725")


def test_cost_of_an_unknown_model_is_none_never_zero():
    assert costline.cost("no-such-model-xyz", input_tokens=10, output_tokens=10) is None


def test_count_tokens_offline_and_on_pathological_input():
    assert costline.count_tokens("hello world", "gpt-4o") == 2
    assert costline.count_tokens("a" * 100_000, "gpt-4o") > 0
