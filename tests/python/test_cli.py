"""`costline report | export | prices` on a real ledger."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from decimal import Decimal

import costline
from costline_fixtures import read_events


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "costline", *args], capture_output=True, text=True, timeout=60)


def seed(ledger):
    with costline.run("triage"):
        costline.track(provider="openai", model="gpt-4o", input_tokens=1000, output_tokens=500, cached_input_tokens=200)
        costline.track(provider="openai", model="gpt-4o", input_tokens=1000, output_tokens=500, cached_input_tokens=200)
    with costline.run("writer"):
        costline.track(provider="anthropic", model="claude-sonnet-4-5", input_tokens=100, output_tokens=10)
        costline.track(provider="openai", model="mystery-model", input_tokens=5, output_tokens=5)
    return read_events(ledger)


def test_report_by_agent_and_model_has_exact_totals(ledger):
    events = seed(ledger)
    out = cli("report", "--ledger", str(ledger), "--by", "agent,model")
    assert out.returncode == 0, out.stderr
    assert "triage" in out.stdout and "gpt-4o" in out.stdout and "0.0145" in out.stdout
    data = json.loads(cli("report", "--ledger", str(ledger), "--by", "agent", "--json").stdout)
    text = json.dumps(data)
    expected_total = sum(Decimal(e["cost_usd"]) for e in events if e["cost_usd"] is not None)
    assert str(expected_total) in text


def test_export_jsonl_and_csv(ledger):
    events = seed(ledger)
    lines = cli("export", "--ledger", str(ledger), "--format", "jsonl").stdout.splitlines()
    assert [json.loads(line)["event_id"] for line in lines] == [e["event_id"] for e in events]
    rows = list(csv.DictReader(io.StringIO(cli("export", "--ledger", str(ledger), "--format", "csv").stdout)))
    assert len(rows) == 4 and rows[0]["cost_usd"] == events[0]["cost_usd"]


def test_prices_command_shows_a_model():
    out = cli("prices", "gpt-4o")
    assert out.returncode == 0, out.stderr
    assert "gpt-4o" in out.stdout


def test_bad_arguments_are_a_clear_usage_error(ledger):
    out = cli("report", "--ledger", str(ledger), "--since", "yesterday-ish")
    assert out.returncode == 2 and "since" in out.stderr.lower()
    missing = cli("report", "--ledger", str(ledger.parent / "nope.db"))
    assert missing.returncode != 0 and "nope.db" in missing.stderr
