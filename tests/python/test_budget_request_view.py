"""A guarded call reserves its prompt's cost for every body shape the estimator
understands, through each provider's API: messages with tool calls and tools,
Responses items, Anthropic blocks, Gemini contents, Bedrock Converse, embeddings,
and conversations holding tuples or the SDK's own objects."""

from __future__ import annotations

from decimal import Decimal

import pytest
from budget_support import budgets  # noqa: F401  (fixture)
from openai.types.chat import ChatCompletionMessage

import costline
from costline import _native

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "weather",
        "description": "Weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city."},
                "unit": {"type": ["string", "null"], "enum": ["c", "f"]},
                "days": {"type": "array", "items": {"type": "integer"}},
            },
        },
    },
}

BODIES = [
    (
        "openai",
        "chat",
        "gpt-4o",
        {
            "model": "gpt-4o",
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "name": "ada", "content": [{"type": "text", "text": "Weather in Paris?"}]},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}
                    ],
                },
                {"role": "tool", "tool_call_id": "c1", "content": "Sunny, 21 C."},
            ],
            "tools": [WEATHER_TOOL],
            "max_tokens": 50,
            # Numbers read in place (a float) and one that is not (beyond 64 bits).
            "temperature": 0.2,
            "logit_bias": {"1": -100, "2": 2**70},
        },
    ),
    (
        "openai",
        "chat",
        "gpt-4o",
        # Tuples, a bool and an SDK object from an earlier answer inside the conversation
        # (a tuple once made the whole body unreadable when converted: no prompt, no limit).
        {
            "model": "gpt-4o",
            "messages": (
                {"role": "user", "content": "Hi there."},
                ChatCompletionMessage(role="assistant", content="Hello! How can I help?"),
                {"role": "user", "content": "Tell me a joke.", "weird": True},
            ),
            "max_completion_tokens": 40,
        },
    ),
    (
        "openai",
        "responses",
        "gpt-4o",
        {
            "model": "gpt-4o",
            "instructions": "Answer in French.",
            "input": [
                {"role": "user", "content": [{"type": "input_text", "text": "What is the capital of Italy?"}]},
                {"type": "function_call", "name": "lookup", "arguments": '{"q": "Italy"}', "call_id": "x"},
                {"type": "function_call_output", "call_id": "x", "output": "Rome"},
                {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Looked it up."}]},
            ],
            "tools": [{"type": "function", "name": "lookup", "description": "Look up.", "parameters": {}}],
            "max_output_tokens": 30,
        },
    ),
    (
        "anthropic",
        "messages",
        "claude-sonnet-4-5",
        {
            "model": "claude-sonnet-4-5",
            "system": [{"type": "text", "text": "Be brief."}],
            "messages": [
                {"role": "user", "content": "Summarise this."},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "Short."},
                        {"type": "tool_use", "id": "t", "name": "read", "input": {"path": "a.txt", "n": 3}},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "Text."}]},
                        {"type": "document", "source": {"type": "text", "data": "A plain document."}},
                    ],
                },
            ],
            "tools": [{"name": "read", "description": "Read a file.", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "any"},
            "max_tokens": 64,
        },
    ),
    (
        "google",
        "generate_content",
        "gemini-2.5-flash",
        {
            "contents": [{"role": "user", "parts": [{"text": "Name three colours."}]}],
            "systemInstruction": {"parts": [{"text": "One word each."}]},
            "generationConfig": {"maxOutputTokens": 20},
        },
    ),
    (
        "bedrock",
        "converse",
        "us.anthropic.claude-haiku-4-5-20251001-v1:0",
        {
            "messages": [{"role": "user", "content": [{"text": "Hello from Bedrock."}]}],
            "system": [{"text": "Be kind."}],
            "inferenceConfig": {"maxTokens": 60},
        },
    ),
    (
        "openai",
        "embeddings",
        "text-embedding-3-small",
        {"model": "text-embedding-3-small", "input": ["first text", "second text", [1, 2, 3]]},
    ),
]


LIMITS = {"model", "max_tokens", "max_completion_tokens", "max_output_tokens", "generationConfig", "inferenceConfig"}


def reserved_amount(provider: str, operation: str, model: str, body: dict) -> str:
    held = _native.budget_reserve(provider, operation, model, body, False, None, None, [], {}, {}, [])
    assert held is not None
    amount = held.amount_usd
    held.release()
    return amount


IDS = [f"{b[0]}-{b[1]}-{i}" for i, b in enumerate(BODIES)]


@pytest.mark.parametrize("provider,operation,model,body", BODIES, ids=IDS)
def test_the_prompt_of_every_body_shape_is_reserved(budgets, provider, operation, model, body):  # noqa: F811
    for store in ("memory", "ledger"):
        budgets(costline.Budget("1000000", "total"), budget_store=store)
        whole = Decimal(reserved_amount(provider, operation, model, body))
        # Without the prompt (the same output limit kept) the amount is the output alone.
        limits_only = {k: v for k, v in body.items() if k in LIMITS}
        output_alone = Decimal(reserved_amount(provider, operation, model, limits_only))
        # More than the output alone, and the request's own output limit rather than the
        # model's maximum (a body that could not be read reserves that maximum, no prompt).
        assert output_alone < whole < Decimal("0.01"), store


def estimated_input_cost(provider: str, operation: str, model: str, body: dict) -> Decimal:
    """The prompt's cost as the recorder estimates it for a call that reported no
    usage: the request converted to a JSON value, a path independent of the
    reservation's (which reads the dicts in place)."""
    cost = _native.record(
        provider, operation, model, None, None, 0, False, "ok", None, None, None, [], {}, {}, body, "", True
    )
    return Decimal(cost)


@pytest.mark.parametrize("provider,operation,model,body", BODIES, ids=IDS)
def test_the_reservation_reads_the_body_as_the_recorder_does(budgets, provider, operation, model, body):  # noqa: F811
    # The same prompt, token for token: the reservation (prompt plus the output
    # limit) less the output limit alone is the recorder's prompt cost, exactly.
    budgets(costline.Budget("1000000", "total"), budget_store="memory")
    whole = Decimal(reserved_amount(provider, operation, model, body))
    limits_only = {k: v for k, v in body.items() if k in LIMITS}
    output_alone = Decimal(reserved_amount(provider, operation, model, limits_only))
    prompt = estimated_input_cost(provider, operation, model, body)
    framing = estimated_input_cost(provider, operation, model, limits_only)
    assert prompt > framing
    # A reservation rounds up to a nano-dollar: within one nano-dollar for each of the two.
    assert abs((whole - output_alone) - (prompt - framing)) <= Decimal("0.000000002"), (whole, output_alone, prompt)
