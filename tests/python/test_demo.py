"""`make demo` is the first thing a newcomer runs: it must print the report and
nothing alarming (no traceback, no asyncio warnings)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_demo_prints_the_report_and_no_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(REPO / "examples" / "demo.py"), str(tmp_path / "demo.db")],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    assert "total" in proc.stdout and "claude-sonnet-4-5" in proc.stdout, proc.stdout
    for provider in ("openai", "anthropic", "google", "mistral", "bedrock"):
        assert provider in proc.stdout, proc.stdout
    for alarm in ("Traceback", "Task exception was never retrieved", "Event loop is closed"):
        assert alarm not in proc.stderr, proc.stderr
