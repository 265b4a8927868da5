"""A fallback target's answer read as its raw bytes. A non-stream OpenAI or Anthropic
answer: its JSON body (`with_raw_response`), translated and metered by the core in one
parse (`_native.translate_body`). A stream (every target; Bedrock's AWS event-stream
frames are decoded by the core, checksums checked): the core's `SseFallbackStream`
parses each event once, meters it and translates it into the caller's chunks. The
target SDK's stream object is still made (it holds the response, closes it, and is what
the SDK returned), but never iterated: building an SDK object per event only for the
translation to turn it back into JSON was most of a fallback stream's time per chunk.
(A Gemini stream is requested through the SDK's own API client: `GeminiStream`.)"""

from __future__ import annotations

import json
from typing import Any, AsyncIterator, Iterator, Optional

# What `with_raw_response` returns: openai's LegacyAPIResponse, anthropic's APIResponse
# (AsyncAPIResponse from an async client).
_RAW_ANSWERS = ("LegacyAPIResponse", "APIResponse", "AsyncAPIResponse")


def raw_body(result: Any) -> Optional[bytes]:
    """The JSON body of an `openai` / `anthropic` `with_raw_response` answer (already
    read: a call that is not a stream reads its body whole), else None."""
    cls = type(result)
    if cls.__name__ not in _RAW_ANSWERS or not cls.__module__.startswith(("openai.", "anthropic.")):
        return None
    http = getattr(result, "http_response", None)
    return None if http is None else http.content


class GeminiStream:
    """A Gemini target's stream (`streamGenerateContent?alt=sse`) opened by the SDK's own
    API client (its URL, key or credentials, headers, retries, timeout and status
    errors), whose events are read here as bytes instead of by the SDK's generator.
    `response` is the HTTP response: an httpx one is read raw, another (requests,
    aiohttp) through the SDK's own event reader (`segments`), one JSON dict per event."""

    __slots__ = ("response", "sdk_response", "is_async")

    def __init__(self, sdk_response: Any, is_async: bool) -> None:
        self.sdk_response = sdk_response
        self.response = sdk_response.response_stream
        self.is_async = is_async

    def __iter__(self) -> Iterator[Any]:
        return iter(self.sdk_response.segments())

    def __aiter__(self) -> AsyncIterator[Any]:
        return self.sdk_response.async_segments()

    def close(self) -> Any:
        """Closes the response (an async httpx one: returns the coroutine to await)."""
        if self.is_async and hasattr(self.response, "aiter_bytes"):
            return self.response.aclose()
        close = getattr(self.response, "close", None)
        return close() if close is not None else None


class BotoBytes:
    """The raw body under a botocore `EventStream` (a Bedrock ConverseStream), read as
    httpx's responses are: `iter_bytes()`, and `aiter_bytes()` one read per worker-thread
    step (boto3 has no async)."""

    __slots__ = ("raw",)

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def iter_bytes(self) -> Iterator[bytes]:
        return iter(self.raw.stream())

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        import asyncio

        chunks, end = iter(self.raw.stream()), object()
        while True:
            chunk = await asyncio.to_thread(next, chunks, end)
            if chunk is end:
                return
            yield chunk


def raw_response(provider: str, inner: Any) -> Optional[Any]:
    """The HTTP response under `inner` when its bytes can be read instead of its events:
    an `openai` / `anthropic` SDK stream or a `mistralai` EventStream not iterated yet,
    or a Gemini stream (`GeminiStream`) over httpx. (httpx decodes a compressed body.)"""
    cls = type(inner)
    if provider in ("openai", "anthropic"):
        if cls.__name__ not in ("Stream", "AsyncStream") or not cls.__module__.startswith(provider):
            return None
    elif provider == "mistral":
        if cls.__name__ not in ("EventStream", "EventStreamAsync") or not cls.__module__.startswith("mistralai."):
            return None
    elif provider == "bedrock":
        # A stream an async caller reads through a worker thread: the EventStream under it.
        events = getattr(inner, "_inner", inner)
        raw = getattr(events, "_raw_stream", None)
        if type(events).__name__ != "EventStream" or not hasattr(raw, "stream"):
            return None
        return BotoBytes(raw)
    elif provider != "google" or cls is not GeminiStream:
        return None
    response = getattr(inner, "response", None)
    if response is None or not hasattr(response, "iter_bytes"):
        return None
    return response


def sdk_error(provider: str, inner: Any, event: Any) -> BaseException:
    """The exception the target's SDK raises for an error event inside its stream."""
    if provider == "bedrock":
        from botocore.exceptions import EventStreamError

        # What botocore's EventStream raises for an exception message (`{"error": {"code",
        # "message"}}` from the core's decoder).
        error = event.get("error", {})
        parsed = {"Error": {"Code": error.get("code", ""), "Message": error.get("message", "")}}
        return EventStreamError(parsed, "ConverseStream")
    response = inner.response
    if provider == "anthropic":
        return inner._client._make_status_error(f"{event}", body=event, response=response)
    if provider == "google":
        from google.genai import errors

        error = event.get("error") if isinstance(event, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        try:  # what the SDK's request_streamed raises for an `{"error": ...}` chunk
            errors.APIError.raise_error(code if isinstance(code, int) else 500, event, response)
        except errors.APIError as exc:
            return exc
    if provider == "mistral":
        from mistralai.client import errors as mistral_errors

        # The SDK decodes each event as a CompletionEvent: an error event fails that.
        body = json.dumps({"data": event})
        cause = ValueError(f"a stream event that is not a completion chunk: {body}")
        exc = mistral_errors.ResponseValidationError("Response validation failed", response, cause, body)
        exc.__cause__ = cause
        return exc
    import openai

    error = event.get("error") if isinstance(event, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if not message or not isinstance(message, str):
        message = "An error occurred during streaming"
    return openai.APIError(message=message, request=response.request, body=error)
