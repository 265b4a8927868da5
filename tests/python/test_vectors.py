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


def load(name: str):
    data = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    if isinstance(data, dict):
        return data.get("vectors") or data.get("cases") or []
    return data


@pytest.mark.parametrize("case", load("usage_cost.json"), ids=lambda c: c["name"])
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
        if field in expected:
            assert event[field] == expected[field], field
    if expected.get("cost_usd") is None:
        assert event["cost_usd"] is None
    else:
        assert Decimal(event["cost_usd"]) == Decimal(expected["cost_usd"])
    assert event["cost_source"] == expected["cost_source"]
    if "price_key" in expected:
        assert event["price_key"] == expected["price_key"]


@pytest.mark.parametrize("case", load("model_resolution.json"), ids=lambda c: f"{c['provider']}:{c['model']}")
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
