"""Events leave the process without loss and without hurting the host: exit,
fork, collector outages, full queues, bad settings, privacy."""

from __future__ import annotations

import json
import sqlite3
import time
from decimal import Decimal
from pathlib import Path

import pytest

import costline
from costline_fixtures import SECRET_KEY, read_events, run_script

REPO = Path(__file__).resolve().parents[2]


def track_one(**kw):
    return costline.track(provider="openai", model="gpt-4o", input_tokens=10, output_tokens=5, **kw)


def test_exit_without_flush_loses_nothing(tmp_path, mock):
    path = tmp_path / "exit.db"
    proc = run_script(
        f"""
        import costline
        from costline.openai import OpenAI
        client = OpenAI(base_url={mock.openai_base_url!r}, api_key="k")
        for _ in range(3):
            client.chat.completions.create(model="gpt-4o", messages=[{{"role": "user", "content": "hi"}}])
        for i in range(2000):
            costline.track(provider="openai", model="gpt-4o", input_tokens=i, output_tokens=1)
        # no flush: the exit hook must deliver everything
        """,
        {"COSTLINE_LEDGER": str(path)},
    )
    assert proc.returncode == 0, proc.stderr
    events = read_events(path)
    assert len(events) == 2003
    assert len({e["event_id"] for e in events}) == 2003


def test_fork_child_records_its_events(tmp_path):
    path = tmp_path / "fork.db"
    proc = run_script(
        """
        import os, sys, costline
        costline.track(provider="openai", model="gpt-4o", input_tokens=1, output_tokens=1, tags={"who": "parent"})
        costline.flush(5)
        pid = os.fork()
        if pid == 0:
            for _ in range(3):
                costline.track(provider="openai", model="gpt-4o", input_tokens=1, output_tokens=1,
                               tags={"who": "child"})
            sys.exit(0)  # the exit hook flushes in the child too
        _, status = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(status) == 0
        costline.track(provider="openai", model="gpt-4o", input_tokens=1, output_tokens=1, tags={"who": "parent"})
        """,
        {"COSTLINE_LEDGER": str(path)},
    )
    assert proc.returncode == 0, proc.stderr
    who = sorted(e["tags"]["who"] for e in read_events(path))
    assert who == ["child"] * 3 + ["parent"] * 2


def test_multiprocessing_fork_workers_record(tmp_path):
    path = tmp_path / "mp.db"
    proc = run_script(
        """
        import multiprocessing as mp, costline
        costline.track(provider="openai", model="gpt-4o", input_tokens=1, output_tokens=1)
        def work(i):
            costline.track(provider="openai", model="gpt-4o", input_tokens=i, output_tokens=1, tags={"worker": "yes"})
            return costline.flush(10)
        if __name__ == "__main__":
            with mp.get_context("fork").Pool(2) as pool:
                assert all(pool.map(work, range(6)))
        """,
        {"COSTLINE_LEDGER": str(path)},
    )
    assert proc.returncode == 0, proc.stderr
    events = read_events(path)
    assert sum(1 for e in events if e["tags"].get("worker") == "yes") == 6


def test_collector_outage_then_recovery_loses_nothing(mock, ledger):
    mock.reset()
    mock.set_collector(fail=4, status=503, retry_after=0)
    costline.configure(base_url=mock.url, api_key="collector-key", backoff_s=[0.05, 0.1], timeout_s=2)
    try:
        ids = {track_one().event_id for _ in range(25)}
        deadline = time.monotonic() + 30
        while not costline.flush(2.0) and time.monotonic() < deadline:
            pass
        received = {e["event_id"] for e in mock.events()}
        assert received == ids
        assert len(read_events(ledger)) == 25
    finally:
        costline.configure(base_url="")


def test_unreachable_collector_flush_returns_within_timeout_then_delivers_later(mock, ledger):
    mock.reset()
    costline.configure(base_url="http://127.0.0.1:9", api_key="k", backoff_s=[0.05], timeout_s=0.5)
    try:
        ids = {track_one().event_id for _ in range(5)}
        started = time.monotonic()
        assert costline.flush(0.5) is False
        assert time.monotonic() - started < 5.0  # generous: returns near its timeout, never hangs
        # The events wait in the ledger's outbox; a reachable collector gets them.
        costline.configure(base_url=mock.url)
        deadline = time.monotonic() + 30
        while not costline.flush(2.0) and time.monotonic() < deadline:
            pass
        assert ids <= {e["event_id"] for e in mock.events()}
    finally:
        costline.configure(base_url="")


