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


def test_report_reads_the_spend_in_process_with_decimal_costs_and_no_flush_of_its_own(ledger):
    import datetime as dt
    from decimal import Decimal

    costline.track(provider="openai", model="gpt-4o", input_tokens=1000, output_tokens=100, agent="triage")
    costline.track(provider="openai", model="gpt-4o", input_tokens=2000, output_tokens=0, agent="writer")
    costline.track(provider="openai", model="no-such-model-xyz", input_tokens=5, output_tokens=5, agent="writer")
    expected_triage = costline.cost("gpt-4o", input_tokens=1000, output_tokens=100)
    expected_writer = costline.cost("gpt-4o", input_tokens=2000, output_tokens=0)

    report = costline.report(by=["agent", "model"])
    assert report.by == ["agent", "model"]
    rows = {(r["agent"], r["model"]): r for r in report}
    assert rows[("triage", "gpt-4o")]["cost_usd"] == expected_triage
    assert isinstance(rows[("writer", "gpt-4o")]["cost_usd"], Decimal)
    assert rows[("writer", "no-such-model-xyz")]["cost_usd"] is None, "unknown, never $0"
    assert report.totals["calls"] == 3 and report.totals["unpriced_calls"] == 1
    assert report.totals["cost_usd"] == expected_triage + expected_writer

    assert [r["agent"] for r in costline.report(by="agent")] in (["writer", "triage"], ["triage", "writer"])
    assert costline.report(by=[], since="1h").totals["calls"] == 3
    future = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    assert costline.report(since=future).totals["calls"] == 0
    assert costline.report(since=dt.date.today() - dt.timedelta(days=1)).totals["calls"] == 3


def test_events_are_wire_dicts_with_decimal_costs_oldest_first(ledger):
    from decimal import Decimal

    ids = [track_tagged_one(i).event_id for i in range(4)]
    events = costline.events()
    assert [e["event_id"] for e in events] == ids
    assert all(isinstance(e["cost_usd"], Decimal) for e in events)
    assert events[0]["tags"] == {"n": "0"} and events[0]["sdk"]["lang"] == "python"
    assert [e["event_id"] for e in costline.events(limit=2)] == ids[:2]
    assert costline.events(since="2000-01-01", limit=0) == []


def track_tagged_one(n: int):
    return costline.track(provider="openai", model="gpt-4o", input_tokens=10, output_tokens=5, tags={"n": str(n)})


def test_read_api_rejects_bad_arguments_and_a_ledger_that_is_off(ledger):
    import pytest

    with pytest.raises(ValueError, match="colour"):
        costline.report(by=["colour"])
    with pytest.raises(ValueError, match="since"):
        costline.events(since="yesterday")
    with pytest.raises(ValueError):
        costline.events(limit=-1)
    costline.configure(ledger="off")
    try:
        with pytest.raises(costline.LedgerError, match="off"):
            costline.report()
    finally:
        costline.configure(ledger=str(ledger))


def test_reading_in_process_keeps_the_ledger_visible_to_other_processes(ledger):
    track_tagged("before", 2)
    assert costline.report().totals["calls"] == 2
    assert len(costline.events()) == 2
    track_tagged("after", 3)
    assert costline.flush(10)
    assert len(events_seen_by_another_process(ledger)) == 5


def test_a_corrupt_ledger_is_logged_once_by_path_and_events_still_reach_the_collector(tmp_path, mock, caplog):
    import logging
    import time

    path = tmp_path / "corrupt.db"
    path.write_bytes(b"this is not an SQLite database\n" * 300)
    costline.configure(ledger=str(path), base_url=mock.url, api_key="collector-key", backoff_s=[0.05])
    try:
        with caplog.at_level(logging.WARNING, logger="costline"):
            before = costline.status()
            ids = {
                costline.track(provider="openai", model="gpt-4o", input_tokens=1, output_tokens=1).event_id
                for _ in range(6)
            }
            deadline = time.monotonic() + 30
            while not ids <= {e["event_id"] for e in mock.events()} and time.monotonic() < deadline:
                time.sleep(0.05)
            assert ids <= {e["event_id"] for e in mock.events()}, "held events reach the collector"
            time.sleep(0.5)  # the writer retries meanwhile: still one warning
        warnings = [r.getMessage() for r in caplog.records if str(path) in r.getMessage()]
        assert len(warnings) == 1, warnings
        assert "cannot be written" in warnings[0]

        status = costline.status()
        assert status["ledger"] == str(path)
        assert status["written"] == before["written"]
        assert status["held"] == 6
        assert status["exported"] - before["exported"] == 6
        assert str(path) in status["last_error"]
        assert set(status) >= {"ledger", "written", "pending_export", "dropped", "rejected", "last_error"}
        # A working ledger (same collector): the held events go there, as
        # already exported, and are not sent twice.
        costline.configure(ledger=str(tmp_path / "fine.db"))
        assert {e["event_id"] for e in costline.events()} == ids
        assert costline.flush(10)
        assert mock.collector_state()["counters"]["duplicate_events"] == 0, "each event was sent once"
    finally:
        costline.configure(ledger=str(tmp_path / "fine.db"), base_url="")


def test_cli_status_reads_what_the_ledger_knows_from_another_process(ledger):
    track_tagged("x", 3)
    assert costline.flush(10)
    out = subprocess.run(
        [sys.executable, "-m", "costline", "status", "--ledger", str(ledger), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    status = json.loads(out.stdout)
    assert status["ledger"] == str(ledger)
    assert status["written"] == 3 and status["pending_export"] == 0 and status["rejected"] == 0


def test_an_app_connection_kept_open_across_writes_then_closed_loses_nothing(ledger):
    track_tagged("first", 2)
    assert costline.flush(10)
    db = sqlite3.connect(ledger)
    try:
        for round_ in range(3):
            track_tagged(f"open-{round_}", 2)
            assert costline.flush(10)
            db.execute("SELECT count(*) FROM events").fetchone()
    finally:
        db.close()
    track_tagged("last", 2)
    assert costline.flush(10)
    assert len(events_seen_by_another_process(ledger)) == 10
    assert costline.report(by=[]).totals["calls"] == 10


def test_an_app_peeking_in_a_loop_while_costline_records_loses_nothing_once_it_stops(ledger):
    import threading

    track_tagged("first", 1)
    assert costline.flush(10)
    stop = threading.Event()

    def peek_in_a_loop() -> None:
        while not stop.is_set():
            try:
                peek_with_stdlib_sqlite(ledger)
            except sqlite3.Error:
                pass  # the app's own reads may fail meanwhile; costline's writes must not be lost

    peeker = threading.Thread(target=peek_in_a_loop)
    peeker.start()
    try:
        for burst in range(10):
            track_tagged(f"burst-{burst}", 20)
            costline.flush(0.2)
    finally:
        stop.set()
        peeker.join(timeout=60)
    # Events held while the app kept replacing the files are written now.
    assert costline.flush(30)
    assert len(events_seen_by_another_process(ledger)) == 201
    db = sqlite3.connect(ledger)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        db.close()
