"""Budgets through the drop-ins: a call that would pass a cap is refused
before anything is sent and recorded as blocked; every way a call can end
gives its reservation back or settles it; run caps, alerts, warn budgets,
the operators' budgets file and `costline budgets`."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from decimal import Decimal
from typing import Any, Dict

import anthropic
import httpx2 as httpx
import openai
import pytest
from budget_support import ACTUAL, HEADERS, MAX_TOKENS, MESSAGES, PRICES, chat, status

import costline
from costline.openai import AsyncOpenAI, OpenAI
from costline_fixtures import read_events, run_script


@pytest.fixture
def client(mock):
    return OpenAI(base_url=mock.openai_base_url, api_key="test", max_retries=0)


def chat_requests(mock):
    return [r for r in mock.requests() if r.get("path", "").endswith("/chat/completions")]


def test_a_call_over_a_cap_raises_before_sending_and_is_recorded_as_blocked(client, mock, budgets, ledger):
    budgets(costline.Budget("0.015", "day", agent="researcher"))
    with costline.run(agent="researcher"):
        chat(client)
        with pytest.raises(costline.BudgetExceededError) as raised:
            chat(client)
    err = raised.value
    assert isinstance(err, costline.CostlineError)
    assert (err.scope, err.period, err.agent, err.budget_name) == ("agent", "day", "researcher", "agent=researcher/day")
    assert err.limit_usd == Decimal("0.015") and err.spent_usd == ACTUAL and err.reserved_usd == 0
    assert Decimal("0.01") < err.attempted_usd < Decimal("0.0102")
    assert "agent=researcher/day" in str(err) and "would be exceeded by $" in str(err)
    assert len(chat_requests(mock)) == 1, "the refused call must not reach the provider"
    events = read_events(ledger)
    assert [e["status"] for e in events] == ["ok", "blocked"]
    blocked = events[1]
    assert blocked["error_type"] == "BudgetExceededError" and blocked["agent"] == "researcher"
    assert blocked["cost_usd"] == "0" and blocked["output_tokens"] == 0


def test_a_settled_call_leaves_its_actual_cost_and_nothing_reserved(client, budgets):
    budgets(costline.Budget("1", "day"))
    chat(client)
    row = status()
    assert (row["spent_usd"], row["reserved_usd"], row["remaining_usd"]) == (ACTUAL, 0, 1 - ACTUAL)
    assert row["store"] == "memory" and row["period_label"]


def test_a_named_time_zone_sets_the_day_by_its_own_clock(budgets):
    import datetime
    import zoneinfo

    budgets(costline.Budget("1", "day", timezone="Pacific/Kiritimati"), costline.Budget("1", "day", name="utc"))
    rows = {r["name"]: r for r in costline.budget_status()}
    zoned = rows["global/day"]
    # Kiritimati is UTC+14: its date differs from UTC's for 14 hours a day, and is checked
    # against Python's own zone database, not the core's.
    now = datetime.datetime.now(datetime.timezone.utc)
    assert zoned["timezone"] == "Pacific/Kiritimati"
    assert zoned["period_label"] in {
        (now + datetime.timedelta(seconds=d)).astimezone(zoneinfo.ZoneInfo("Pacific/Kiritimati")).date().isoformat()
        for d in (-5, 0, 5)
    }
    assert rows["utc"]["timezone"] == "UTC"


def test_an_unknown_time_zone_is_a_clear_error(budgets):
    with pytest.raises(costline.ConfigError, match="IANA zone name"):
        budgets(costline.Budget("1", "day", timezone="Mars/Olympus"))


def test_a_provider_error_releases_the_reservation(client, budgets):
    budgets(costline.Budget("1", "day"))
    with pytest.raises(openai.InternalServerError):
        chat(client, extra_headers={"x-mock-error": "500"})
    assert (status()["spent_usd"], status()["reserved_usd"]) == (0, 0)


def test_a_timeout_releases_the_reservation(mock, budgets):
    budgets(costline.Budget("1", "day"))
    slow = OpenAI(base_url=mock.openai_base_url, api_key="test", max_retries=0, timeout=0.2)
    with pytest.raises(openai.APITimeoutError):
        chat(slow, extra_headers={"x-mock-error": "slow:3000"})
    assert (status()["spent_usd"], status()["reserved_usd"]) == (0, 0)


def test_a_cancelled_task_releases_the_reservation(mock, budgets):
    budgets(costline.Budget("1", "day"))
    client = AsyncOpenAI(base_url=mock.openai_base_url, api_key="test", max_retries=0)

    async def main():
        task = asyncio.ensure_future(chat(client, extra_headers={"x-mock-error": "slow:5000"}))
        while not chat_requests(mock):
            await asyncio.sleep(0.01)
        assert status()["reserved_usd"] > 0
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert (status()["spent_usd"], status()["reserved_usd"]) == (0, 0)


def test_a_keyboard_interrupt_releases_the_reservation(mock, budgets):
    budgets(costline.Budget("1", "day"))

    def interrupt(request):
        raise KeyboardInterrupt

    http = httpx.Client(event_hooks={"request": [interrupt]})
    client = OpenAI(base_url=mock.openai_base_url, api_key="test", max_retries=0, http_client=http)
    with pytest.raises(KeyboardInterrupt):
        chat(client)
    assert (status()["spent_usd"], status()["reserved_usd"]) == (0, 0)


def test_a_stream_closed_early_settles_what_it_used(client, budgets):
    budgets(costline.Budget("1", "day"))
    stream = chat(client, stream=True, extra_headers={"x-mock-chunks": "50"})
    next(iter(stream))
    assert status()["reserved_usd"] > 0
    stream.close()
    row = status()
    assert row["reserved_usd"] == 0
    assert 0 < row["spent_usd"] < ACTUAL


def test_a_stream_read_to_the_end_settles_its_reported_cost(client, budgets):
    budgets(costline.Budget("1", "day"))
    list(chat(client, stream=True))
    assert (status()["spent_usd"], status()["reserved_usd"]) == (ACTUAL, 0)


def test_a_run_cap_refuses_the_call_that_would_pass_it(client, budgets, mock):
    costline.configure(prices={"budget-model": {"input": "0.00001", "output": "0.00001"}})
    with costline.run("research", max_cost_usd="0.025") as r:
        chat(client)
        chat(client)
        with pytest.raises(costline.BudgetExceededError) as raised:
            chat(client)
    assert (raised.value.scope, raised.value.period) == ("run", "run")
    assert r.cost_usd == 2 * ACTUAL
    with costline.run("research", max_cost_usd="0.025"):
        chat(client)  # a new run has its own cap
    with pytest.raises(TypeError):
        costline.run("x", max_cost_usd=0.5)


def test_a_run_cap_holds_in_a_process_that_never_configured_budgets(tmp_path, mock):
    code = f"""
        import costline
        from costline.openai import OpenAI
        costline.configure(prices={PRICES!r})
        c = OpenAI(base_url={mock.openai_base_url!r}, api_key="t", max_retries=0)
        kw = dict(model="budget-model", messages={MESSAGES!r}, max_tokens={MAX_TOKENS}, extra_headers={HEADERS!r})
        with costline.run(max_cost_usd="0.015"):
            c.chat.completions.create(**kw)
            try:
                c.chat.completions.create(**kw)
                print("sent")
            except costline.BudgetExceededError as e:
                print("blocked", e.scope)
    """
    out = run_script(code, {"COSTLINE_LEDGER": str(tmp_path / "l.db")})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "blocked run"


def test_alerts_fire_once_per_threshold_and_are_recorded(client, budgets, ledger):
    heard = []
    budgets(costline.Budget("0.0533", "month"), on_budget_alert=heard.append)
    for _ in range(5):
        chat(client)
    assert costline.flush(30)  # outside a run, calls settle on the writer thread
    assert [a.threshold_percent for a in heard] == [75, 90]
    assert isinstance(heard[0], costline.BudgetAlert)
    assert heard[0].spent_usd == 4 * ACTUAL and "reached 75%" in str(heard[0])
    from costline import _native  # noqa: F401

    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("
            "'select count(*) from budget_alerts').fetchone()[0])",
            str(ledger),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.stdout.strip() == "2", out.stderr


def test_a_warn_budget_lets_calls_through_and_alerts_once(client, budgets, mock):
    heard = []
    budgets(costline.Budget("0.015", "day", action="warn", alerts=()), on_budget_alert=heard.append)
    for _ in range(3):
        chat(client)
    assert costline.flush(30)
    assert len(chat_requests(mock)) == 3
    assert [(a.exceeded, a.action) for a in heard] == [(True, "warn")]


def test_without_budgets_or_a_capped_run_a_call_does_no_budget_work(client, ledger, monkeypatch):
    from costline import _budgets, _native

    def must_not_run(*args):
        raise AssertionError("budget_reserve was called without budgets")

    monkeypatch.setattr(_native, "budget_reserve", must_not_run)
    assert not _budgets.active
    chat(client)
    assert costline.budget_status() == []


BUDGETS_FILE = """\
[[budget]]
limit_usd = "0.015"
period = "day"

