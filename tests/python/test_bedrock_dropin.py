"""Bedrock through a real boto3 `bedrock-runtime` client, metered by botocore
event hooks: same responses, EventStreams and exceptions; one event per call,
priced under the Bedrock model id (inference profile prefixes included)."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.config import Config

import costline
from costline import bedrock
from costline_fixtures import read_events

CLAUDE = "anthropic.claude-sonnet-4-5-20250929-v1:0"
MESSAGES = [{"role": "user", "content": [{"text": "Say hello to the mock."}]}]
# The bedrock_converse_cache_read_and_write_billed_once vector.
CACHED = {
    "x-mock-prompt-tokens": "100",
    "x-mock-completion-tokens": "200",
    "x-mock-cached-tokens": "5000",
    "x-mock-cache-write-tokens": "1000",
}
SECRET = "bedrock-SECRET-key-4242"


def kwargs(mock):
    return dict(
        region_name="us-east-1",
        endpoint_url=mock.bedrock_endpoint_url,
        aws_access_key_id="AKIDMOCK",
        aws_secret_access_key=SECRET,
        config=Config(retries={"max_attempts": 1}),
    )


def with_headers(client, headers):
    """Send the mock's x-mock-* headers with every request of `client`."""

    def add(request, **_):
        for name, value in headers.items():
            request.headers[name] = value

    client.meta.events.register("before-sign.bedrock-runtime", add)
    return client


@pytest.fixture
def metered(mock):
    return bedrock.client(**kwargs(mock))


@pytest.fixture
def raw(mock):
    return boto3.client("bedrock-runtime", **kwargs(mock))


def test_the_client_is_boto3s(metered, raw):
    # botocore makes a class per client; the metered one is the same kind.
    assert type(metered).__name__ == type(raw).__name__ == "BedrockRuntime"
    assert type(metered).__mro__[1:] == type(raw).__mro__[1:]


def test_converse_bills_cache_reads_and_writes_once(metered, raw, ledger):
    with_headers(metered, CACHED)
    with_headers(raw, CACHED)
    ours = metered.converse(modelId=CLAUDE, messages=MESSAGES)
    theirs = raw.converse(modelId=CLAUDE, messages=MESSAGES)
    assert ours["usage"] == theirs["usage"] and ours["output"] == theirs["output"]
    [event] = read_events(ledger)
    assert (event["provider"], event["operation"], event["model"], event["stream"]) == (
        "bedrock",
        "converse",
        CLAUDE,
        False,
    )
    assert (event["input_tokens"], event["cached_input_tokens"], event["cache_write_input_tokens"]) == (
        6100,
        5000,
        1000,
    )
    assert (event["cost_usd"], event["price_key"]) == ("0.00855", CLAUDE)
    assert SECRET not in json.dumps(event)


def test_converse_stream_records_the_metadata_events_usage(metered, raw, ledger):
    model = "us." + CLAUDE
    with_headers(metered, CACHED)
    with_headers(raw, CACHED)
    ours = list(metered.converse_stream(modelId=model, messages=MESSAGES)["stream"])
    theirs = list(raw.converse_stream(modelId=model, messages=MESSAGES)["stream"])
    assert [list(e) for e in ours] == [list(e) for e in theirs] and "metadata" in ours[-1]
    [event] = read_events(ledger)
    assert event["stream"] is True and event["usage_source"] == "provider"
    # the us. profile's own price: the bedrock_us_inference_profile_has_its_own_price vector
    assert (event["cost_usd"], event["price_key"]) == ("0.009405", model)


def test_a_stream_closed_early_is_recorded_once(metered, ledger):
    response = metered.converse_stream(modelId=CLAUDE, messages=MESSAGES)
    stream = response["stream"]
    next(iter(stream))
    stream.close()
    [event] = read_events(ledger)
    assert event["stream"] is True and event["usage_source"] == "estimate" and event["input_tokens"] > 0


