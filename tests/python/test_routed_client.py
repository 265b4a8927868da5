"""The routed client (issue 11): `Costline(providers=...)` routes `model="auto"` in-process
over the vectors' fixed candidate table, answers with openai types whoever served, records
each attempt once with the call's metadata as tags, and falls back between candidates."""

from __future__ import annotations

from decimal import Decimal

import openai
import pytest
from routing_support import (
    CANDIDATES,
    CODE,
    HELLO,
    METADATA,
    SHORT,
    SUMMARY,
    client_for,
    without_latencies,
)

import costline
from costline import Costline
from costline_fixtures import read_events


def routed(mock, models=CANDIDATES, headers=None, **options):
    providers = {
        "openai": client_for(mock, "openai", headers=(headers or {}).get("openai")),
        "anthropic": client_for(mock, "anthropic", headers=(headers or {}).get("anthropic")),
    }
    return Costline(providers=providers, models=models, **options)


def sent_models(mock):
    return [r["body"].get("model") for r in mock.requests() if r["path"].endswith(("/chat/completions", "/messages"))]


@pytest.mark.parametrize(
    "prefer, messages, expected",
    [
        ("lowest_cost", SUMMARY, "gpt-4.1-nano"),
        ("lowest_cost_that_meets_quality", SUMMARY, "gpt-4.1-nano"),
        ("lowest_cost_that_meets_quality", CODE, "gpt-4o-mini"),
        ("highest_quality", SUMMARY, "claude-sonnet-4-5"),
        ("lowest_latency", SUMMARY, "gpt-4.1-nano"),
    ],
)
def test_each_prefer_mode_sends_the_expected_model(mock, ledger, vector_prices, prefer, messages, expected):
    r = routed(mock).chat.completions.create(
        model="auto", routing={"prefer": prefer}, messages=messages, max_tokens=100
    )
    assert r.costline.routed_to == expected
    assert sent_models(mock) == [expected]
    assert r.choices[0].message.content == HELLO


def test_max_cost_usd_changes_the_pick(mock, ledger, vector_prices):
    client = routed(mock)
    best = client.chat.completions.create(
        model="auto", routing={"prefer": "highest_quality"}, messages=SUMMARY, max_tokens=100
    )
    capped = client.chat.completions.create(
        model="auto", routing={"prefer": "highest_quality", "max_cost_usd": "0.0011"}, messages=SUMMARY, max_tokens=100
    )
    assert (best.costline.routed_to, capped.costline.routed_to) == ("claude-sonnet-4-5", "gpt-4o")
    assert capped.costline.estimated_cost_usd <= Decimal("0.0011")


def test_min_confidence_routes_one_level_up(mock, ledger, vector_prices):
    client = routed(mock)
    plain = client.chat.completions.create(model="auto", messages=SHORT, max_tokens=100)
    careful = client.chat.completions.create(
        model="auto", routing={"min_confidence": 0.8}, messages=SHORT, max_tokens=100
    )
    assert (plain.costline.routed_to, careful.costline.routed_to) == ("gpt-4.1-nano", "gpt-4o-mini")
    assert careful.costline.confidence < 0.8 and "raised from 1" in careful.costline.reason


def test_lowest_latency_reads_the_ledger(mock, ledger, vector_prices):
    for model, ms in [("gpt-4o", 120), ("gpt-4o", 140), ("claude-haiku-4-5", 400), ("gpt-4.1-nano", 900)]:
        costline.track(provider="openai", model=model, input_tokens=10, output_tokens=5, latency_ms=ms)
    assert costline.flush(10)  # the client reads what the ledger holds, without waiting
    client = routed(mock, models=without_latencies())
    r = client.chat.completions.create(
        model="auto", routing={"prefer": "lowest_latency"}, messages=SUMMARY, max_tokens=100
    )
    assert r.costline.routed_to == "gpt-4o"
    assert "p50 120 ms" in r.costline.reason


def test_latencies_the_caller_gave_win_over_the_ledger(mock, ledger, vector_prices):
    # The ledger says gpt-4o is the fastest; the caller's candidates say gpt-4.1-nano
    # (350 ms against 900): only candidates given without a latency take the ledger's.
    for model, ms in [("gpt-4o", 120), ("gpt-4.1-nano", 900)]:
        costline.track(provider="openai", model=model, input_tokens=10, output_tokens=5, latency_ms=ms)
    assert costline.flush(10)
    r = routed(mock).chat.completions.create(
        model="auto", routing={"prefer": "lowest_latency"}, messages=SUMMARY, max_tokens=100
    )
    assert r.costline.routed_to == "gpt-4.1-nano"


