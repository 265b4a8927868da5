"""A tool-call round trip through a fallback, for all 20 (source, target) pairs, plain
and streamed: the target answers with a tool call (the mock's `x-mock-tool-call`), the
caller receives it in its own SDK's types (a stream put together as its SDK's callers
do), sends the tool's result back in its own API's shape, and the next fallback gives
the target that call and result in the target's shape. Every attempt is an event,
linked to its call by `call_id`."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Tuple

import pytest
from fallback_support import (
    PAIRS,
    SOURCE_MODELS,
    TEXT,
    reply_text,
    source,
    stream_items,
    stream_text,
    stream_tool_call,
    target,
)

from costline_fixtures import read_events

ARGS = {"city": "Paris"}
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}}
TOOL_CALL = {"x-mock-tool-call": "get_weather " + json.dumps(ARGS)}
# Where each target's chat calls go, plain and streamed.
TARGET_PATHS = {
    "openai": ("/v1/chat/completions",) * 2,
    "anthropic": ("/v1/messages",) * 2,
    "google": (
        "/gemini/v1/models/fallback-model:generateContent",
        "/gemini/v1/models/fallback-model:streamGenerateContent",
    ),
    "mistral": ("/mistral/v1/chat/completions",) * 2,
    "bedrock": ("/bedrock/model/fallback-model/converse", "/bedrock/model/fallback-model/converse-stream"),
}
# How the caller's own API ends an answer that is a tool call.
TOOL_FINISH = {"openai": "tool_calls", "mistral": "tool_calls", "anthropic": "tool_use", "bedrock": "tool_use"}


def ask(client: Any, provider: str, history: List[Any], stream: bool) -> Any:
    """One call offering the weather tool, in the source's own API (a stream unread)."""
    model = SOURCE_MODELS[provider]
    if provider in ("openai", "mistral"):
        tools = [{"type": "function", "function": {"name": "get_weather", "parameters": SCHEMA}}]
        if provider == "openai":
            return client.chat.completions.create(
                model=model, messages=history, tools=tools, max_tokens=50, stream=stream
            )
        create = client.chat.stream if stream else client.chat.complete
        return create(model=model, messages=history, tools=tools, max_tokens=50)
    if provider == "anthropic":
        tools = [{"name": "get_weather", "input_schema": SCHEMA}]
        return client.messages.create(model=model, max_tokens=50, messages=history, tools=tools, stream=stream)
    if provider == "google":
        config = {"tools": [{"function_declarations": [{"name": "get_weather", "parameters": SCHEMA}]}]}
        method = client.models.generate_content_stream if stream else client.models.generate_content
        return method(model=model, contents=history, config=config)
    tools = {"tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": SCHEMA}}}]}
    method = client.converse_stream if stream else client.converse
    return method(modelId=model, messages=history, toolConfig=tools, inferenceConfig={"maxTokens": 50})


def first_turn(provider: str) -> List[Any]:
    if provider in ("openai", "mistral", "anthropic"):
        return [{"role": "user", "content": "Weather in Paris?"}]
    if provider == "google":
        return [{"role": "user", "parts": [{"text": "Weather in Paris?"}]}]
    return [{"role": "user", "content": [{"text": "Weather in Paris?"}]}]


def the_tool_call(provider: str, reply: Any) -> Tuple[str, str, Dict[str, Any], str]:
    """(id, name, arguments, finish) of the one tool call in a source's reply, read from
    its SDK types."""
    if provider in ("openai", "mistral"):
        [call] = reply.choices[0].message.tool_calls
        args = call.function.arguments
        args = json.loads(args) if isinstance(args, str) else args
        return call.id, call.function.name, args, reply.choices[0].finish_reason
    if provider == "anthropic":
        [block] = reply.content
        assert block.type == "tool_use"
        return block.id, block.name, block.input, reply.stop_reason
    if provider == "google":
        [call] = reply.function_calls
        return call.id, call.name, call.args, reply.candidates[0].finish_reason.name
    [block] = reply["output"]["message"]["content"]
    use = block["toolUse"]
    return use["toolUseId"], use["name"], use["input"], reply["stopReason"]


def answer(provider: str, reply: Any, stream: bool) -> Any:
    """What the caller reads of a reply: the stream's items, or the reply itself."""
    return stream_items(provider, reply) if stream else reply


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