@pytest.mark.parametrize(
    ("model", "headers", "cost"),
    [
        ("meta.llama3-8b-instruct-v1:0", {"x-mock-prompt-tokens": "1000", "x-mock-completion-tokens": "500"}, "0.0006"),
        (
            "amazon.titan-text-express-v1",
            {"x-mock-prompt-tokens": "300", "x-mock-completion-tokens": "200", "x-mock-usage": "null"},
            "0.00018",
        ),
        (
            "apac.anthropic.claude-3-5-haiku-20241022-v1:0",
            {
                "x-mock-prompt-tokens": "1000",
                "x-mock-completion-tokens": "100",
                "x-mock-cached-tokens": "2000",
                "x-mock-cache-write-tokens": "500",
                "x-mock-usage": "null",
            },
            "0.00186",
        ),
    ],
)
def test_invoke_model_per_family_from_headers_or_body(mock, ledger, model, headers, cost):
    client = with_headers(bedrock.client(**kwargs(mock)), headers)
    raw = with_headers(boto3.client("bedrock-runtime", **kwargs(mock)), headers)
    ours = client.invoke_model(modelId=model, body=json.dumps({"prompt": "hi"}))
    theirs = raw.invoke_model(modelId=model, body=json.dumps({"prompt": "hi"}))
    assert json.loads(ours["body"].read()) == json.loads(theirs["body"].read())
    [event] = read_events(ledger)
    assert (event["operation"], event["cost_usd"], event["usage_source"]) == ("invoke", cost, "provider")


@pytest.mark.parametrize("model", ["anthropic.claude-3-5-haiku-20241022-v1:0", "meta.llama3-8b-instruct-v1:0"])
def test_invoke_stream_records_the_models_usage(mock, ledger, model):
    headers = {"x-mock-prompt-tokens": "50", "x-mock-completion-tokens": "25"}
    client = with_headers(bedrock.client(**kwargs(mock)), headers)
    chunks = list(client.invoke_model_with_response_stream(modelId=model, body=json.dumps({"prompt": "hi"}))["body"])
    assert chunks and all("chunk" in c for c in chunks)
    [event] = read_events(ledger)
    assert (event["stream"], event["input_tokens"], event["output_tokens"]) == (True, 50, 25)
    assert event["usage_source"] == "provider" and event["cost_source"] == "catalog"


def test_errors_are_botocores_and_recorded_once(metered, raw, ledger):
    with_headers(metered, {"x-mock-error": "429"})
    with_headers(raw, {"x-mock-error": "429"})
    with pytest.raises(metered.exceptions.ThrottlingException):
        metered.converse(modelId=CLAUDE, messages=MESSAGES)
    with pytest.raises(raw.exceptions.ThrottlingException):
        raw.converse(modelId=CLAUDE, messages=MESSAGES)
    [event] = read_events(ledger)
    assert (event["status"], event["error_type"]) == ("error", "ThrottlingException")


def test_with_agent_instrument_and_tags(mock, raw, ledger):
    client = bedrock.client(**kwargs(mock), costline={"tags": {"team": "b"}})
    client.with_agent("writer").converse(modelId=CLAUDE, messages=MESSAGES)
    client.converse(modelId=CLAUDE, messages=MESSAGES)
    assert costline.instrument(raw) is raw
    costline.instrument(raw)  # twice: one set of handlers
    raw.converse(modelId=CLAUDE, messages=MESSAGES)
    events = read_events(ledger)
    assert sorted(str(e["agent"]) for e in events) == ["None", "None", "writer"]
    assert sum(e["tags"].get("team") == "b" for e in events) == 2


def test_an_invoke_stream_closed_early_is_estimated_not_its_opening_counts(mock, ledger):
    client = with_headers(bedrock.client(**kwargs(mock)), {"x-mock-prompt-tokens": "50"})
    body = client.invoke_model_with_response_stream(
        modelId="anthropic.claude-3-5-haiku-20241022-v1:0", body=json.dumps({"messages": []})
    )["body"]
    next(iter(body))
    body.close()
    [event] = read_events(ledger)
    assert (event["stream"], event["status"], event["usage_source"]) == (True, "ok", "estimate")
