"""Price overrides from the environment and from configure(): errors name the
file, line, model and field; a bad environment file poisons nothing; inline
prices survive later configure() calls; the start-up price thread never undoes
a configure()."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

import costline

REPO = Path(__file__).resolve().parents[2]

# Waits until the core's start-up price thread ("costline-init") has finished.
WAIT_FOR_INIT_THREAD = """
import os, time
def wait_for_init_thread():
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        names = []
        for task in os.listdir("/proc/self/task"):
            try:
                names.append(open(f"/proc/self/task/{task}/comm").read().strip())
            except OSError:
                pass
        if "costline-init" not in names:
            return
        time.sleep(0.01)
    raise SystemExit("the start-up price thread never finished")
"""

BAD_FILE_TEXT = (
    '{\n  "ok-model": {"input": "1", "output": "1"},\n  "my-model": {"output": "1", "input_per_million": "cheap"}\n}\n'
)


def run_script(code: str, tmp_path: Path, env_extra: dict) -> subprocess.CompletedProcess:
    env = {**os.environ, "COSTLINE_LEDGER": str(tmp_path / "ledger.db"), **env_extra}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "tests"), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-c", WAIT_FOR_INIT_THREAD + textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_configure_with_a_malformed_price_file_raises_naming_file_line_model_and_field(tmp_path, ledger):
    bad = tmp_path / "bad-prices.json"
    bad.write_text(BAD_FILE_TEXT)
    with pytest.raises(costline.PricesError) as raised:
        costline.configure(prices=bad)
    message = str(raised.value)
    for part in (str(bad), "line 3, column 31", '"my-model"', "field input_per_million", '"cheap"'):
        assert part in message, message


def test_configure_with_invalid_json_names_its_line_and_column(tmp_path, ledger):
    bad = tmp_path / "trailing-comma.json"
    bad.write_text('{\n  "m": {"input": "1", "output": "1",}\n}\n')
    with pytest.raises(costline.PricesError, match=r"trailing-comma\.json: line 2, column 37: invalid JSON"):
        costline.configure(prices=str(bad))


def test_a_bad_env_price_file_is_logged_once_and_poisons_no_later_configure(tmp_path):
    bad = tmp_path / "env-prices.json"
    bad.write_text(BAD_FILE_TEXT)
    proc = run_script(
        f"""
        import costline
        from decimal import Decimal
        costline.configure(tags={{"team": "a"}})
        costline.configure(tags={{"team": "b"}}, queue_size=500)
        assert costline.cost("gpt-4o", input_tokens=1000, output_tokens=0) is not None
        assert costline.cost("ok-model", input_tokens=1, output_tokens=0) is None  # the file is ignored whole
        costline.configure(prices={{"inline-model": {{"input_per_million": "1", "output_per_million": "1"}}}})
        assert costline.cost("inline-model", input_tokens=1_000_000, output_tokens=0) == Decimal("1")
        try:
            costline.configure(prices={str(bad)!r})
        except costline.PricesError as e:
            print("RAISED", e)
        wait_for_init_thread()
        """,
        tmp_path,
        {"COSTLINE_PRICES": str(bad)},
    )
    assert proc.returncode == 0, proc.stderr
    assert "RAISED" in proc.stdout and "line 3, column 31" in proc.stdout, proc.stdout
    logged = [line for line in proc.stderr.splitlines() if "COSTLINE_PRICES" in line]
    assert len(logged) == 1, proc.stderr
    for part in (str(bad), "line 3, column 31", '"my-model"', "field input_per_million"):
        assert part in logged[0], logged[0]


def test_inline_prices_survive_later_configure_calls(tmp_path, ledger):
    price_file = tmp_path / "file-prices.json"
    price_file.write_text('{"file-model": {"input_per_million": "3", "output_per_million": "3"}}')
    million = {"input_tokens": 1_000_000, "output_tokens": 0}
    costline.configure(prices={"inline-model": {"input_per_million": "2", "output_per_million": "2"}})
    try:
        costline.configure(tags={"team": "search"})
        costline.configure(queue_size=5_000)
        assert costline.cost("inline-model", **million) == Decimal("2")
        costline.configure(prices=price_file)
        assert costline.cost("inline-model", **million) == Decimal("2")
        assert costline.cost("file-model", **million) == Decimal("3")
        costline.configure(prices={})
        assert costline.cost("inline-model", **million) is None
        assert costline.cost("file-model", **million) == Decimal("3")
    finally:
        costline.configure(prices={}, tags={}, queue_size=10_000)
        costline.configure(prices="")
    assert costline.cost("file-model", **million) is None


def test_the_start_up_price_thread_never_undoes_configure(tmp_path):
    # A large environment file keeps the start-up thread busy while the app
    # installs its own prices; the app's must be the ones in force after it.
    env_file = tmp_path / "env-prices.json"
    fillers = "".join(f'"filler-{i}": {{"input": "0.000001", "output": "0.000002"}},\n' for i in range(40_000))
    env_file.write_text("{" + fillers + '"race-model": {"input_per_million": "1", "output_per_million": "1"}}')
    app_file = tmp_path / "app-prices.json"
    app_file.write_text('{"race-model": {"input_per_million": "2", "output_per_million": "2"}}')
    proc = run_script(
        f"""
        import costline
        costline.configure(prices={str(app_file)!r})
        wait_for_init_thread()
        print(costline.cost("race-model", input_tokens=1_000_000, output_tokens=0))
        """,
        tmp_path,
        {"COSTLINE_PRICES": str(env_file)},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["2"], proc.stdout


def test_the_cli_names_file_line_model_and_field_of_a_malformed_env_price_file(tmp_path):
    bad = tmp_path / "env-prices.json"
    bad.write_text(BAD_FILE_TEXT)
    env = {**os.environ, "COSTLINE_PRICES": str(bad)}
    proc = subprocess.run(
        [sys.executable, "-m", "costline", "prices", "gpt-4o"], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1 and proc.stdout == ""
    for part in (str(bad), "line 3, column 31", '"my-model"', "field input_per_million"):
        assert part in proc.stderr, proc.stderr
