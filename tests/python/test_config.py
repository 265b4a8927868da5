"""Configuration from the environment and from code: one bad variable is
rejected alone, and COSTLINE_DISABLED has the core's one reading."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import costline
from costline import _native
from costline_fixtures import read_events

REPO = Path(__file__).resolve().parents[2]


def run_script(code: str, tmp_path: Path, env_extra: dict) -> subprocess.CompletedProcess:
    # HOME and XDG_DATA_HOME in tmp_path: a default ledger, if one were used, lands there.
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data"), **env_extra}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "tests"), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True, timeout=120
    )


def test_a_bad_env_variable_is_rejected_alone_and_events_reach_the_configured_ledger(tmp_path):
    ledger = tmp_path / "app.db"
    proc = run_script(
        """
        import costline
        costline.track(provider="openai", model="gpt-4o", input_tokens=10, output_tokens=5)
        assert costline.flush(10)
        assert costline.settings()["queue_size"] == 10_000
        """,
        tmp_path,
        {"COSTLINE_LEDGER": str(ledger), "COSTLINE_QUEUE_SIZE": "abc"},
    )
    assert proc.returncode == 0, proc.stderr
    assert len(read_events(ledger)) == 1
    assert "COSTLINE_QUEUE_SIZE" in proc.stderr and "abc" in proc.stderr
    assert proc.stderr.count("COSTLINE_QUEUE_SIZE") == 1, "logged once: " + proc.stderr


def test_configure_still_raises_for_a_bad_argument(ledger):
    with pytest.raises(costline.ConfigError, match="queue_size"):
        costline.configure(queue_size=0)
    with pytest.raises(costline.ConfigError, match="timeout_s"):
        costline.configure(timeout_s=-1)


# The same table as core/tests/config_env.rs: the core owns the reading.
DISABLED_SPELLINGS = [
    *((on, True) for on in ("1", "true", "TRUE", " yes ", "On")),
    *((off, False) for off in ("", " ", "0", "false", "No", "OFF")),
]


@pytest.mark.parametrize(("value", "expected"), DISABLED_SPELLINGS)
def test_disabled_spellings_are_the_cores(value, expected, monkeypatch):
    assert _native.parse_disabled(value) is expected
    monkeypatch.setenv("COSTLINE_DISABLED", value)
    assert _native.disabled_from_env() is expected


@pytest.mark.parametrize("value", ["2", "disable", "y"])
def test_a_bad_disabled_spelling_is_a_config_error_naming_the_variable(value):
    with pytest.raises(costline.ConfigError, match="COSTLINE_DISABLED"):
        _native.parse_disabled(value)


def test_a_bad_disabled_value_is_logged_once_and_leaves_costline_on_in_python_and_core(tmp_path):
    ledger = tmp_path / "on.db"
    proc = run_script(
        """
        import costline
        from costline import _runtime
        assert _runtime.is_disabled() is False
        assert costline.settings()["disabled"] is False
        costline.track(provider="openai", model="gpt-4o", input_tokens=10, output_tokens=5)
        assert costline.flush(10)
        """,
        tmp_path,
        {"COSTLINE_LEDGER": str(ledger), "COSTLINE_DISABLED": "bogus"},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("COSTLINE_DISABLED") == 1, proc.stderr
    assert len(read_events(ledger)) == 1


def test_disabled_from_the_environment_makes_python_and_core_agree(tmp_path):
    proc = run_script(
        """
        import costline
        from costline import _runtime
        assert _runtime.is_disabled() is True
        assert costline.settings()["disabled"] is True
        """,
        tmp_path,
        {"COSTLINE_LEDGER": str(tmp_path / "x.db"), "COSTLINE_DISABLED": " Yes "},
    )
    assert proc.returncode == 0, proc.stderr
