"""Process-level plumbing: configure/flush/shutdown, the exit hook, the fork
hook, the disabled switch and the guard that keeps instrumentation errors away
from the host application."""

from __future__ import annotations

import atexit
import logging
import os
import threading
from contextvars import ContextVar
from typing import Any, Callable, Mapping, Optional, Sequence, TypeVar, Union

from . import _native

logger = logging.getLogger("costline")

_T = TypeVar("_T")

_state_lock = threading.Lock()
# The core reads COSTLINE_DISABLED (one parser for every language layer).
_disabled = _native.disabled_from_env()
_exit_timeout_s = 2.0
_warned: set[str] = set()
# Bounded: a stream of distinct problems must not grow memory.
_WARNED_LIMIT = 1024
# The user's `on_error(exc, event_or_None)`, or None: errors are only logged.
_on_error: Optional[Callable[[BaseException, Optional[dict[str, Any]]], None]] = None


# True while the routed client (`costline.Costline`) calls a provider through a drop-in:
# the routed client records that attempt itself, so the drop-in must not record it again.
unmetered: ContextVar[bool] = ContextVar("costline_unmetered", default=False)


def is_disabled() -> bool:
    return _disabled or unmetered.get()


def warn_once(key: str, message: str, *args: Any) -> None:
    """Log a warning the first time `key` is seen in this process."""
    if key in _warned or len(_warned) > _WARNED_LIMIT:
        return
    _warned.add(key)
    if len(_warned) > _WARNED_LIMIT:
        logger.warning("costline: %d distinct problems were logged; further new ones are not", _WARNED_LIMIT)
        return
    logger.warning(message, *args)


