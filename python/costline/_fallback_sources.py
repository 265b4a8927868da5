"""The Gemini, Mistral and Bedrock drop-ins as fallback sources.

Their metering sees each call below the SDK's public methods (Gemini: the API client's
request methods; Mistral: the SDK's request hooks; Bedrock: botocore's events), where
the primary's failure is known but the caller's SDK object is not built yet:

- Gemini: the fallback happens in the API client's request methods, which return the
  translated answer as the response body the SDK expects; the SDK itself builds
  `GenerateContentResponse` from it (and each stream chunk). `response.costline` is
  set by a thin wrapper around `models.generate_content` / `generate_content_stream`
  (and `client.aio.models`'), installed only on clients with a chain.
- Mistral (`chat.complete`, `chat.stream`, their `_async` forms) and Bedrock
  (`converse`, `converse_stream`): a wrapper around the method, installed only on
  clients with a chain, opens a `Pending` slot; the metering hook then leaves the
  primary's failed call in it instead of recording it (the SDK's own retries, which run
  first, keep the same call), and the wrapper hands the call to `_fallback`, which
  records it with its `call_id` and `attempt: 1`."""

from __future__ import annotations

import contextvars
import json
from typing import Any, AsyncIterator, Callable, Dict, Iterator, List, Optional

from . import _fallback

# --- Mistral and Bedrock: the primary's call, left here by the metering hook ---------


class Pending:
    __slots__ = ("source", "call")

    def __init__(self, source: str) -> None:
        self.source = source
        self.call: Any = None


pending: contextvars.ContextVar[Optional[Pending]] = contextvars.ContextVar("costline_fallback_pending", default=None)


def defer(call: Any) -> bool:
    """Called by a metering hook about to record a failed call: True when a fallback
    wrapper takes it (the hook then records nothing)."""
    slot = pending.get()
    if slot is None or not _fallback.translatable(slot.source, call.operation):
        return False
    slot.call = call
    return True


def _fail(slot: Pending, exc: BaseException) -> None:
    call = slot.call
    if call is not None and not call.done:
        call.finish(None, None, exc)


def _primary(slot: Pending, exc: BaseException) -> Any:
    """The primary's call when this failure may fall back, else None (record it now)."""
    call = slot.call
    if call is None or call.done or not isinstance(exc, Exception):
        return None
    return call


def wrap_sync(method: Callable[..., Any], source: str, chain: Any, stream: bool) -> Any:
    def fallback_capable(*args: Any, **kwargs: Any) -> Any:
        slot = Pending(source)
        token = pending.set(slot)
        try:
            return method(*args, **kwargs)
        except BaseException as exc:
            call = _primary(slot, exc)
            if call is None:
                _fail(slot, exc)
                raise
            pending.reset(token)
            token = None
            return _fallback.serve_sync(call, source, dict(call.request or {}), exc, chain, stream)  # type: ignore[arg-type]
        finally:
            if token is not None:
                pending.reset(token)

    fallback_capable.__name__ = getattr(method, "__name__", "call")
    fallback_capable.__doc__ = getattr(method, "__doc__", None)
    return fallback_capable


def wrap_async(method: Callable[..., Any], source: str, chain: Any, stream: bool) -> Any:
    async def fallback_capable(*args: Any, **kwargs: Any) -> Any:
        slot = Pending(source)
        token = pending.set(slot)
        try:
            return await method(*args, **kwargs)
        except BaseException as exc:
            call = _primary(slot, exc)
            if call is None:
                _fail(slot, exc)
                raise
            pending.reset(token)
            token = None
            return await _fallback.serve_async(call, source, dict(call.request or {}), exc, chain, stream)  # type: ignore[arg-type]
        finally:
            if token is not None:
                pending.reset(token)

    fallback_capable.__name__ = getattr(method, "__name__", "call")
    fallback_capable.__doc__ = getattr(method, "__doc__", None)
    return fallback_capable


def install_mistral(client: Any, chain: Any) -> None:
    """`client.chat`'s four chat methods, fallback-capable (on this client's own `Chat`);
    with no chain (an instrumented client given new options), the SDK's own again."""
    chat = client.chat
    own = chat.__dict__
    for name, stream, is_async in (
        ("complete", False, False),
        ("stream", True, False),
        ("complete_async", False, True),
        ("stream_async", True, True),
    ):
        if chain is None:
            own.pop(name, None)
            continue
        method = getattr(type(chat), name).__get__(chat, type(chat))
        own[name] = (wrap_async if is_async else wrap_sync)(method, "mistral", chain, stream)