def test_every_candidate_over_max_cost_raises_before_sending(mock, ledger, vector_prices):
    with pytest.raises(costline.RoutingError) as caught:
        routed(mock).chat.completions.create(
            model="auto", routing={"max_cost_usd": "0.00001"}, messages=SUMMARY, max_tokens=100
        )
    assert caught.value.code == "over_max_cost"
    assert caught.value.details["cheapest_model"] == "gpt-4.1-nano"
    assert mock.requests() == []
    assert read_events(ledger) == []


def test_the_response_is_a_chat_completion_with_routing_info(mock, ledger, vector_prices):
    r = routed(mock).chat.completions.create(model="auto", messages=SUMMARY, max_tokens=100)
    assert isinstance(r, openai.types.chat.ChatCompletion)
    info = r.costline
    assert (info.routed_to, info.provider, info.attempts) == ("gpt-4.1-nano", "openai", 1)
    assert isinstance(info.cost_usd, Decimal) and info.cost_usd > 0
    assert info.reason.startswith("gpt-4.1-nano (openai): cheapest candidate meeting")
    assert 0 < info.confidence <= 1 and info.call_id
    assert "costline" not in r.model_dump()


def test_metadata_becomes_tags_and_is_never_sent(mock, ledger, vector_prices):
    r = routed(mock, tags={"team": "support"}).chat.completions.create(
        model="auto", metadata=METADATA, messages=SUMMARY, max_tokens=100
    )
    [event] = read_events(ledger)
    assert event["tags"] == {**METADATA, "team": "support"}
    assert (event["call_id"], event["attempt"]) == (r.costline.call_id, 1)
    assert Decimal(event["cost_usd"]) == r.costline.cost_usd
    [request] = mock.requests()
    assert "metadata" not in request["body"] and "routing" not in request["body"]


def test_a_failed_candidate_falls_back_to_the_next(mock, ledger, vector_prices):
    client = routed(mock, headers={"openai": {"x-mock-error": "503"}})
    r = client.chat.completions.create(
        model="auto", routing={"prefer": "lowest_cost"}, metadata=METADATA, messages=SUMMARY, max_tokens=100
    )
    # gpt-4.1-nano failed, then the next cheapest, gpt-4o-mini; claude-haiku-4-5 serves.
    assert r.costline.routed_to == "claude-haiku-4-5" and r.costline.attempts == 3
    assert sent_models(mock) == ["gpt-4.1-nano", "gpt-4o-mini", "claude-haiku-4-5"]
    events = sorted(read_events(ledger), key=lambda e: e["attempt"])
    assert [(e["model"], e["status"], e["attempt"]) for e in events] == [
        ("gpt-4.1-nano", "error", 1),
        ("gpt-4o-mini", "error", 2),
        ("claude-haiku-4-5", "ok", 3),
    ]
    assert {e["call_id"] for e in events} == {r.costline.call_id}
    assert all(e["tags"] == METADATA for e in events)
    assert r.costline.reason.startswith("fell back after gpt-4.1-nano, gpt-4o-mini failed")


def test_a_routed_call_that_fails_everywhere_raises_a_costline_error(mock, ledger, vector_prices):
    client = routed(mock, headers={"openai": {"x-mock-error": "503"}, "anthropic": {"x-mock-error": "529"}})
    with pytest.raises(costline.CostlineError) as caught:
        client.chat.completions.create(model="auto", messages=SUMMARY, max_tokens=100)
    err = caught.value
    assert err.code == "provider_error" and err.request_id
    assert err.details["status"] == 529 and err.details["attempts"] == 5
    assert isinstance(err.__cause__, Exception) and type(err.__cause__).__name__ == "OverloadedError"
    assert len(read_events(ledger)) == 5


def test_a_caller_error_does_not_fall_back(mock, ledger, vector_prices):
    client = routed(mock, headers={"openai": {"x-mock-error": "400"}})
    with pytest.raises(costline.CostlineError) as caught:
        client.chat.completions.create(model="auto", messages=SUMMARY, max_tokens=100)
    assert caught.value.details["status"] == 400 and len(mock.requests()) == 1


def test_a_named_model_keeps_the_providers_error_type(mock, ledger, vector_prices):
    client = routed(mock, headers={"openai": {"x-mock-error": "503"}}, fallback=False)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="gpt-4o", messages=SUMMARY, max_tokens=100)
    [event] = read_events(ledger)
    assert (event["model"], event["status"], event["attempt"]) == ("gpt-4o", "error", 1)