def guarded(what: str, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> Optional[_T]:
    """Run instrumentation code; log each distinct problem once instead of
    raising (distinct: what failed, the exception's type and its message)."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # never let a metering fault reach the caller
        report(what, exc)
        return None


def report(what: str, exc: Exception) -> None:
    """A metering fault caught on the hot path (which inlines its try/except
    rather than paying for `guarded`'s extra call): log it once, hand it to
    on_error."""
    detail = str(exc)[:200]
    warn_once(f"{what}:{type(exc).__name__}:{detail}", "costline: %s failed: %s: %s", what, type(exc).__name__, detail)
    if _on_error is not None:
        _dispatch_error(_as_costline_error(what, exc), None)


def _as_costline_error(what: str, exc: Exception) -> BaseException:
    """on_error always receives a CostlineError; anything else is wrapped (as its cause)."""
    if isinstance(exc, _native.CostlineError):
        return exc
    wrapped = _native.CostlineError(f"{what} failed: {type(exc).__name__}: {exc}")
    wrapped.__cause__ = exc
    return wrapped


def _dispatch_error(exc: BaseException, event: Optional[dict[str, Any]]) -> None:
    """Hand one error to the user's on_error; called by the core (from its
    exporter thread) and by `guarded`. What on_error raises is logged, never
    propagated: it would surface in a background thread or in the host's call."""
    handler = _on_error
    if handler is None:
        return
    try:
        handler(exc, event)
    except Exception as raised:
        warn_once(
            f"on_error:{type(raised).__name__}",
            "costline: on_error raised %s: %s (ignored; it is called again for later errors)",
            type(raised).__name__,
            raised,
        )


def configure(
    *,
    ledger: Optional[Union[str, os.PathLike[str]]] = None,
    base_url: Optional[str] = None,
    api_key: Optional[str] = None,
    otlp_endpoint: Optional[str] = None,
    prices: Optional[Union[str, os.PathLike[str], Mapping[str, Any]]] = None,
    tags: Optional[Mapping[str, str]] = None,
    timeout_s: Optional[float] = None,
    backoff_s: Optional[Sequence[float]] = None,
    max_concurrent: Optional[int] = None,
    queue_size: Optional[int] = None,
    batch_size: Optional[int] = None,
    exit_timeout_s: Optional[float] = None,
    on_error: Optional[Callable[[BaseException, Optional[dict[str, Any]]], None]] = None,
    disabled: Optional[bool] = None,
    ca_bundle: Optional[Union[str, os.PathLike[str]]] = None,
    budgets: Optional[Sequence[Any]] = None,
    on_budget_alert: Optional[Callable[[Any], None]] = None,
    budget_fail_mode: Optional[str] = None,
    budget_store: Optional[str] = None,
    redis_url: Optional[str] = None,
) -> None:
    """Set costline's process settings; arguments given here win over the
    `COSTLINE_*` environment variables, and later calls keep what earlier ones
    set. A bad value (or a malformed price file) raises `ConfigError` /
    `PricesError` here, at configuration time, never later on a call.

    `prices` is a price file (path; `""` removes it) or an inline table (dict;
    `{}` removes it). The two are separate layers over the catalog, inline
    winning for a model in both; each stays until it is given again, so a call
    without `prices` keeps both. The `COSTLINE_PRICES` file is read once, when
    costline loads; if it is malformed it is logged (file, line, model, field)
    and ignored, and only a `configure(prices=...)` that names it raises.

    `on_error(exc, event_or_None)` receives export errors (`ExportError`, with
    the collector's HTTP status as `exc.status`; with the event when the
    collector refused that one event) and instrumentation errors (a
    `CostlineError`), possibly from a background thread. It must not block
    for long; what it raises is logged and ignored.
    `ca_bundle`: a PEM file of extra CA certificates for the collector.

    Budgets (docs/budgets.md): `budgets` is a list of `costline.Budget` (it
    replaces the list given before; the `COSTLINE_BUDGETS` file's budgets are
    always added); `on_budget_alert(alert)` hears thresholds reached;
    `budget_fail_mode` is "open" (default) or "closed" for when Redis is
    unreachable; `budget_store` is "memory", "ledger" or "redis" (default:
    redis with `redis_url` / `COSTLINE_REDIS_URL`, else the ledger)."""
    global _disabled, _exit_timeout_s, _on_error
    if on_error is not None and not callable(on_error):
        raise _native.ConfigError("configuration: on_error must be callable(exc, event_or_None)")
    _native.configure(
        ledger=os.fspath(ledger) if ledger is not None else None,
        base_url=base_url,
        api_key=api_key,
        otlp_endpoint=otlp_endpoint,
        prices=prices if prices is None or isinstance(prices, Mapping) else os.fspath(prices),
        tags=dict(tags) if tags is not None else None,
        timeout_s=timeout_s,
        backoff_s=list(backoff_s) if backoff_s is not None else None,
        max_concurrent=max_concurrent,
        queue_size=queue_size,
        batch_size=batch_size,
        exit_timeout_s=exit_timeout_s,
        disabled=disabled,
        ca_bundle=os.fspath(ca_bundle) if ca_bundle is not None else None,
    )
    from . import _budgets

    _budgets.configure(budgets, on_budget_alert, budget_fail_mode, budget_store, redis_url, always=ledger is not None)
    with _state_lock:
        if disabled is not None:
            _disabled = bool(disabled)
        if exit_timeout_s is not None:
            _exit_timeout_s = float(exit_timeout_s)
    if on_error is not None:
        _on_error = on_error
        _native.set_error_hook(_dispatch_error)


def flush(timeout: float = 5.0) -> bool:
    """Wait until every event recorded so far is in the ledger (and, with a
    collector, acknowledged by it). Returns False if `timeout` seconds passed
    first; it always returns within `timeout`."""
    result = guarded("flush", _native.flush, max(0.0, float(timeout)))
    return bool(result)


def shutdown(timeout: float = 5.0) -> bool:
    """Flush, then stop the background thread. Idempotent; a later call that
    records an event starts the pipeline again."""
    result = guarded("shutdown", _native.shutdown, max(0.0, float(timeout)))
    return bool(result)


def settings() -> dict[str, Any]:
    """The settings in force (the API key masked)."""
    return dict(_native.current_settings())


def _at_exit() -> None:
    # The flush waits for the budget settlements it hands to the background too.
    guarded("exit flush", _native.exit_shutdown, _exit_timeout_s)
    # No call into Python from the core's threads once the interpreter finalises.
    guarded("exit", _native.set_error_hook, None)
    guarded("exit", _native.set_budget_alert_hook, None)


def _before_fork() -> None:
    guarded("fork", _native.before_fork)


def _after_fork_in_parent() -> None:
    guarded("fork", _native.after_fork_parent)


def _after_fork_in_child() -> None:
    guarded("fork", _native.after_fork)


atexit.register(_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child)
