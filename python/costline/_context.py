"""Attribution: `run(...)` frames and `with_agent(...)`, carried in a
contextvar so they follow asyncio tasks and threads started with
`contextvars.copy_context()`.

Nested runs share the outermost run's `run_id` and extend `agent_path`; tags
merge outer to inner, inner wins. Each frame keeps a running total of the cost
of the calls made inside it (nested calls included)."""

from __future__ import annotations

import functools
import inspect
import threading
from contextvars import ContextVar, Token
from decimal import Decimal
from typing import Any, Callable, Mapping, Optional, Tuple, TypeVar

from . import _native

_F = TypeVar("_F", bound=Callable[..., Any])


class _Frame:
    __slots__ = ("run", "run_id", "path", "tags", "cap_id")

    def __init__(
        self, run: Run, run_id: str, path: Tuple[str, ...], tags: Mapping[str, str], cap_id: Optional[str]
    ) -> None:
        self.run = run
        self.run_id = run_id
        self.path = path
        self.tags = tags
        # Set when the run has max_cost_usd: names its cap's counter in the core.
        self.cap_id = cap_id


_frames: ContextVar[Tuple[_Frame, ...]] = ContextVar("costline_frames", default=())


def current_frames() -> Tuple[_Frame, ...]:
    return _frames.get()


def new_run_id() -> str:
    return _native.new_id()


