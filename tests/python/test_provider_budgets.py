"""A run's cost cap refuses a Gemini, Mistral or Bedrock call that would pass
it, before anything is sent, as it does for OpenAI: BudgetExceededError."""

from __future__ import annotations

import pytest
from botocore.config import Config

import costline
from costline import bedrock
from costline.google import Client as Gemini
from costline.mistral import Mistral
from costline_fixtures import read_events


def calls(mock):
    gemini = Gemini(api_key="k", http_options={"base_url": mock.gemini_base_url})
    mistral = Mistral(api_key="k", server_url=mock.mistral_server_url)
    aws = bedrock.client(
        region_name="us-east-1",
        endpoint_url=mock.bedrock_endpoint_url,
        aws_access_key_id="AKIDMOCK",
        aws_secret_access_key="s",
        config=Config(retries={"max_attempts": 1}),
    )
    return {
        "google": lambda: gemini.models.generate_content(model="gemini-2.5-pro", contents="hi"),
        "mistral": lambda: mistral.chat.complete(
            model="mistral-medium-latest", messages=[{"role": "user", "content": "hi"}], max_tokens=100_000
        ),
        "bedrock": lambda: aws.converse(
            modelId="anthropic.claude-sonnet-4-5-20250929-v1:0",
            messages=[{"role": "user", "content": [{"text": "hi"}]}],
            inferenceConfig={"maxTokens": 64000},
        ),
    }


@pytest.mark.parametrize("provider", ["google", "mistral", "bedrock"])
def test_a_run_cap_refuses_the_call_before_it_is_sent(mock, ledger, provider):
    call = calls(mock)[provider]
    with costline.run("capped", max_cost_usd="0.0000001"):
        with pytest.raises(costline.BudgetExceededError):
            call()
    assert [r for r in mock.requests() if r["provider"] == provider] == []
    with costline.run("uncapped"):
        call()
    events = read_events(ledger)
    assert [e["status"] for e in events] == ["blocked", "ok"], events


def test_disabled_drop_ins_are_plain_clients(mock, ledger):
    # configure(disabled=True), as COSTLINE_DISABLED=1: the calls go out, no event, no budget.
    costline.configure(disabled=True)
    try:
        for call in calls(mock).values():
            with costline.run("capped", max_cost_usd="0.0000001"):
                call()
    finally:
        costline.configure(disabled=False)
    assert {r["provider"] for r in mock.requests()} == {"google", "mistral", "bedrock"}
    assert read_events(ledger) == []
