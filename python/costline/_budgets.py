"""Budgets: spend caps checked before a call is sent.

`configure(budgets=[Budget(...)])` installs them (with the operators'
`COSTLINE_BUDGETS` file); each metered call then reserves its worst case in
the core (`_native.budget_reserve`) and settles the reservation with what it
cost when it is recorded. With no budget configured, a call does no budget
work at all: the hook checks one module flag."""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

from . import _native
from ._native import BudgetExceededError

Money = Union[str, int, Decimal]

_PERIODS = ("run", "hour", "day", "month", "total")

# True while budgets are configured; `caps_seen` once a run had max_cost_usd.
# Checking them is the hot path's only budget cost when neither is set.
active = False
caps_seen = False
# True while the budgets are held in the ledger or Redis: a reservation may wait on I/O.
store_waits = False


def _money(name: str, value: Any) -> str:
    """Money as an exact decimal string: a str, int or Decimal, never a float."""
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise TypeError(
            f"{name} must be a str, int or Decimal amount of USD (not {type(value).__name__}): money is never a float"
        )
    return str(value)


class Budget:
    """A spend cap: `limit_usd` per `period` (run, hour, day, month, total;
    calendar boundaries in `timezone`: UTC, an offset like "+02:00" or an IANA
    name like "Europe/Paris") for the
    calls it matches: all of them, one `agent`'s, or those carrying `tags`.
    `action="block"` (default) refuses a call that would pass it;
    `action="warn"` lets it through and alerts. `alerts` are the percentages
    (or fractions) of the limit at which `on_budget_alert` fires, once per
    period. `enforce_stream=True` closes a stream whose running cost would
    pass the limit."""

    __slots__ = ("limit_usd", "period", "agent", "tags", "action", "name", "alerts", "timezone", "enforce_stream")

    def __init__(
        self,
        limit_usd: Money,
        period: str = "month",
        *,
        agent: Optional[str] = None,
        tags: Optional[Mapping[str, Any]] = None,
        action: str = "block",
        name: Optional[str] = None,
        alerts: Sequence[float] = (75, 90),
        timezone: str = "UTC",
        enforce_stream: bool = False,
    ) -> None:
        self.limit_usd = Decimal(_money("limit_usd", limit_usd))
        if period not in _PERIODS:
            raise ValueError(f"period must be one of {', '.join(_PERIODS)}, not {period!r}")
        self.period = period
        self.agent = agent
        self.tags = {str(k): str(v) for k, v in (tags or {}).items()}
        if action not in ("block", "warn"):
            raise ValueError(f"action must be 'block' or 'warn', not {action!r}")
        self.action = action
        self.name = name
        self.alerts = tuple(alerts)
        self.timezone = timezone
        self.enforce_stream = bool(enforce_stream)

    def _native(self) -> Dict[str, Any]:
        return {
            "limit_usd": str(self.limit_usd),
            "period": self.period,
            "agent": self.agent,
            "tags": self.tags,
            "action": self.action,
            "name": self.name,
            "alerts": [float(a) for a in self.alerts],
            "timezone": self.timezone,
            "enforce_stream": self.enforce_stream,
        }

    def __repr__(self) -> str:
        scope = f", agent={self.agent!r}" if self.agent else ""
        scope += f", tags={self.tags!r}" if self.tags else ""
        return f"Budget(limit_usd={str(self.limit_usd)!r}, period={self.period!r}{scope}, action={self.action!r})"


class BudgetAlert:
    """What `on_budget_alert` receives: a budget reached `threshold_percent`
    of its limit this period (or, `exceeded=True`, a warn budget was passed).
    `str(alert)` says so in a sentence."""

    __slots__ = (
        "budget_name",
        "scope",
        "period",
        "period_label",
        "threshold_percent",
        "limit_usd",
        "spent_usd",
        "action",
        "agent",
        "exceeded",
        "message",
    )

    def __init__(self, fields: Mapping[str, Any]) -> None:
        for key in self.__slots__:
            setattr(self, key, fields.get(key))

    def __str__(self) -> str:
        return str(self.message)

    def __repr__(self) -> str:
        return f"BudgetAlert({self.message!r})"


_on_alert: Optional[Callable[[BudgetAlert], None]] = None


