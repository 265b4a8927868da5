"""Caps hold under load, with real stores: 1,000 concurrent calls (asyncio
tasks, threads) against a $1.00 cap, 4 processes sharing the ledger, 4
processes sharing a real redis-server; the mock answers with the request's
max output tokens, so each call's actual cost is about its worst case
($0.01). What is let through never passes the cap, and no fewer calls pass
than the cap allows less one. Half the tasks cancelled at random: once all
settle, nothing stays reserved, in every store."""

from __future__ import annotations

import asyncio
import json
import random
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from budget_support import HEADERS, MAX_TOKENS, MESSAGES, PRICES, chat, status

import costline
from costline.openai import AsyncOpenAI, OpenAI
from costline_fixtures import read_events

CAP = Decimal("1.00")
CALLS = 1000


def fits(worst: Decimal) -> int:
    """How many calls the cap lets through, reserving `worst` each."""
    return int(CAP // worst)


def worst_case() -> Decimal:
    """The worst case the core reserves for one test call (measured: reserve, read, release)."""
    costline.configure(budgets=[costline.Budget("1000", "total", name="probe")], budget_store="memory")
    from costline import _native

    held = _native.budget_reserve(
        "openai",
        "chat",
        "budget-model",
        {"model": "budget-model", "messages": MESSAGES, "max_tokens": MAX_TOKENS},
        False,
        None,
        None,
        [],
        {},
        {},
        [],
    )
    amount = Decimal(held.amount_usd)
    held.release()
    return amount


def check(admitted: int, spent: Decimal, worst: Decimal) -> None:
    assert spent <= CAP, f"spent {spent} passed the cap"
    assert admitted >= fits(worst) - 1, f"only {admitted} calls let through; the cap fits {fits(worst)}"


def spent_in(ledger) -> tuple[int, Decimal]:
    ok = [e for e in read_events(ledger) if e["status"] == "ok"]
    return len(ok), sum((Decimal(e["cost_usd"]) for e in ok), Decimal(0))


def test_a_thousand_asyncio_tasks_never_pass_the_cap(mock, budgets, ledger):
    worst = worst_case()
    budgets(costline.Budget(CAP, "day"))
    client = AsyncOpenAI(base_url=mock.openai_base_url, api_key="test", max_retries=0)

    async def one():
        try:
            await chat(client)
            return 1
        except costline.BudgetExceededError:
            return 0

    async def main():
        return sum(await asyncio.wait_for(asyncio.gather(*(one() for _ in range(CALLS))), 300))

    admitted = asyncio.run(main())
    row = status()
    assert row["reserved_usd"] == 0
    check(admitted, row["spent_usd"], worst)
    assert spent_in(ledger) == (admitted, row["spent_usd"])


def test_a_thousand_calls_from_threads_never_pass_the_cap(mock, budgets, ledger):
    worst = worst_case()
    budgets(costline.Budget(CAP, "day"), budget_store="ledger")
    client = OpenAI(base_url=mock.openai_base_url, api_key="test", max_retries=0)

    def one(_):
        try:
            chat(client)
            return 1
        except costline.BudgetExceededError:
            return 0

    with ThreadPoolExecutor(32) as pool:
        admitted = sum(pool.map(one, range(CALLS), timeout=300))
    row = status()
    assert row["reserved_usd"] == 0 and row["store"] == "ledger"
    check(admitted, row["spent_usd"], worst)
    assert spent_in(ledger) == (admitted, row["spent_usd"])


WORKER = """
    import json, sys
    from concurrent.futures import ThreadPoolExecutor
    import costline
    from costline.openai import OpenAI
    costline.configure(prices={prices!r}, budgets=[costline.Budget("1.00", "day")], budget_store={store!r},
                       redis_url={redis_url!r})
    client = OpenAI(base_url={base_url!r}, api_key="t", max_retries=0)
    def one(_):
        try:
            client.chat.completions.create(model="budget-model", messages={messages!r}, max_tokens={max_tokens},
                                           extra_headers={headers!r})
            return 1
        except costline.BudgetExceededError:
            return 0
    with ThreadPoolExecutor(8) as pool:
        admitted = sum(pool.map(one, range({calls})))
    costline.flush(30)
    print(json.dumps({{"admitted": admitted}}))
"""


def run_processes(mock, tmp_path, store, redis_url=""):
    import os
    import subprocess
    import sys
    import textwrap

    from costline_fixtures import _REPO

    ledger = tmp_path / "shared.db"
    code = textwrap.dedent(
        WORKER.format(
            prices=PRICES,
            store=store,
            redis_url=redis_url,
            base_url=mock.openai_base_url,
            messages=MESSAGES,
            max_tokens=MAX_TOKENS,
            headers=HEADERS,
            calls=CALLS // 4,
        )
    )
    env = {**os.environ, "COSTLINE_LEDGER": str(ledger), "PYTHONPATH": str(_REPO / "tests")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    admitted = 0
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        admitted += json.loads(out.strip().splitlines()[-1])["admitted"]
    return ledger, admitted


def test_four_processes_sharing_the_ledger_never_pass_the_cap(mock, budgets, tmp_path):
    worst = worst_case()
    ledger, admitted = run_processes(mock, tmp_path, "ledger")
    calls, spent = spent_in(ledger)
    assert calls == admitted
    check(admitted, spent, worst)
    costline.configure(ledger=str(ledger), budgets=[costline.Budget(CAP, "day")], budget_store="ledger")
    assert (status()["spent_usd"], status()["reserved_usd"]) == (spent, 0)


def test_four_processes_sharing_redis_never_pass_the_cap(mock, budgets, tmp_path, redis_server):
    worst = worst_case()
    ledger, admitted = run_processes(mock, tmp_path, "redis", redis_server.url)
    calls, spent = spent_in(ledger)
    assert calls == admitted
    check(admitted, spent, worst)
    budgets(costline.Budget(CAP, "day"), budget_store="redis", redis_url=redis_server.url)
    assert (status()["spent_usd"], status()["reserved_usd"]) == (spent, 0)


@pytest.mark.parametrize("store", ["memory", "ledger", "redis"])
def test_cancelling_half_the_tasks_at_random_leaves_nothing_reserved(mock, budgets, request, store):
    kwargs = {"budget_store": store}
    if store == "redis":
        kwargs["redis_url"] = request.getfixturevalue("redis_server").url
    budgets(costline.Budget(CAP, "day"), **kwargs)
    client = AsyncOpenAI(base_url=mock.openai_base_url, api_key="test", max_retries=0)
    rng = random.Random(8)

    async def one():
        try:
            await chat(client, extra_headers={"x-mock-error": f"slow:{rng.randint(0, 50)}"})
        except costline.BudgetExceededError:
            pass

    async def main():
        tasks = [asyncio.ensure_future(one()) for _ in range(400)]
        await asyncio.sleep(0.05)
        for task in rng.sample(tasks, len(tasks) // 2):
            await asyncio.sleep(rng.random() * 0.002)
            task.cancel()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 300)

    asyncio.run(main())
    row = status()
    assert row["reserved_usd"] == 0, row
    assert row["spent_usd"] <= CAP