class Run:
    """A unit of work whose calls are attributed together.

    Use as a context manager (sync or async) or as a decorator::

        with costline.run("triage", tags={"customer": "acme"}) as r:
            ...
            print(r.run_id, r.cost_usd)
    """

    def __init__(
        self,
        agent: Optional[str] = None,
        *,
        run_id: Optional[str] = None,
        tags: Optional[Mapping[str, Any]] = None,
        max_cost_usd: Optional[Any] = None,
    ) -> None:
        if agent is not None and not isinstance(agent, str):
            raise TypeError(f"agent must be a string, not {type(agent).__name__}")
        self.agent = agent
        # A hard cap on the calls made inside this run (nested runs included).
        self.max_cost_usd: Optional[str] = None
        if max_cost_usd is not None:
            from ._budgets import _money

            self.max_cost_usd = _money("max_cost_usd", max_cost_usd)
        self._requested_run_id = run_id
        self.tags = {str(k): str(v) for k, v in (tags or {}).items()}
        self.run_id: Optional[str] = run_id
        self.agent_path: Tuple[str, ...] = ()
        self._lock = threading.Lock()
        self._cost = Decimal(0)
        self._calls = 0
        self._unpriced_calls = 0
        self._tokens: list[Token[Tuple[_Frame, ...]]] = []

    # -- totals ---------------------------------------------------------
    @property
    def cost_usd(self) -> Decimal:
        """Running total of the priced calls made inside this run."""
        with self._lock:
            return self._cost

    @property
    def calls(self) -> int:
        with self._lock:
            return self._calls

    @property
    def unpriced_calls(self) -> int:
        """Calls whose model had no price (not included in `cost_usd`)."""
        with self._lock:
            return self._unpriced_calls

    def _add(self, cost: Optional[Decimal]) -> None:
        with self._lock:
            self._calls += 1
            if cost is None:
                self._unpriced_calls += 1
            else:
                self._cost += cost

    # -- context management --------------------------------------------
    def _push(self) -> Run:
        parent = _frames.get()
        if parent:
            outer = parent[-1]
            run_id = self._requested_run_id or outer.run_id
            path = outer.path + ((self.agent,) if self.agent else ())
            tags = _native.merge_tags(outer.tags, self.tags) if self.tags else outer.tags
        else:
            run_id = self._requested_run_id or new_run_id()
            path = (self.agent,) if self.agent else ()
            tags = self.tags
        self.run_id = run_id
        self.agent_path = path
        cap_id = _native.new_id() if self.max_cost_usd is not None else None
        if cap_id is not None:
            _caps_enabled()
        self._tokens.append(_frames.set(parent + (_Frame(self, run_id, path, tags, cap_id),)))
        return self

    def _pop(self) -> None:
        frames = _frames.get()
        if frames and frames[-1].run is self and (frames[-1].cap_id is not None or len(frames) == 1):
            _forget(frames[-1], outermost=len(frames) == 1)
        token = self._tokens.pop()
        try:
            _frames.reset(token)
        except ValueError:
            # Exited in another context than it was entered in (e.g. a
            # generator finalised elsewhere): drop our frame from this one.
            _frames.set(tuple(f for f in _frames.get() if f.run is not self))

    def __enter__(self) -> Run:
        return self._push()

    def __exit__(self, *exc: Any) -> None:
        self._pop()

    async def __aenter__(self) -> Run:
        return self._push()

    async def __aexit__(self, *exc: Any) -> None:
        self._pop()

    def __call__(self, fn: _F) -> _F:
        """Decorate a function so each call runs in a fresh run like this one."""
        agent, run_id, tags, cap = self.agent, self._requested_run_id, self.tags, self.max_cost_usd

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                async with Run(agent, run_id=run_id, tags=tags, max_cost_usd=cap):
                    return await fn(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with Run(agent, run_id=run_id, tags=tags, max_cost_usd=cap):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"Run(agent={self.agent!r}, run_id={self.run_id!r}, cost_usd={self.cost_usd!r})"


def run(
    agent: Optional[str] = None,
    *,
    run_id: Optional[str] = None,
    tags: Optional[Mapping[str, Any]] = None,
    max_cost_usd: Optional[Any] = None,
) -> Run:
    """Start a run (or a nested sub-run): `with run("research"):`,
    `async with run(agent="synthesize", tags={...}):`, or `@run("triage")`.
    `max_cost_usd` ("0.50", a str, int or Decimal) caps what the calls inside
    may spend: a call whose worst case would pass it raises
    `BudgetExceededError` before it is sent."""
    return Run(agent, run_id=run_id, tags=tags, max_cost_usd=max_cost_usd)


def _caps_enabled() -> None:
    """A run cap needs the budget engine even when no budget is configured."""
    from . import _budgets

    if not _budgets.caps_seen:
        if not _budgets.active:
            # The engine must exist for the cap; without budgets it checks caps only.
            _native.configure_budgets()
        _budgets.caps_seen = True


def _forget(frame: _Frame, outermost: bool) -> None:
    """Drop a finished run's counters in the core (its cap, its run budgets)."""
    from . import _budgets

    if _budgets.active or _budgets.caps_seen:
        try:
            _native.budget_forget_run(frame.run_id if outermost else "", [frame.cap_id] if frame.cap_id else [])
        except Exception:  # noqa: BLE001 (bookkeeping only; never fail a run's exit)
            pass


def with_agent(name: str) -> Run:
    """Attribute the calls inside to agent `name`: outside any run it starts a
    run of its own, inside one it nests as a sub-agent."""
    if not isinstance(name, str) or not name:
        raise TypeError("with_agent() needs a non-empty agent name")
    return Run(name)


class Attribution:
    """What one call is attributed to, captured when the call starts."""

    __slots__ = ("run_id", "agent", "agent_path", "tags", "base_tags", "frames")

    def __init__(
        self,
        run_id: Optional[str],
        agent: Optional[str],
        agent_path: list[str],
        tags: Mapping[str, str],
        base_tags: Mapping[str, str],
        frames: Tuple[_Frame, ...],
    ) -> None:
        self.run_id = run_id
        self.agent = agent
        self.agent_path = agent_path
        # The run frames' tags (they win) and the client's (beneath them); the
        # core merges them over the process tags.
        self.tags = tags
        self.base_tags = base_tags
        self.frames = frames

    def settle(self, cost: Optional[str]) -> None:
        """Add a recorded call's cost to every enclosing run's total."""
        if not self.frames:
            return
        value = Decimal(cost) if cost is not None else None
        for frame in self.frames:
            frame.run._add(value)


_NO_TAGS: Mapping[str, str] = {}


def capture(client_agent: Optional[str], client_tags: Mapping[str, str]) -> Attribution:
    """Attribution for a call made now by a client with these options."""
    frames = _frames.get()
    if frames:
        inner = frames[-1]
        path = inner.path + (client_agent,) if client_agent else inner.path
        return Attribution(inner.run_id, path[-1] if path else None, list(path), inner.tags, client_tags, frames)
    if client_agent:
        # A per-call agent outside any run is a run of its own.
        return Attribution(new_run_id(), client_agent, [client_agent], _NO_TAGS, client_tags, ())
    return Attribution(None, None, [], _NO_TAGS, client_tags, ())