def _dispatch_alert(fields: Dict[str, Any]) -> None:
    handler = _on_alert
    if handler is None:
        return
    try:
        handler(BudgetAlert(fields))
    except Exception as exc:  # an alert handler must never break the call that crossed the threshold
        from ._runtime import warn_once

        warn_once(
            f"on_budget_alert:{type(exc).__name__}",
            "costline: on_budget_alert raised %s: %s (ignored)",
            type(exc).__name__,
            exc,
        )


def configure(
    budgets: Optional[Sequence[Budget]],
    on_budget_alert: Optional[Callable[[BudgetAlert], None]],
    budget_fail_mode: Optional[str],
    budget_store: Optional[str],
    redis_url: Optional[str],
    always: bool,
) -> None:
    """Apply configure()'s budget arguments; `always`: the ledger or another
    setting the stores depend on changed, so rebuild even without them."""
    global _on_alert
    if budgets is not None:
        if isinstance(budgets, Budget) or not all(isinstance(b, Budget) for b in budgets):
            raise TypeError("budgets must be a list of costline.Budget")
    if on_budget_alert is not None and not callable(on_budget_alert):
        raise _native.ConfigError("configuration: on_budget_alert must be callable(alert)")
    given = (budgets, budget_fail_mode, budget_store, redis_url)
    if always or any(v is not None for v in given):
        _native.configure_budgets(
            budgets=[b._native() for b in budgets] if budgets is not None else None,
            fail_mode=budget_fail_mode,
            store=budget_store,
            redis_url=redis_url,
        )
    if on_budget_alert is not None:
        _on_alert = on_budget_alert
        _native.set_budget_alert_hook(_dispatch_alert)
    _refresh()


def _refresh() -> None:
    """After the budgets change: whether any is configured, and whether their store may wait."""
    global active, store_waits
    active = _native.budgets_active()
    store_waits = active and _native.budget_store_waits()


def budget_status() -> List[Dict[str, Any]]:
    """Each budget with its current period: `name`, `scope`, `period`,
    `period_label`, `limit_usd`, `spent_usd`, `reserved_usd`, `remaining_usd`
    (Decimals), `action`, `agent`, `tags`, `store`; what `costline budgets` shows.
    A call settles once its event is built (for calls outside a run, on the
    writer thread): `costline.flush()` first for figures that include every
    call made so far."""
    return list(_native.budget_status())


def reserve(call: Any, request: Optional[Mapping[str, Any]]) -> Any:
    """Reserve `call`'s worst case; None when no budget applies. Raises
    BudgetExceededError (the blocked call is recorded) when a cap would pass."""
    a = call.attribution
    frames = a.frames
    # Outside a run there are no frames: no comprehension to run on the hot path.
    caps = [(f.cap_id, f.run.max_cost_usd) for f in frames if f.cap_id is not None] if frames else []
    if not caps and not active:
        return None
    return _native.budget_reserve(
        call.provider,
        call.operation,
        call.model,
        request,
        call.stream,
        a.run_id,
        a.agent,
        a.agent_path,
        a.tags,
        a.base_tags,
        caps,
        call.call_id,
        call.attempt,
    )


def reserve_off_loop() -> bool:
    """True when an event loop should reserve on a worker thread: the store may wait
    long now (the ledger or Redis, slow, failing or not heard from yet)."""
    return store_waits and _native.budget_reserve_may_wait()


async def off_loop_if_waiting(fn: Callable[..., Any], *args: Any) -> Any:
    """`fn(*args)`, which reserves budgets, for a coroutine: on the loop's default
    executor when the store may wait long (the loop keeps running), else here. A
    reservation whose caller is cancelled meanwhile is released when it is collected."""
    if reserve_off_loop():
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)
    return fn(*args)


async def reserve_async(call: Any, request: Optional[Mapping[str, Any]]) -> Any:
    """`reserve` for a coroutine (see `off_loop_if_waiting`)."""
    return await off_loop_if_waiting(reserve, call, request)


def _load_from_env() -> None:
    if os.environ.get("COSTLINE_BUDGETS"):
        _native.configure_budgets()
        _refresh()


def _load_at_import() -> None:
    try:
        _load_from_env()
    except Exception as exc:  # loading costline must never break the host
        from ._runtime import report

        report("loading COSTLINE_BUDGETS", exc)


_load_at_import()

__all__ = ["Budget", "BudgetAlert", "BudgetExceededError", "budget_status"]
