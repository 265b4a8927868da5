"""One metered call in flight: what was asked, who asked, and how it ended.
Turns the outcome into exactly one `_native.record(...)`."""

from __future__ import annotations

import time
from typing import Any, List, Mapping, Optional

from . import _native
from ._context import Attribution
from ._runtime import report


class Call:
    __slots__ = (
        "provider",
        "operation",
        "model",
        "attribution",
        "started",
        "stream",
        "request",
        "done",
        "reservation",
        "call_id",
        "attempt",
        "want_cost",
        "cost",
    )

    def __init__(
        self,
        provider: str,
        operation: str,
        model: str,
        attribution: Attribution,
        stream: bool,
        request: Optional[Mapping[str, Any]],
    ) -> None:
        self.provider = provider
        self.operation = operation
        self.model = model
        self.attribution = attribution
        self.stream = stream
        self.request = request
        self.started = time.perf_counter()
        self.done = False
        # The budget reservation taken before sending (`_budgets.reserve`), if any.
        self.reservation: Any = None
        # A fallback chain's shared id and this attempt's number (`_fallback`).
        self.call_id: Optional[str] = None
        self.attempt: Optional[int] = None
        # Fallback attempts report their cost on the response (`response.costline`).
        self.want_cost = False
        self.cost: Optional[str] = None

    def finish(
        self,
        parts: Optional[List[Any]],
        resolved_model: Optional[str] = None,
        error: Optional[BaseException] = None,
        output_texts: Optional[List[str]] = None,
        error_type: Optional[str] = None,
    ) -> None:
        """Record this call once; later calls are no-ops (a stream can end
        through several paths: exhaustion, close(), an error, GC).
        `error_type` names an error the SDK raises after metering saw it
        (an HTTP error status it turns into its own exception)."""
        if self.done:
            return
        self.done = True
        try:
            self._record(parts, resolved_model, error, output_texts, error_type)
        except Exception as exc:  # never let a metering fault reach the caller
            report("recording a call", exc)
        finally:
            reservation = self.reservation
            if reservation is not None:
                # Not settled by _record (it failed): give the hold back.
                self.reservation = None
                try:
                    reservation.release()
                except Exception as exc:
                    report("releasing a budget reservation", exc)

    def _record(
        self,
        parts: Optional[List[Any]],
        resolved_model: Optional[str],
        error: Optional[BaseException],
        output_texts: Optional[List[str]],
        error_type: Optional[str] = None,
    ) -> None:
        latency_ms = int((time.perf_counter() - self.started) * 1000)
        a = self.attribution
        estimate_request = None
        estimate_output = None
        if not parts and output_texts is not None and self.request is not None:
            # A stream that carried no usage (not asked for, or cut before it
            # came): the tokens were still spent, so estimate them.
            estimate_request = self.request
            estimate_output = "".join(output_texts)
        cost = _native.record(
            self.provider,
            self.operation,
            self.model,
            resolved_model,
            parts or None,
            latency_ms,
            self.stream,
            "error" if error is not None or error_type else "ok",
            error_type or _error_type(error),
            a.run_id,
            a.agent,
            a.agent_path,
            a.tags,
            a.base_tags,
            estimate_request,
            estimate_output,
            # Only enclosing runs need the cost now; otherwise the core builds
            # the event on its writer thread.
            bool(a.frames) or self.want_cost,
            # Settled with the cost by the core (on the writer thread when deferred).
            self.reservation,
            self.call_id,
            self.attempt,
        )
        self.cost = cost
        self.reservation = None
        a.settle(cost)


def _error_type(error: Optional[BaseException]) -> Optional[str]:
    if error is None:
        return None
    return type(error).__name__


def usage_parts(usage: Any, service_tier: Optional[str] = None) -> Optional[List[Any]]:
    """The usage payload parts of a response, as the core takes them: the
    SDK's usage object itself (the binding reads its fields; no `model_dump()`
    on the hot path), plus the response's service tier as a later part."""
    if usage is None:
        return None
    if service_tier:
        return [usage, {"service_tier": service_tier}]
    return [usage]
