"""Anthropic API: messages (plain and streamed), count_tokens, models (shapes as the
`anthropic` SDK's types declare them)."""

from __future__ import annotations

from typing import Any

from .exchange import Exchange
from .scenario import (
    Knobs,
    Tokens,
    deep_merge,
    default_prompt_tokens,
    output_words,
    resolved_model,
    text_deltas,
    tokens_for,
    tool_pieces,
)

_ERRORS = {
    400: ("invalid_request_error", "Invalid request (mock)."),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "The requested resource could not be found."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit (mock)."),
    500: ("api_error", "Internal server error"),
    503: ("api_error", "Service unavailable (mock)."),
    529: ("overloaded_error", "Overloaded"),
}


def error_body(status: int, request_id: str, message: str | None = None) -> dict[str, Any]:
    kind, default_message = _ERRORS.get(status, ("api_error" if status >= 500 else "invalid_request_error", ""))
    text = message or default_message or f"Mock error {status}."
    return {"type": "error", "error": {"type": kind, "message": text}, "request_id": request_id}


def usage_object(tokens: Tokens, knobs: Knobs, *, output_tokens: int) -> dict[str, Any]:
    """Anthropic's `input_tokens` excludes cache reads and writes: they are separate fields."""
    usage: dict[str, Any] = {
        "input_tokens": tokens.prompt,
        "cache_creation_input_tokens": tokens.cache_write_5m + tokens.cache_write_1h,
        "cache_read_input_tokens": tokens.cached,
        "cache_creation": {
            "ephemeral_5m_input_tokens": tokens.cache_write_5m,
            "ephemeral_1h_input_tokens": tokens.cache_write_1h,
        },
        "output_tokens": output_tokens,
        "service_tier": knobs.service_tier or "standard",
    }
    if tokens.reasoning:
        usage["output_tokens_details"] = {"thinking_tokens": tokens.reasoning}
    return deep_merge(usage, knobs.usage_patch)


def _require_model(ex: Exchange) -> str | None:
    model = ex.body.get("model")
    if not isinstance(model, str) or not model:
        ex.send_json(400, error_body(400, ex.request_id, "model: Field required"))
        return None
    return model


def messages(ex: Exchange) -> None:
    model = _require_model(ex)
    if model is None:
        return
    body, knobs = ex.body, ex.knobs
    max_tokens = body.get("max_tokens") if isinstance(body.get("max_tokens"), int) else None
    words, truncated = output_words(knobs, max_tokens)
    tokens = tokens_for(body, knobs, words, cache_in_prompt=False)
    usage = usage_object(tokens, knobs, output_tokens=tokens.completion)
    stop_reason = "max_tokens" if truncated else "end_turn"
    message = {
        "id": ex.next_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": resolved_model(model, knobs),
        "content": [{"type": "text", "text": "".join(text_deltas(words))}],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": None if knobs.omit_usage else usage,
    }
    if not body.get("stream") and knobs.tool_call:
        name, args = knobs.tool_call
        message["content"] = [{"type": "tool_use", "id": "toolu_mock1", "name": name, "input": args}]
        message["stop_reason"] = "tool_use"
    if not body.get("stream"):
        ex.send_json(200, message)
        return

    sse = ex.open_sse()

    def send(event_type: str, **fields: Any) -> None:
        sse.send({"type": event_type, **fields}, event=event_type)

    # message_start carries the input side and a small provisional output count.
    start_usage = usage_object(tokens, knobs, output_tokens=min(1, tokens.completion))
    start_usage.pop("output_tokens_details", None)
    send(
        "message_start",
        message={**message, "content": [], "stop_reason": None, "stop_sequence": None, "usage": start_usage},
    )
    deltas = text_deltas(words)
    if knobs.tool_call:
        # A tool_use block: its input streams as `input_json_delta` pieces, the first empty;
        # a call without arguments has that empty piece only (callers read "" as `{}`).
        name, args = knobs.tool_call
        block = {"type": "tool_use", "id": "toolu_mock1", "name": name, "input": {}}
        send("content_block_start", index=0, content_block=block)
        send("ping")
        for piece in ["", *(tool_pieces(args) if args else [])]:
            send("content_block_delta", index=0, delta={"type": "input_json_delta", "partial_json": piece})
        stop_reason, deltas = "tool_use", []
    else:
        send("content_block_start", index=0, content_block={"type": "text", "text": ""})
        send("ping")
    for i, piece in enumerate(deltas):
        if knobs.fault("midstream-error") and i == len(deltas) // 2:
            send("error", error={"type": "overloaded_error", "message": "Overloaded"})
            sse.finish()
            return
        send("content_block_delta", index=0, delta={"type": "text_delta", "text": piece})
    send("content_block_stop", index=0)
    # message_delta's usage is cumulative; by default only output_tokens, as the API documents.
    delta_usage: dict[str, Any] = {"output_tokens": tokens.completion}
    if knobs.delta_usage == "full":
        delta_usage = {k: v for k, v in usage.items() if k not in ("cache_creation", "service_tier")}
    elif tokens.reasoning:
        delta_usage["output_tokens_details"] = {"thinking_tokens": tokens.reasoning}
    send("message_delta", delta={"stop_reason": stop_reason, "stop_sequence": None}, usage=delta_usage)
    send("message_stop")
    sse.finish()


def count_tokens(ex: Exchange) -> None:
    if _require_model(ex) is None:
        return
    prompt = ex.knobs.prompt_tokens
    ex.send_json(200, {"input_tokens": default_prompt_tokens(ex.body) if prompt is None else prompt})


MODELS = {
    "claude-opus-4-5-20251101": "Claude Opus 4.5",
    "claude-sonnet-4-5-20250929": "Claude Sonnet 4.5",
    "claude-haiku-4-5-20251001": "Claude Haiku 4.5",
}


def models(ex: Exchange) -> None:
    data = [
        {"type": "model", "id": mid, "display_name": name, "created_at": "2025-10-01T00:00:00Z", "lifecycle": "active"}
        for mid, name in MODELS.items()
    ]
    ids = list(MODELS)
    ex.send_json(200, {"data": data, "has_more": False, "first_id": ids[0], "last_id": ids[-1]})
