"""A routed call's stream (issue 11): the serving provider's stream events translated by
the core into OpenAI `ChatCompletionChunk`s, metered once when the stream ends (completed,
closed early, or failed). Built on the core's stream translator and stream observer only,
so that it does not depend on the fallback drop-ins' stream class."""

from __future__ import annotations

from typing import Any, AsyncIterator, Dict, Iterator, Optional, Tuple

from . import _fallback, _native
from ._call import Call
from ._fallback import Target
from ._fast_models import chunk_builder
from ._runtime import guarded, unmetered

_END = object()


def _chunk(data: Dict[str, Any]) -> Any:
    from openai.types.chat import ChatCompletionChunk

    # As the SDK builds its own chunks (its construct_type, planned once: `_fast_models`).
    return chunk_builder("openai", ChatCompletionChunk)(data)


def _usage_only(data: Dict[str, Any]) -> bool:
    return not data.get("choices") and data.get("usage") is not None


class _Meter:
    """Reads usage and the resolved model from the serving provider's events, and
    translates them; `finish()` records the attempt once."""

    def __init__(self, plan: Any, target: Target, call: Call, decision: Dict[str, Any]) -> None:
        self.plan, self.target, self.call, self.decision = plan, target, call, decision
        ctx = {"model": target.model, "include_usage": plan.include_usage}
        self.translator = _native.FallbackStream("openai", target.provider, ctx)
        # OpenAI and Anthropic: the drop-ins' own observer reads the SDK's event objects.
        self.observer = (
            _native.StreamObserver(target.provider, call.operation, False)
            if target.provider in ("openai", "anthropic")
            else None
        )
        # An OpenAI target's usage chunk was asked for by the routed client, not the caller.
        self.hide_usage = target.provider == "openai" and not plan.include_usage
        self.usage: Any = None
        self.resolved: Optional[str] = None

    def push(self, event: Any) -> list:
        provider = self.target.provider
        if self.observer is not None:
            self.observer.observe(event)
        data = _fallback._wire(provider, event)
        if self.observer is None:
            if provider == "bedrock":
                usage = data.get("metadata", {}).get("usage")
            else:
                usage = data.get(_fallback._USAGE_KEYS[provider])
                self.resolved = data.get("model") or data.get("modelVersion") or self.resolved
            if usage:
                self.usage = usage
        return [_chunk(c) for c in self.translator.push(data) if not (self.hide_usage and _usage_only(c))]

    def end(self) -> list:
        return [_chunk(c) for c in self.translator.finish() if not (self.hide_usage and _usage_only(c))]

    def finish(self, error: Optional[BaseException]) -> Any:
        o = self.observer
        if o is not None:
            self.call.finish(o.parts, o.resolved_model, error, o.texts)
        else:
            self.call.finish([self.usage] if self.usage else None, self.resolved, error, [])
        return self.plan.info(self.target, self.call, self.decision)


