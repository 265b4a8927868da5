"""An OpenAI or Anthropic target's stream is read as its raw bytes (`_fallback_raw`):
what the caller sees of a failure part-way through is still the target SDK's own
error, the chunks before it arrive, and the attempt is recorded as failed; sync and
async."""

from __future__ import annotations

import asyncio

import anthropic
import openai
import pytest
from fallback_support import call, call_async, source, target

from costline_fixtures import read_events

MIDSTREAM = {"x-mock-error": "midstream-error"}
ERRORS = {"anthropic": anthropic.APIStatusError, "openai": openai.APIError}
# The caller: an OpenAI caller for an Anthropic target, and the other way round.
CALLERS = {"anthropic": "openai", "openai": "anthropic"}


def assert_failed_attempt(ledger, caller, provider):
    events = sorted(read_events(ledger), key=lambda e: e["attempt"])
    assert [(e["provider"], e["status"], e["attempt"], e["stream"]) for e in events] == [
        (caller, "error", 1, True),
        (provider, "error", 2, True),
    ]
    assert events[1]["error_type"] == ERRORS[provider].__name__  # as the SDK-read stream recorded it


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
