"""The OpenAI drop-in against OpenAI-compatible services: the provider comes from
the client's base_url host (or `costline={"provider": ...}`) and the call is
priced under that provider's catalog entries; a self-hosted model is unknown."""

from __future__ import annotations

import pytest

from costline.openai import AsyncOpenAI, AzureOpenAI, OpenAI
from costline_fixtures import read_events

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("base_url", "provider"),
    [
        ("https://api.groq.com/openai/v1", "groq"),
        ("https://api.together.xyz/v1", "together_ai"),
        ("https://api.fireworks.ai/inference/v1", "fireworks_ai"),
        ("https://api.deepseek.com", "deepseek"),
        ("https://api.x.ai/v1", "xai"),
        ("https://openrouter.ai/api/v1", "openrouter"),
        ("https://api.mistral.ai/v1", "mistral"),
        ("https://generativelanguage.googleapis.com/v1beta/openai/", "google"),
        ("https://api.openai.com/v1", "openai"),
        ("http://localhost:11434/v1", "openai"),
        ("http://127.0.0.1:8000/v1", "openai"),
    ],
)
def test_the_base_url_host_names_the_provider(base_url, provider):
    for cls in (OpenAI, AsyncOpenAI):
        client = cls(base_url=base_url, api_key="k")
        assert client._costline_adapter.client_provider(client) == provider


def test_azure_clients_are_recorded_as_azure():
    client = AzureOpenAI(api_key="k", api_version="2024-10-21", azure_endpoint="http://127.0.0.1:9")
    assert client._costline_adapter.client_provider(client) == "azure"


def test_a_named_provider_is_recorded_and_priced_under_its_entries(mock, ledger):
    client = OpenAI(base_url=mock.openai_base_url, api_key="k", max_retries=0, costline={"provider": "mistral"})
    headers = {"x-mock-prompt-tokens": "2000", "x-mock-cached-tokens": "1500", "x-mock-completion-tokens": "100"}
    client.chat.completions.create(model="mistral-small-latest", messages=MESSAGES, extra_headers=headers)
    [event] = read_events(ledger)
    assert (event["provider"], event["price_key"], event["cost_source"]) == (
        "mistral",
        "mistral/mistral-small-latest",
        "catalog",
    )
    # The mistral_cached_prompt_billed_once vector: 500 x 0.00000015 + 1500 x 0.000000015 + 100 x 0.0000006
    assert event["cost_usd"] == "0.0001575"


def test_the_provider_option_survives_with_agent(mock, ledger):
    client = OpenAI(base_url=mock.openai_base_url, api_key="k", max_retries=0, costline={"provider": "azure"})
    client.with_agent("writer").chat.completions.create(model="gpt-4o", messages=MESSAGES)
    [event] = read_events(ledger)
    assert (event["provider"], event["price_key"], event["agent"]) == ("azure", "azure/gpt-4o-2024-08-06", "writer")


def test_a_self_hosted_model_is_recorded_with_an_unknown_cost(mock, ledger):
    client = OpenAI(base_url=mock.openai_base_url, api_key="k", max_retries=0)
    client.chat.completions.create(model="qwen2.5:7b-instruct", messages=MESSAGES)
    [event] = read_events(ledger)
    assert event["provider"] == "openai" and event["input_tokens"] > 0
    assert (event["cost_usd"], event["cost_source"], event["price_key"]) == (None, "unknown", None)


def test_a_bad_provider_option_is_refused():
    with pytest.raises(TypeError):
        OpenAI(base_url="http://127.0.0.1:9/v1", api_key="k", costline={"provider": 3})


def test_a_compatible_hosts_call_is_priced_under_its_own_catalog_entry(mock, ledger):
    client = OpenAI(base_url=mock.openai_base_url, api_key="k", max_retries=0, costline={"provider": "groq"})
    headers = {"x-mock-prompt-tokens": "1000", "x-mock-cached-tokens": "400", "x-mock-completion-tokens": "200"}
    client.chat.completions.create(model="openai/gpt-oss-120b", messages=MESSAGES, extra_headers=headers)
    [event] = read_events(ledger)
    # the groq_compatible_host_priced_under_groq vector
    assert (event["provider"], event["price_key"], event["cost_usd"]) == ("groq", "groq/openai/gpt-oss-120b", "0.00024")