class RoutedStream:
    """`ChatCompletionChunk`s from whichever provider served the call: iterate it, use it
    as a context manager, `close()` it. `.costline` is the routing info; its `cost_usd`
    is set once the stream has ended. `first` is the target's first event, already read
    (a failure before it fell back to the next candidate)."""

    def __init__(
        self,
        plan: Any,
        target: Target,
        inner: Any,
        started: Tuple[Any, Any],
        call: Call,
        decision: Dict[str, Any],
    ) -> None:
        self._meter = _Meter(plan, target, call, decision)
        self._inner = inner
        self._events, self._first = started
        self._call = call
        self.costline = plan.info(target, call, decision)
        self._iterator = self._chunks()

    def _next_event(self, it: Iterator[Any]) -> Any:
        token = unmetered.set(True)  # a drop-in's own stream hooks stay silent
        try:
            return next(it, _END)
        finally:
            unmetered.reset(token)

    def _chunks(self) -> Iterator[Any]:
        it = self._events
        event = self._first
        try:
            while event is not _END:
                yield from self._meter.push(event)
                event = self._next_event(it)
        except GeneratorExit:
            # Closed or collected part-read: abandoned, not failed (as the drop-in's).
            guarded("closing an abandoned stream", self._close_inner)
            self._abandoned()
            raise
        except BaseException as exc:
            self._finish(exc)
            raise
        self._finish(None)
        yield from self._meter.end()

    def _finish(self, error: Optional[BaseException]) -> None:
        if not self._call.done:
            self.costline = self._meter.finish(error)

    def __iter__(self) -> Iterator[Any]:
        return self._iterator

    def __next__(self) -> Any:
        return next(self._iterator)

    def __enter__(self) -> RoutedStream:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._close_inner()
        finally:
            self._finish(None)

    def _close_inner(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()

    def _abandoned(self) -> None:
        """The caller let go before the end: recorded as the plain drop-in records an
        abandoned stream (ok, the usage seen so far or an estimate), its hold settled."""
        if not self._call.done:
            guarded("recording an abandoned stream", self._finish, None)

    def __del__(self) -> None:
        # Dropped without reading to its end nor closing (the provider's stream object
        # is collected with it).
        try:
            self._abandoned()
        except BaseException:  # noqa: BLE001 (at interpreter teardown anything may be gone)
            pass


class AsyncRoutedStream:
    """`RoutedStream` for `AsyncCostline`: `async for`, `async with`, `aclose()`."""

    def __init__(
        self,
        plan: Any,
        target: Target,
        inner: Any,
        started: Tuple[Any, Any],
        call: Call,
        decision: Dict[str, Any],
    ) -> None:
        self._meter = _Meter(plan, target, call, decision)
        self._inner = inner
        self._events, self._first = started
        self._call = call
        self.costline = plan.info(target, call, decision)
        self._aiterator = self._achunks()

    async def _achunks(self) -> AsyncIterator[Any]:
        it = self._events
        event = self._first
        try:
            while event is not _END:
                for chunk in self._meter.push(event):
                    yield chunk
                token = unmetered.set(True)
                try:
                    event = await it.__anext__()
                except StopAsyncIteration:
                    event = _END
                finally:
                    unmetered.reset(token)
        except GeneratorExit:
            try:
                await self._aclose_inner()
            except BaseException:  # noqa: BLE001 (a generator being closed may not raise)
                pass
            self._abandoned()
            raise
        except BaseException as exc:
            self._finish(exc)
            raise
        self._finish(None)
        for chunk in self._meter.end():
            yield chunk

    def _finish(self, error: Optional[BaseException]) -> None:
        if not self._call.done:
            self.costline = self._meter.finish(error)

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._aiterator

    async def __anext__(self) -> Any:
        return await self._aiterator.__anext__()

    async def __aenter__(self) -> AsyncRoutedStream:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        try:
            await self._aclose_inner()
        finally:
            self._finish(None)

    async def _aclose_inner(self) -> None:
        close = getattr(self._inner, "aclose", None) or getattr(self._inner, "close", None)
        if close is not None:
            result = close()
            if hasattr(result, "__await__"):
                await result

    _abandoned = RoutedStream._abandoned
    __del__ = RoutedStream.__del__


def first_event(stream: Any) -> Tuple[Iterator[Any], Any]:
    """The target stream's iterator and first event (`_END` when it is empty), read with
    drop-in metering off; raises what the provider raised."""
    token = unmetered.set(True)
    try:
        it = iter(stream)
        return it, next(it, _END)
    finally:
        unmetered.reset(token)


async def first_event_async(stream: Any) -> Tuple[AsyncIterator[Any], Any]:
    token = unmetered.set(True)
    try:
        it = stream.__aiter__()
        try:
            return it, await it.__anext__()
        except StopAsyncIteration:
            return it, _END
    finally:
        unmetered.reset(token)