def received(provider: str, body: Dict[str, Any]) -> Tuple[str, Dict[str, Any], str, bool]:
    """(tool name, arguments, result as JSON text, whether the result names the call's id)
    of the tool call and result a target received, read in the target's own shape."""
    if provider in ("openai", "mistral"):
        [call] = [c for m in body["messages"] for c in m.get("tool_calls") or ()]
        [result] = [m for m in body["messages"] if m["role"] == "tool"]
        args = json.loads(call["function"]["arguments"])
        return call["function"]["name"], args, json.dumps(result["content"]), call["id"] == result["tool_call_id"]
    if provider == "anthropic":
        blocks = [b for m in body["messages"] if isinstance(m["content"], list) for b in m["content"]]
        [use] = [b for b in blocks if b["type"] == "tool_use"]
        [result] = [b for b in blocks if b["type"] == "tool_result"]
        return use["name"], use["input"], json.dumps(result["content"]), use["id"] == result["tool_use_id"]
    if provider == "google":
        parts = [p for c in body["contents"] for p in c["parts"]]
        [call] = [p["functionCall"] for p in parts if "functionCall" in p]
        [result] = [p["functionResponse"] for p in parts if "functionResponse" in p]
        paired = call.get("id") == result.get("id") and call["name"] == result["name"]
        return call["name"], call["args"], json.dumps(result["response"]), paired
    blocks = [b for m in body["messages"] for b in m["content"]]
    [use] = [b["toolUse"] for b in blocks if "toolUse" in b]
    [result] = [b["toolResult"] for b in blocks if "toolResult" in b]
    return use["name"], use["input"], json.dumps(result["content"]), use["toolUseId"] == result["toolUseId"]


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("source_provider,target_provider", PAIRS, ids=[f"{s}-to-{t}" for s, t in PAIRS])
def test_a_tool_call_round_trip_through_a_fallback(mock, ledger, source_provider, target_provider, stream):
    asking = source(mock, source_provider, [target(mock, target_provider, headers=TOOL_CALL)])
    reply = ask(asking, source_provider, first_turn(source_provider), stream)
    items = answer(source_provider, reply, stream)
    read = stream_tool_call if stream else the_tool_call
    call_id, name, args, finish = read(source_provider, items)
    assert (name, args, finish) == ("get_weather", ARGS, TOOL_FINISH.get(source_provider, "STOP"))
    assert call_id, "the caller gets an id to answer the call with"
    info = items[0].costline if stream and source_provider == "google" else reply.costline
    assert info["served_by"].startswith(f"{target_provider}/")

    answering = source(mock, source_provider, [target(mock, target_provider)])
    final = ask(answering, source_provider, second_turn(source_provider, call_id, name, args), stream)
    text = stream_text if stream else reply_text
    assert text(source_provider, answer(source_provider, final, stream)) == TEXT
    path = TARGET_PATHS[target_provider][stream]
    got_name, got_args, got_result, paired = received(target_provider, mock.requests(path)[-1]["body"])
    assert (got_name, got_args, paired) == ("get_weather", ARGS, True) and "18C" in got_result

    by_call: Dict[str, List[Any]] = {}
    for e in read_events(ledger):
        by_call.setdefault(e["call_id"], []).append(e)
    assert len(by_call) == 2
    for attempts in by_call.values():
        attempts.sort(key=lambda e: e["attempt"])
        assert [(e["provider"], e["status"], e["attempt"], e["stream"]) for e in attempts] == [
            (source_provider, "error", 1, stream),
            (target_provider, "ok", 2, stream),
        ]


@pytest.mark.parametrize("source_provider,target_provider", PAIRS, ids=[f"{s}-to-{t}" for s, t in PAIRS])
def test_a_streamed_tool_call_without_arguments_reaches_the_caller_as_an_empty_object(
    mock, ledger, source_provider, target_provider
):
    # Anthropic streams such a call's input as one empty `input_json_delta`; callers of
    # APIs that carry arguments as JSON text must still get `{}` to parse.
    no_args = {"x-mock-tool-call": "get_weather {}"}
    asking = source(mock, source_provider, [target(mock, target_provider, headers=no_args)])
    items = stream_items(source_provider, ask(asking, source_provider, first_turn(source_provider), True))
    _, name, args, _ = stream_tool_call(source_provider, items)
    assert (name, args) == ("get_weather", {})


@pytest.mark.parametrize("target_provider", ["anthropic", "google", "mistral", "bedrock"])
def test_the_openai_stream_helper_puts_a_fallback_tool_call_together(mock, ledger, target_provider):
    # `chat.completions.stream()` holds the stream's `response` to close it; the
    # fallback's stream (another provider's answer) must offer it too.
    client = source(mock, "openai", [target(mock, target_provider, headers=TOOL_CALL)])
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": SCHEMA}}]
    history = first_turn("openai")
    with client.chat.completions.stream(model=SOURCE_MODELS["openai"], messages=history, tools=tools) as stream:
        completion = stream.get_final_completion()
    [call] = completion.choices[0].message.tool_calls
    assert (call.function.name, json.loads(call.function.arguments)) == ("get_weather", ARGS)
    assert completion.choices[0].finish_reason == "tool_calls"
