"""The ledger shared with the app that hosts costline: the app's own SQLite
(the stdlib `sqlite3`, a second SQLite library in the process) must not hide
or endanger what costline records, and the app reads its spend in-process
through costline's own connection."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import costline


def track_tagged(tag: str, n: int) -> None:
    for _ in range(n):
        costline.track(provider="openai", model="gpt-4o", input_tokens=10, output_tokens=5, tags={"batch": tag})


def peek_with_stdlib_sqlite(path: Path) -> int:
    """What an app does to look at its own ledger: connect, query, close."""
    db = sqlite3.connect(path)
    try:
        (count,) = db.execute("SELECT count(*) FROM events").fetchone()
    finally:
        db.close()
    return count


def events_seen_by_another_process(path: Path) -> List[Dict[str, Any]]:
    """The ledger as `costline export` in another terminal sees it (no flush here:
    the caller flushed, and this process must stay alive while it reads)."""
    out = subprocess.run(
        [sys.executable, "-m", "costline", "export", "--ledger", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def test_events_recorded_after_the_app_peeks_with_stdlib_sqlite_stay_visible_to_other_processes(ledger):
    track_tagged("before", 1)
    assert costline.flush(10)
    assert peek_with_stdlib_sqlite(ledger) == 1

    track_tagged("after", 5)
    assert costline.flush(10)
    batches = [e["tags"]["batch"] for e in events_seen_by_another_process(ledger)]
    assert batches.count("after") == 5, batches
    # and to a plain SQLite reader in another process as well
    code = (
        f"import sqlite3; print(sqlite3.connect({str(ledger)!r}).execute('select count(*) from events').fetchone()[0])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "6", out.stderr


def test_repeated_peeks_between_writes_lose_nothing(ledger):
    for round_ in range(5):
        track_tagged(f"r{round_}", 3)
        assert costline.flush(10)
        assert peek_with_stdlib_sqlite(ledger) == 3 * (round_ + 1)
    assert len(events_seen_by_another_process(ledger)) == 15


def test_another_process_sharing_the_ledger_keeps_seeing_and_adding_events_around_a_peek(ledger):
    worker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, costline\n"
            "def track(tag):\n"
            "    for _ in range(3):\n"
            "        costline.track(provider='openai', model='gpt-4o', input_tokens=1, output_tokens=1,"
            " tags={'batch': tag})\n"
            "    assert costline.flush(10)\n"
            "track('worker-1')\n"
            "print('ready', flush=True)\n"
            "sys.stdin.readline()\n"
            "track('worker-2')\n",
        ],
        env={**os.environ, "COSTLINE_LEDGER": str(ledger)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout.readline().strip() == "ready"
        track_tagged("app-1", 2)
        assert costline.flush(10)
        assert peek_with_stdlib_sqlite(ledger) == 5
        track_tagged("app-2", 2)
        assert costline.flush(10)
        worker.stdin.write("go\n")
        worker.stdin.flush()
        assert worker.wait(timeout=60) == 0
    finally:
        worker.kill()
    track_tagged("app-3", 2)
    assert costline.flush(10)

    batches = sorted(e["tags"]["batch"] for e in events_seen_by_another_process(ledger))
    expected = ["app-1"] * 2 + ["app-2"] * 2 + ["app-3"] * 2 + ["worker-1"] * 3 + ["worker-2"] * 3
    assert batches == expected
    assert peek_with_stdlib_sqlite(ledger) == 12
