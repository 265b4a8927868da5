"""OpenAI API: chat completions, responses, embeddings, models (JSON and SSE shapes
as the `openai` SDK's types declare them)."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import time
from typing import Any

from .exchange import Exchange
from .scenario import (
    Knobs,
    Tokens,
    deep_merge,
    output_words,
    resolved_model,
    text_deltas,
    tokens_for,
    tool_pieces,
)

_ERRORS = {
    400: ("invalid_request_error", None, "Invalid request (mock)."),
    401: (
        "invalid_request_error",
        "invalid_api_key",
        "Incorrect API key provided: mock. You can find your API key at https://platform.openai.com/account/api-keys.",
    ),
    403: ("invalid_request_error", None, "You are not allowed to sample from this model (mock)."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist or you do not have access to it."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests (mock). Please try again shortly."),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


def error_body(status: int, message: str | None = None) -> dict[str, Any]:
    kind, code, default_message = _ERRORS.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None, f"Mock error {status}.")
    )
    return {"error": {"message": message or default_message, "type": kind, "param": None, "code": code}}


def _max_tokens(body: dict[str, Any], *names: str) -> int | None:
    for name in names:
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _require_model(ex: Exchange) -> str | None:
    model = ex.body.get("model")
    if not isinstance(model, str) or not model:
        ex.send_json(400, error_body(400, "you must provide a model parameter"))
        return None
    return model


# --- chat completions -------------------------------------------------------------------


def chat_usage(tokens: Tokens, knobs: Knobs) -> dict[str, Any]:
    prompt_details: dict[str, Any] = {"cached_tokens": tokens.cached, "audio_tokens": 0}
    if tokens.cache_write:
        prompt_details["cache_write_tokens"] = tokens.cache_write
    usage = {
        "prompt_tokens": tokens.prompt,
        "completion_tokens": tokens.completion,
        "total_tokens": tokens.prompt + tokens.completion,
        "prompt_tokens_details": prompt_details,
        "completion_tokens_details": {
            "reasoning_tokens": tokens.reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }
    return deep_merge(usage, knobs.usage_patch)


def chat_completions(ex: Exchange) -> None:
    model = _require_model(ex)
    if model is None:
        return
    body, knobs = ex.body, ex.knobs
    words, truncated = output_words(knobs, _max_tokens(body, "max_completion_tokens", "max_tokens"))
    usage = chat_usage(tokens_for(body, knobs, words, cache_in_prompt=True), knobs)
    head = {
        "id": ex.next_id("chatcmpl-"),
        "created": int(time.time()),
        "model": resolved_model(model, knobs),
        "service_tier": knobs.service_tier or "default",
        "system_fingerprint": "fp_mock0001",
    }
    finish_reason = "length" if truncated else "stop"
    if not body.get("stream"):
        message = {"role": "assistant", "content": "".join(text_deltas(words)), "refusal": None, "annotations": []}
        if knobs.tool_call:
            name, args = knobs.tool_call
            function = {"name": name, "arguments": json.dumps(args)}
            message = {
                **message,
                "content": None,
                "tool_calls": [{"id": "call_mock1", "type": "function", "function": function}],
            }
            finish_reason = "tool_calls"
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
        ex.send_json(
            200,
            {**head, "object": "chat.completion", "choices": [choice], "usage": None if ex.knobs.omit_usage else usage},
        )
        return
    _stream_chat(ex, head, words, finish_reason, usage)


def _stream_chat(ex: Exchange, head: dict[str, Any], words: list[str], finish_reason: str, usage: dict) -> None:
    options = ex.body.get("stream_options") or {}
    include_usage = bool(options.get("include_usage"))
    obfuscate = options.get("include_obfuscation", True) is not False

    def chunk(choices: list[dict[str, Any]], final_usage: dict | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {**head, "object": "chat.completion.chunk", "choices": choices}
        if include_usage:
            # The real API puts `"usage": null` on every chunk but the last one.
            data["usage"] = final_usage
        if obfuscate:
            data["obfuscation"] = "mockpad"
        return data

    def choice(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}

    deltas = text_deltas(words)
    sse = ex.open_sse()
    if ex.knobs.tool_call:
        _stream_tool_call(sse, chunk, choice, ex.knobs.tool_call)
        finish_reason = "tool_calls"
        deltas = []
    else:
        sse.send(chunk([choice({"role": "assistant", "content": "", "refusal": None})]))
    for i, piece in enumerate(deltas):
        if ex.knobs.fault("midstream-error") and i == len(deltas) // 2:
            # How the API reports a failure after the stream began: an `error` object in a data line.
            sse.send(error_body(500, "The server had an error while processing your request (mock midstream)."))
            sse.finish()
            return
        sse.send(chunk([choice({"content": piece})]))
    sse.send(chunk([choice({}, finish_reason)]))
    if include_usage and not ex.knobs.omit_usage:
        sse.send(chunk([], usage))
    sse.send("[DONE]")
    sse.finish()


def _stream_tool_call(sse: Any, chunk: Any, choice: Any, tool_call: tuple[str, dict[str, Any]]) -> None:
    """As the API streams a tool call: the first chunk has the role, `content: null` and
    the call's index, id, type and name (empty arguments); the arguments follow in pieces."""
    name, args = tool_call
    start = {"index": 0, "id": "call_mock1", "type": "function", "function": {"name": name, "arguments": ""}}
    sse.send(chunk([choice({"role": "assistant", "content": None, "tool_calls": [start], "refusal": None})]))
    for piece in tool_pieces(args):
        sse.send(chunk([choice({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})]))


# --- responses ----------------------------------------------------------------------------


