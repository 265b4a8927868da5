"""Metering a provider stream without changing it.

The SDK's own stream object is returned to the caller (same class, same
context manager, same `close()`); costline only swaps its private iterator for
one that watches each item on the way through, and wraps the HTTP response's
close so that a stream abandoned early is recorded when it is closed. Exactly
one event per stream: on completion, early close, error, or when a stream
never iterated nor closed is garbage-collected."""

from __future__ import annotations

from typing import Any, AsyncIterator, Iterator, List, Optional, Protocol

from ._budgets import BudgetExceededError
from ._call import Call
from ._runtime import guarded, report


class Observer(Protocol):
    """Collects usage, the resolved model and output text from stream items
    (`_native.StreamObserver`, in Rust: it runs once per chunk). `observe`
    returns True to hide an item from the caller (the usage chunk costline
    asked for on its own)."""

    parts: Optional[List[Any]]
    resolved_model: Optional[str]
    texts: List[str]

    def observe(self, item: Any) -> bool: ...


class _Tracker:
    __slots__ = ("call", "observer", "in_next", "usage_filter", "budget")

    def __init__(self, call: Call, observer: Observer, usage_filter: Optional[Any]) -> None:
        self.call = call
        self.observer = observer
        self.in_next = False
        # Holds the usage chunk removed from the bytes before the SDK parsed them.
        self.usage_filter = usage_filter
        # A reservation metered as the stream goes (budgets with enforce_stream).
        reservation = call.reservation
        self.budget = reservation if reservation is not None and reservation.enforce_stream else None

    def over_budget(self) -> Optional[BudgetExceededError]:
        """The error when the stream's running cost would pass a budget (the
        caller stops it): the core counts the output the observer saw since
        the last look (`budget::StreamBudget`)."""
        try:
            self.budget.stream_check(self.observer)
        except BudgetExceededError as exc:
            return exc
        except Exception as exc:
            report("metering a stream against a budget", exc)
        return None

    def watch(self, item: Any) -> bool:
        try:
            return self.observer.observe(item)
        except Exception as exc:
            report("reading a stream item", exc)
            return False

    def finish(self, error: Optional[BaseException] = None) -> None:
        o = self.observer
        parts = o.parts
        if parts is None and self.usage_filter is not None:
            usage = self.usage_filter.usage
            parts = [usage] if usage is not None else None
        self.call.finish(parts, o.resolved_model, error, o.texts)

    def on_response_closed(self) -> None:
        # The response closes inside the SDK's own iterator too (at its end
        # or on an error); then our iterator records with the right outcome.
        # Closed from outside while idle means the caller abandoned the stream.
        if not self.in_next:
            self.finish()


class _Abandoned:
    """Rides on the SDK's stream object: when a stream that was never
    iterated nor closed is garbage-collected, its call is still recorded
    (the request was sent and billed; tokens are estimated). A no-op when the
    stream already recorded."""

    __slots__ = ("tracker",)

    def __init__(self, tracker: _Tracker) -> None:
        self.tracker = tracker

    def __del__(self) -> None:
        try:
            if not self.tracker.call.done:
                guarded("recording an abandoned stream", self.tracker.finish)
        except BaseException:  # noqa: BLE001 (at interpreter teardown anything may be gone)
            pass


def _guard_abandonment(stream: Any, tracker: _Tracker) -> None:
    try:
        stream._costline_abandoned = _Abandoned(tracker)
    except AttributeError:  # a stream class with __slots__: nothing to hang it on
        pass


def attach_sync(stream: Any, call: Call, observer: Observer, usage_filter: Optional[Any] = None) -> None:
    tracker = _Tracker(call, observer, usage_filter)
    _guard_abandonment(stream, tracker)
    inner: Iterator[Any] = stream._iterator
    stream._iterator = _iterate(inner, tracker, stream)
    response = getattr(stream, "response", None)
    original_close = getattr(response, "close", None)
    if original_close is not None:

        def close() -> None:
            try:
                original_close()
            finally:
                tracker.on_response_closed()

        response.close = close


def _iterate(inner: Iterator[Any], tracker: _Tracker, stream: Any = None) -> Iterator[Any]:
    while True:
        tracker.in_next = True
        try:
            item = next(inner)
        except StopIteration:
            tracker.in_next = False
            tracker.finish()
            return
        except BaseException as exc:
            tracker.in_next = False
            tracker.finish(exc)
            raise
        tracker.in_next = False
        if tracker.watch(item):
            continue
        if tracker.budget is not None:
            stop = tracker.over_budget()
            if stop is not None:
                # Recorded first (as this error), then the connection is closed.
                tracker.finish(stop)
                guarded("closing a stream over budget", stream.close)
                raise stop
        try:
            yield item
        except GeneratorExit:
            close = getattr(inner, "close", None)
            if close is not None:
                close()
            tracker.finish()
            raise


def attach_async(stream: Any, call: Call, observer: Observer, usage_filter: Optional[Any] = None) -> None:
    tracker = _Tracker(call, observer, usage_filter)
    _guard_abandonment(stream, tracker)
    inner: AsyncIterator[Any] = stream._iterator
    stream._iterator = _aiterate(inner, tracker, stream)
    response = getattr(stream, "response", None)
    original_aclose = getattr(response, "aclose", None)
    if original_aclose is not None:

        async def aclose() -> None:
            try:
                await original_aclose()
            finally:
                tracker.on_response_closed()

        response.aclose = aclose


async def _aiterate(inner: AsyncIterator[Any], tracker: _Tracker, stream: Any = None) -> AsyncIterator[Any]:
    while True:
        tracker.in_next = True
        try:
            item = await inner.__anext__()
        except StopAsyncIteration:
            tracker.in_next = False
            tracker.finish()
            return
        except BaseException as exc:
            tracker.in_next = False
            tracker.finish(exc)
            raise
        tracker.in_next = False
        if tracker.watch(item):
            continue
        if tracker.budget is not None:
            stop = tracker.over_budget()
            if stop is not None:
                tracker.finish(stop)
                try:
                    await stream.close()
                except Exception as exc:
                    report("closing a stream over budget", exc)
                raise stop
        try:
            yield item
        except GeneratorExit:
            aclose = getattr(inner, "aclose", None)
            if aclose is not None:
                try:
                    await aclose()
                except BaseException:
                    pass
            tracker.finish()
            raise
