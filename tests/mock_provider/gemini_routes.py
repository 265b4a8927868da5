"""Gemini API (generativelanguage) under `/gemini`: `models/{model}:generateContent`,
`:streamGenerateContent?alt=sse`, `:embedContent`, `:batchEmbedContents` and
`:countTokens`, in the REST API's camelCase, as the `google-genai` SDK parses them.

Usage: `x-mock-prompt-tokens` is `promptTokenCount` (which includes
`x-mock-cached-tokens`, reported as `cachedContentTokenCount`);
`x-mock-reasoning-tokens` is `thoughtsTokenCount`, reported beside (not inside)
`candidatesTokenCount`. A stream repeats `usageMetadata` on every chunk,
cumulatively, the last chunk carrying the final counts."""

from __future__ import annotations

from typing import Any

from .exchange import Exchange
from .scenario import deep_merge, output_words, resolved_model, text_deltas, tokens_for

_STATUS = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def error_body(status: int, message: str | None = None) -> dict[str, Any]:
    return {
        "error": {
            "code": status,
            "message": message or f"Mock error {status}.",
            "status": _STATUS.get(status, "UNKNOWN"),
        }
    }


def route_key(method: str, path: str) -> tuple[str, str] | None:
    """`/gemini/v1beta/models/gemini-2.5-flash:generateContent` -> its route key."""
    if path.startswith("/gemini/") and "/models/" in path and ":" in path:
        return (method, "/gemini/*:" + path.rsplit(":", 1)[1])
    return None


def _model(ex: Exchange) -> str:
    return ex.path.rsplit(":", 1)[0].rsplit("/models/", 1)[1]


def _usage(prompt: int, cached: int, candidates: int, thoughts: int, knobs: Any) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": candidates,
        "totalTokenCount": prompt + candidates + thoughts,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
    }
    if cached:
        usage["cachedContentTokenCount"] = cached
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    return deep_merge(usage, knobs.usage_patch)


def _generate(ex: Exchange, stream: bool) -> None:
    knobs = ex.knobs
    config = ex.body.get("generationConfig") or {}
    max_tokens = config.get("maxOutputTokens") if isinstance(config.get("maxOutputTokens"), int) else None
    words, truncated = output_words(knobs, max_tokens)
    tokens = tokens_for(ex.body, knobs, words, cache_in_prompt=True)
    candidates = max(0, tokens.completion - tokens.reasoning)
    model = resolved_model(_model(ex), knobs)
    finish = "MAX_TOKENS" if truncated else "STOP"
    deltas = text_deltas(words)

    def response(text: str, usage: dict[str, Any] | None, finish_reason: str | None) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
        if finish_reason:
            candidate["finishReason"] = finish_reason
        out: dict[str, Any] = {"candidates": [candidate], "modelVersion": model, "responseId": ex.request_id}
        if usage is not None and not knobs.omit_usage:
            out["usageMetadata"] = usage
        return out

    final = _usage(tokens.prompt, tokens.cached, candidates, tokens.reasoning, knobs)
    if not stream:
        answer = response("".join(deltas), final, finish)
        if knobs.tool_call:
            name, args = knobs.tool_call
            answer["candidates"][0]["content"]["parts"] = [{"functionCall": {"name": name, "args": args}}]
        ex.send_json(200, answer)
        return
    sse = ex.open_sse()
    if knobs.tool_call:
        # Gemini streams a function call whole, in one chunk (here the last one).
        name, args = knobs.tool_call
        answer = response("", final, finish)
        answer["candidates"][0]["content"]["parts"] = [{"functionCall": {"name": name, "args": args}}]
        sse.send(answer)
        sse.finish()
        return
    for i, piece in enumerate(deltas):
        last = i == len(deltas) - 1
        if knobs.fault("midstream-error") and i == len(deltas) // 2:
            sse.send(error_body(500, "Internal error (mock midstream)."))
            sse.finish()
            return
        partial = _usage(tokens.prompt, tokens.cached, 0, 0, knobs) if not last else final
        sse.send(response(piece, partial, finish if last else None))
    sse.finish()


def generate_content(ex: Exchange) -> None:
    _generate(ex, stream=False)


def stream_generate_content(ex: Exchange) -> None:
    _generate(ex, stream=True)


def _vector(i: int) -> dict[str, Any]:
    return {"values": [round(0.01 * (i + k), 4) for k in range(8)]}


def embed_content(ex: Exchange) -> None:
    ex.send_json(200, {"embedding": _vector(0)})


def batch_embed_contents(ex: Exchange) -> None:
    requests = ex.body.get("requests") or []
    ex.send_json(200, {"embeddings": [_vector(i) for i, _ in enumerate(requests)]})


def count_tokens(ex: Exchange) -> None:
    ex.send_json(200, {"totalTokens": ex.knobs.prompt_tokens or 7})