@pytest.mark.parametrize("timeout", [0.2, 0.5])
def test_flush_returns_within_its_timeout_while_the_collector_never_answers(mock, ledger, timeout):
    mock.set_collector(hang=True)
    # The request itself would wait 30 s: flush must not wait for it.
    costline.configure(base_url=mock.url, api_key="k", backoff_s=[0.05], timeout_s=30)
    try:
        track_one()
        started = time.monotonic()
        assert costline.flush(timeout) is False  # never acknowledged
        elapsed = time.monotonic() - started
        assert timeout <= elapsed < timeout + 0.1, elapsed
    finally:
        mock.set_collector()
        costline.configure(base_url="")


def test_collector_receives_bearer_auth_and_wire_events(mock, ledger):
    mock.reset()
    costline.configure(base_url=mock.url, api_key="collector-key", backoff_s=[0.05])
    try:
        tracked = track_one(tags={"k": "v"})
        assert costline.flush(10)
        [event] = [e for e in mock.events() if e["event_id"] == tracked.event_id]
        assert event["cost_usd"] == str(tracked.cost_usd) and event["tags"] == {"k": "v"}
        post = mock.collector_state()["posts"][-1]
        assert post["headers"].get("authorization") == "Bearer collector-key"
    finally:
        costline.configure(base_url="")


def test_full_queue_drops_and_counts_but_never_raises(ledger):
    costline.configure(queue_size=1)
    try:
        before = costline._native.stats()
        for _ in range(20_000):
            track_one()
        assert costline.flush(30)
        after = costline._native.stats()
        dropped = after["dropped"] - before["dropped"]
        written = after["written"] - before["written"]
        assert dropped > 0, "a queue of one cannot take 20,000 events in a burst"
        assert dropped + written == 20_000
        assert len(read_events(ledger)) == written
    finally:
        costline.configure(queue_size=10_000)


