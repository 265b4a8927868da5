"""The Anthropic drop-in returns exactly what the SDK returns, and meters it."""

from __future__ import annotations

import asyncio

import anthropic
import pytest

from costline.anthropic import Anthropic, AsyncAnthropic
from costline_fixtures import SECRET_KEY, dump, read_events

MESSAGES = [{"role": "user", "content": "Say hello to the mock."}]
CACHE_HEADERS = {
    "x-mock-prompt-tokens": "100",
    "x-mock-cached-tokens": "1000",
    "x-mock-cache-write-5m": "200",
    "x-mock-cache-write-1h": "300",
    "x-mock-completion-tokens": "50",
}


@pytest.fixture
def client(mock):
    return Anthropic(base_url=mock.anthropic_base_url, api_key=SECRET_KEY, max_retries=0)


@pytest.fixture
def raw(mock):
    return anthropic.Anthropic(base_url=mock.anthropic_base_url, api_key=SECRET_KEY, max_retries=0)


def test_drop_in_is_the_sdk_class(client):
    assert isinstance(client, anthropic.Anthropic)
    assert isinstance(AsyncAnthropic(api_key="x", base_url="http://127.0.0.1:9"), anthropic.AsyncAnthropic)


def test_message_identical_and_cache_tokens_normalised(client, raw, ledger):
    kwargs = dict(model="claude-sonnet-4-5", max_tokens=100, messages=MESSAGES, extra_headers=CACHE_HEADERS)
    ours = client.messages.create(**kwargs)
    theirs = raw.messages.create(**kwargs)
    assert dump(ours) == dump(theirs)
    [event] = read_events(ledger)
    # Anthropic's input_tokens exclude cache reads and writes; costline's include them.
    assert event["input_tokens"] == 100 + 1000 + 200 + 300
    assert event["cached_input_tokens"] == 1000
    assert event["cache_write_input_tokens"] == 500
    assert event["output_tokens"] == 50
    assert event["resolved_model"] == ours.model
    assert event["cost_source"] == "catalog" and event["cost_usd"] is not None


def test_stream_events_identical_and_usage_from_start_and_delta(client, raw, ledger):
    kwargs = dict(
        model="claude-sonnet-4-5", max_tokens=100, messages=MESSAGES, stream=True, extra_headers=CACHE_HEADERS
    )
    ours = [dump(e) for e in client.messages.create(**kwargs)]
    theirs = [dump(e) for e in raw.messages.create(**kwargs)]
    assert ours == theirs
    [event] = read_events(ledger)
    assert event["stream"] is True and event["usage_source"] == "provider"
    assert event["input_tokens"] == 1600 and event["output_tokens"] == 50
    assert event["cache_write_input_tokens"] == 500


def test_messages_stream_helper(client, ledger):
    with client.messages.stream(model="claude-haiku-4-5", max_tokens=50, messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text and final.usage.output_tokens > 0
    [event] = read_events(ledger)
    assert event["output_tokens"] == final.usage.output_tokens
    assert event["input_tokens"] == final.usage.input_tokens


def test_stream_helper_abandoned_early_records_one_event(client, ledger):
    with client.messages.stream(
        model="claude-haiku-4-5", max_tokens=50, messages=MESSAGES, extra_headers={"x-mock-chunks": "6"}
    ) as stream:
        for _ in stream:
            break
    events = read_events(ledger)
    assert len(events) == 1 and events[0]["stream"] is True


def test_with_raw_response(client, ledger):
    raw = client.messages.with_raw_response.create(model="claude-haiku-4-5", max_tokens=50, messages=MESSAGES)
    message = raw.parse()
    assert raw.http_response.status_code == 200
    [event] = read_events(ledger)
    assert event["output_tokens"] == message.usage.output_tokens


def test_count_tokens_passes_through_unmetered(client, ledger):
    result = client.messages.count_tokens(model="claude-haiku-4-5", messages=MESSAGES)
    assert result.input_tokens > 0
    assert read_events(ledger) == []


def test_rate_limit_is_anthropics_error_and_an_error_event(client, ledger):
    with pytest.raises(anthropic.RateLimitError):
        client.messages.create(
            model="claude-haiku-4-5", max_tokens=5, messages=MESSAGES, extra_headers={"x-mock-error": "429"}
        )
    [event] = read_events(ledger)
    assert event["provider"] == "anthropic" and event["status"] == "error"
    assert event["error_type"] == "RateLimitError"


def test_async_client(mock, ledger):
    async def main():
        client = AsyncAnthropic(base_url=mock.anthropic_base_url, api_key="k", max_retries=0)
        message = await client.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=MESSAGES)
        stream = await client.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=MESSAGES, stream=True)
        events = [e async for e in stream]
        async with client.messages.stream(model="claude-haiku-4-5", max_tokens=50, messages=MESSAGES) as s:
            await s.get_final_message()
        return message, events

    message, events = asyncio.run(main())
    assert message.usage.output_tokens > 0 and events[0].type == "message_start"
    recorded = read_events(ledger)
    assert [e["stream"] for e in recorded] == [False, True, True]
    assert all(e["provider"] == "anthropic" and e["status"] == "ok" for e in recorded)
