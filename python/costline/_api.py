"""Helpers for work no drop-in sees: pricing token counts, counting tokens,
recording a call made some other way."""

from __future__ import annotations

from decimal import Decimal
from typing import Mapping, Optional

from . import _native
from ._context import capture


def cost(
    model: str,
    input_tokens: int,
    output_tokens: int,
    cached_input_tokens: int = 0,
    cache_write_input_tokens: int = 0,
    reasoning_tokens: int = 0,
    provider: Optional[str] = None,
) -> Optional[Decimal]:
    """Exact cost of a call from its token counts (input includes cached
    tokens), or None when the model has no price. Counts that are not
    integers from 0 to 2**63-1, or parts larger than their totals, raise
    `InvalidEventError` (a `ValueError`)."""
    value = _native.cost(
        model,
        input_tokens,
        output_tokens,
        cached_input_tokens,
        cache_write_input_tokens,
        reasoning_tokens,
        provider,
    )
    return Decimal(value) if value is not None else None


def count_tokens(text: str, model: str = "gpt-4o") -> int:
    """Tokens of `text` under `model`'s tokenizer (works offline)."""
    return _native.count_tokens(text, model)


class Tracked:
    """What `track()` recorded."""

    __slots__ = ("event_id", "cost_usd")

    def __init__(self, event_id: str, cost_usd: Optional[Decimal]) -> None:
        self.event_id = event_id
        self.cost_usd = cost_usd

    def __repr__(self) -> str:
        return f"Tracked(event_id={self.event_id!r}, cost_usd={self.cost_usd!r})"


def track(
    *,
    provider: str,
    model: str,
    input_tokens: int,
    output_tokens: int,
    cached_input_tokens: int = 0,
    cache_write_input_tokens: int = 0,
    reasoning_tokens: int = 0,
    operation: str = "chat",
    resolved_model: Optional[str] = None,
    latency_ms: int = 0,
    stream: bool = False,
    status: str = "ok",
    error_type: Optional[str] = None,
    agent: Optional[str] = None,
    tags: Optional[Mapping[str, str]] = None,
) -> Tracked:
    """Record an event for a call no drop-in made (same validation and
    pipeline as the drop-ins). Attributed to the current run like any call.
    Invalid input (bad numbers, an unknown status) raises `InvalidEventError`
    (a `ValueError`)."""
    a = capture(agent, {})
    event_id, value = _native.track(
        provider,
        model,
        operation,
        input_tokens,
        output_tokens,
        cached_input_tokens,
        cache_write_input_tokens,
        reasoning_tokens,
        latency_ms,
        stream,
        status,
        error_type,
        resolved_model,
        a.run_id,
        a.agent,
        a.agent_path,
        dict(tags or {}),
        a.tags,
    )
    a.settle(value)
    return Tracked(event_id, Decimal(value) if value is not None else None)
