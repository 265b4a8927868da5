"""Metering at the level of a response's bytes, through one wrapper around the
HTTP response's byte stream (the SDKs read every body through it, parsed or not):

- `meter_raw_body`: a response the caller reads itself (`with_streaming_response`
  read with `iter_bytes()`, `iter_lines()`, `read()`...), never parsed by the SDK.
  Every chunk passes through the core's `BodyScanner` on its way to the caller,
  unchanged; the call is recorded once, when the body ends, fails or is closed.
  With no usage in it (a stream that did not ask for usage, a body cut short, a
  compressed body), tokens are estimated from the request and the text that passed.
- `filter_usage_chunk`: a chat stream for which costline asked for the usage
  chunk itself; the core's `UsageChunkFilter` removes that chunk before the SDK
  parses it (the caller gets exactly the chunks an unmetered client would) and
  keeps its usage."""

from __future__ import annotations

import sys
from typing import Any, AsyncIterator, Callable, Dict, Iterator, Optional, Tuple

from . import _native
from ._call import Call
from ._runtime import guarded, report

# The wrapper classes, per HTTP library module (the SDKs use httpx or httpx2):
# httpx checks the stream's class before iterating it.
_classes: Dict[str, Tuple[type, type]] = {}


class _Hooks:
    """What a wrapped body does with its bytes: `chunk` returns the bytes to
    pass on, `tail` any bytes held back at the end; `end(error)` runs once the
    body ends, fails or is closed."""

    __slots__ = ()

    def chunk(self, data: bytes) -> bytes:
        return data

    def tail(self) -> bytes:
        return b""

    def end(self, error: Optional[BaseException]) -> None:
        pass


def _wrapper_classes(module_name: str) -> Optional[Tuple[type, type]]:
    if module_name in _classes:
        return _classes[module_name]
    module = sys.modules.get(module_name)
    sync_base = getattr(module, "SyncByteStream", None)
    async_base = getattr(module, "AsyncByteStream", None)
    if sync_base is None or async_base is None:
        return None

    class WrappedBytes(sync_base):  # type: ignore[misc,valid-type]
        def __init__(self, inner: Any, hooks: _Hooks) -> None:
            self._inner = inner
            self._hooks = hooks

        def __iter__(self) -> Iterator[bytes]:
            hooks = self._hooks
            try:
                for data in self._inner:
                    yield hooks.chunk(data)
                yield hooks.tail()
            except GeneratorExit:  # the reader stopped early: not an error
                hooks.end(None)
                raise
            except BaseException as exc:
                hooks.end(exc)
                raise
            hooks.end(None)

        def close(self) -> None:
            try:
                self._inner.close()
            finally:
                self._hooks.end(None)

    class AsyncWrappedBytes(async_base):  # type: ignore[misc,valid-type]
        def __init__(self, inner: Any, hooks: _Hooks) -> None:
            self._inner = inner
            self._hooks = hooks

        async def __aiter__(self) -> AsyncIterator[bytes]:
            hooks = self._hooks
            try:
                async for data in self._inner:
                    yield hooks.chunk(data)
                yield hooks.tail()
            except GeneratorExit:  # the reader stopped early: not an error
                hooks.end(None)
                raise
            except BaseException as exc:
                hooks.end(exc)
                raise
            hooks.end(None)

        async def aclose(self) -> None:
            try:
                await self._inner.aclose()
            finally:
                self._hooks.end(None)

    _classes[module_name] = (WrappedBytes, AsyncWrappedBytes)
    return _classes[module_name]


def _wrap(http_response: Any, make_hooks: Callable[[], _Hooks]) -> Optional[_Hooks]:
    """Wrap `http_response`'s byte stream (not yet read); None when it cannot
    be (an unknown HTTP library, or a compressed body whose raw bytes mean
    nothing to the core)."""
    classes = _wrapper_classes(type(http_response).__module__.split(".")[0])
    stream = getattr(http_response, "stream", None)
    if classes is None or stream is None:
        return None
    if http_response.headers.get("content-encoding", "identity").lower() not in ("", "identity"):
        return None
    sync_cls, async_cls = classes
    for cls in (sync_cls, async_cls):
        if isinstance(stream, cls.__mro__[1]):
            hooks = make_hooks()
            http_response.stream = cls(stream, hooks)
            return hooks
    return None


class _Scan(_Hooks):
    __slots__ = ("call", "scanner")

    def __init__(self, call: Call) -> None:
        self.call = call
        self.scanner: Optional[Any] = _native.BodyScanner(call.provider, call.stream)

    def chunk(self, data: bytes) -> bytes:
        if self.scanner is not None:
            guarded("reading a raw response", self.scanner.feed, data)
        return data

    def end(self, error: Optional[BaseException]) -> None:
        guarded("recording a raw response", self._end, error)

    def _end(self, error: Optional[BaseException]) -> None:
        if self.call.done:
            return
        parts, resolved, text = (None, None, "")
        if self.scanner is not None:
            parts, resolved, text = self.scanner.finish()
            self.scanner = None
        self.call.finish(parts or None, resolved, error, [text])


def meter_raw_body(http_response: Any, call: Call) -> None:
    """Meter a body the caller reads itself. A body that cannot be scanned (a
    compressed one) is metered only if the caller parses it."""
    _wrap(http_response, lambda: _Scan(call))


class _Filter(_Hooks):
    __slots__ = ("usage_filter",)

    def __init__(self) -> None:
        self.usage_filter = _native.UsageChunkFilter()

    def chunk(self, data: bytes) -> bytes:
        try:
            out = self.usage_filter.feed(data)
        except Exception as exc:  # pass the bytes on: the parsed-stream observer still hides the chunk
            report("filtering a stream", exc)
            return data
        return data if out is None else out

    def tail(self) -> bytes:
        try:
            return self.usage_filter.finish()
        except Exception as exc:
            report("filtering a stream", exc)
            return b""


def filter_usage_chunk(http_response: Any) -> Optional[Any]:
    """The filter holding the removed usage chunk, or None when the body cannot
    be filtered (the parsed-stream observer then hides the chunk instead)."""
    hooks = _wrap(http_response, _Filter)
    return hooks.usage_filter if isinstance(hooks, _Filter) else None