def test_unwritable_ledger_keeps_events_until_it_is_fixed(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a directory should be")
    costline.configure(ledger=str(blocker / "ledger.db"), base_url="")
    ids = {track_one().event_id for _ in range(3)}
    assert costline.flush(0.5) is False  # cannot write, but returns
    good = tmp_path / "good.db"
    costline.configure(ledger=str(good))
    assert ids <= {e["event_id"] for e in read_events(good)}


def test_prompts_outputs_and_keys_never_reach_the_ledger_or_any_costline_log(tmp_path, mock):
    # In a fresh process with every costline logger at DEBUG from the start: the
    # core's records reach Python logging (pyo3-log, "costline.costline_core.*")
    # with levels cached when first used, so only a process that starts at DEBUG
    # sees all of them.
    path = tmp_path / "private.db"
    records = tmp_path / "records.json"
    secret_prompt = "PROMPT-SECRET-7f3a9"
    collector_key = "collector-SECRET-key-5151"
    mock.set_collector(fail=-1, status=503, retry_after=0)
    proc = run_script(
        f"""
        import json, logging
        kept = []
        class Keep(logging.Handler):
            def emit(self, record):
                kept.append({{"name": record.name, "text": self.format(record), "args": repr(record.args)}})
        handler = Keep(logging.DEBUG)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        logging.getLogger("costline").setLevel(logging.DEBUG)
        logging.getLogger("costline").addHandler(handler)

        import costline
        from costline.openai import OpenAI
        client = OpenAI(base_url={mock.openai_base_url!r}, api_key={SECRET_KEY!r}, max_retries=0)
        messages = [{{"role": "user", "content": {secret_prompt!r}}}]
        resp = client.chat.completions.create(model="gpt-4o", messages=messages)
        list(client.chat.completions.create(model="gpt-4o", messages=messages, stream=True))
        # An unpriced model: the core logs a warning about this call.
        client.chat.completions.create(model="costline-no-such-model", messages=messages)
        # A collector that keeps failing: the core logs the outage.
        costline.configure(base_url={mock.url!r}, api_key={collector_key!r}, backoff_s=[0.05])
        client.chat.completions.create(model="gpt-4o", messages=messages)
        costline.flush(1.0)
        costline.configure(base_url="")
        assert costline.shutdown(10)
        print(resp.choices[0].message.content)
        json.dump(kept, open({str(records)!r}, "w"))
        """,
        {"COSTLINE_LEDGER": str(path)},
    )
    mock.set_collector()
    assert proc.returncode == 0, proc.stderr
    output = proc.stdout.strip().splitlines()[-1]
    kept = json.loads(records.read_text())
    core = [r for r in kept if r["name"].startswith("costline.costline_core")]
    assert any("costline-no-such-model" in r["text"] for r in core), kept
    assert any("collector" in r["text"] for r in core), kept
    assert len(read_events(path)) == 4
    blob = b"".join(p.read_bytes() for p in path.parent.iterdir() if p.name.startswith(path.name))
    for secret in (secret_prompt, SECRET_KEY, collector_key, output):
        assert secret.encode() not in blob, secret
        for record in kept:
            assert secret not in record["text"] and secret not in record["args"], record


def test_disabled_makes_plain_clients(tmp_path, mock):
    path = tmp_path / "disabled.db"
    proc = run_script(
        f"""
        import costline
        from costline.openai import OpenAI
        r = OpenAI(base_url={mock.openai_base_url!r}, api_key="k").chat.completions.create(
            model="gpt-4o", messages=[{{"role": "user", "content": "hi"}}])
        assert r.usage.total_tokens > 0
        costline.flush(5)
        """,
        {"COSTLINE_LEDGER": str(path), "COSTLINE_DISABLED": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    assert not path.exists() or read_events(path) == []


def test_price_override_file_and_bad_price_file(tmp_path, ledger):
    good = tmp_path / "prices.json"
    good.write_text('{"my-model": {"input_per_million": "1.5", "output_per_million": "3"}}')
    costline.configure(prices=str(good))
    try:
        assert costline.cost("my-model", input_tokens=1_000_000, output_tokens=1_000_000) == Decimal("4.5")
        track = costline.track(provider="openai", model="my-model", input_tokens=2000, output_tokens=0)
        assert track.cost_usd == Decimal("0.003")
        [event] = read_events(ledger)
        assert event["cost_source"] == "override"
        bad = tmp_path / "bad.json"
        bad.write_text('{"my-model": {"input_per_million": "cheap"}}')
        with pytest.raises(costline.PricesError, match="bad.json"):
            costline.configure(prices=str(bad))
        # the previous overrides stay in force
        assert costline.cost("my-model", input_tokens=1_000_000, output_tokens=0) == Decimal("1.5")
    finally:
        empty = tmp_path / "empty.json"
        empty.write_text("{}")
        costline.configure(prices=str(empty))


def test_ledger_is_real_sqlite_with_decimal_text_costs(ledger):
    track_one()
    read_events(ledger)
    with sqlite3.connect(ledger) as db:
        (cost_type,) = db.execute("select typeof(cost_usd) from events").fetchone()
    assert cost_type == "text"


def test_fork_right_after_the_first_client_is_built(tmp_path, mock):
    # The first client starts parsing the catalog on a thread; a fork at that
    # moment (gunicorn --preload) must leave the child able to price calls.
    path = tmp_path / "preload.db"
    proc = run_script(
        f"""
        import os, sys, costline
        from costline.openai import OpenAI
        client = OpenAI(base_url={mock.openai_base_url!r}, api_key="k", max_retries=0)
        pid = os.fork()
        if pid == 0:
            client.chat.completions.create(model="gpt-4o", messages=[{{"role": "user", "content": "hi"}}])
            sys.exit(0 if costline.flush(10) else 1)
        _, status = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(status) == 0
        """,
        {"COSTLINE_LEDGER": str(path)},
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    [event] = read_events(path)
    assert event["cost_source"] == "catalog"
