"""Reading the ledger from inside the app: `report()`, `events()`, `status()`.

These read through costline's own SQLite connection. Don't open the ledger
with the standard library's `sqlite3` in the same process: that is a second
SQLite library, which cannot share lock state with costline's, and closing
its connection deletes files costline's connection is using."""

from __future__ import annotations

import datetime as _dt
import json
from decimal import Decimal
from typing import Any, Dict, Iterator, List, Optional, Sequence, Union

from . import _native

Since = Union[str, _dt.datetime, _dt.date, None]

_FIGURES = ("calls", "errors", "input_tokens", "cached_input_tokens", "output_tokens", "cost_usd", "unpriced_calls")


def _since_text(since: Since) -> Optional[str]:
    if since is None or isinstance(since, str):
        return since
    if isinstance(since, _dt.datetime):
        if since.tzinfo is None:
            since = since.replace(tzinfo=_dt.timezone.utc)
        return since.isoformat()
    if isinstance(since, _dt.date):
        return since.isoformat()
    raise TypeError(f"since must be a str, datetime, date or None, not {type(since).__name__}")


def _decimal(value: Optional[str]) -> Optional[Decimal]:
    return Decimal(value) if value is not None else None


def _figures(raw: Dict[str, Any]) -> Dict[str, Any]:
    figures = {name: raw[name] for name in _FIGURES}
    figures["cost_usd"] = _decimal(raw["cost_usd"])
    return figures


class Report:
    """Calls, errors, tokens and exact cost, one row per group, with totals.

    Each row is a dict: the group's keys (`"agent"`, `"model"`, `"tag:customer"`,
    None where a call had no value), then `calls`, `errors`, `input_tokens`,
    `cached_input_tokens`, `output_tokens`, `cost_usd` (a `Decimal`, or None
    when no call of the group had a price) and `unpriced_calls`. Iterating a
    report iterates its rows."""

    __slots__ = ("by", "since", "rows", "totals")

    def __init__(self, raw: Dict[str, Any]) -> None:
        self.by: List[str] = list(raw["by"])
        since = raw["since"]
        self.since: Optional[_dt.datetime] = (
            _dt.datetime.fromisoformat(since.replace("Z", "+00:00")) if since is not None else None
        )
        self.rows: List[Dict[str, Any]] = [{**row["group"], **_figures(row)} for row in raw["rows"]]
        self.totals: Dict[str, Any] = _figures(raw["totals"])

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        return f"Report(by={self.by!r}, since={self.since!r}, rows={len(self.rows)}, totals={self.totals!r})"


def report(by: Union[str, Sequence[str], None] = ("model",), since: Since = None, timeout: float = 5.0) -> Report:
    """Spend in this process's ledger, grouped `by` any of agent, model,
    provider, run, operation, day, tag:KEY (a list, or a comma-separated str),
    for calls `since` a duration back (`"24h"`, `"7d"`), a date or a time
    (naive datetimes are UTC). Waits at most `timeout` seconds for calls
    recorded so far to reach the ledger, then reads it through costline's own
    connection. Bad arguments raise `ValueError`; an unreadable ledger,
    `LedgerError`."""
    keys = [k.strip() for k in by.split(",")] if isinstance(by, str) else list(by or ())
    raw = _native.read_report([k for k in keys if k], _since_text(since), max(0.0, float(timeout)))
    return Report(json.loads(raw))


def events(since: Since = None, limit: Optional[int] = None, timeout: float = 5.0) -> List[Dict[str, Any]]:
    """This process's ledger's events at or after `since`, oldest first, at
    most `limit`: dicts in the wire format (`docs/events.md`), with `cost_usd`
    a `Decimal` (None when unpriced). Waits at most `timeout` seconds for
    calls recorded so far to reach the ledger, like `report()`."""
    if limit is not None and limit < 0:
        raise ValueError("limit must be 0 or more")
    raw = _native.read_events(_since_text(since), limit, max(0.0, float(timeout)))
    out = json.loads(raw)
    for event in out:
        event["cost_usd"] = _decimal(event.get("cost_usd"))
    return out


def status() -> Dict[str, Any]:
    """This process's metering state: `ledger` (its path, or None when off),
    `written`, `pending_export` (owed to the collector, as last seen),
    `exported`, `dropped`, `rejected` (refused by the collector), `held`
    (kept in memory because the ledger cannot take them now), `enqueued`,
    `failed_batches`, and `last_error` (the latest ledger or collector failure,
    "<time> <message>", or None). Counters cover the life of the process.
    `costline status` on the command line shows what the ledger itself knows."""
    return json.loads(_native.status())
