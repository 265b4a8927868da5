"""A costline collector stand-in: `POST /v1/events` stores event batches, with
counters that tell retried (duplicate) deliveries apart from new events, and a
behaviour tests can set: fail the next N posts, hang until told to stop, or
refuse named events as invalid.

Invalid events are refused the way a costline collector does it: HTTP 400 with
`{"rejected": [{"event_id": "...", "reason": "..."}]}` naming them; nothing of
that batch is stored (the client sends the rest again). A 400 that names no
event means the whole request was wrong."""

from __future__ import annotations

import gzip
import json
import threading
from typing import Any

# A hung post is answered after this long at the latest, so no thread waits forever.
HANG_LIMIT_S = 300.0

_DEFAULT_BEHAVIOUR = {"fail": 0, "status": 503, "retry_after": None, "hang": False, "delay_ms": 0, "reject": {}}
_KEPT_HEADERS = ("authorization", "content-type", "content-encoding", "user-agent", "idempotency-key")


class CollectorError(ValueError):
    """A `/_mock/collector` setting that makes no sense."""


def _decode_batch(raw: bytes, headers: dict[str, str]) -> list[Any]:
    """A batch is a JSON array, `{"events": [...]}`, or one JSON event per line."""
    if headers.get("content-encoding", "").lower() == "gzip":
        raw = gzip.decompress(raw)
    text = raw.decode("utf-8")
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = [json.loads(line) for line in text.splitlines() if line.strip()]
    if isinstance(parsed, dict) and isinstance(parsed.get("events"), list):
        parsed = parsed["events"]
    if isinstance(parsed, dict):
        parsed = [parsed]
    if not isinstance(parsed, list) or not all(isinstance(e, dict) for e in parsed):
        raise ValueError('expected a JSON array of event objects or {"events": [...]}')
    return parsed


class Collector:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._release = threading.Event()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._behaviour = dict(_DEFAULT_BEHAVIOUR)
            self._events: list[dict[str, Any]] = []
            self._seen: set = set()
            self._posts: list[dict[str, Any]] = []
            self._counters = {
                "posts": 0,
                "accepted_posts": 0,
                "failed_posts": 0,
                "hung_posts": 0,
                "received_events": 0,
                "unique_events": 0,
                "duplicate_events": 0,
                "rejected_events": 0,
                "in_flight": 0,
                "peak_in_flight": 0,
            }
        self._release.set()

    def release(self) -> None:
        """Answer every hung post now (used when the server stops)."""
        self._release.set()

    def configure(self, settings: dict[str, Any]) -> dict[str, Any]:
        """Replace the behaviour; fields left out return to their defaults.
        `fail`: fail the next N posts (-1: until told otherwise) with `status` and, when
        `retry_after` is not None, a Retry-After header; `hang`: hold posts unanswered;
        `delay_ms`: answer every post this much later; `reject`: {event_id: reason} refused as
        invalid (400 naming them) whenever a batch holds one of them."""
        unknown = set(settings) - set(_DEFAULT_BEHAVIOUR)
        if unknown:
            raise CollectorError(f"unknown collector settings: {sorted(unknown)}")
        behaviour = {**_DEFAULT_BEHAVIOUR, **settings}
        for name in ("fail", "status", "delay_ms"):
            if not isinstance(behaviour[name], int) or isinstance(behaviour[name], bool):
                raise CollectorError(f"{name} must be an integer")
        if behaviour["fail"] < -1 or behaviour["delay_ms"] < 0:
            raise CollectorError("fail must be >= -1 and delay_ms >= 0")
        if not 400 <= behaviour["status"] <= 599:
            raise CollectorError("status must be an HTTP error status (400-599)")
        retry_after = behaviour["retry_after"]
        if retry_after is not None and (not isinstance(retry_after, (int, float)) or isinstance(retry_after, bool)):
            raise CollectorError("retry_after must be a number of seconds or null")
        reject = behaviour["reject"]
        if not isinstance(reject, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in reject.items()
        ):
            raise CollectorError("reject must map event ids to reasons (strings)")
        behaviour["reject"] = dict(reject)
        behaviour["hang"] = bool(behaviour["hang"])
        with self._lock:
            self._behaviour = behaviour
        if behaviour["hang"]:
            self._release.clear()
        else:
            self._release.set()
        return dict(behaviour)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "events": list(self._events),
                "counters": dict(self._counters),
                "posts": [dict(p) for p in self._posts],
                "behaviour": {**self._behaviour, "reject": dict(self._behaviour["reject"])},
            }

    def enter(self) -> None:
        """A post arrived: count it in flight (see `peak_in_flight`)."""
        with self._lock:
            self._counters["in_flight"] += 1
            self._counters["peak_in_flight"] = max(self._counters["peak_in_flight"], self._counters["in_flight"])

    def leave(self) -> None:
        with self._lock:
            self._counters["in_flight"] -= 1

    def wait_if_hung(self) -> bool:
        """Block while the collector hangs; True when this post was held."""
        with self._lock:
            hang = self._behaviour["hang"]
            if hang:
                self._counters["hung_posts"] += 1
        if hang:
            self._release.wait(HANG_LIMIT_S)
        return hang

    def delay_s(self) -> float:
        with self._lock:
            return self._behaviour["delay_ms"] / 1000.0

    def handle_post(self, raw: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Store one batch (or fail it as configured): (status, JSON body, headers)."""
        log: dict[str, Any] = {"headers": {k: headers[k] for k in _KEPT_HEADERS if k in headers}}
        with self._lock:
            self._counters["posts"] += 1
            self._posts.append(log)
            behaviour = self._behaviour
            if behaviour["fail"] != 0:
                if behaviour["fail"] > 0:
                    behaviour["fail"] -= 1
                self._counters["failed_posts"] += 1
                log.update(status=behaviour["status"], events=0)
                extra = {} if behaviour["retry_after"] is None else {"retry-after": _seconds(behaviour["retry_after"])}
                return behaviour["status"], {"error": "mock collector failure (injected)"}, extra
        try:
            batch = _decode_batch(raw, headers)
        except (ValueError, OSError, UnicodeDecodeError) as exc:
            with self._lock:
                log.update(status=400, events=0)
            return 400, {"error": f"bad batch: {exc}"}, {}
        with self._lock:
            reject = self._behaviour["reject"]
            refused = [
                {"event_id": e["event_id"], "reason": reject[e["event_id"]]}
                for e in batch
                if e.get("event_id") in reject
            ]
            if refused:
                self._counters["rejected_events"] += len(refused)
                log.update(status=400, events=0, rejected=len(refused))
                return 400, {"rejected": refused}, {}
            duplicates = 0
            for event in batch:
                event_id: str | None = event.get("event_id")
                if event_id is not None and event_id in self._seen:
                    duplicates += 1
                    continue
                if event_id is not None:
                    self._seen.add(event_id)
                self._events.append(event)
            accepted = len(batch) - duplicates
            self._counters["accepted_posts"] += 1
            self._counters["received_events"] += len(batch)
            self._counters["unique_events"] += accepted
            self._counters["duplicate_events"] += duplicates
            log.update(status=200, events=len(batch), duplicates=duplicates)
        return 200, {"accepted": accepted, "duplicates": duplicates}, {}


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
