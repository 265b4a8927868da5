"""The OpenAI drop-in returns exactly what the SDK returns, and meters it."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import openai
import pytest

import costline
from costline.openai import AsyncOpenAI, OpenAI
from costline_fixtures import SECRET_KEY, dump, read_events

MESSAGES = [{"role": "user", "content": "Say hello to the mock."}]


@pytest.fixture
def client(mock):
    return OpenAI(base_url=mock.openai_base_url, api_key=SECRET_KEY, max_retries=0)


@pytest.fixture
def raw(mock):
    return openai.OpenAI(base_url=mock.openai_base_url, api_key=SECRET_KEY, max_retries=0)


def test_drop_in_is_the_sdk_class(client):
    assert isinstance(client, openai.OpenAI)
    assert isinstance(AsyncOpenAI(api_key="x", base_url="http://127.0.0.1:9/v1"), openai.AsyncOpenAI)


def test_plain_chat_response_identical_and_priced(client, raw, ledger):
    headers = {"x-mock-prompt-tokens": "1000", "x-mock-cached-tokens": "200", "x-mock-completion-tokens": "500"}
    ours = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, extra_headers=headers)
    theirs = raw.chat.completions.create(model="gpt-4o", messages=MESSAGES, extra_headers=headers)
    assert type(ours) is type(theirs)
    assert dump(ours) == dump(theirs)
    [event] = read_events(ledger)
    assert event["provider"] == "openai" and event["operation"] == "chat"
    assert event["model"] == "gpt-4o"
    assert event["resolved_model"] == ours.model
    assert (event["input_tokens"], event["cached_input_tokens"], event["output_tokens"]) == (1000, 200, 500)
    assert event["usage_source"] == "provider" and event["status"] == "ok" and event["stream"] is False
    # gpt-4o-2024-08-06: 800 x $2.5/M + 200 x $1.25/M + 500 x $10/M
    assert event["cost_usd"] == "0.00725" and event["cost_source"] == "catalog"
    assert event["price_key"] and event["catalog_version"]
    assert event["sdk"]["lang"] == "python"


def test_stream_without_include_usage_shows_the_callers_chunks_only(client, raw, ledger, mock):
    ours = list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
    theirs = list(raw.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
    assert [dump(c) for c in ours] == [dump(c) for c in theirs]
    assert all(c.usage is None for c in ours)
    sent = [r for r in mock.requests() if r.get("path", "").endswith("/chat/completions")]
    assert sent[-2]["stream_options"] == {"include_usage": True}  # costline asked for it...
    [event] = read_events(ledger)
    assert event["stream"] is True and event["usage_source"] == "provider"  # ...and used it
    assert event["output_tokens"] > 0 and event["cost_usd"] is not None


def test_stream_with_include_usage_passes_the_usage_chunk_through(client, raw, ledger):
    kwargs = dict(model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True})
    ours = list(client.chat.completions.create(**kwargs))
    theirs = list(raw.chat.completions.create(**kwargs))
    assert [dump(c) for c in ours] == [dump(c) for c in theirs]
    assert ours[-1].usage is not None and ours[-1].choices == []
    [event] = read_events(ledger)
    assert event["output_tokens"] == ours[-1].usage.completion_tokens
    assert event["input_tokens"] == ours[-1].usage.prompt_tokens


def test_stream_usage_disabled_per_client_estimates_with_tiktoken(mock, ledger):
    client = OpenAI(base_url=mock.openai_base_url, api_key="k", max_retries=0, costline={"stream_usage": False})
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
    assert chunks
    [event] = read_events(ledger)
    assert event["usage_source"] == "estimate"
    assert event["input_tokens"] > 0 and event["output_tokens"] > 0


def test_stream_closed_early_records_one_event(client, ledger):
    stream = client.chat.completions.create(
        model="gpt-4o", messages=MESSAGES, stream=True, extra_headers={"x-mock-chunks": "5"}
    )
    with stream:
        first = next(iter(stream))
        assert first.choices
    events = read_events(ledger)
    assert len(events) == 1
    assert events[0]["status"] == "ok" and events[0]["stream"] is True
    # No usage chunk arrived: the tokens spent so far are estimated.
    assert events[0]["usage_source"] == "estimate"


def test_cut_stream_raises_as_the_sdk_does_and_records_an_error(client, raw, ledger):
    headers = {"x-mock-error": "cut:2"}
    with pytest.raises(Exception) as ours:
        list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True, extra_headers=headers))
    with pytest.raises(Exception) as theirs:
        list(raw.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True, extra_headers=headers))
    assert type(ours.value) is type(theirs.value)
    [event] = read_events(ledger)
    assert event["status"] == "error" and event["error_type"] == type(ours.value).__name__


def test_rate_limit_raises_the_sdk_error_and_records_it(client, ledger):
    with pytest.raises(openai.RateLimitError) as err:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES, extra_headers={"x-mock-error": "429"})
    assert err.value.status_code == 429
    [event] = read_events(ledger)
    assert event["status"] == "error" and event["error_type"] == "RateLimitError"
    assert event["input_tokens"] == 0 and event["cost_usd"] == "0"


def test_server_error_after_retries_is_one_event(mock, ledger):
    client = OpenAI(base_url=mock.openai_base_url, api_key="k", max_retries=2)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES, extra_headers={"x-mock-error": "500"})
    [event] = read_events(ledger)
    assert event["error_type"] == "InternalServerError"


def test_with_raw_response_returns_the_raw_wrapper_and_meters(client, ledger):
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES)
    assert raw.headers.get("content-type", "").startswith("application/json")
    completion = raw.parse()
    assert completion is raw.parse()
    assert completion.choices[0].message.content
    [event] = read_events(ledger)
    assert event["output_tokens"] == completion.usage.completion_tokens


def test_with_raw_response_stream(client, ledger):
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES, stream=True)
    chunks = list(raw.parse())
    assert chunks and all(c.usage is None for c in chunks)
    [event] = read_events(ledger)
    assert event["stream"] is True and event["usage_source"] == "provider"


def test_with_streaming_response(client, ledger):
    with client.chat.completions.with_streaming_response.create(model="gpt-4o", messages=MESSAGES) as response:
        completion = response.parse()
    [event] = read_events(ledger)
    assert event["output_tokens"] == completion.usage.completion_tokens


def test_with_options_and_copy_keep_metering_and_options(mock, ledger):
    client = OpenAI(base_url=mock.openai_base_url, api_key="k", costline={"tags": {"team": "search"}})
    for derived in (client.with_options(timeout=30), client.copy(max_retries=0)):
        assert isinstance(derived, OpenAI)
        derived.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    events = read_events(ledger)
    assert len(events) == 2 and all(e["tags"] == {"team": "search"} for e in events)


def test_chat_stream_helper(client, ledger):
    with client.chat.completions.stream(model="gpt-4o", messages=MESSAGES) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    assert final.choices[0].message.content
    [event] = read_events(ledger)
    assert event["stream"] is True and event["usage_source"] == "provider"


def test_responses_plain_and_streamed(client, raw, ledger):
    headers = {"x-mock-prompt-tokens": "300", "x-mock-reasoning-tokens": "40"}
    ours = client.responses.create(model="o4-mini", input="hello", extra_headers=headers)
    theirs = raw.responses.create(model="o4-mini", input="hello", extra_headers=headers)
    assert dump(ours) == dump(theirs)
    events = list(client.responses.create(model="gpt-4o", input="hello", stream=True))
    assert events[-1].type == "response.completed"
    plain, streamed = read_events(ledger)
    assert plain["operation"] == "responses" and plain["input_tokens"] == 300
    assert plain["reasoning_tokens"] == 40 and plain["output_tokens"] >= 40
    assert streamed["stream"] is True and streamed["usage_source"] == "provider"
    assert streamed["output_tokens"] == events[-1].response.usage.output_tokens


def test_embeddings(client, raw, ledger):
    ours = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    theirs = raw.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert dump(ours) == dump(theirs)
    [event] = read_events(ledger)
    assert event["operation"] == "embeddings" and event["input_tokens"] == ours.usage.prompt_tokens
    assert event["output_tokens"] == 0 and event["cost_source"] == "catalog"


def test_unmetered_endpoints_pass_through(client, ledger):
    client.models.list()
    assert read_events(ledger) == []


def test_async_client_plain_and_stream(mock, ledger):
    async def main():
        client = AsyncOpenAI(base_url=mock.openai_base_url, api_key="k", max_retries=0)
        resp = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        stream = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
        chunks = [c async for c in stream]
        async with client.chat.completions.stream(model="gpt-4o", messages=MESSAGES) as s:
            async for _ in s:
                pass
        with pytest.raises(openai.RateLimitError):
            await client.chat.completions.create(
                model="gpt-4o", messages=MESSAGES, extra_headers={"x-mock-error": "429"}
            )
        return resp, chunks

    resp, chunks = asyncio.run(main())
    assert resp.usage and all(c.usage is None for c in chunks)
    events = read_events(ledger)
    assert [e["stream"] for e in events] == [False, True, True, False]
    assert [e["status"] for e in events] == ["ok", "ok", "ok", "error"]


def test_unknown_model_is_unknown_cost_not_zero(client, ledger):
    client.chat.completions.create(
        model="my-private-model", messages=MESSAGES, extra_headers={"x-mock-resolved-model": "my-private-model"}
    )
    [event] = read_events(ledger)
    assert event["cost_usd"] is None and event["cost_source"] == "unknown" and event["price_key"] is None


def test_instrument_meters_an_existing_client_in_place(mock, ledger):
    plain = openai.OpenAI(base_url=mock.openai_base_url, api_key="k")
    same = costline.instrument(plain)
    assert same is plain and isinstance(plain, openai.OpenAI)
    plain.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert len(read_events(ledger)) == 1
    with pytest.raises(TypeError):
        costline.instrument(object())


def test_unknown_costline_option_is_rejected_at_construction(mock):
    with pytest.raises(ValueError, match="unknown costline option"):
        OpenAI(base_url=mock.openai_base_url, api_key="k", costline={"budgett": 1})


def test_cost_helper_matches_the_event(client, ledger):
    assert costline.cost("gpt-4o", input_tokens=1000, output_tokens=500, cached_input_tokens=200) == Decimal("0.00725")


def test_the_hidden_usage_chunk_is_removed_before_the_sdk_parses_it(client, raw, ledger, monkeypatch):
    from costline import _hook, _raw

    filters = []

    def spy(response):
        made = _raw.filter_usage_chunk(response)
        filters.append(made)
        return made

    monkeypatch.setattr(_hook, "filter_usage_chunk", spy)
    headers = {"x-mock-prompt-tokens": "21", "x-mock-completion-tokens": "4"}
    ours = list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True, extra_headers=headers))
    theirs = list(raw.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True, extra_headers=headers))
    assert [dump(c) for c in ours] == [dump(c) for c in theirs]
    [usage_filter] = filters
    assert usage_filter is not None and usage_filter.usage["prompt_tokens"] == 21  # taken from the bytes
    [event] = read_events(ledger)
    assert (event["input_tokens"], event["output_tokens"], event["usage_source"]) == (21, 4, "provider")