[[budget]]
limit_usd = "5"
period = "fortnight"
"""


def test_a_malformed_budgets_file_is_an_error_naming_the_line_and_other_budgets_apply(tmp_path, mock):
    path = tmp_path / "budgets.toml"
    path.write_text(BUDGETS_FILE)
    code = f"""
        import logging, costline
        from costline.openai import OpenAI
        logging.basicConfig(level=logging.WARNING)
        costline.configure(prices={{"budget-model": {{"input": "0.00001", "output": "0.00001"}}}},
                           budgets=[costline.Budget("100", "month", agent="other")])
        print(sorted(b["name"] for b in costline.budget_status()))
        c = OpenAI(base_url={mock.openai_base_url!r}, api_key="t", max_retries=0)
        kw = dict(model="budget-model", messages=[{{"role": "user", "content": "hi"}}], max_tokens={MAX_TOKENS},
                  extra_headers={{"x-mock-prompt-tokens": "1", "x-mock-completion-tokens": "{MAX_TOKENS}"}})
        c.chat.completions.create(**kw)
        try:
            c.chat.completions.create(**kw)
        except costline.BudgetExceededError as e:
            print("blocked", e.budget_name)
    """
    out = run_script(code, {"COSTLINE_BUDGETS": str(path), "COSTLINE_LEDGER": str(tmp_path / "l.db")})
    assert out.returncode == 0, out.stderr
    assert "['agent=other/month', 'global/day']" in out.stdout
    assert "blocked global/day" in out.stdout
    assert f"budgets file {path} line 5" in out.stderr and "fortnight" in out.stderr


def test_the_cli_shows_each_budget_with_spent_reserved_and_remaining(tmp_path, mock):
    path = tmp_path / "budgets.toml"
    path.write_text('[[budget]]\nname = "daily"\nlimit_usd = "1"\nperiod = "day"\n')
    env = {"COSTLINE_BUDGETS": str(path), "COSTLINE_LEDGER": str(tmp_path / "l.db")}
    code = f"""
        import costline
        from costline.openai import OpenAI
        costline.configure(prices={PRICES!r}, budget_store="ledger")
        c = OpenAI(base_url={mock.openai_base_url!r}, api_key="t", max_retries=0)
        c.chat.completions.create(model="budget-model", messages={MESSAGES!r},
            max_tokens={MAX_TOKENS}, extra_headers={HEADERS!r})
    """
    out = run_script(code, env)
    assert out.returncode == 0, out.stderr
    cli = [sys.executable, "-m", "costline", "budgets"]
    shown = subprocess.run(
        [*cli, "--json"], env={**__import__("os").environ, **env}, capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0, shown.stderr
    [row] = json.loads(shown.stdout)
    assert (row["name"], row["period"], row["limit_usd"]) == ("daily", "day", "1")
    assert (row["spent_usd"], row["reserved_usd"], row["remaining_usd"]) == (str(ACTUAL), "0", str(1 - ACTUAL))
    table = subprocess.run(cli, env={**__import__("os").environ, **env}, capture_output=True, text=True, timeout=60)
    assert table.returncode == 0 and "daily" in table.stdout and f"${ACTUAL}" in table.stdout, table.stdout


def test_enforce_stream_stops_a_stream_before_its_running_cost_passes_the_cap(client, budgets, ledger, mock):
    budgets(costline.Budget("0.005", "day", enforce_stream=True))
    kwargs = dict(model="budget-model", messages=MESSAGES, stream=True, extra_headers={"x-mock-chunks": "2000"})
    stream = client.chat.completions.create(**kwargs)  # no max_tokens: the worst case alone would be refused
    received = []
    with pytest.raises(costline.BudgetExceededError) as raised:
        for chunk in stream:
            received.append(chunk)
    assert 100 < len(received) < 600, len(received)
    assert raised.value.budget_name == "global/day" and raised.value.attempted_usd > Decimal("0.004")
    row = status()
    assert row["reserved_usd"] == 0 and 0 < row["spent_usd"] <= Decimal("0.005")
    [event] = read_events(ledger)
    assert (event["status"], event["error_type"], event["stream"]) == ("error", "BudgetExceededError", True)


def test_without_enforce_stream_an_unbounded_stream_is_refused_up_front(client, budgets, mock):
    budgets(costline.Budget("0.005", "day"))
    with pytest.raises(costline.BudgetExceededError):
        client.chat.completions.create(model="budget-model", messages=MESSAGES, stream=True)
    assert chat_requests(mock) == []


def _unreachable_redis_url() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"redis://127.0.0.1:{s.getsockname()[1]}"


def test_an_unreachable_redis_lets_calls_through_when_open_and_logs_it_once(client, budgets, mock, caplog):
    budgets(costline.Budget("1", "day"), budget_store="redis", redis_url=_unreachable_redis_url())
    for _ in range(3):
        chat(client)
    assert len(chat_requests(mock)) == 3
    assert costline.flush(30)
    outage = [r for r in caplog.records if "budget store failed" in r.getMessage()]
    assert len(outage) == 1 and "budget_fail_mode=open" in outage[0].getMessage()


def _async_sender(drop_in: str, mock: Any) -> Any:
    """One async call through `drop_in`: the OpenAI, Anthropic, Gemini or Mistral async client, an OpenAI
    call that fails and falls back to Anthropic (two reservations), or the routed client."""
    if drop_in == "routed":
        from routing_support import client_for

        routed = costline.AsyncCostline(providers={"openai": client_for(mock, "openai", is_async=True)})
        return lambda: routed.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=10)
    if drop_in == "gemini":
        from costline.google import Client

        gemini = Client(api_key="test", http_options={"base_url": mock.gemini_base_url})
        return lambda: gemini.aio.models.generate_content(model="gemini-2.5-flash", contents="hi")
    if drop_in == "mistral":
        from costline.mistral import Mistral

        mistral = Mistral(api_key="test", server_url=mock.mistral_server_url)
        return lambda: mistral.chat.complete_async(model="mistral-small-latest", messages=MESSAGES, max_tokens=10)
    if drop_in == "anthropic":
        from costline.anthropic import AsyncAnthropic

        claude = AsyncAnthropic(base_url=mock.anthropic_base_url, api_key="test", max_retries=0)
        return lambda: claude.messages.create(model="claude-haiku-4-5", messages=MESSAGES, max_tokens=10)
    options: Dict[str, Any] = {}
    if drop_in == "openai-fallback":
        target = anthropic.AsyncAnthropic(base_url=mock.anthropic_base_url, api_key="test", max_retries=0)
        options = {
            "default_headers": {"x-mock-error": "503"},
            "costline": {"fallback": [{"provider": "anthropic", "model": "claude-haiku-4-5", "client": target}]},
        }
    client = AsyncOpenAI(base_url=mock.openai_base_url, api_key="test", max_retries=0, **options)
    return lambda: chat(client)


@pytest.mark.parametrize("drop_in", ["openai", "anthropic", "gemini", "mistral", "openai-fallback", "routed"])
def test_a_reservation_waiting_for_its_store_leaves_the_asyncio_loop_running(budgets, mock, drop_in):
    # A Redis that accepts connections and never answers: the store gives up after its
    # read timeout, and the fail mode (open) lets the call through.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}"
        budgets(costline.Budget("1", "day"), budget_store="redis", redis_url=url)
        send = _async_sender(drop_in, mock)

        async def call_beside_a_ticker() -> tuple:
            longest, last = 0.0, time.perf_counter()

            async def tick() -> None:
                nonlocal longest, last
                while True:
                    await asyncio.sleep(0.005)
                    now = time.perf_counter()
                    longest, last = max(longest, now - last), now

            ticker = asyncio.create_task(tick())
            started = time.perf_counter()
            await send()
            waited = time.perf_counter() - started
            ticker.cancel()
            return max(longest, time.perf_counter() - last), waited

        longest, waited = asyncio.run(call_beside_a_ticker())
    assert waited > 0.5, f"the store was waited for: {waited:.2f} s"
    assert longest < 0.5, f"the loop stood still {longest:.2f} s while the call waited {waited:.2f} s for its store"


def test_an_unreachable_redis_blocks_calls_when_closed(client, budgets, mock):
    budgets(
        costline.Budget("1", "day"),
        budget_store="redis",
        redis_url=_unreachable_redis_url(),
        budget_fail_mode="closed",
    )
    with pytest.raises(costline.BudgetExceededError) as raised:
        chat(client)
    assert raised.value.store_error and "unreachable" in str(raised.value)
    assert chat_requests(mock) == []


def test_alerts_from_calls_still_in_flight_at_exit_are_heard_and_the_process_exits_cleanly(tmp_path, mock):
    code = f"""
        import costline
        from costline.openai import OpenAI
        costline.configure(prices={PRICES!r}, budget_store="ledger",
                           budgets=[costline.Budget("0.0111", "day")],
                           on_budget_alert=lambda a: print("alert", a.threshold_percent, flush=True))
        c = OpenAI(base_url={mock.openai_base_url!r}, api_key="t", max_retries=0)
        c.chat.completions.create(model="budget-model", messages={MESSAGES!r}, max_tokens={MAX_TOKENS},
                                  extra_headers={HEADERS!r})
        # no flush: the call settles while the interpreter exits
    """
    out = run_script(code, {"COSTLINE_LEDGER": str(tmp_path / "l.db")})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["alert", "75", "alert", "90"], out.stdout


def test_a_forked_child_does_not_inherit_the_parents_reservations(tmp_path):
    # gunicorn --preload, multiprocessing with fork: a call in flight in the parent
    # settles in the parent; the child must not carry its reservation forever.
    code = """
        import os, costline
        from decimal import Decimal
        from costline import _native
        costline.configure(prices={"budget-model": {"input": "0.00001", "output": "0.00001"}},
                           budgets=[costline.Budget("0.05", "total")], budget_store="memory")
        body = {"model": "budget-model", "messages": [], "max_tokens": 4000}
        held = _native.budget_reserve("openai", "chat", "budget-model", body, False, None, None, [], {}, {}, [])
        pid = os.fork()
        if pid == 0:
            [row] = costline.budget_status()
            again = _native.budget_reserve("openai", "chat", "budget-model", body, False, None, None, [], {}, {}, [])
            os._exit(0 if row["reserved_usd"] == 0 and again is not None else 1)
        _, status = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(status) == 0, "the child saw the parent's reservation"
        [row] = costline.budget_status()
        assert row["reserved_usd"] == Decimal(held.amount_usd) > 0
        print("ok")
        """
    out = run_script(code, {"COSTLINE_LEDGER": str(tmp_path / "l.db")})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "ok"
