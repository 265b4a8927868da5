"""A fallback target's stream read as its raw bytes (OpenAI and Anthropic targets): the
core's `SseFallbackStream` parses each event once, meters it and translates it into the
caller's chunks. The target SDK's stream object is still made (it holds the response,
closes it, and is what the SDK returned), but never iterated: building an SDK object
per event only for the translation to turn it back into JSON was most of a fallback
stream's time per chunk."""

from __future__ import annotations

from typing import Any, Optional


def raw_response(provider: str, inner: Any) -> Optional[Any]:
    """The HTTP response under `inner` when its bytes can be read instead of its events:
    an `openai` / `anthropic` SDK stream not iterated yet, over an uncompressed body
    (httpx decodes a compressed one, but the check costs nothing and keeps to what was
    measured)."""
    if provider not in ("openai", "anthropic"):
        return None
    if type(inner).__name__ not in ("Stream", "AsyncStream") or not type(inner).__module__.startswith(provider):
        return None
    response = getattr(inner, "response", None)
    if response is None or not hasattr(response, "iter_bytes"):
        return None
    return response


def sdk_error(provider: str, inner: Any, event: Any) -> BaseException:
    """The exception the target's SDK raises for an error event inside its stream."""
    response = inner.response
    if provider == "anthropic":
        return inner._client._make_status_error(f"{event}", body=event, response=response)
    import openai

    error = event.get("error") if isinstance(event, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if not message or not isinstance(message, str):
        message = "An error occurred during streaming"
    return openai.APIError(message=message, request=response.request, body=error)
