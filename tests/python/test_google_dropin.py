"""The Gemini drop-in is the `google-genai` SDK's own client (`client.aio` too):
same responses, chunks and errors; one event per API call, priced under
`gemini/...`, cached content billed once, thoughts billed as output."""

from __future__ import annotations

import asyncio

import pytest
from google import genai
from google.genai import errors

import costline
from costline.google import Client
from costline_fixtures import SECRET_KEY, read_events

MODEL = "gemini-2.5-flash"
# The gemini_cached_content_billed_once_thoughts_as_output vector.
CACHED = {
    "x-mock-prompt-tokens": "10000",
    "x-mock-cached-tokens": "8000",
    "x-mock-completion-tokens": "2000",
    "x-mock-reasoning-tokens": "1500",
}


def options(mock, headers=None):
    return {"base_url": mock.gemini_base_url, "headers": headers or {}}


@pytest.fixture
def client(mock):
    return Client(api_key=SECRET_KEY, http_options=options(mock))


@pytest.fixture
def raw(mock):
    return genai.Client(api_key=SECRET_KEY, http_options=options(mock))


def config(headers):
    return {"http_options": {"headers": headers}}


def test_the_drop_in_is_the_sdks_client(client):
    assert isinstance(client, genai.Client)


def test_generate_content_same_response_cached_billed_once_thoughts_as_output(client, raw, ledger):
    ours = client.models.generate_content(model=MODEL, contents="hi", config=config(CACHED))
    theirs = raw.models.generate_content(model=MODEL, contents="hi", config=config(CACHED))
    assert type(ours) is type(theirs) and ours.text == theirs.text
    assert ours.usage_metadata == theirs.usage_metadata
    [event] = read_events(ledger)
    assert (event["provider"], event["operation"], event["model"], event["resolved_model"]) == (
        "google",
        "generate_content",
        MODEL,
        MODEL,
    )
    assert (event["input_tokens"], event["cached_input_tokens"]) == (10000, 8000)
    assert (event["output_tokens"], event["reasoning_tokens"]) == (2000, 1500)
    assert (event["cost_usd"], event["price_key"], event["usage_source"]) == (
        "0.00584",
        "gemini/gemini-2.5-flash",
        "provider",
    )
    assert SECRET_KEY not in str(event)


def test_stream_takes_the_last_chunks_usage(client, raw, ledger):
    ours = [c.text for c in client.models.generate_content_stream(model=MODEL, contents="hi", config=config(CACHED))]
    theirs = [c.text for c in raw.models.generate_content_stream(model=MODEL, contents="hi", config=config(CACHED))]
    assert ours == theirs and len(ours) > 1
    [event] = read_events(ledger)
    assert event["stream"] is True and event["usage_source"] == "provider"
    assert (event["input_tokens"], event["cached_input_tokens"], event["output_tokens"]) == (10000, 8000, 2000)
    assert event["cost_usd"] == "0.00584"


def test_a_stream_left_early_is_recorded_once(client, ledger):
    stream = client.models.generate_content_stream(model=MODEL, contents="hi")
    next(stream)
    stream.close()
    [event] = read_events(ledger)
    assert event["stream"] is True and event["status"] == "ok" and event["input_tokens"] > 0
    # its running counts lack the output that arrived: an estimate, labelled
    assert event["usage_source"] == "estimate" and event["output_tokens"] > 0


def test_an_error_mid_stream_is_the_sdks_and_recorded(client, ledger):
    with pytest.raises(errors.APIError):
        list(
            client.models.generate_content_stream(
                model=MODEL, contents="hi", config=config({"x-mock-error": "midstream-error"})
            )
        )
    [event] = read_events(ledger)
    assert (event["status"], event["stream"]) == ("error", True)


def test_aio_generate_and_stream(client, ledger):
    async def main():
        response = await client.aio.models.generate_content(model=MODEL, contents="hi")
        chunks = [c async for c in await client.aio.models.generate_content_stream(model=MODEL, contents="hi")]
        return response, chunks

    response, chunks = asyncio.run(main())
    assert response.text and chunks
    events = read_events(ledger)
    assert sorted(e["stream"] for e in events) == [False, True]
    assert all(e["usage_source"] == "provider" and e["price_key"] == "gemini/gemini-2.5-flash" for e in events)


def test_errors_are_the_sdks_and_recorded_once(client, raw, ledger):
    bad = config({"x-mock-error": "429"})
    with pytest.raises(errors.ClientError) as ours:
        client.models.generate_content(model=MODEL, contents="hi", config=bad)
    with pytest.raises(errors.ClientError) as theirs:
        raw.models.generate_content(model=MODEL, contents="hi", config=bad)
    assert type(ours.value) is type(theirs.value) and ours.value.code == theirs.value.code == 429
    [event] = read_events(ledger)
    assert (event["status"], event["error_type"]) == ("error", "ClientError")


def test_embed_content_without_usage_is_estimated(client, ledger):
    response = client.models.embed_content(model="text-embedding-004", contents=["hello", "world"])
    assert len(response.embeddings) == 2
    [event] = read_events(ledger)
    assert (event["operation"], event["usage_source"]) == ("embeddings", "estimate")
    assert event["input_tokens"] > 0 and event["output_tokens"] == 0


def test_count_tokens_passes_through_unmetered(client, ledger):
    assert client.models.count_tokens(model=MODEL, contents="hi").total_tokens == 7
    assert read_events(ledger) == []


def test_with_agent_and_instrument(mock, raw, ledger):
    client = Client(api_key="k", http_options=options(mock), costline={"tags": {"team": "g"}})
    writer = client.with_agent("writer")
    assert client.with_agent("writer") is writer and isinstance(writer, genai.Client)
    writer.models.generate_content(model=MODEL, contents="hi")
    asyncio.run(writer.aio.models.generate_content(model=MODEL, contents="hi"))
    client.models.generate_content(model=MODEL, contents="hi")
    assert costline.instrument(raw) is raw and type(raw) is genai.Client
    costline.instrument(raw)
    raw.models.generate_content(model=MODEL, contents="hi")
    events = read_events(ledger)
    assert sorted(str(e["agent"]) for e in events) == ["None", "None", "writer", "writer"]
    assert sum(e["tags"].get("team") == "g" for e in events) == 3
