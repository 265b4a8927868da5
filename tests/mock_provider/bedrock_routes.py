"""AWS Bedrock Runtime under `/bedrock`: `/model/{modelId}/converse`,
`/converse-stream`, `/invoke` and `/invoke-with-response-stream`, as `boto3`'s
`bedrock-runtime` client parses them. Requests are SigV4-signed by the SDK; the
mock accepts any signature (it checks nothing about credentials).

Streams use the AWS event-stream binary framing (`application/vnd.amazon.eventstream`:
prelude with lengths and CRC32, typed headers, JSON payload, message CRC32), which
botocore decodes. Usage: Converse's `inputTokens` excludes cache reads and writes
(`x-mock-prompt-tokens` is that uncached input; `x-mock-cached-tokens` are
`cacheReadInputTokens`, `x-mock-cache-write-tokens` `cacheWriteInputTokens`), the
stream's `metadata` event carries it. `InvokeModel` answers in the model family's
own body (Anthropic Messages, Meta Llama, Amazon Titan text and embeddings) with the
`X-Amzn-Bedrock-*-Token-Count` headers (Mistral's body has no counts of its own, only
those headers); `x-mock-usage: null` leaves the headers out
(the body still has its counts). The invoke stream's chunks are the family's stream
events, base64 in `{"bytes": ...}`, the last one with `amazon-bedrock-invocationMetrics`."""

from __future__ import annotations

import base64
import json
import struct
import zlib
from typing import Any
from urllib.parse import unquote

from .exchange import Exchange
from .scenario import output_words, text_deltas, tokens_for, tool_pieces

_ERROR_TYPES = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}


def error(status: int, message: str | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    kind = _ERROR_TYPES.get(status, "InternalServerException" if status >= 500 else "ValidationException")
    return {"message": message or f"Mock error {status}."}, {
        "x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/"
    }


def route_key(method: str, path: str) -> tuple[str, str] | None:
    if path.startswith("/bedrock/model/"):
        return (method, "/bedrock/model/*/" + path.rsplit("/", 1)[1])
    return None


def _model(ex: Exchange) -> str:
    return unquote(ex.path[len("/bedrock/model/") :].rsplit("/", 1)[0])


def event_message(event_type: str, payload: dict[str, Any]) -> bytes:
    """One AWS event-stream message (what botocore's EventStreamBuffer decodes)."""
    headers = b""
    for name, value in ((":event-type", event_type), (":content-type", "application/json"), (":message-type", "event")):
        raw_name, raw_value = name.encode(), value.encode()
        headers += struct.pack(">B", len(raw_name)) + raw_name + b"\x07" + struct.pack(">H", len(raw_value)) + raw_value
    body = json.dumps(payload, separators=(",", ":")).encode()
    total = 12 + len(headers) + len(body) + 4
    prelude = struct.pack(">II", total, len(headers))
    prelude += struct.pack(">I", zlib.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + headers + body
    return message + struct.pack(">I", zlib.crc32(message) & 0xFFFFFFFF)


class _EventStream:
    def __init__(self, ex: Exchange) -> None:
        self.ex = ex
        handler = ex.handler
        ex.record["status"] = 200
        handler.send_response(200)
        handler.send_header("content-type", "application/vnd.amazon.eventstream")
        handler.send_header("transfer-encoding", "chunked")
        handler.send_header("x-amzn-requestid", ex.request_id)
        handler.end_headers()
        self.sent = 0

    def send(self, event_type: str, payload: dict[str, Any]) -> None:
        from .exchange import StreamCut

        if self.ex.cut_after is not None and self.sent >= self.ex.cut_after:
            self.ex.record["cut"] = True
            raise StreamCut()
        data = event_message(event_type, payload)
        wfile = self.ex.handler.wfile
        wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        wfile.flush()
        self.sent += 1

    def finish(self) -> None:
        self.ex.handler.wfile.write(b"0\r\n\r\n")
        self.ex.handler.wfile.flush()


def _tokens(ex: Exchange, max_tokens: int | None = None) -> tuple[Any, list[str]]:
    words, _ = output_words(ex.knobs, max_tokens)
    return tokens_for(ex.body, ex.knobs, words, cache_in_prompt=False), words


def _converse_usage(tokens: Any) -> dict[str, Any]:
    usage = {
        "inputTokens": tokens.prompt,
        "outputTokens": tokens.completion,
        "totalTokens": tokens.prompt + tokens.completion + tokens.cached + tokens.cache_write,
    }
    if tokens.cached or tokens.cache_write:
        usage["cacheReadInputTokens"] = tokens.cached
        usage["cacheWriteInputTokens"] = tokens.cache_write
    return usage


def converse(ex: Exchange) -> None:
    tokens, words = _tokens(ex)
    content: list[dict[str, Any]] = [{"text": "".join(text_deltas(words))}]
    stop = "end_turn"
    if ex.knobs.tool_call:
        name, args = ex.knobs.tool_call
        content, stop = [{"toolUse": {"toolUseId": "tooluse_mock1", "name": name, "input": args}}], "tool_use"
    ex.send_json(
        200,
        {
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": stop,
            "usage": _converse_usage(tokens),
            "metrics": {"latencyMs": 12},
        },
    )


def converse_stream(ex: Exchange) -> None:
    tokens, words = _tokens(ex)
    stream = _EventStream(ex)
    stream.send("messageStart", {"role": "assistant"})
    if ex.knobs.tool_call:
        # A toolUse block: its start names the tool, its deltas carry the input JSON in pieces.
        name, args = ex.knobs.tool_call
        start = {"toolUse": {"toolUseId": "tooluse_mock1", "name": name}}
        stream.send("contentBlockStart", {"start": start, "contentBlockIndex": 0})
        for piece in tool_pieces(args):
            stream.send("contentBlockDelta", {"delta": {"toolUse": {"input": piece}}, "contentBlockIndex": 0})
        stream.send("contentBlockStop", {"contentBlockIndex": 0})
        stream.send("messageStop", {"stopReason": "tool_use"})
        stream.send("metadata", {"usage": _converse_usage(tokens), "metrics": {"latencyMs": 12}})
        stream.finish()
        return
    deltas = text_deltas(words)
    for i, piece in enumerate(deltas):
        if ex.knobs.fault("midstream-error") and i == len(deltas) // 2:
            stream.finish()  # the stream ends without its metadata event
            return
        stream.send("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": piece}})
    stream.send("contentBlockStop", {"contentBlockIndex": 0})
    stream.send("messageStop", {"stopReason": "end_turn"})
    stream.send("metadata", {"usage": _converse_usage(tokens), "metrics": {"latencyMs": 12}})
    stream.finish()


