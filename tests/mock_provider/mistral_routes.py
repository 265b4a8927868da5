"""Mistral API (La Plateforme) under `/mistral`: chat completions (JSON, and SSE
streams whose last chunk always carries `usage`) and embeddings, shaped as the
`mistralai` SDK's models declare them. Usage knobs are the shared `x-mock-*`
headers; cached prompt tokens are reported as `prompt_tokens_details.cached_tokens`
(part of `prompt_tokens`)."""

from __future__ import annotations

import json
import time
from typing import Any

from .exchange import Exchange
from .scenario import deep_merge, output_words, resolved_model, text_deltas, tokens_for


def error_body(status: int, message: str | None = None) -> dict[str, Any]:
    if status == 422:
        return {"detail": [{"loc": ["body", "model"], "msg": message or "Field required (mock)", "type": "missing"}]}
    return {
        "object": "error",
        "message": message or f"Mock error {status}.",
        "type": "invalid_request_error",
        "param": None,
        "code": str(status),
    }


def _usage(tokens: Any, knobs: Any) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "prompt_tokens": tokens.prompt,
        "completion_tokens": tokens.completion,
        "total_tokens": tokens.prompt + tokens.completion,
    }
    if tokens.cached:
        usage["prompt_tokens_details"] = {"cached_tokens": tokens.cached}
    return deep_merge(usage, knobs.usage_patch)


def chat_completions(ex: Exchange) -> None:
    body, knobs = ex.body, ex.knobs
    model = body.get("model")
    if not isinstance(model, str) or not model:
        ex.send_json(422, error_body(422))
        return
    max_tokens = body.get("max_tokens") if isinstance(body.get("max_tokens"), int) else None
    words, truncated = output_words(knobs, max_tokens)
    usage = _usage(tokens_for(body, knobs, words, cache_in_prompt=True), knobs)
    head = {"id": ex.next_id(""), "created": int(time.time()), "model": resolved_model(model, knobs)}
    finish_reason = "length" if truncated else "stop"
    deltas = text_deltas(words)
    if not body.get("stream"):
        message = {"role": "assistant", "content": "".join(deltas), "tool_calls": None, "prefix": False}
        if knobs.tool_call:
            function = _function(*knobs.tool_call)
            message = {
                **message,
                "content": "",
                "tool_calls": [{"id": "mockcall1", "type": "function", "function": function}],
            }
            finish_reason = "tool_calls"
        choice = {"index": 0, "message": message, "finish_reason": finish_reason}
        answer = {**head, "object": "chat.completion", "choices": [choice]}
        if not knobs.omit_usage:
            answer["usage"] = usage
        ex.send_json(200, answer)
        return
    sse = ex.open_sse()

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return {**head, "object": "chat.completion.chunk", "choices": [choice], **extra}

    sse.send(chunk({"role": "assistant", "content": ""}))
    if knobs.tool_call:
        # Mistral streams a tool call whole: one chunk with the call, the finish and the usage.
        calls = [{"id": "mockcall1", "function": _function(*knobs.tool_call), "index": 0}]
        final = {} if knobs.omit_usage else {"usage": usage}
        sse.send(chunk({"content": "", "tool_calls": calls}, "tool_calls", **final))
        sse.send("[DONE]")
        sse.finish()
        return
    for i, piece in enumerate(deltas):
        if knobs.fault("midstream-error") and i == len(deltas) // 2:
            sse.finish()  # the connection ends without the final chunk
            return
        sse.send(chunk({"content": piece}))
    final = {} if knobs.omit_usage else {"usage": usage}
    sse.send(chunk({"content": ""}, finish_reason, **final))
    sse.send("[DONE]")
    sse.finish()


def _function(name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "arguments": json.dumps(args)}


def embeddings(ex: Exchange) -> None:
    body, knobs = ex.body, ex.knobs
    model = body.get("model")
    inputs = body.get("input")
    inputs = [inputs] if isinstance(inputs, str) else inputs
    if not isinstance(model, str) or not model or not isinstance(inputs, list) or not inputs:
        ex.send_json(422, error_body(422, "model and inputs are required"))
        return
    data = [
        {"object": "embedding", "index": i, "embedding": [round(0.01 * (i + k), 4) for k in range(8)]}
        for i, _ in enumerate(inputs)
    ]
    prompt = knobs.prompt_tokens
    if prompt is None:
        prompt = sum(max(1, len(str(item)) // 4) for item in inputs)
    usage = deep_merge({"prompt_tokens": prompt, "completion_tokens": 0, "total_tokens": prompt}, knobs.usage_patch)
    ex.send_json(
        200,
        {
            "id": ex.next_id("emb-"),
            "object": "list",
            "data": data,
            "model": resolved_model(model, knobs),
            "usage": usage,
        },
    )