def test_a_named_model_is_metered_and_falls_back_over_the_pool(mock, ledger, vector_prices):
    client = routed(mock, headers={"openai": {"x-mock-error": "503"}})
    r = client.chat.completions.create(
        model="gpt-4o", routing={"models": ["gpt-4o", "claude-haiku-4-5"]}, messages=SUMMARY, max_tokens=100
    )
    assert r.costline.routed_to == "claude-haiku-4-5" and r.costline.attempts == 2
    assert r.costline.reason.startswith("fell back from gpt-4o")
    assert sent_models(mock) == ["gpt-4o", "claude-haiku-4-5"]


def test_a_named_model_goes_to_the_provider_that_serves_it(mock, ledger, vector_prices):
    client = routed(mock)
    r = client.chat.completions.create(model="claude-haiku-4-5", messages=SUMMARY, max_tokens=100)
    assert (r.costline.provider, r.costline.routed_to, r.costline.attempts) == ("anthropic", "claude-haiku-4-5", 1)
    assert r.costline.confidence is None and r.costline.reason == "the model the caller named"
    assert isinstance(r, openai.types.chat.ChatCompletion) and r.choices[0].message.content == HELLO


def test_a_user_router_picks_from_the_candidate_table(mock, ledger, vector_prices):
    seen = {}

    def router(summary, table):
        seen["summary"], seen["table"] = summary, table
        return "claude-sonnet-4-5"

    r = routed(mock, router=router).chat.completions.create(
        model="auto", metadata=METADATA, messages=SUMMARY, max_tokens=100
    )
    assert r.costline.routed_to == "claude-sonnet-4-5" and "chosen by the router" in r.costline.reason
    assert seen["summary"]["pick"] == "gpt-4.1-nano" and seen["summary"]["level"] == 1
    assert seen["summary"]["tags"] == METADATA and "messages" not in str(seen["summary"].get("prompt"))
    assert [row["model"] for row in seen["table"]] == [c["model"] for c in CANDIDATES]
    assert all(isinstance(row["cost_usd"], Decimal) for row in seen["table"])


def test_a_router_pick_outside_the_table_is_a_routing_error(mock, vector_prices):
    with pytest.raises(costline.RoutingError) as caught:
        routed(mock, router=lambda s, t: "gpt-9").chat.completions.create(model="auto", messages=SUMMARY)
    assert caught.value.code == "invalid_router_pick" and mock.requests() == []


def test_a_router_pick_on_a_fallback_is_checked_like_the_first(mock, ledger, vector_prices):
    # The router names the failed model again: as in Node, a RoutingError, not the
    # provider's failure (the core's walk checks every pick the same way).
    client = routed(mock, router=lambda s, t: "claude-sonnet-4-5", headers={"anthropic": {"x-mock-error": "529"}})
    with pytest.raises(costline.RoutingError) as caught:
        client.chat.completions.create(model="auto", messages=SUMMARY, max_tokens=100)
    assert caught.value.code == "invalid_router_pick" and caught.value.details["picked"] == "claude-sonnet-4-5"
    assert "claude-sonnet-4-5" not in caught.value.details["candidates"]
    assert sent_models(mock) == ["claude-sonnet-4-5"]


def test_user_scores_and_models_change_the_pick(mock, ledger, vector_prices):
    scored = routed(mock, scores={"gpt-4.1-nano": 51}).chat.completions.create(
        model="auto", messages=CODE, max_tokens=100
    )
    assert scored.costline.routed_to == "gpt-4.1-nano"
    pinned = routed(mock, models=CANDIDATES + ["gpt-4o", "claude-sonnet-4-5"]).route(
        messages=SUMMARY, max_tokens=100, routing={"prefer": "lowest_cost"}
    )
    assert pinned["model"] == "gpt-4o" and len(pinned["candidates"]) == 2
    per_call = routed(mock).route(
        messages=SUMMARY, max_tokens=100, routing={"prefer": "lowest_cost", "models": ["claude-haiku-4-5", "gpt-4o"]}
    )
    assert per_call["model"] == "claude-haiku-4-5" and len(per_call["candidates"]) == 2


def test_route_explains_without_sending(mock, vector_prices):
    decision = routed(mock).route(messages=SUMMARY, max_tokens=100, routing={"prefer": "lowest_cost"})
    assert decision["model"] == "gpt-4.1-nano" and len(decision["candidates"]) == 5
    assert mock.requests() == []


