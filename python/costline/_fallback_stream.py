"""A fallback target's stream, translated chunk by chunk into the caller's chunk types
(the core's `_native.FallbackStream`), and metered as the target's attempt."""

from __future__ import annotations

from typing import Any, AsyncIterator, Callable, Dict, Iterator, Optional

from . import _native
from ._call import Call
from ._fallback_raw import raw_response, sdk_error
from ._fallback_send import wire
from ._runtime import guarded

# Where each target's response carries its usage (what the core's normaliser reads).
USAGE_KEYS = {
    "openai": "usage",
    "anthropic": "usage",
    "mistral": "usage",
    "google": "usageMetadata",
    "bedrock": "usage",
}


class FallbackStream:
    """The target's stream as the caller's chunks (`build(chunk)` makes one).
    Iterate it, use it as a context manager, `close()` it, as the SDK's stream.
    `costline` is one dict, completed in place when the stream ends (its cost)."""

    def __init__(
        self,
        source: str,
        target: Any,
        inner: Any,
        call: Call,
        fc: Any,
        ctx: Dict[str, Any],
        build: Optional[Callable[[Any], Any]] = None,
        info: Optional[Callable[[], Dict[str, Any]]] = None,
    ) -> None:
        if build is None or info is None:  # the caller's own types, as `_fallback` builds them
            from ._fallback import _construct, _info

            build = build or (lambda chunk: _construct(source, None, chunk, stream=True))
            info = info or (lambda: _info(target, fc.attempts, call))
        self._source = source
        self._target = target
        self._inner = inner
        self._call = call
        self._fc = fc
        self._build = build
        self._info = info
        # OpenAI and Anthropic streams: their raw bytes, parsed, metered and translated
        # by the core in one pass (`_fallback_raw`); the others: their SDK's events,
        # translated, and the usage their last usage-bearing event carried.
        self._response = raw_response(target.provider, inner)
        self._sse = None
        if self._response is not None:
            self._sse = _native.SseFallbackStream(source, target.provider, ctx)
        else:
            self._translator = _native.FallbackStream(source, target.provider, ctx)
        self._observer = (
            _native.StreamObserver(target.provider, call.operation, False)
            if self._sse is None and target.provider in ("openai", "anthropic")
            else None
        )
        self._usage: Any = None
        self._resolved: Optional[str] = None
        self._iterator = self._chunks()
        self.costline: Dict[str, Any] = info()

    def _event(self, event: Any) -> Any:
        if self._observer is not None:
            self._observer.observe(event)
        data = wire(self._target.provider, event)
        if self._observer is None:
            self._watch(data)
        return self._translator.push(data)

    def _chunks(self) -> Iterator[Any]:
        if self._sse is not None:
            return self._raw_chunks()
        return self._event_chunks()

    def _raw_chunks(self) -> Iterator[Any]:
        sse, build = self._sse, self._build
        try:
            for data in self._response.iter_bytes():
                for chunk in sse.feed(data):
                    yield build(chunk)
                if sse.error_event is not None:
                    raise sdk_error(self._target.provider, self._inner, sse.error_event)
            tail = sse.finish()
        except GeneratorExit:
            self._abandoned(close_inner=True)
            raise
        except BaseException as exc:
            self._finish(exc)
            raise
        self._finish(None)
        for chunk in tail:
            yield build(chunk)

    def _event_chunks(self) -> Iterator[Any]:
        try:
            for event in self._inner:
                for chunk in self._event(event):
                    yield self._build(chunk)
        except GeneratorExit:
            # Closed or collected part-read: abandoned, not failed (as the drop-in's).
            self._abandoned(close_inner=True)
            raise
        except BaseException as exc:
            self._finish(exc)
            raise
        self._finish(None)
        for chunk in self._translator.finish():
            yield self._build(chunk)

    def _abandoned(self, close_inner: bool) -> None:
        """The caller let go before the end: the attempt is recorded as the plain
        drop-in records an abandoned stream (ok, the usage seen so far or an estimate),
        its budget hold settled."""
        if close_inner:
            close = getattr(self._inner, "close", None)
            if close is not None:
                guarded("closing an abandoned stream", close)
        if not self._call.done:
            guarded("recording an abandoned stream", self._finish, None)

    def __del__(self) -> None:
        # A stream dropped without reading to its end nor closing. The target's own
        # stream object is collected with it; an async one cannot be awaited here.
        try:
            self._abandoned(close_inner=False)
        except BaseException:  # noqa: BLE001 (at interpreter teardown anything may be gone)
            pass

    def _watch(self, data: Dict[str, Any]) -> None:
        provider = self._target.provider
        if provider == "bedrock":
            usage = data.get("metadata", {}).get("usage")
        else:
            usage = data.get(USAGE_KEYS[provider])
            self._resolved = data.get("model") or data.get("modelVersion") or self._resolved
        if usage:
            self._usage = usage

    def _finish(self, error: Optional[BaseException]) -> None:
        o = self._observer
        if self._sse is not None:
            parts, resolved, text = self._sse.metered()
            self._call.finish(parts or None, resolved, error, [text])
        elif o is not None:
            self._call.finish(o.parts, o.resolved_model, error, o.texts)
        else:
            self._call.finish([self._usage] if self._usage else None, self._resolved, error, [])
        self.costline.update(self._info())

    @property
    def response(self) -> _StreamResponse:
        """What an SDK's stream helper holds to close the stream (openai's
        `chat.completions.stream()` keeps `stream.response`): closing it closes this."""
        return _StreamResponse(self)

    def __iter__(self) -> Iterator[Any]:
        return self._iterator

    def __next__(self) -> Any:
        return next(self._iterator)

    def __enter__(self) -> FallbackStream:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()
        if not self._call.done:
            self._finish(None)


