"""The Mistral drop-in is the `mistralai` SDK's own client: same objects, same
streams, same errors; each call is one event priced under `mistral/...`."""

from __future__ import annotations

import asyncio

import pytest
from mistralai.client import Mistral as RawMistral
from mistralai.client import errors

import costline
from costline.mistral import Mistral
from costline_fixtures import SECRET_KEY, read_events

MESSAGES = [{"role": "user", "content": "Say hello to the mock."}]
CACHED = {"x-mock-prompt-tokens": "2000", "x-mock-cached-tokens": "1500", "x-mock-completion-tokens": "100"}


@pytest.fixture
def client(mock):
    return Mistral(api_key=SECRET_KEY, server_url=mock.mistral_server_url)


@pytest.fixture
def raw(mock):
    return RawMistral(api_key=SECRET_KEY, server_url=mock.mistral_server_url)


def dump(obj):
    data = obj.model_dump()
    data.pop("id", None)
    data.pop("created", None)
    return data


def test_the_drop_in_is_the_sdks_client(client):
    assert isinstance(client, RawMistral)


def test_complete_returns_the_sdks_response_and_bills_cached_tokens_once(client, raw, ledger):
    ours = client.chat.complete(model="mistral-small-latest", messages=MESSAGES, http_headers=CACHED)
    theirs = raw.chat.complete(model="mistral-small-latest", messages=MESSAGES, http_headers=CACHED)
    assert type(ours) is type(theirs) and dump(ours) == dump(theirs)
    [event] = read_events(ledger)
    assert (event["provider"], event["operation"], event["model"], event["stream"]) == (
        "mistral",
        "chat",
        "mistral-small-latest",
        False,
    )
    assert (event["input_tokens"], event["cached_input_tokens"], event["output_tokens"]) == (2000, 1500, 100)
    # the mistral_cached_prompt_billed_once vector
    assert (event["cost_usd"], event["price_key"], event["usage_source"]) == (
        "0.0001575",
        "mistral/mistral-small-latest",
        "provider",
    )
    assert SECRET_KEY not in str(event)


def test_stream_yields_the_sdks_events_and_records_the_last_chunks_usage(client, raw, ledger):
    with client.chat.stream(model="mistral-small-latest", messages=MESSAGES, http_headers=CACHED) as stream:
        ours = [dump(e.data) for e in stream]
    theirs = [
        dump(e.data) for e in raw.chat.stream(model="mistral-small-latest", messages=MESSAGES, http_headers=CACHED)
    ]
    assert ours == theirs and ours[-1]["usage"]["prompt_tokens"] == 2000
    [event] = read_events(ledger)
    assert event["stream"] is True and event["usage_source"] == "provider"
    assert (event["input_tokens"], event["cached_input_tokens"], event["output_tokens"]) == (2000, 1500, 100)
    assert event["cost_usd"] == "0.0001575"


def test_a_stream_left_early_is_recorded_once_with_an_estimate(client, ledger):
    stream = client.chat.stream(model="mistral-small-latest", messages=MESSAGES)
    next(iter(stream))
    stream.close()
    [event] = read_events(ledger)
    assert event["stream"] is True and event["usage_source"] == "estimate" and event["input_tokens"] > 0


def test_async_complete_and_stream(mock, ledger):
    async def main():
        client = Mistral(api_key=SECRET_KEY, server_url=mock.mistral_server_url)
        response = await client.chat.complete_async(model="mistral-small-latest", messages=MESSAGES)
        chunks = [e async for e in await client.chat.stream_async(model="mistral-small-latest", messages=MESSAGES)]
        return response, chunks

    response, chunks = asyncio.run(main())
    assert response.usage.prompt_tokens > 0 and chunks[-1].data.usage is not None
    events = read_events(ledger)
    assert sorted(e["stream"] for e in events) == [False, True]
    assert all(e["usage_source"] == "provider" and e["cost_source"] == "catalog" for e in events)


def test_embeddings_are_priced(client, ledger):
    response = client.embeddings.create(
        model="mistral-embed", inputs=["a", "b"], http_headers={"x-mock-prompt-tokens": "16"}
    )
    assert len(response.data) == 2
    [event] = read_events(ledger)
    assert (event["operation"], event["input_tokens"], event["cost_usd"]) == ("embeddings", 16, "0.0000016")