def responses_usage(tokens: Tokens, knobs: Knobs) -> dict[str, Any]:
    usage = {
        "input_tokens": tokens.prompt,
        "input_tokens_details": {"cached_tokens": tokens.cached, "cache_write_tokens": tokens.cache_write},
        "output_tokens": tokens.completion,
        "output_tokens_details": {"reasoning_tokens": tokens.reasoning},
        "total_tokens": tokens.prompt + tokens.completion,
    }
    return deep_merge(usage, knobs.usage_patch)


def _response_object(ex: Exchange, model: str, created: int, response_id: str) -> dict[str, Any]:
    body = ex.body
    return {
        "id": response_id,
        "object": "response",
        "created_at": created,
        "status": "in_progress",
        "background": False,
        "completed_at": None,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": None,
        "model": resolved_model(model, ex.knobs),
        "output": [],
        "parallel_tool_calls": True,
        "previous_response_id": body.get("previous_response_id"),
        "prompt_cache_key": None,
        "reasoning": {"effort": None, "summary": None},
        "safety_identifier": None,
        "service_tier": ex.knobs.service_tier or "default",
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": [],
        "top_logprobs": 0,
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": None,
        "user": None,
        "metadata": {},
    }


def responses(ex: Exchange) -> None:
    model = _require_model(ex)
    if model is None:
        return
    body, knobs = ex.body, ex.knobs
    words, truncated = output_words(knobs, _max_tokens(body, "max_output_tokens"))
    usage = responses_usage(tokens_for(body, knobs, words, cache_in_prompt=True), knobs)
    created = int(time.time())
    response = _response_object(ex, model, created, ex.next_id("resp_"))
    message_id = ex.next_id("msg_")
    text = "".join(text_deltas(words))
    part = {"type": "output_text", "annotations": [], "logprobs": [], "text": text}
    item = {"id": message_id, "type": "message", "status": "completed", "role": "assistant", "content": [part]}
    final = {
        **response,
        "status": "incomplete" if truncated else "completed",
        "completed_at": None if truncated else created,
        "incomplete_details": {"reason": "max_output_tokens"} if truncated else None,
        "output": [item],
        "usage": usage,
    }
    if not body.get("stream"):
        ex.send_json(200, final)
        return

    sse = ex.open_sse()
    seq = iter(range(1_000_000))

    def send(event_type: str, **fields: Any) -> None:
        sse.send({"type": event_type, "sequence_number": next(seq), **fields}, event=event_type)

    where = {"item_id": message_id, "output_index": 0, "content_index": 0}
    send("response.created", response=response)
    send("response.in_progress", response=response)
    send("response.output_item.added", output_index=0, item={**item, "status": "in_progress", "content": []})
    send("response.content_part.added", **where, part={**part, "text": ""})
    deltas = text_deltas(words)
    for i, piece in enumerate(deltas):
        if knobs.fault("midstream-error") and i == len(deltas) // 2:
            failed = {**response, "status": "failed", "error": {"code": "server_error", "message": "mock midstream"}}
            send("error", code="server_error", message="The server had an error (mock midstream).", param=None)
            send("response.failed", response=failed)
            sse.finish()
            return
        send("response.output_text.delta", **where, delta=piece, logprobs=[], obfuscation="mockpad")
    send("response.output_text.done", **where, text=text, logprobs=[])
    send("response.content_part.done", **where, part=part)
    send("response.output_item.done", output_index=0, item=item)
    send("response.incomplete" if truncated else "response.completed", response=final)
    sse.finish()


# --- embeddings and models ----------------------------------------------------------------


def _embedding_inputs(raw: Any) -> list[Any]:
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw and all(isinstance(x, int) for x in raw):
        return [raw]  # one input given as token ids
    return list(raw) if isinstance(raw, list) else []


def _input_tokens(item: Any) -> int:
    if isinstance(item, list):
        return len(item)  # token ids are tokens already
    return max(1, -(-len(str(item)) // 4))


def _vector(item: Any, dims: int) -> list[float]:
    """Deterministic per input; multiples of 1/128 so float32 (base64) is exact."""
    digest = b""
    counter = 0
    while len(digest) < dims:
        digest += hashlib.sha256(f"{counter}:{item!r}".encode()).digest()
        counter += 1
    return [(byte - 128) / 128.0 for byte in digest[:dims]]


def embeddings(ex: Exchange) -> None:
    model = _require_model(ex)
    if model is None:
        return
    inputs = _embedding_inputs(ex.body.get("input"))
    if not inputs:
        ex.send_json(400, error_body(400, "'input' must be a non-empty string or array"))
        return
    dims = ex.body.get("dimensions") or 8
    as_base64 = ex.body.get("encoding_format") == "base64"
    data = []
    for index, item in enumerate(inputs):
        vector = _vector(item, dims)
        if as_base64:
            embedding: Any = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode("ascii")
        else:
            embedding = vector
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    prompt = ex.knobs.prompt_tokens
    if prompt is None:
        prompt = sum(_input_tokens(item) for item in inputs)
    usage = deep_merge({"prompt_tokens": prompt, "total_tokens": prompt}, ex.knobs.usage_patch)
    ex.send_json(200, {"object": "list", "data": data, "model": resolved_model(model, ex.knobs), "usage": usage})


MODEL_IDS = ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "o3", "o4-mini", "text-embedding-3-small"]


def models(ex: Exchange) -> None:
    created = 1_700_000_000
    data = [{"id": mid, "object": "model", "created": created, "owned_by": "openai"} for mid in MODEL_IDS]
    ex.send_json(200, {"object": "list", "data": data})
