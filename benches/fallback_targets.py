"""The fallback bench's targets (benches/bench_python.py `fallback`): an Anthropic, Gemini,
Mistral and Bedrock raw client each answering from an in-process fake (no sockets), plain
and as a stream of `CHUNKS` text deltas, and each target's own raw call (what the
fallback's time is compared with)."""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any, Callable, Dict, Iterator, Tuple

CHUNKS = 50
PROMPT = "Say hello."
MESSAGES = [{"role": "user", "content": PROMPT}]
MODELS = {
    "anthropic": "claude-haiku-4-5",
    "google": "gemini-2.5-flash",
    "mistral": "mistral-small-latest",
    "bedrock": "us.anthropic.claude-haiku-4-5-20251001-v1:0",
}


def _sse(events: list, event_names: bool = False, done: bool = False) -> list:
    out = []
    for e in events:
        head = f"event: {e['type']}\n".encode() if event_names else b""
        out.append(head + b"data: " + json.dumps(e).encode() + b"\n\n")
    if done:
        out.append(b"data: [DONE]\n\n")
    return out


MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-haiku-4-5-20251001",
    "content": [{"type": "text", "text": "Hello there."}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 10, "output_tokens": 5},
}


def anthropic_stream() -> list:
    start = {**MESSAGE, "content": [], "stop_reason": None, "usage": {"input_tokens": 10, "output_tokens": 1}}
    events = [{"type": "message_start", "message": start}]
    events.append({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
    delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": " hi"}}
    events += [delta] * CHUNKS
    events.append({"type": "content_block_stop", "index": 0})
    stop = {"stop_reason": "end_turn", "stop_sequence": None}
    events.append({"type": "message_delta", "delta": stop, "usage": {"output_tokens": CHUNKS}})
    events.append({"type": "message_stop"})
    return _sse(events, event_names=True)


def mistral_answer(stream: bool) -> Any:
    head = {"id": "cmpl-1", "created": 1, "model": "mistral-small-2506"}
    usage = {"prompt_tokens": 10, "completion_tokens": CHUNKS, "total_tokens": 10 + CHUNKS}
    if not stream:
        message = {"role": "assistant", "content": "Hello there.", "tool_calls": None, "prefix": False}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        return {**head, "object": "chat.completion", "choices": [choice], "usage": usage}

    def chunk(delta: Dict[str, Any], finish: Any = None, **extra: Any) -> Dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return {**head, "object": "chat.completion.chunk", "choices": [choice], **extra}

    events = [chunk({"role": "assistant", "content": ""})] + [chunk({"content": " hi"})] * CHUNKS
    events.append(chunk({"content": ""}, "stop", usage=usage))
    return _sse(events, done=True)


def gemini_answer(stream: bool) -> Any:
    def response(text: str, output: int, finish: Any) -> Dict[str, Any]:
        candidate: Dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
        if finish:
            candidate["finishReason"] = finish
        usage = {"promptTokenCount": 10, "candidatesTokenCount": output, "totalTokenCount": 10 + output}
        return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": "gemini-2.5-flash-001"}

    if not stream:
        return response("Hello there.", 5, "STOP")
    events = [response(" hi", 0, None) for _ in range(CHUNKS - 1)] + [response(" hi", CHUNKS, "STOP")]
    return _sse(events)


def _frame(event_type: str, payload: Dict[str, Any]) -> bytes:
    """One AWS event-stream message (what Bedrock's ConverseStream sends)."""
    headers = b""
    for name, value in ((":event-type", event_type), (":content-type", "application/json"), (":message-type", "event")):
        raw_name, raw_value = name.encode(), value.encode()
        headers += struct.pack(">B", len(raw_name)) + raw_name + b"\x07" + struct.pack(">H", len(raw_value)) + raw_value
    body = json.dumps(payload).encode()
    total = 12 + len(headers) + len(body) + 4
    prelude = struct.pack(">II", total, len(headers))
    prelude += struct.pack(">I", zlib.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + headers + body
    return message + struct.pack(">I", zlib.crc32(message) & 0xFFFFFFFF)


def bedrock_answer(stream: bool) -> Any:
    usage = {"inputTokens": 10, "outputTokens": CHUNKS, "totalTokens": 10 + CHUNKS}
    if not stream:
        message = {"role": "assistant", "content": [{"text": "Hello there."}]}
        return {"output": {"message": message}, "stopReason": "end_turn", "usage": usage, "metrics": {"latencyMs": 1}}
    frames = [_frame("messageStart", {"role": "assistant"})]
    frames += [_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": " hi"}})] * CHUNKS
    frames.append(_frame("contentBlockStop", {"contentBlockIndex": 0}))
    frames.append(_frame("messageStop", {"stopReason": "end_turn"}))
    frames.append(_frame("metadata", {"usage": usage, "metrics": {"latencyMs": 1}}))
    return frames


class _BotoRaw:
    """What botocore reads an HTTP response's body from (`stream()`, `read()`)."""

    def __init__(self, parts: list) -> None:
        self.parts = parts

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield from self.parts

    def read(self, *_: Any) -> bytes:
        return b"".join(self.parts)

    def close(self) -> None:
        pass


def clients(httpx: Any) -> Dict[str, Any]:
    """Each target's raw SDK client over its fake."""
    import anthropic
    import boto3
    from botocore.awsrequest import AWSResponse
    from botocore.config import Config
    from google import genai
    from mistralai.client import Mistral

    class EventByEvent(httpx.SyncByteStream):
        """A streamed body that arrives one event at a time, as from a real server."""

        def __init__(self, parts: list) -> None:
            self.parts = parts

        def __iter__(self) -> Iterator[bytes]:
            yield from self.parts

    def transport(answer: Callable[[bool], Any], stream_of: Callable[[Any], bool]) -> Any:
        def handle(request: Any) -> Any:
            stream = stream_of(request)
            if stream:
                ctype = {"content-type": "text/event-stream"}
                return httpx.Response(200, headers=ctype, stream=EventByEvent(answer(True)))
            body = json.dumps(answer(False)).encode()
            return httpx.Response(200, headers={"content-type": "application/json"}, content=body)

        return httpx.MockTransport(handle)

    def body_says_stream(request: Any) -> bool:
        return bool(json.loads(request.content).get("stream"))

    out: Dict[str, Any] = {}
    anthropic_fake = transport(lambda s: anthropic_stream() if s else MESSAGE, body_says_stream)
    out["anthropic"] = anthropic.Anthropic(
        api_key="k", max_retries=0, http_client=httpx.Client(transport=anthropic_fake)
    )
    mistral_fake = transport(mistral_answer, body_says_stream)
    out["mistral"] = Mistral(
        api_key="k",
        server_url="http://127.0.0.1:9",
        client=httpx.Client(transport=mistral_fake),
        async_client=httpx.AsyncClient(transport=mistral_fake),
    )
    gemini_fake = transport(gemini_answer, lambda r: "streamGenerateContent" in str(r.url))
    options = {"base_url": "http://127.0.0.1:9", "httpx_client": httpx.Client(transport=gemini_fake)}
    out["google"] = genai.Client(api_key="k", http_options=options)
    bedrock = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="AKIDBENCH",
        aws_secret_access_key="secret",
        config=Config(retries={"max_attempts": 1}),
    )

    def answer_bedrock(request: Any, **_: Any) -> Any:
        if request.url.endswith("/converse-stream"):
            headers = {"content-type": "application/vnd.amazon.eventstream"}
            return AWSResponse(request.url, 200, headers, _BotoRaw(bedrock_answer(True)))
        body = json.dumps(bedrock_answer(False)).encode()
        return AWSResponse(request.url, 200, {"content-type": "application/json"}, _BotoRaw([body]))

    bedrock.meta.events.register("before-send.bedrock-runtime", answer_bedrock)
    out["bedrock"] = bedrock
    return out


def served(provider: str, client: Any) -> Tuple[Callable[[], None], Callable[[], None]]:
    """The target's own raw call (plain, and a stream read to its end)."""
    model = MODELS[provider]
    if provider == "anthropic":
        return (
            lambda: client.messages.create(model=model, max_tokens=50, messages=MESSAGES),
            lambda: list(client.messages.create(model=model, max_tokens=50, messages=MESSAGES, stream=True)),
        )
    if provider == "mistral":
        return (
            lambda: client.chat.complete(model=model, messages=MESSAGES, max_tokens=50),
            lambda: list(client.chat.stream(model=model, messages=MESSAGES, max_tokens=50)),
        )
    if provider == "google":
        config = {"max_output_tokens": 50}
        return (
            lambda: client.models.generate_content(model=model, contents=PROMPT, config=config),
            lambda: list(client.models.generate_content_stream(model=model, contents=PROMPT, config=config)),
        )
    converse = {"modelId": model, "messages": [{"role": "user", "content": [{"text": PROMPT}]}]}
    return (
        lambda: client.converse(**converse, inferenceConfig={"maxTokens": 50}),
        lambda: list(client.converse_stream(**converse, inferenceConfig={"maxTokens": 50})["stream"]),
    )
