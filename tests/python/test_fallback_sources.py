"""The Gemini, Mistral and Bedrock drop-ins as fallback sources: what must not fall back
(a caller's error; a call the SDK's own retries served), and a client's agent views keep
its chain."""

from __future__ import annotations

import pytest
from botocore.config import Config
from fallback_support import (
    SOURCE_MODELS,
    TARGET_MODEL,
    bedrock_kwargs,
    call,
    raw_target,
    source,
    stream_items,
    target,
    with_headers,
)
from mistralai.client.utils.retries import BackoffStrategy, RetryConfig

from costline import bedrock as costline_bedrock
from costline.mistral import Mistral
from costline_fixtures import read_events

TARGET_PATH = "/v1/messages"


@pytest.mark.parametrize("provider", ["google", "mistral", "bedrock"])
def test_a_callers_error_never_falls_back_and_is_recorded_once(mock, ledger, provider):
    client = source(mock, provider, [target(mock, "anthropic")], fail="400")
    with pytest.raises(Exception) as caught:
        call(client, provider, stream=False)
    assert type(caught.value).__module__.split(".")[0] in ("google", "mistralai", "botocore")  # the SDK's own
    assert mock.requests(TARGET_PATH) == []
    [event] = read_events(ledger)
    assert (event["provider"], event["status"]) == (provider, "error")
    assert event.get("call_id") is None and event.get("attempt") is None


def test_mistral_retries_first_and_a_served_retry_does_not_fall_back(mock, ledger):
    retry = RetryConfig("backoff", BackoffStrategy(1, 5, 1.0, 5_000), True)
    client = Mistral(
        api_key="test",
        server_url=mock.mistral_server_url,
        retry_config=retry,
        costline={"fallback": [target(mock, "anthropic")]},
    )
    headers = {"x-mock-error": "503", "x-mock-error-times": "1", "x-mock-attempt-key": "fallback-retry"}
    reply = client.chat.complete(
        model=SOURCE_MODELS["mistral"], messages=[{"role": "user", "content": "hi"}], http_headers=headers
    )
    assert not hasattr(reply, "costline")
    assert [r["status"] for r in mock.requests() if r["provider"] == "mistral"] == [503, 200]
    assert mock.requests(TARGET_PATH) == []
    [event] = read_events(ledger)
    assert event["status"] == "ok" and event.get("call_id") is None


def test_bedrock_retries_first_then_falls_back(mock, ledger):
    kwargs = {**bedrock_kwargs(mock), "config": Config(retries={"max_attempts": 2, "mode": "standard"})}
    client = costline_bedrock.client(**kwargs, costline={"fallback": [target(mock, "anthropic")]})
    with_headers(client, {"x-mock-error": "503"})
    reply = call(client, "bedrock", stream=False)
    tries = [r["status"] for r in mock.requests() if r["provider"] == "bedrock"]
    assert len(tries) > 1 and set(tries) == {503}  # botocore retried first
    assert reply.costline["attempts"] == 2  # botocore's tries are the primary's one attempt
    events = sorted(read_events(ledger), key=lambda e: e["attempt"])
    assert [(e["provider"], e["status"], e["attempt"]) for e in events] == [
        ("bedrock", "error", 1),
        ("anthropic", "ok", 2),
    ]


@pytest.mark.parametrize("provider", ["google", "mistral", "bedrock"])
def test_an_agent_view_keeps_the_chain_and_attributes_every_attempt(mock, ledger, provider):
    client = source(mock, provider, [target(mock, "openai")])
    reply = call(client.with_agent("writer"), provider, stream=False)
    assert reply.costline["served_by"] == f"openai/{TARGET_MODEL}"
    events = read_events(ledger)
    assert sorted((e["attempt"], e["agent"]) for e in events) == [(1, "writer"), (2, "writer")]


def test_a_target_stream_failing_part_way_raises_and_records_its_attempt(mock, ledger):

    broken = {
        "provider": "google",
        "model": TARGET_MODEL,
        "client": raw_target(mock, "google", {"x-mock-error": "midstream-error"}),
    }
    client = source(mock, "bedrock", [broken, target(mock, "openai")])
    stream = call(client, "bedrock", stream=True)
    with pytest.raises(Exception) as caught:
        stream_items("bedrock", stream)
    assert type(caught.value).__module__.startswith("google.genai")  # the target SDK's error, not swallowed
    assert mock.requests("/v1/chat/completions") == []  # part-way: no further fallback
    events = sorted(read_events(ledger), key=lambda e: e["attempt"])
    assert [(e["provider"], e["status"], e["attempt"], e["stream"]) for e in events] == [
        ("bedrock", "error", 1, True),
        ("google", "error", 2, True),
    ]
