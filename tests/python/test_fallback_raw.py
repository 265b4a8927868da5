"""An OpenAI or Anthropic target's answer is read as its raw bytes (`_fallback_raw`):
a non-stream answer's body is translated and metered without the target SDK's objects,
its failures are still the SDK's own exceptions; of a stream failing part-way, what the
caller sees is still the target SDK's own error, the chunks before it arrive, and the
attempt is recorded as failed; sync and async."""

from __future__ import annotations

import asyncio
import importlib
from decimal import Decimal

import anthropic
import openai
import pytest
from fallback_support import (
    TARGET_COST,
    TARGET_MODEL,
    TEXT,
    assert_chunk_types,
    assert_reply_type,
    call,
    call_async,
    configure_prices,
    reply_text,
    source,
    stream_text,
    target,
)

import costline
from costline_fixtures import read_events

MIDSTREAM = {"x-mock-error": "midstream-error"}
ERRORS = {"anthropic": anthropic.APIStatusError, "openai": openai.APIError}
# The caller: an OpenAI caller for an Anthropic target, and the other way round.
CALLERS = {"anthropic": "openai", "openai": "anthropic"}


def assert_failed_attempt(ledger, caller, provider, error_type=None):
    assert costline.flush(30)
    events = sorted(read_events(ledger), key=lambda e: e["attempt"])
    assert [(e["provider"], e["status"], e["attempt"], e["stream"]) for e in events] == [
        (caller, "error", 1, True),
        (provider, "error", 2, True),
    ]
    # As the SDK-read stream recorded it.
    assert events[1]["error_type"] == (error_type or ERRORS[provider].__name__)


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_a_target_failing_part_way_raises_its_sdks_error_after_the_chunks_before_it(mock, ledger, provider):
    caller = CALLERS[provider]
    stream = call(source(mock, caller, [target(mock, provider, headers=MIDSTREAM)]), caller, stream=True)
    got = []
    with pytest.raises(ERRORS[provider]) as raised:
        for chunk in stream:
            got.append(chunk)  # noqa: PERF402 - keeps what arrived before the error
    assert got, "the chunks before the error reach the caller"
    if provider == "anthropic":
        assert raised.value.body["error"]["type"] == "overloaded_error"
    else:
        assert "midstream" in raised.value.message
    assert_failed_attempt(ledger, caller, provider)


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_an_async_target_failing_part_way_raises_its_sdks_error(mock, ledger, provider):
    caller = CALLERS[provider]

    async def main():
        client = source(mock, caller, [target(mock, provider, headers=MIDSTREAM, is_async=True)], is_async=True)
        stream = await call_async(client, caller, stream=True)
        got = []
        with pytest.raises(ERRORS[provider]):
            async for chunk in stream:
                got.append(chunk)  # noqa: PERF401
        return got

    assert asyncio.run(main())
    assert_failed_attempt(ledger, caller, provider)


def _refuse_sdk_parse(monkeypatch, provider):
    """The target SDK's own parse of a response (building its pydantic objects): what a
    raw read skips. Parsing now fails the test."""

    def refuse(*_args, **_kwargs):
        raise AssertionError(f"the {provider} SDK parsed the fallback target's answer")

    monkeypatch.setattr(importlib.import_module(f"{provider}._response").BaseAPIResponse, "_parse", refuse)
    if provider == "openai":
        monkeypatch.setattr(openai._legacy_response.LegacyAPIResponse, "_parse", refuse)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_a_non_stream_answer_is_read_raw_without_its_sdks_objects(mock, ledger, monkeypatch, provider, is_async):
    configure_prices()
    caller = CALLERS[provider]
    _refuse_sdk_parse(monkeypatch, provider)
    try:
        if is_async:
            client = source(mock, caller, [target(mock, provider, is_async=True)], is_async=True)
            reply = asyncio.run(call_async(client, caller, stream=False))
        else:
            reply = call(source(mock, caller, [target(mock, provider)]), caller, stream=False)
        assert_reply_type(caller, reply)
        assert reply_text(caller, reply) == TEXT
        assert reply.costline["cost_usd"] == TARGET_COST and reply.costline["attempts"] == 2
        assert costline.flush(30)
        served = [e for e in read_events(ledger) if e["status"] == "ok"]
        assert [(e["provider"], e["model"], e["attempt"]) for e in served] == [(provider, TARGET_MODEL, 2)]
        assert (served[0]["input_tokens"], served[0]["output_tokens"]) == (10, 20)
        assert Decimal(served[0]["cost_usd"]) == TARGET_COST and served[0]["resolved_model"]
    finally:
        costline.configure(prices={})


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_a_raw_read_target_still_fails_with_its_sdks_own_errors(mock, ledger, provider, is_async):
    """A status error and a connection error are the target SDK's exceptions, so the
    policy classifies them as before: both fall back to the next target."""
    caller = CALLERS[provider]
    status = target(mock, provider, headers={"x-mock-error": "500"}, is_async=is_async)
    unreachable = target(mock, provider, is_async=is_async)
    unreachable["client"] = unreachable["client"].with_options(base_url="http://127.0.0.1:9/v1")
    chain = [status, unreachable, target(mock, "openai" if provider == "anthropic" else "anthropic")]
    if is_async:
        reply = asyncio.run(call_async(source(mock, caller, chain, is_async=True), caller, stream=False))
    else:
        reply = call(source(mock, caller, chain), caller, stream=False)
    assert reply_text(caller, reply) == TEXT and reply.costline["attempts"] == 4
    assert costline.flush(30)
    events = sorted(read_events(ledger), key=lambda e: e["attempt"])
    sdk = importlib.import_module(provider)
    assert [(e["attempt"], e["status"], e["error_type"]) for e in events[1:]] == [
        (2, "error", sdk.InternalServerError.__name__),
        (3, "error", sdk.APIConnectionError.__name__),
        (4, "ok", None),
    ]