def test_the_stream_is_chat_completion_chunks_with_routing_info(mock, ledger, vector_prices):
    stream = routed(mock).chat.completions.create(
        model="auto",
        routing={"prefer": "highest_quality"},
        metadata=METADATA,
        messages=SUMMARY,
        max_tokens=100,
        stream=True,
    )
    chunks = list(stream)
    assert all(isinstance(c, openai.types.chat.ChatCompletionChunk) for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == HELLO
    assert stream.costline.routed_to == "claude-sonnet-4-5" and stream.costline.cost_usd > 0
    [event] = read_events(ledger)
    assert (event["provider"], event["stream"], event["tags"]) == ("anthropic", True, METADATA)


def test_a_stream_from_openai_hides_the_usage_chunk_it_asked_for(mock, ledger, vector_prices):
    chunks = list(routed(mock).chat.completions.create(model="auto", messages=SUMMARY, max_tokens=100, stream=True))
    assert all(c.choices for c in chunks)
    assert mock.requests()[0]["stream_options"] == {"include_usage": True}
    [event] = read_events(ledger)
    assert event["usage_source"] == "provider" and event["output_tokens"] > 0
    asked = list(
        routed(mock).chat.completions.create(
            model="auto", messages=SUMMARY, max_tokens=100, stream=True, stream_options={"include_usage": True}
        )
    )
    assert asked[-1].choices == [] and asked[-1].usage.completion_tokens > 0


def test_a_stream_falls_back_before_its_first_chunk(mock, ledger, vector_prices):
    client = routed(mock, headers={"openai": {"x-mock-error": "503"}})
    stream = client.chat.completions.create(
        model="auto",
        routing={"prefer": "lowest_cost", "models": ["gpt-4.1-nano", "claude-haiku-4-5"]},
        messages=SUMMARY,
        max_tokens=100,
        stream=True,
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == HELLO
    assert stream.costline.routed_to == "claude-haiku-4-5" and stream.costline.attempts == 2
    events = sorted(read_events(ledger), key=lambda e: e["attempt"])
    assert [(e["provider"], e["status"]) for e in events] == [("openai", "error"), ("anthropic", "ok")]


def test_options_are_checked_when_the_client_is_made(mock):
    with pytest.raises(ValueError, match="unknown provider"):
        Costline(providers={"cohere": object()})
    with pytest.raises(TypeError):
        Costline(providers={})
    with pytest.raises(ValueError, match="unknown fallback option"):
        Costline(providers={"openai": object()}, fallback={"targets": []})
    with pytest.raises(TypeError, match="AsyncCostline"):
        Costline(providers={"openai": client_for(mock, "openai", is_async=True)})
    client = Costline(providers={"openai": client_for(mock, "openai")})
    with pytest.raises(ValueError, match="unknown routing option"):
        client.chat.completions.create(model="auto", routing={"cheap": True}, messages=SHORT)


def test_a_routed_call_is_attributed_to_the_enclosing_run(mock, ledger, vector_prices):
    with costline.run("triage", tags={"phase": "draft", "environment": "staging"}) as run:
        r = routed(mock, tags={"team": "support"}).chat.completions.create(
            model="auto", metadata=METADATA, messages=SUMMARY, max_tokens=100
        )
    assert run.cost_usd == r.costline.cost_usd
    [event] = read_events(ledger)
    assert (event["agent"], event["run_id"]) == ("triage", run.run_id)
    # The call's own metadata wins over the run's tags, which win over the client's.
    assert event["tags"] == {"phase": "draft", "team": "support", **METADATA}


def test_a_run_cap_blocks_a_routed_attempt_before_it_is_sent(mock, ledger, vector_prices):
    with costline.run("triage", max_cost_usd="0.00001"):
        with pytest.raises(costline.BudgetExceededError):
            routed(mock).chat.completions.create(model="auto", messages=SUMMARY, max_tokens=100)
    assert mock.requests() == []
    [event] = read_events(ledger)
    assert (event["status"], event["model"]) == ("blocked", "gpt-4.1-nano")


def test_disabled_routes_without_recording(mock, ledger, vector_prices):
    costline.configure(disabled=True)
    try:
        r = routed(mock).chat.completions.create(model="auto", messages=SUMMARY, max_tokens=100)
    finally:
        costline.configure(disabled=False)
    assert r.costline.routed_to == "gpt-4.1-nano" and r.costline.cost_usd is None
    assert read_events(ledger) == []


@pytest.mark.parametrize("prefer, provider", [("lowest_cost", "openai"), ("highest_quality", "anthropic")])
def test_a_stream_closed_early_is_recorded_once(mock, ledger, vector_prices, prefer, provider):
    with routed(mock).chat.completions.create(
        model="auto", routing={"prefer": prefer}, messages=SUMMARY, max_tokens=100, stream=True
    ) as stream:
        first = next(iter(stream))
        assert isinstance(first, openai.types.chat.ChatCompletionChunk)
    stream.close()
    [event] = read_events(ledger)
    assert (event["provider"], event["status"], event["stream"]) == (provider, "ok", True)
    assert stream.costline.cost_usd is not None
