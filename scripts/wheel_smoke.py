"""Use an installed costline wheel the way a user would, from a clean venv outside the
repository (scripts/check_wheel.sh runs it):

    python wheel_smoke.py core                 # the native core alone: cost, tokens, ledger
    python wheel_smoke.py openai|anthropic     # the drop-in against the mock provider (MOCK_URL)

For a provider, the venv holds the wheel and that SDK at the version under test (the
floor of the extra's range), so a call that the SDK's request path no longer routes
through costline shows up as a missing or unpriced event.
"""

from __future__ import annotations

import os
import sys
from decimal import Decimal
from importlib.metadata import version

import costline

MESSAGES = [{"role": "user", "content": "hi"}]


def core() -> int:
    assert costline.cost("gpt-4o", input_tokens=1000, output_tokens=500, cached_input_tokens=200) == Decimal("0.00725")
    assert costline.count_tokens("hello world", "gpt-4o") == 2
    costline.track(provider="openai", model="gpt-4o", input_tokens=10, output_tokens=5)
    return 1


def openai_calls(url: str) -> int:
    from costline.openai import OpenAI

    client = OpenAI(base_url=url + "/v1", api_key="k")
    with costline.run(agent="smoke"):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        for _ in client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True):
            pass
    return 2


def anthropic_calls(url: str) -> int:
    from costline.anthropic import Anthropic

    client = Anthropic(base_url=url, api_key="k")
    with costline.run(agent="smoke"):
        client.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=MESSAGES)
        with client.messages.stream(model="claude-haiku-4-5", max_tokens=64, messages=MESSAGES) as stream:
            for _ in stream:
                pass
    return 2


def main(mode: str) -> None:
    if mode == "core":
        expected = core()
    else:
        calls = {"openai": openai_calls, "anthropic": anthropic_calls}[mode]
        expected = calls(os.environ["MOCK_URL"])
    assert costline.flush(10), "the ledger writer did not drain within 10 s"
    seen = costline.events()
    assert len(seen) == expected, seen
    for event in seen:
        assert event["cost_usd"] is not None and Decimal(event["cost_usd"]) > 0, event
        if mode != "core":
            assert event["agent"] == "smoke" and event["usage_source"] == "provider", event
    sdk = "" if mode == "core" else f" {mode} {version(mode)}"
    print(f"smoke ok: Python {sys.version.split()[0]}{sdk}: {len(seen)} events priced")


if __name__ == "__main__":
    main(sys.argv[1])
