"""Calling a fallback target: each provider SDK's own client, given the request the core
translated into its API, with the attempt's timeout; and reading what it answers back as
its API's JSON (what the core translates). Sync and async.

boto3 has neither a per-call timeout nor async calls: a Bedrock target runs in a worker
thread that the caller waits for at most the attempt's timeout (then botocore's
`ReadTimeoutError` is raised and the thread's late answer is discarded), and an async
caller awaits that thread, never blocking its event loop."""

from __future__ import annotations

import asyncio
import base64
import contextvars
import json
import threading
from typing import Any, AsyncIterator, Callable, Dict, Iterator, Optional

from ._fallback_raw import GeminiStream

_END = object()


def send(target: Any, request: Dict[str, Any], stream: bool, timeout: Optional[float], raw: bool = False) -> Any:
    """Call the target's SDK with the translated request; a stream is an iterable of the
    target's stream items (closable). `raw`: an OpenAI or Anthropic answer that is not a
    stream comes as the SDK's `with_raw_response` object (its body unparsed, for
    `_fallback_raw.raw_body`), and a Gemini stream as a `GeminiStream` (its bytes unread);
    their errors are the SDK's as for any call."""
    kwargs = dict(request)
    client, provider = target.client, target.provider
    if provider in ("openai", "anthropic"):
        create = _create(client, provider, raw and not stream)
        if _is_async_client(client):
            raise TypeError(
                f"the fallback target {provider}/{target.model} is an async client; a sync caller needs a sync client"
            )
        if timeout is not None:
            kwargs["timeout"] = timeout
        return create(**kwargs)
    if provider == "mistral":
        kwargs.pop("stream", None)
        if timeout is not None:
            kwargs["timeout_ms"] = _ms(timeout)
        return client.chat.stream(**kwargs) if stream else client.chat.complete(**kwargs)
    if provider == "google":
        if stream and raw:
            api, path, body, options = _gemini_raw_stream(client, kwargs, timeout)
            return GeminiStream(
                api._request(api._build_request("post", path, body, options), options, stream=True), False
            )
        model, contents, config = _gemini_args(kwargs, timeout)
        method = client.models.generate_content_stream if stream else client.models.generate_content
        return method(model=model, contents=contents, config=config)
    if provider == "bedrock":
        call = _bedrock_call(client, kwargs, stream)
        return _in_thread(call, timeout, client) if timeout is not None else call()
    raise ValueError(f"fallback to {provider} is not supported")


async def send_async(
    target: Any, request: Dict[str, Any], stream: bool, timeout: Optional[float], raw: bool = False
) -> Any:
    """`send` for async callers: async clients are awaited; a sync client (boto3, or a
    sync openai / anthropic client) runs in a worker thread. A stream is an async
    iterable of the target's stream items."""
    kwargs = dict(request)
    client, provider = target.client, target.provider
    if provider in ("openai", "anthropic"):
        create = _create(client, provider, raw and not stream)
        if timeout is not None:
            kwargs["timeout"] = timeout
        if _is_async_client(client):
            return await create(**kwargs)
        result = await asyncio.to_thread(create, **kwargs)
        return ThreadIterator(result) if stream else result
    if provider == "mistral":
        kwargs.pop("stream", None)
        if timeout is not None:
            kwargs["timeout_ms"] = _ms(timeout)
        if stream:
            return await client.chat.stream_async(**kwargs)
        return await client.chat.complete_async(**kwargs)
    if provider == "google":
        if stream and raw:
            api, path, body, options = _gemini_raw_stream(client, kwargs, timeout)
            request = api._build_request("post", path, body, options)
            return GeminiStream(await api._async_request(http_request=request, http_options=options, stream=True), True)
        model, contents, config = _gemini_args(kwargs, timeout)
        models = client.aio.models
        if stream:
            return await models.generate_content_stream(model=model, contents=contents, config=config)
        return await models.generate_content(model=model, contents=contents, config=config)
    if provider == "bedrock":
        result = await _in_thread_async(_bedrock_call(client, kwargs, stream), timeout, client)
        return ThreadIterator(result) if stream else result
    raise ValueError(f"fallback to {provider} is not supported")


def _create(client: Any, provider: str, raw: bool) -> Any:
    resource = client.chat.completions if provider == "openai" else client.messages
    # `with_raw_response` goes through the same request path (retries, timeout, the
    # SDK's own status and connection errors) but leaves the body unparsed.
    return resource.with_raw_response.create if raw else resource.create


def _is_async_client(client: Any) -> bool:
    # openai's and anthropic's async clients (their methods are sync wrappers returning
    # coroutines, so inspecting the method does not tell).
    return any(cls.__name__ == "AsyncAPIClient" for cls in type(client).__mro__)


def _ms(timeout: float) -> int:
    return max(1, int(timeout * 1000))


def _gemini_args(kwargs: Dict[str, Any], timeout: Optional[float]) -> Any:
    kwargs.pop("stream", None)
    model, contents = kwargs.pop("model"), kwargs.pop("contents")
    config: Dict[str, Any] = dict(kwargs.pop("generationConfig", {}))
    config.update(kwargs)  # systemInstruction, tools, toolConfig: GenerateContentConfig's own fields
    if timeout is not None:
        config["httpOptions"] = {"timeout": _ms(timeout)}
    return model, contents, config or None