def test_errors_are_the_sdks_and_recorded_once(client, raw, ledger):
    headers = {"x-mock-error": "429"}
    with pytest.raises(errors.SDKError) as ours:
        client.chat.complete(model="mistral-small-latest", messages=MESSAGES, http_headers=headers)
    with pytest.raises(errors.SDKError) as theirs:
        raw.chat.complete(model="mistral-small-latest", messages=MESSAGES, http_headers=headers)
    assert type(ours.value) is type(theirs.value) and ours.value.status_code == theirs.value.status_code
    [event] = read_events(ledger)
    assert (event["status"], event["error_type"]) == ("error", "SDKError")


def test_a_call_the_sdk_retries_is_one_event_with_the_served_attempts_usage(mock, ledger):
    from mistralai.client.utils.retries import BackoffStrategy, RetryConfig

    retry = RetryConfig("backoff", BackoffStrategy(1, 5, 1.0, 5_000), True)
    client = Mistral(api_key=SECRET_KEY, server_url=mock.mistral_server_url, retry_config=retry)
    headers = {"x-mock-error": "429", "x-mock-error-times": "2", "x-mock-attempt-key": "mistral-retry", **CACHED}
    answer = client.chat.complete(model="mistral-small-latest", messages=MESSAGES, http_headers=headers)
    assert answer.usage.prompt_tokens == 2000
    assert [r["status"] for r in mock.requests() if r["provider"] == "mistral"] == [429, 429, 200]
    [event] = read_events(ledger)
    assert (event["status"], event["input_tokens"], event["cached_input_tokens"]) == ("ok", 2000, 1500)
    assert event["cost_source"] == "catalog" and event["cost_usd"] != "0"


def test_a_retry_after_a_connection_error_records_the_served_attempt(mock, ledger):
    from mistralai.client.utils.retries import BackoffStrategy, RetryConfig

    retry = RetryConfig("backoff", BackoffStrategy(1, 5, 1.0, 5_000), True)
    client = Mistral(api_key=SECRET_KEY, server_url=mock.mistral_server_url, retry_config=retry)
    headers = {"x-mock-error": "drop", "x-mock-error-times": "1", "x-mock-attempt-key": "mistral-drop", **CACHED}
    answer = client.chat.complete(model="mistral-small-latest", messages=MESSAGES, http_headers=headers)
    assert answer.usage.prompt_tokens == 2000
    assert [r["status"] for r in mock.requests() if r["provider"] == "mistral"] == [0, 200]
    events = read_events(ledger)
    served = [e for e in events if e["status"] == "ok"]
    assert len(served) == 1, events
    assert (served[0]["input_tokens"], served[0]["cached_input_tokens"]) == (2000, 1500)
    # The failed attempt cost nothing; if recorded, it says so.
    assert all(e["input_tokens"] == 0 and e["cost_usd"] in (None, "0") for e in events if e["status"] != "ok")


def test_with_agent_and_tags_attribute_the_call(mock, ledger):
    client = Mistral(api_key="k", server_url=mock.mistral_server_url, costline={"tags": {"team": "a"}})
    writer = client.with_agent("writer")
    assert client.with_agent("writer") is writer and isinstance(writer, RawMistral)
    writer.chat.complete(model="mistral-small-latest", messages=MESSAGES)
    client.chat.complete(model="mistral-small-latest", messages=MESSAGES)
    events = read_events(ledger)
    assert sorted(str(e["agent"]) for e in events) == ["None", "writer"]
    assert all(e["tags"].get("team") == "a" for e in events)


def test_instrument_meters_a_client_built_elsewhere(raw, ledger):
    assert costline.instrument(raw) is raw and type(raw) is RawMistral
    costline.instrument(raw)  # twice: still one hook
    raw.chat.complete(model="mistral-small-latest", messages=MESSAGES)
    assert len(read_events(ledger)) == 1


def test_unmetered_paths_pass_through(client, ledger, mock):
    with pytest.raises(errors.SDKError):
        client.models.list()  # the mock has no such route: the SDK's error, no event
    assert read_events(ledger) == []