class AsyncFallbackStream(FallbackStream):
    """`FallbackStream` over an async target stream: `async for`, `async with`, `aclose()`."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._aiterator = self._achunks()

    def _chunks(self) -> Iterator[Any]:
        return iter(())

    def _achunks(self) -> AsyncIterator[Any]:
        if self._sse is not None:
            return self._raw_achunks()
        return self._event_achunks()

    async def _raw_achunks(self) -> AsyncIterator[Any]:
        sse, build = self._sse, self._build
        try:
            async for data in self._response.aiter_bytes():
                for chunk in sse.feed(data):
                    yield build(chunk)
                if sse.error_event is not None:
                    raise sdk_error(self._target.provider, self._inner, sse.error_event)
            tail = sse.finish()
        except GeneratorExit:
            await self._aclose_inner()
            self._abandoned(close_inner=False)
            raise
        except BaseException as exc:
            self._finish(exc)
            raise
        self._finish(None)
        for chunk in tail:
            yield build(chunk)

    async def _event_achunks(self) -> AsyncIterator[Any]:
        try:
            async for event in self._inner:
                for chunk in self._event(event):
                    yield self._build(chunk)
        except GeneratorExit:
            await self._aclose_inner()
            self._abandoned(close_inner=False)
            raise
        except BaseException as exc:
            self._finish(exc)
            raise
        self._finish(None)
        for chunk in self._translator.finish():
            yield self._build(chunk)

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._aiterator

    async def __anext__(self) -> Any:
        return await self._aiterator.__anext__()

    async def __aenter__(self) -> AsyncFallbackStream:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        close = getattr(self._inner, "aclose", None) or getattr(self._inner, "close", None)
        if close is not None:
            result = close()
            if hasattr(result, "__await__"):
                await result
        if not self._call.done:
            self._finish(None)

    async def _aclose_inner(self) -> None:
        try:
            close = getattr(self._inner, "aclose", None) or getattr(self._inner, "close", None)
            if close is not None:
                result = close()
                if hasattr(result, "__await__"):
                    await result
        except BaseException:  # noqa: BLE001 (a generator being closed may not raise)
            pass

    # Some async SDK streams close with `close()` (a coroutine), as mistralai's.
    close = aclose  # type: ignore[assignment]


class _StreamResponse:
    """A fallback stream's `response`: `close()` / `aclose()` close the stream (recording
    it as the SDK's own stream's close would); anything else is the target's HTTP
    response, where it has one (OpenAI and Anthropic targets)."""

    def __init__(self, stream: FallbackStream) -> None:
        self._stream = stream

    def close(self) -> None:
        self._stream.close()

    async def aclose(self) -> None:
        await self._stream.aclose()  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> Any:
        inner = self._stream._response
        if inner is None:
            raise AttributeError(name)
        return getattr(inner, name)
