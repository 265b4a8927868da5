"""Metering a response the caller reads itself (`with_streaming_response`
read with `iter_bytes()`, `iter_lines()`, `read()`...), never parsed by the
SDK: the HTTP response's byte stream is wrapped so that every chunk passes
through the core's `BodyScanner` on its way to the caller, unchanged. The
call is recorded once, when the body ends, fails or is closed; with no usage
in it (a stream that did not ask for usage, a body cut short, a compressed
body), tokens are estimated from the request and the text that passed."""

from __future__ import annotations

import sys
from typing import Any, AsyncIterator, Dict, Iterator, Optional, Tuple

from . import _native
from ._call import Call
from ._runtime import guarded, report

# The wrapper classes, per HTTP library module (the SDKs use httpx or httpx2):
# httpx checks the stream's class before iterating it.
_wrappers: Dict[str, Tuple[type, type]] = {}


class _Reader:
    __slots__ = ("call", "scanner")

    def __init__(self, call: Call, scanner: Optional[Any]) -> None:
        self.call = call
        self.scanner = scanner

    def feed(self, chunk: bytes) -> None:
        if self.scanner is not None:
            self.scanner.feed(chunk)

    def finish(self, error: Optional[BaseException] = None) -> None:
        if self.call.done:
            return
        parts, resolved, text = (None, None, "")
        if self.scanner is not None:
            parts, resolved, text = self.scanner.finish()
            self.scanner = None
        self.call.finish(parts or None, resolved, error, [text])


def _classes(module_name: str) -> Optional[Tuple[type, type]]:
    if module_name in _wrappers:
        return _wrappers[module_name]
    module = sys.modules.get(module_name)
    sync_base = getattr(module, "SyncByteStream", None)
    async_base = getattr(module, "AsyncByteStream", None)
    if sync_base is None or async_base is None:
        return None

    class MeteredBytes(sync_base):  # type: ignore[misc,valid-type]
        def __init__(self, inner: Any, reader: _Reader) -> None:
            self._inner = inner
            self._reader = reader

        def __iter__(self) -> Iterator[bytes]:
            reader = self._reader
            try:
                for chunk in self._inner:
                    guarded("reading a raw response", reader.feed, chunk)
                    yield chunk
            except BaseException as exc:
                guarded("recording a raw response", reader.finish, exc)
                raise
            guarded("recording a raw response", reader.finish)

        def close(self) -> None:
            try:
                self._inner.close()
            finally:
                guarded("recording a raw response", self._reader.finish)

    class AsyncMeteredBytes(async_base):  # type: ignore[misc,valid-type]
        def __init__(self, inner: Any, reader: _Reader) -> None:
            self._inner = inner
            self._reader = reader

        async def __aiter__(self) -> AsyncIterator[bytes]:
            reader = self._reader
            try:
                async for chunk in self._inner:
                    guarded("reading a raw response", reader.feed, chunk)
                    yield chunk
            except BaseException as exc:
                guarded("recording a raw response", reader.finish, exc)
                raise
            guarded("recording a raw response", reader.finish)

        async def aclose(self) -> None:
            try:
                await self._inner.aclose()
            finally:
                guarded("recording a raw response", self._reader.finish)

    _wrappers[module_name] = (MeteredBytes, AsyncMeteredBytes)
    return _wrappers[module_name]


def _filter_classes(module_name: str) -> Optional[Tuple[type, type]]:
    key = module_name + ":filter"
    if key in _wrappers:
        return _wrappers[key]
    module = sys.modules.get(module_name)
    sync_base = getattr(module, "SyncByteStream", None)
    async_base = getattr(module, "AsyncByteStream", None)
    if sync_base is None or async_base is None:
        return None

    def feed(usage_filter: Any, chunk: bytes) -> bytes:
        try:
            out = usage_filter.feed(chunk)
        except Exception as exc:  # pass the bytes on: the parsed-stream observer still hides the chunk
            report("filtering a stream", exc)
            return chunk
        return chunk if out is None else out

    class FilteredBytes(sync_base):  # type: ignore[misc,valid-type]
        def __init__(self, inner: Any, usage_filter: Any) -> None:
            self._inner = inner
            self._filter = usage_filter

        def __iter__(self) -> Iterator[bytes]:
            for chunk in self._inner:
                yield feed(self._filter, chunk)
            yield self._filter.finish()

        def close(self) -> None:
            self._inner.close()

    class AsyncFilteredBytes(async_base):  # type: ignore[misc,valid-type]
        def __init__(self, inner: Any, usage_filter: Any) -> None:
            self._inner = inner
            self._filter = usage_filter

        async def __aiter__(self) -> AsyncIterator[bytes]:
            async for chunk in self._inner:
                yield feed(self._filter, chunk)
            yield self._filter.finish()

        async def aclose(self) -> None:
            await self._inner.aclose()

    _wrappers[key] = (FilteredBytes, AsyncFilteredBytes)
    return _wrappers[key]


def filter_usage_chunk(http_response: Any) -> Optional[Any]:
    """Remove the usage-only chunk costline asked for from a chat stream's
    bytes before the SDK parses them (the caller gets exactly the chunks an
    unmetered client would, and the parse is not paid for); the returned
    filter holds that chunk's usage. None when the body cannot be filtered
    (compressed, or an unknown HTTP library): the parsed-stream observer then
    hides the chunk instead."""
    classes = _filter_classes(type(http_response).__module__.split(".")[0])
    stream = getattr(http_response, "stream", None)
    if classes is None or stream is None:
        return None
    if http_response.headers.get("content-encoding", "identity").lower() not in ("", "identity"):
        return None
    sync_cls, async_cls = classes
    usage_filter = _native.UsageChunkFilter()
    if isinstance(stream, sync_cls.__mro__[1]):
        http_response.stream = sync_cls(stream, usage_filter)
    elif isinstance(stream, async_cls.__mro__[1]):
        http_response.stream = async_cls(stream, usage_filter)
    else:
        return None
    return usage_filter


def meter_raw_body(http_response: Any, call: Call) -> None:
    """Wrap `http_response`'s byte stream (not yet read) to meter it."""
    classes = _classes(type(http_response).__module__.split(".")[0])
    stream = getattr(http_response, "stream", None)
    if classes is None or stream is None:
        return
    sync_cls, async_cls = classes
    # Raw bytes of a compressed body mean nothing to the scanner: estimate.
    encoded = http_response.headers.get("content-encoding", "identity").lower() not in ("", "identity")
    scanner = None if encoded else _native.BodyScanner(call.provider, call.stream)
    reader = _Reader(call, scanner)
    if isinstance(stream, sync_cls.__mro__[1]):
        http_response.stream = sync_cls(stream, reader)
    elif isinstance(stream, async_cls.__mro__[1]):
        http_response.stream = async_cls(stream, reader)
