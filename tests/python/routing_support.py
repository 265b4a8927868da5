"""Shared material of the routed client's tests: the routing vectors' pinned prices and
candidate table, and provider clients (raw SDK or costline drop-in) against the mock."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

import costline

VECTORS = json.loads((Path(__file__).resolve().parents[1] / "vectors" / "routing" / "decisions.json").read_text())
# gpt-4.1-nano (45), gpt-4o-mini (55), claude-haiku-4-5 (62), gpt-4o (72), claude-sonnet-4-5 (78).
CANDIDATES = VECTORS["cases"][0]["input"]["candidates"]
SUMMARY = VECTORS["cases"][0]["input"]["request"]["messages"]
CODE = VECTORS["cases"][2]["input"]["request"]["messages"]
SHORT = [{"role": "user", "content": "Analyse this refund request."}]
METADATA = {
    "customer_id": "acme",
    "feature_id": "support-triage",
    "environment": "production",
    "cost_center": "customer-success",
}
# One model per provider the mock serves, each priced by the catalog.
PROVIDER_MODELS = {
    "openai": "gpt-4o-mini",
    "anthropic": "claude-haiku-4-5",
    "google": "gemini-2.5-flash",
    "mistral": "mistral-small-latest",
    "bedrock": "us.anthropic.claude-haiku-4-5-20251001-v1:0",
}
HELLO = "Hello from the mock provider."


@pytest.fixture
def vector_prices():
    """The vectors' pinned prices as inline prices (so catalog updates move no pick)."""
    costline.configure(prices=VECTORS["prices"])
    yield
    costline.configure(prices={})


def client_for(mock: Any, provider: str, drop_in: bool = False, headers: Any = None, is_async: bool = False) -> Any:
    """A client of `provider` against the mock: the SDK's own, or costline's drop-in."""
    headers = headers or {}
    if provider == "openai":
        if drop_in:
            from costline.openai import AsyncOpenAI, OpenAI

            cls: Any = AsyncOpenAI if is_async else OpenAI
        else:
            cls = openai.AsyncOpenAI if is_async else openai.OpenAI
        return cls(base_url=mock.openai_base_url, api_key="test", max_retries=0, default_headers=headers)
    if provider == "anthropic":
        if drop_in:
            from costline.anthropic import Anthropic, AsyncAnthropic

            cls = AsyncAnthropic if is_async else Anthropic
        else:
            cls = anthropic.AsyncAnthropic if is_async else anthropic.Anthropic
        return cls(base_url=mock.anthropic_base_url, api_key="test", max_retries=0, default_headers=headers)
    if provider == "mistral":
        if drop_in:
            from costline.mistral import Mistral
        else:
            from mistralai.client import Mistral
        return Mistral(api_key="test", server_url=mock.mistral_server_url)
    if provider == "google":
        if drop_in:
            from costline.google import Client
        else:
            from google.genai import Client
        return Client(api_key="test", http_options={"base_url": mock.gemini_base_url, "headers": headers})
    import boto3
    from botocore.config import Config

    kwargs = dict(
        region_name="us-east-1",
        endpoint_url=mock.bedrock_endpoint_url,
        aws_access_key_id="AKIDMOCK",
        aws_secret_access_key="secret",
        config=Config(retries={"max_attempts": 1}),
    )
    if drop_in:
        from costline import bedrock

        return bedrock.client("bedrock-runtime", **kwargs)
    return boto3.client("bedrock-runtime", **kwargs)


def without_latencies() -> list:
    """The vectors' table without latencies (the ledger's are then the only ones)."""
    return [{k: v for k, v in c.items() if k != "latency_ms"} for c in CANDIDATES]
