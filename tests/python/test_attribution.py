"""Who made each call: process tags, nested runs, per-client and per-call agents."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from decimal import Decimal

import pytest

import costline
from costline.openai import AsyncOpenAI, OpenAI
from costline_fixtures import read_events

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
def client(mock):
    return OpenAI(base_url=mock.openai_base_url, api_key="k", max_retries=0)


def test_nested_runs_share_run_id_and_extend_agent_path(client, ledger):
    costline.configure(tags={"feature": "support-bot", "env": "test"})
    try:
        with costline.run(agent="triage", tags={"customer": "acme", "env": "staging"}) as outer:
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            with costline.run(agent="lookup"):
                client.with_agent("summarizer").responses.create(model="gpt-4o-mini", input="x")
            total = outer.cost_usd
    finally:
        costline.configure(tags={})
    first, second = read_events(ledger)
    assert first["run_id"] == second["run_id"] == outer.run_id
    assert first["agent"] == "triage" and first["agent_path"] == ["triage"]
    assert second["agent"] == "summarizer" and second["agent_path"] == ["triage", "lookup", "summarizer"]
    # process -> outer -> inner; inner wins
    assert first["tags"] == {"feature": "support-bot", "env": "staging", "customer": "acme"}
    assert total == Decimal(first["cost_usd"]) + Decimal(second["cost_usd"])
    assert isinstance(total, Decimal) and total > 0


def test_positional_agent_and_explicit_run_id(client, ledger):
    with costline.run("research", run_id="run-42") as r:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    [event] = read_events(ledger)
    assert r.run_id == "run-42" and event["run_id"] == "run-42" and event["agent"] == "research"


def test_with_agent_outside_a_run_is_a_run_of_its_own(client, ledger):
    client.with_agent("writer").chat.completions.create(model="gpt-4o", messages=MESSAGES)
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    with costline.with_agent("planner"):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    writer, bare, planner = read_events(ledger)
    assert writer["agent_path"] == ["writer"] and writer["run_id"]
    assert bare["agent"] is None and bare["run_id"] is None and bare["agent_path"] == []
    assert planner["agent_path"] == ["planner"]


def test_decorator_starts_a_fresh_run_per_call(client, ledger):
    @costline.run("job")
    def job():
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    job()
    job()
    a, b = read_events(ledger)
    assert a["agent"] == b["agent"] == "job" and a["run_id"] != b["run_id"]


def test_runs_follow_asyncio_tasks_without_leaking_between_them(mock, ledger):
    client = AsyncOpenAI(base_url=mock.openai_base_url, api_key="k", max_retries=0)

    async def agent(name: str):
        async with costline.run(name, tags={"who": name}):
            await asyncio.sleep(0)
            await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    @costline.run("orchestrator")
    async def main():
        await asyncio.gather(agent("alpha"), agent("beta"), agent("gamma"))

    asyncio.run(main())
    events = read_events(ledger)
    assert sorted(e["agent_path"][-1] for e in events) == ["alpha", "beta", "gamma"]
    assert len({e["run_id"] for e in events}) == 1
    for e in events:
        assert e["agent_path"][0] == "orchestrator" and e["tags"]["who"] == e["agent"]


def test_threads_started_with_copied_context_keep_the_run(client, ledger):
    with costline.run("parent") as r:
        ctx = contextvars.copy_context()
        t = threading.Thread(
            target=ctx.run, args=(client.chat.completions.create,), kwargs=dict(model="gpt-4o", messages=MESSAGES)
        )
        t.start()
        t.join()
    [event] = read_events(ledger)
    assert event["run_id"] == r.run_id and r.calls == 1


def test_client_tags_sit_between_process_and_run_tags(mock, ledger):
    client = OpenAI(base_url=mock.openai_base_url, api_key="k", costline={"tags": {"team": "a", "tier": "client"}})
    with costline.run("x", tags={"tier": "run"}):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    [event] = read_events(ledger)
    assert event["tags"] == {"team": "a", "tier": "run"}


def test_track_records_a_call_no_drop_in_made(ledger):
    with costline.run("batch-job") as r:
        tracked = costline.track(
            provider="openai",
            model="gpt-4o",
            input_tokens=1000,
            output_tokens=500,
            cached_input_tokens=200,
            tags={"source": "batch"},
        )
    assert tracked.cost_usd == Decimal("0.00725") and r.cost_usd == Decimal("0.00725")
    [event] = read_events(ledger)
    assert event["event_id"] == tracked.event_id and event["agent"] == "batch-job"
    assert event["tags"] == {"source": "batch"}


def test_track_rejects_inconsistent_counts(ledger):
    with pytest.raises(costline.InvalidEventError):
        costline.track(provider="openai", model="gpt-4o", input_tokens=10, output_tokens=1, cached_input_tokens=20)
    assert read_events(ledger) == []
