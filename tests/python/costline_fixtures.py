"""costline's own test fixtures (merged into conftest.py beside the mock's).

The suite never writes to the user's real ledger: COSTLINE_LEDGER points into a
temporary directory before costline is imported, and each test that reads
events gets a fresh ledger file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any, Dict, List

import pytest

_SESSION_DIR = tempfile.mkdtemp(prefix="costline-tests-")
os.environ["COSTLINE_LEDGER"] = os.path.join(_SESSION_DIR, "default.db")
for _var in (
    "COSTLINE_BASE_URL",
    "COSTLINE_API_KEY",
    "COSTLINE_PRICES",
    "COSTLINE_DISABLED",
    "COSTLINE_OTLP_ENDPOINT",
    "COSTLINE_BUDGETS",
    "COSTLINE_REDIS_URL",
):
    os.environ.pop(_var, None)

import costline  # noqa: E402  (after the environment is set)

SECRET_KEY = "sk-test-SECRET-do-not-log-4242"


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    """A fresh ledger for this test; no collector."""
    path = tmp_path / "ledger.db"
    costline.configure(ledger=str(path), base_url="", queue_size=10_000, tags={})
    return path


def read_events(path: Path, *extra: str) -> List[Dict[str, Any]]:
    """Flush, then read the ledger back through `costline export` (the wire format)."""
    assert costline.flush(10.0), "flush did not complete"
    if not path.exists():
        return []  # the ledger file is created with the first event
    out = subprocess.run(
        [sys.executable, "-m", "costline", "export", "--ledger", str(path), "--format", "jsonl", *extra],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def strip_volatile(obj: Any) -> Any:
    """A response dump without the fields a server varies per request."""
    if isinstance(obj, dict):
        return {
            k: strip_volatile(v)
            for k, v in obj.items()
            if k not in ("id", "created", "created_at", "completed_at", "_request_id")
        }
    if isinstance(obj, list):
        return [strip_volatile(v) for v in obj]
    return obj


def dump(obj: Any) -> Any:
    return strip_volatile(obj.model_dump(exclude_unset=True))


_REPO = Path(__file__).resolve().parents[2]


def run_script(code: str, env_extra: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `code` (dedented) in a fresh interpreter with `tests/` importable."""
    env = {**os.environ, **env_extra}
    env["PYTHONPATH"] = os.pathsep.join([str(_REPO / "tests"), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True, timeout=timeout
    )
