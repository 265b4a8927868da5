"""A tool-call round trip through a fallback, for each source: the target answers with a
tool call (the mock's `x-mock-tool-call`), the caller receives it in its own SDK's
types, sends the tool's result back in its own API's shape, and the next fallback gives
the target that call and result in the target's shape."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Tuple

import pytest
from fallback_support import SOURCE_MODELS, TEXT, reply_text, source, target

ARGS = {"city": "Paris"}
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}}
TOOL_CALL = {"x-mock-tool-call": "get_weather " + json.dumps(ARGS)}
# Each source through another target (every target serves one source).
ROUTES = [
    ("openai", "bedrock"),
    ("anthropic", "google"),
    ("google", "mistral"),
    ("mistral", "openai"),
    ("bedrock", "anthropic"),
]
TARGET_PATHS = {
    "openai": "/v1/chat/completions",
    "anthropic": "/v1/messages",
    "google": "/gemini/v1/models/fallback-model:generateContent",
    "mistral": "/mistral/v1/chat/completions",
    "bedrock": "/bedrock/model/fallback-model/converse",
}


def ask(client: Any, provider: str, history: List[Any]) -> Any:
    """One non-stream call offering the weather tool, in the source's own API."""
    model = SOURCE_MODELS[provider]
    if provider in ("openai", "mistral"):
        tools = [{"type": "function", "function": {"name": "get_weather", "parameters": SCHEMA}}]
        create = client.chat.completions.create if provider == "openai" else client.chat.complete
        return create(model=model, messages=history, tools=tools, max_tokens=50)
    if provider == "anthropic":
        tools = [{"name": "get_weather", "input_schema": SCHEMA}]
        return client.messages.create(model=model, max_tokens=50, messages=history, tools=tools)
    if provider == "google":
        config = {"tools": [{"function_declarations": [{"name": "get_weather", "parameters": SCHEMA}]}]}
        return client.models.generate_content(model=model, contents=history, config=config)
    tools = {"tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": SCHEMA}}}]}
    return client.converse(modelId=model, messages=history, toolConfig=tools, inferenceConfig={"maxTokens": 50})


def first_turn(provider: str) -> List[Any]:
    if provider in ("openai", "mistral", "anthropic"):
        return [{"role": "user", "content": "Weather in Paris?"}]
    if provider == "google":
        return [{"role": "user", "parts": [{"text": "Weather in Paris?"}]}]
    return [{"role": "user", "content": [{"text": "Weather in Paris?"}]}]


def the_tool_call(provider: str, reply: Any) -> Tuple[str, str, Dict[str, Any]]:
    """(id, name, arguments) of the one tool call in a source's reply, read from its SDK types."""
    if provider in ("openai", "mistral"):
        assert reply.choices[0].finish_reason == "tool_calls"
        call = reply.choices[0].message.tool_calls[0]
        args = call.function.arguments
        return call.id, call.function.name, json.loads(args) if isinstance(args, str) else args
    if provider == "anthropic":
        assert reply.stop_reason == "tool_use" and reply.content[0].type == "tool_use"
        return reply.content[0].id, reply.content[0].name, reply.content[0].input
    if provider == "google":
        [call] = reply.function_calls
        return call.id, call.name, call.args
    assert reply["stopReason"] == "tool_use"
    use = reply["output"]["message"]["content"][0]["toolUse"]
    return use["toolUseId"], use["name"], use["input"]


def second_turn(provider: str, call_id: str, name: str, args: Dict[str, Any]) -> List[Any]:
    """The first turn, the assistant's tool call and the tool's result ("18C")."""
    history = first_turn(provider)
    if provider in ("openai", "mistral"):
        function = {"name": name, "arguments": json.dumps(args)}
        result: Dict[str, Any] = {"role": "tool", "tool_call_id": call_id, "content": "18C"}
        if provider == "mistral":
            result["name"] = name
        return [
            *history,
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": call_id, "type": "function", "function": function}],
            },
            result,
        ]
    if provider == "anthropic":
        return [
            *history,
            {"role": "assistant", "content": [{"type": "tool_use", "id": call_id, "name": name, "input": args}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call_id, "content": "18C"}]},
        ]
    if provider == "google":
        return [
            *history,
            {"role": "model", "parts": [{"function_call": {"id": call_id, "name": name, "args": args}}]},
            {
                "role": "user",
                "parts": [{"function_response": {"id": call_id, "name": name, "response": {"temp": "18C"}}}],
            },
        ]
    return [
        *history,
        {"role": "assistant", "content": [{"toolUse": {"toolUseId": call_id, "name": name, "input": args}}]},
        {"role": "user", "content": [{"toolResult": {"toolUseId": call_id, "content": [{"text": "18C"}]}}]},
    ]


def received(provider: str, body: Dict[str, Any]) -> Tuple[str, Dict[str, Any], str]:
    """(tool name, arguments, result as JSON text) of the tool call and result a target
    received, read in the target's own shape."""
    if provider in ("openai", "mistral"):
        [call] = [c for m in body["messages"] for c in m.get("tool_calls") or ()]
        [result] = [m for m in body["messages"] if m["role"] == "tool"]
        return call["function"]["name"], json.loads(call["function"]["arguments"]), json.dumps(result["content"])
    if provider == "anthropic":
        blocks = [b for m in body["messages"] if isinstance(m["content"], list) for b in m["content"]]
        [use] = [b for b in blocks if b["type"] == "tool_use"]
        [result] = [b for b in blocks if b["type"] == "tool_result"]
        return use["name"], use["input"], json.dumps(result["content"])
    if provider == "google":
        parts = [p for c in body["contents"] for p in c["parts"]]
        [call] = [p["functionCall"] for p in parts if "functionCall" in p]
        [result] = [p["functionResponse"] for p in parts if "functionResponse" in p]
        return call["name"], call["args"], json.dumps(result["response"])
    blocks = [b for m in body["messages"] for b in m["content"]]
    [use] = [b["toolUse"] for b in blocks if "toolUse" in b]
    [result] = [b["toolResult"] for b in blocks if "toolResult" in b]
    return use["name"], use["input"], json.dumps(result["content"])


@pytest.mark.parametrize("source_provider,target_provider", ROUTES, ids=[f"{s}-via-{t}" for s, t in ROUTES])
def test_a_tool_call_round_trip_through_a_fallback(mock, ledger, source_provider, target_provider):
    asking = source(mock, source_provider, [target(mock, target_provider, headers=TOOL_CALL)])
    reply = ask(asking, source_provider, first_turn(source_provider))
    call_id, name, args = the_tool_call(source_provider, reply)
    assert (name, args) == ("get_weather", ARGS) and call_id
    assert reply.costline["served_by"].startswith(f"{target_provider}/")

    answering = source(mock, source_provider, [target(mock, target_provider)])
    final = ask(answering, source_provider, second_turn(source_provider, call_id, name, args))
    assert reply_text(source_provider, final) == TEXT
    got_name, got_args, got_result = received(target_provider, mock.requests(TARGET_PATHS[target_provider])[-1]["body"])
    assert (got_name, got_args) == ("get_weather", ARGS) and "18C" in got_result