def _refuse_sdk_stream_parse(monkeypatch, provider):
    """The target SDK's own reading of its stream's events: what a raw read skips."""

    def refuse(*_args, **_kwargs):
        raise AssertionError(f"the {provider} SDK read the fallback target's stream")

    if provider == "mistral":
        from mistralai.client.utils import eventstreaming

        def refused(*_args, **_kwargs):
            refuse()
            yield  # a generator, as the SDK's: it fails when iterated

        async def refused_async(*_args, **_kwargs):
            refuse()
            yield

        monkeypatch.setattr(eventstreaming, "stream_events", refused)
        monkeypatch.setattr(eventstreaming, "stream_events_async", refused_async)
    elif provider == "bedrock":
        from botocore import eventstream

        monkeypatch.setattr(eventstream.EventStream, "_parse_event", refuse)
        monkeypatch.setattr(eventstream.EventStream, "__iter__", refuse)
    else:
        from google.genai import _api_client, types

        monkeypatch.setattr(_api_client.HttpResponse, "_iter_response_stream", refuse)
        monkeypatch.setattr(_api_client.HttpResponse, "_aiter_response_stream", refuse)
        monkeypatch.setattr(types.GenerateContentResponse, "_from_response", refuse)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("provider", ["mistral", "google", "bedrock"])
def test_a_mistral_gemini_or_bedrock_target_stream_is_read_raw(mock, ledger, monkeypatch, provider, is_async):
    configure_prices()
    _refuse_sdk_stream_parse(monkeypatch, provider)

    async def read_async():
        client = source(mock, "openai", [target(mock, provider, is_async=True)], is_async=True)
        stream = await call_async(client, "openai", stream=True)
        return stream, [chunk async for chunk in stream]

    try:
        if is_async:
            stream, items = asyncio.run(read_async())
        else:
            stream = call(source(mock, "openai", [target(mock, provider)]), "openai", stream=True)
            items = list(stream)
        assert_chunk_types("openai", items)
        assert stream_text("openai", items) == TEXT
        assert stream.costline["cost_usd"] == TARGET_COST
        assert costline.flush(30)
        served = [e for e in read_events(ledger) if e["status"] == "ok"]
        assert [(e["provider"], e["attempt"], e["stream"]) for e in served] == [(provider, 2, True)]
        assert (served[0]["input_tokens"], served[0]["output_tokens"]) == (10, 20)
        assert served[0]["usage_source"] == "provider"
        assert served[0]["resolved_model"] or provider == "bedrock"  # a Converse stream names no model
    finally:
        costline.configure(prices={})


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_a_gemini_target_failing_part_way_raises_its_sdks_error(mock, ledger, is_async):
    from google.genai import errors

    async def read_async(got):
        client = source(mock, "openai", [target(mock, "google", headers=MIDSTREAM, is_async=True)], is_async=True)
        stream = await call_async(client, "openai", stream=True)
        async for chunk in stream:
            got.append(chunk)  # noqa: PERF401

    got = []
    with pytest.raises(errors.ServerError) as raised:
        if is_async:
            asyncio.run(read_async(got))
        else:
            for chunk in call(
                source(mock, "openai", [target(mock, "google", headers=MIDSTREAM)]), "openai", stream=True
            ):
                got.append(chunk)  # noqa: PERF402
    assert got, "the chunks before the error reach the caller"
    assert raised.value.code == 500 and "midstream" in str(raised.value)
    assert_failed_attempt(ledger, "openai", "google", "ServerError")


@pytest.mark.parametrize("provider", ["mistral", "google"])
def test_a_failing_mistral_or_gemini_stream_target_falls_back_with_its_sdks_error(mock, ledger, provider):
    """The stream's request fails before its first event (a 503): the SDK's own error,
    recorded, and the next target serves."""
    chain = [target(mock, provider, headers={"x-mock-error": "503"}), target(mock, "anthropic")]
    items = list(call(source(mock, "openai", chain), "openai", stream=True))
    assert stream_text("openai", items) == TEXT
    assert costline.flush(30)
    events = sorted(read_events(ledger), key=lambda e: e["attempt"])
    sdk_error = {"mistral": "SDKError", "google": "ServerError"}[provider]
    assert [(e["provider"], e["status"], e["error_type"]) for e in events[1:]] == [
        (provider, "error", sdk_error),
        ("anthropic", "ok", None),
    ]