def _family(model: str) -> str:
    for family in ("anthropic.", "meta.", "amazon.titan-embed", "amazon.titan", "mistral."):
        if family in model:
            return family.rstrip(".")
    return "anthropic"


def _invoke_body(model: str, tokens: Any, text: str) -> dict[str, Any]:
    family = _family(model)
    if family == "meta":
        return {
            "generation": text,
            "prompt_token_count": tokens.prompt,
            "generation_token_count": tokens.completion,
            "stop_reason": "stop",
        }
    if family == "mistral":
        # Mistral's Bedrock body carries no counts: only the headers do.
        return {"outputs": [{"text": text, "stop_reason": "stop"}]}
    if family == "amazon.titan-embed":
        return {"embedding": [0.01 * k for k in range(8)], "inputTextTokenCount": tokens.prompt}
    if family == "amazon.titan":
        return {
            "inputTextTokenCount": tokens.prompt,
            "results": [{"tokenCount": tokens.completion, "outputText": text, "completionReason": "FINISH"}],
        }
    return {
        "id": "msg_bdrk_mock",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": tokens.prompt,
            "output_tokens": tokens.completion,
            "cache_read_input_tokens": tokens.cached,
            "cache_creation_input_tokens": tokens.cache_write,
        },
    }


def invoke(ex: Exchange) -> None:
    model = _model(ex)
    tokens, words = _tokens(ex)
    if _family(model) == "amazon.titan-embed":
        tokens.completion = 0
    headers = {}
    if not ex.knobs.omit_usage:
        headers = {
            "X-Amzn-Bedrock-Input-Token-Count": str(tokens.prompt),
            "X-Amzn-Bedrock-Output-Token-Count": str(tokens.completion),
        }
        if tokens.cached or tokens.cache_write:
            headers["X-Amzn-Bedrock-Cache-Read-Input-Token-Count"] = str(tokens.cached)
            headers["X-Amzn-Bedrock-Cache-Write-Input-Token-Count"] = str(tokens.cache_write)
    ex.send_json(200, _invoke_body(model, tokens, "".join(text_deltas(words))), headers)


def invoke_stream(ex: Exchange) -> None:
    model = _model(ex)
    tokens, words = _tokens(ex)
    family = _family(model)
    stream = _EventStream(ex)

    def chunk(obj: dict[str, Any]) -> None:
        stream.send("chunk", {"bytes": base64.b64encode(json.dumps(obj).encode()).decode()})

    metrics = {
        "inputTokenCount": tokens.prompt,
        "outputTokenCount": tokens.completion,
        "invocationLatency": 12,
        "firstByteLatency": 3,
    }
    deltas = text_deltas(words)
    if family == "anthropic":
        chunk(
            {
                "type": "message_start",
                "message": {
                    "id": "msg_bdrk_mock",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "usage": {
                        "input_tokens": tokens.prompt,
                        "output_tokens": 1,
                        "cache_read_input_tokens": tokens.cached,
                        "cache_creation_input_tokens": tokens.cache_write,
                    },
                },
            }
        )
        for piece in deltas:
            chunk({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}})
        chunk(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn"},
                "usage": {"output_tokens": tokens.completion},
            }
        )
        chunk({"type": "message_stop", "amazon-bedrock-invocationMetrics": metrics})
    else:
        for i, piece in enumerate(deltas):
            last = i == len(deltas) - 1
            body: dict[str, Any] = {
                "generation": piece,
                "prompt_token_count": tokens.prompt if i == 0 else None,
                "generation_token_count": i + 1,
                "stop_reason": "stop" if last else None,
            }
            if last:
                body["amazon-bedrock-invocationMetrics"] = metrics
            chunk(body)
    stream.finish()
