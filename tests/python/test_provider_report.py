"""`costline report --by provider` adds up exactly: every usage vector recorded
through the same path the drop-ins use, and each provider's total is the sum of
its vectors' expected costs (the shared vectors in tests/vectors/usage_cost.json)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import costline
from costline import _native

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "usage_cost.json"


def test_report_by_provider_totals_equal_the_vectors_expected_costs(ledger):
    vectors = json.loads(VECTORS.read_text(encoding="utf-8"))["vectors"]
    expected: dict = defaultdict(Decimal)
    for case in vectors:
        _native.record(
            case["provider"],
            case.get("operation", "chat"),
            case["model"],
            case.get("resolved_model"),
            case["usage_parts"],
            1,
            False,
            "ok",
            None,
            _native.new_id(),
            None,
            [],
            {},
            {},
            None,
            None,
            False,
        )
        if case["expected"]["cost_usd"] is not None:
            expected[case["provider"]] += Decimal(case["expected"]["cost_usd"])
    assert {"google", "mistral", "bedrock", "openai", "anthropic"} <= set(expected)
    report = costline.report(by="provider")
    got = {row["provider"]: row["cost_usd"] or Decimal(0) for row in report}
    assert got == dict(expected)
    assert report.totals["calls"] == len(vectors)
    assert report.totals["cost_usd"] == sum(expected.values())
    # The CLI prints the same totals.
    out = subprocess.run(
        [sys.executable, "-m", "costline", "report", "--ledger", str(ledger), "--by", "provider"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    for provider in ("google", "mistral", "bedrock"):
        assert provider in out