def install_bedrock(client: Any, chain: Any) -> None:
    """boto3's `converse` and `converse_stream`, fallback-capable on this client (with
    no chain, boto3's own again)."""
    own = client.__dict__
    for name, stream in (("converse", False), ("converse_stream", True)):
        if chain is None:
            own.pop(name, None)
            continue
        method = getattr(type(client), name).__get__(client, type(client))
        own[name] = wrap_sync(method, "bedrock", chain, stream)


# --- Gemini ---------------------------------------------------------------------------


def gemini_body(call: Any) -> Dict[str, Any]:
    """The REST body the SDK sent (its `_url` / `_query` keys are not the API's) and the
    model, which the translation takes beside it."""
    body = {k: v for k, v in (call.request or {}).items() if not k.startswith("_")}
    body["model"] = call.model
    return body


def _gemini_response(data: Any) -> Any:
    from google.genai._api_client import SdkHttpResponse

    return SdkHttpResponse(headers={}, body=json.dumps(data))


def gemini_request(call: Any, exc: Exception, chain: Any) -> Any:
    """`request()` of a failed non-stream call: the fallback's answer as the body the SDK
    parses into `GenerateContentResponse`."""
    return _gemini_response(_fallback.serve_sync(call, "google", gemini_body(call), exc, chain, False))


async def gemini_request_async(call: Any, exc: Exception, chain: Any) -> Any:
    return _gemini_response(await _fallback.serve_async(call, "google", gemini_body(call), exc, chain, False))


def gemini_stream(call: Any, exc: Exception, chain: Any) -> Iterator[Any]:
    with _fallback.serve_sync(call, "google", gemini_body(call), exc, chain, True) as chunks:
        for chunk in chunks:
            yield _gemini_response(chunk)


async def gemini_stream_async(call: Any, exc: Exception, chain: Any) -> AsyncIterator[Any]:
    chunks = await _fallback.serve_async(call, "google", gemini_body(call), exc, chain, True)
    async with chunks:
        async for chunk in chunks:
            yield _gemini_response(chunk)


def gemini_may_fall_back(call: Any, exc: BaseException, chain: Any) -> bool:
    return chain is not None and isinstance(exc, Exception) and _fallback.translatable("google", call.operation)


def _attach(obj: Any, box: List[Dict[str, Any]]) -> None:
    if box:
        object.__setattr__(obj, "costline", box[-1])


def install_gemini(client: Any) -> None:
    """`response.costline` on what `models.generate_content(_stream)` return when a
    fallback served (sync and `client.aio`), on this client's own `Models` objects."""
    models = client.__dict__.get("_models")
    if models is not None:
        cls = type(models)

        def generate_content(*args: Any, **kwargs: Any) -> Any:
            box: List[Dict[str, Any]] = []
            token = _fallback.served_info.set(box)
            try:
                response = cls.generate_content(models, *args, **kwargs)
            finally:
                _fallback.served_info.reset(token)
            _attach(response, box)
            return response

        def generate_content_stream(*args: Any, **kwargs: Any) -> Iterator[Any]:
            inner = cls.generate_content_stream(models, *args, **kwargs)
            box: List[Dict[str, Any]] = []

            def chunks() -> Iterator[Any]:
                try:
                    while True:
                        token = _fallback.served_info.set(box)
                        try:
                            chunk = next(inner)
                        except StopIteration:
                            return
                        finally:
                            _fallback.served_info.reset(token)
                        _attach(chunk, box)
                        yield chunk
                finally:
                    inner.close()

            return chunks()

        models.__dict__["generate_content"] = generate_content
        models.__dict__["generate_content_stream"] = generate_content_stream

    aio = client.__dict__.get("_aio")
    amodels = aio.__dict__.get("_models") if aio is not None else None
    if amodels is not None:
        acls = type(amodels)

        async def agenerate_content(*args: Any, **kwargs: Any) -> Any:
            box: List[Dict[str, Any]] = []
            token = _fallback.served_info.set(box)
            try:
                response = await acls.generate_content(amodels, *args, **kwargs)
            finally:
                _fallback.served_info.reset(token)
            _attach(response, box)
            return response

        async def agenerate_content_stream(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            inner = await acls.generate_content_stream(amodels, *args, **kwargs)
            box: List[Dict[str, Any]] = []

            async def chunks() -> AsyncIterator[Any]:
                try:
                    while True:
                        token = _fallback.served_info.set(box)
                        try:
                            chunk = await inner.__anext__()
                        except StopAsyncIteration:
                            return
                        finally:
                            _fallback.served_info.reset(token)
                        _attach(chunk, box)
                        yield chunk
                finally:
                    await inner.aclose()

            return chunks()

        amodels.__dict__["generate_content"] = agenerate_content
        amodels.__dict__["generate_content_stream"] = agenerate_content_stream