def _gemini_raw_stream(client: Any, kwargs: Dict[str, Any], timeout: Optional[float]) -> Any:
    """What a Gemini stream is requested with through the SDK's own API client: the
    translated body is already the REST body the SDK would build (camelCase), so it is
    sent as it is to `{model}:streamGenerateContent?alt=sse`, as the SDK sends it."""
    from google.genai import _transformers

    kwargs.pop("stream", None)
    api = client._api_client
    path = f"{_transformers.t_model(api, kwargs.pop('model'))}:streamGenerateContent?alt=sse"
    return api, path, kwargs, ({"timeout": _ms(timeout)} if timeout is not None else None)


def _bedrock_call(client: Any, kwargs: Dict[str, Any], stream: bool) -> Callable[[], Any]:
    kwargs.pop("stream", None)
    decode_images(kwargs)
    if stream:
        return lambda: client.converse_stream(**kwargs)["stream"]
    return lambda: client.converse(**kwargs)


def decode_images(request: Dict[str, Any]) -> None:
    """boto3 takes image bytes, the translation carries base64 text."""
    for message in request.get("messages", ()):
        for block in message.get("content", ()):
            source = block.get("image", {}).get("source") if isinstance(block, dict) else None
            if source and isinstance(source.get("bytes"), str):
                source["bytes"] = base64.b64decode(source["bytes"])


def _timed_out(client: Any) -> BaseException:
    from botocore.exceptions import ReadTimeoutError

    return ReadTimeoutError(endpoint_url=getattr(client.meta, "endpoint_url", "bedrock"))


def _discard(value: Any) -> None:
    """A late answer nobody waits for: close a stream so its connection returns."""
    close = getattr(value, "close", None)
    if close is not None:
        try:
            close()
        except Exception:
            pass


def _in_thread(fn: Callable[[], Any], timeout: float, client: Any) -> Any:
    """`fn()` in a daemon thread, waited for at most `timeout` seconds (botocore cannot
    be interrupted: the thread finishes on its own and its answer is discarded)."""
    done = threading.Event()
    lock = threading.Lock()
    box: Dict[str, Any] = {}

    def run() -> None:
        try:
            value = fn()
        except BaseException as exc:
            box["error"] = exc
        else:
            with lock:
                if box.get("abandoned"):
                    _discard(value)
                    return
                box["value"] = value
        finally:
            done.set()

    # The caller's context goes with it: a costline drop-in given as the client must see
    # that the routed client or the chain records this attempt (else it records it again).
    ctx = contextvars.copy_context()
    threading.Thread(target=ctx.run, args=(run,), name="costline-fallback-bedrock", daemon=True).start()
    if not done.wait(timeout):
        with lock:
            if "value" not in box and "error" not in box:
                box["abandoned"] = True
                raise _timed_out(client)
    if "error" in box:
        raise box["error"]
    return box["value"]


async def _in_thread_async(fn: Callable[[], Any], timeout: Optional[float], client: Any) -> Any:
    """`fn()` in a daemon thread, awaited (at most `timeout` seconds) without blocking the
    event loop."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future = loop.create_future()

    def settle(ok: bool, value: Any) -> None:
        if future.done():  # timed out or cancelled: nobody takes it
            if ok:
                _discard(value)
        elif ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def run() -> None:
        try:
            value, ok = fn(), True
        except BaseException as exc:
            value, ok = exc, False
        try:
            loop.call_soon_threadsafe(settle, ok, value)
        except RuntimeError:  # the loop is closed
            if ok:
                _discard(value)

    # The caller's context goes with it: a costline drop-in given as the client must see
    # that the routed client or the chain records this attempt (else it records it again).
    ctx = contextvars.copy_context()
    threading.Thread(target=ctx.run, args=(run,), name="costline-fallback-bedrock", daemon=True).start()
    try:
        return await asyncio.wait_for(future, timeout)
    except asyncio.TimeoutError:
        raise _timed_out(client) from None


class ThreadIterator:
    """A blocking iterable (a botocore `EventStream`, a sync SDK stream) as an async
    iterable: each item is read in a worker thread."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._iterator: Optional[Iterator[Any]] = None

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        if self._iterator is None:
            self._iterator = iter(self._inner)
        item = await asyncio.to_thread(next, self._iterator, _END)
        if item is _END:
            raise StopAsyncIteration
        return item

    def close(self) -> None:
        _discard(self._inner)


def wire(provider: str, obj: Any) -> Dict[str, Any]:
    """A target SDK's response (or stream item) as its API's JSON."""
    if isinstance(obj, dict):  # boto3
        return obj
    if provider in ("openai", "anthropic"):
        return obj.to_dict()
    if provider == "mistral":
        obj = getattr(obj, "data", obj)  # a stream's CompletionEvent
        return json.loads(obj.model_dump_json(by_alias=True, exclude_none=True))
    return obj.model_dump(mode="json", by_alias=True, exclude_none=True)  # google-genai: camelCase aliases
