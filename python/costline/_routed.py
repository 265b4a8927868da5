"""The routed client's plan for one call (issue 11), shared by `Costline` and
`AsyncCostline` (`_routed_client.py`): which model serves it (the core's `decide`, or
the user's router), the next candidate when an attempt fails, each attempt's translated
request and its metered `Call`, and what the response carries as `r.costline`.

The decision, the translation and the fallback policy are the core's; this module only
asks them in order. Sending is the client's (sync or async)."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from . import _budgets, _fallback, _native
from ._call import Call
from ._context import capture
from ._fallback import FallbackDeadlineError, FallbackUnsupportedError, Target, failure_of
from ._runtime import guarded, is_disabled

CostlineError = _native.CostlineError
RoutingError = _native.RoutingError

PROVIDERS = ("openai", "anthropic", "google", "mistral", "bedrock")
_ALIASES = {"gemini": "google"}
_ROUTING_KEYS = ("prefer", "max_cost_usd", "min_confidence", "models", "latencies_ms")
# SDK request options (not body fields): passed to OpenAI and Anthropic targets only.
_SDK_OPTIONS = ("extra_headers", "extra_query", "extra_body")
_POLICY_KEYS = ("retry_on", "attempt_timeout_s", "deadline_s")
# `prefer: lowest_latency` without caller latencies reads the ledger's last week.
LATENCY_WINDOW_S = 7 * 24 * 3600.0
LATENCY_CALLS_PER_MODEL = 100
LATENCY_REFRESH_S = 30.0


class RoutingInfo:
    """`response.costline`: who served the call, what it cost, and why that model.
    Beside the response's fields, never among them (`model_dump()` is the SDK's)."""

    __slots__ = (
        "routed_to",
        "provider",
        "cost_usd",
        "estimated_cost_usd",
        "confidence",
        "reason",
        "attempts",
        "call_id",
        "decision",
    )

    def __init__(self, **fields: Any) -> None:
        for name in self.__slots__:
            setattr(self, name, fields.get(name))

    def __repr__(self) -> str:
        shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__ if n != "decision")
        return f"RoutingInfo({shown})"


def routing_error(code: str, message: str, details: Optional[Dict[str, Any]] = None) -> Exception:
    err = RoutingError(message)
    err.code = code
    err.details = details or {}
    return err


class Config:
    """What `Costline(...)` was given, checked once."""

    __slots__ = (
        "providers",
        "candidates",
        "models",
        "scores",
        "router",
        "policy",
        "tags",
        "agent",
        "level_scores",
        "_latencies",
    )

    def __init__(
        self,
        providers: Mapping[str, Any],
        models: Optional[Sequence[Any]],
        scores: Optional[Mapping[str, float]],
        router: Optional[Callable[..., Any]],
        fallback: Any,
        tags: Optional[Mapping[str, str]],
        agent: Optional[str],
        level_scores: Optional[Sequence[float]],
        is_async: bool = False,
    ) -> None:
        if not isinstance(providers, Mapping) or not providers:
            raise TypeError(
                "Costline(providers=...) takes a dict of provider name to client, e.g. {'openai': OpenAI()}"
            )
        self.providers: Dict[str, Any] = {}
        for name, client in providers.items():
            key = _ALIASES.get(name, name)
            if key not in PROVIDERS:
                raise ValueError(f"unknown provider {name!r}: one of {list(PROVIDERS)} (or 'gemini')")
            if client is None:
                raise TypeError(f"providers[{name!r}] is None: give the provider's client")
            if not is_async and type(client).__name__.startswith("Async"):
                # Its create() would return a coroutine nobody awaits.
                raise TypeError(f"providers[{name!r}] is an async client: use AsyncCostline, or a sync client")
            self.providers[key] = client
        # `models`: names pin the pool; dicts ({"model", "provider", "quality", "latency_ms"}) are candidates.
        self.candidates: List[Dict[str, Any]] = []
        self.models: Optional[List[str]] = None
        for m in models or ():
            if isinstance(m, str):
                self.models = (self.models or []) + [m]
            elif isinstance(m, Mapping) and isinstance(m.get("model"), str):
                spec = dict(m)
                if "provider" in spec:
                    spec["provider"] = _ALIASES.get(spec["provider"], spec["provider"])
                self.candidates.append(spec)
            else:
                raise TypeError("models= takes model names or {'model': ..., 'provider': ..., 'quality': ...} dicts")
        self.scores = {str(k): float(v) for k, v in (scores or {}).items()}
        if router is not None and not callable(router):
            raise TypeError("router= takes a callable (summary, candidates) -> model name or None")
        self.router = router
        self.policy = _policy(fallback)
        self.tags = {str(k): str(v) for k, v in (tags or {}).items()}
        if agent is not None and not isinstance(agent, str):
            raise TypeError("agent= must be a string")
        self.agent = agent
        self.level_scores = list(level_scores) if level_scores is not None else None
        self._latencies: Tuple[float, Dict[str, int]] = (0.0, {})

    def ledger_latencies(self) -> Dict[str, int]:
        """Each model's p50 latency in the ledger, read at most every
        LATENCY_REFRESH_S seconds per client (a read per call would cost a query on the
        hot path) and without waiting for events still queued."""
        expires, found = self._latencies
        now = time.monotonic()
        if now >= expires:
            found = (
                guarded(
                    "reading latencies from the ledger",
                    _native.p50_latencies,
                    LATENCY_WINDOW_S,
                    LATENCY_CALLS_PER_MODEL,
                    0.0,
                )
                or {}
            )
            self._latencies = (now + LATENCY_REFRESH_S, found)
        return found


def _policy(fallback: Any) -> Optional[Dict[str, Any]]:
    """`fallback=True` (the core's default policy), False (one attempt) or the policy's
    options: {"retry_on", "attempt_timeout_s", "deadline_s"}."""
    if fallback is True:
        return {}
    if fallback is False or fallback is None:
        return None
    if isinstance(fallback, Mapping):
        unknown = sorted(set(fallback) - set(_POLICY_KEYS))
        if unknown:
            raise ValueError(f"unknown fallback option(s) {unknown}; this version supports {list(_POLICY_KEYS)}")
        policy = dict(fallback)
        _native.check_fallback_options(policy)
        return policy
    raise TypeError("fallback= takes True, False or a dict of policy options")


def _money(value: Any) -> Any:
    return Decimal(value) if isinstance(value, str) else value


def decide(route_input: Any) -> Dict[str, Any]:
    """The core's decision for a routing input (a dict or JSON text, as
    `tests/vectors/routing/decisions.json`): the pick (`model`, `provider`), `reason`,
    `confidence`, `difficulty`, `required_level` and the `candidates` table, with money
    as `Decimal`. Raises `RoutingError` (`code`, `details`) when nothing can be picked."""
    return _decimals(_native.decide(route_input))


def _decimals(decision: Dict[str, Any]) -> Dict[str, Any]:
    """A decision (or `{"candidates": rows}`) from the core with its money as Decimal."""
    if "cost_usd" in decision:
        decision["cost_usd"] = _money(decision["cost_usd"])
    for row in decision.get("candidates", ()):
        row["cost_usd"] = _money(row.get("cost_usd"))
    return decision


class Plan:
    """One call through the routed client: parsed once, then asked for attempts."""

    def __init__(self, config: Config, kwargs: Dict[str, Any]) -> None:
        self.config = config
        body = dict(kwargs)
        routing = body.pop("routing", None) or {}
        metadata = body.pop("metadata", None) or {}
        if not isinstance(routing, Mapping) or not isinstance(metadata, Mapping):
            raise TypeError("routing= and metadata= take dicts")
        unknown = sorted(set(routing) - set(_ROUTING_KEYS))
        if unknown:
            raise ValueError(f"unknown routing option(s) {unknown}; this version supports {list(_ROUTING_KEYS)}")
        self.routing = routing
        self.sdk_options = {k: body.pop(k) for k in _SDK_OPTIONS if body.get(k) is not None}
        self.timeout = body.pop("timeout", None)
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise TypeError("create() needs model='auto' or a model name")
        if not isinstance(body.get("messages"), list):
            raise TypeError("create() needs messages=[...] (OpenAI chat messages)")
        self.body = body
        self.stream = bool(body.get("stream"))
        options = body.get("stream_options")
        self.include_usage = bool(isinstance(options, Mapping) and options.get("include_usage"))
        self.routed = model == "auto"
        # Metadata is the caller's bookkeeping: event tags, never sent to a provider. It is
        # this call's own, so it wins over the run's tags and the client's.
        self.attribution = a = capture(config.agent, config.tags)
        if metadata:
            a.tags = {**a.tags, **{str(k): str(v) for k, v in metadata.items() if v is not None}}
        self.metered = not is_disabled()
        self.last: Optional[BaseException] = None
        # The walk over candidates (the next one after a failure, a router's pick checked,
        # attempt numbers, the deadline, r.costline's reason) is the core's.
        self.decision: Optional[Dict[str, Any]] = None
        if self.routed:
            # Raises RoutingError before anything is sent (e.g. every candidate over max_cost_usd).
            self.walk = _native.RoutedWalk(self._route_input(None), config.policy)
            self.decision = _decimals(self.walk.decision)
        else:
            provider = self._provider_of(model)  # may strip a "provider/" prefix
            self.walk = _native.RoutedWalk(self._route_input(None), config.policy, provider, self.body["model"])

    # -- the decision ------------------------------------------------------------------

    def _route_input(self, models: Optional[List[str]]) -> Dict[str, Any]:
        c, r = self.config, self.routing
        request = {k: v for k, v in self.body.items() if k != "stream_options"}
        out: Dict[str, Any] = {"request": request, "providers": list(c.providers)}
        if r.get("prefer") is not None:
            out["prefer"] = r["prefer"]
        if r.get("max_cost_usd") is not None:
            max_cost = r["max_cost_usd"]
            if isinstance(max_cost, float):
                raise TypeError("routing max_cost_usd takes a Decimal or a decimal string, not a float")
            out["max_cost_usd"] = str(max_cost)
        if r.get("min_confidence") is not None:
            out["min_confidence"] = float(r["min_confidence"])
        if c.candidates:
            out["candidates"] = c.candidates
        pinned = r.get("models") if r.get("models") is not None else c.models
        if models is not None:
            out["models"] = models
        elif pinned is not None:
            out["models"] = list(pinned)
        if c.scores:
            out["scores"] = c.scores
        if c.level_scores is not None:
            out["level_scores"] = c.level_scores
        latencies = r.get("latencies_ms")
        if latencies is None and out.get("prefer") == "lowest_latency":
            # The ledger fills in candidates given without a latency; the caller's own win.
            given = {d.get("model") for d in c.candidates or () if d.get("latency_ms") is not None}
            latencies = {m: ms for m, ms in c.ledger_latencies().items() if m not in given}
        if latencies:
            out["latencies_ms"] = dict(latencies)
        return out

    def _by_router(self, decision: Dict[str, Any]) -> Tuple[str, str, Dict[str, Any]]:
        """The user's router's pick for a fresh decision (the core checks it: a priced
        candidate not tried yet, within max_cost_usd); None from the router keeps the core's."""
        rows = _decimals({"candidates": self.walk.router_rows()})["candidates"]
        chosen = self.config.router(self._summary(decision), rows)  # type: ignore[misc]
        if chosen is None:
            return decision["provider"], decision["model"], decision
        provider, model, picked = self.walk.choose(chosen)
        return provider, model, _decimals(picked)

    def _summary(self, decision: Dict[str, Any]) -> Dict[str, Any]:
        """What a user's router is told about the request (never its content)."""
        rows = decision.get("candidates") or [{}]
        body = self.body
        return {
            "prefer": decision.get("prefer"),
            "level": decision["difficulty"]["level"],
            "required_level": decision["required_level"],
            "confidence": decision["confidence"],
            "signals": decision["difficulty"].get("signals"),
            "prompt_tokens": rows[0].get("prompt_tokens"),
            "max_tokens": body.get("max_completion_tokens") or body.get("max_tokens"),
            "messages": len(body.get("messages") or ()),
            "tools": bool(body.get("tools") or body.get("functions")),
            "response_format": (body.get("response_format") or {}).get("type"),
            "stream": self.stream,
            "max_cost_usd": self.routing.get("max_cost_usd"),
            "tags": {**self.attribution.base_tags, **self.attribution.tags},
            "pick": decision["model"],
        }

    def _provider_of(self, model: str) -> str:
        """The provider whose client serves a model named by the caller: a "provider/"
        prefix, the caller's candidates, else the quality table's or the catalog's
        provider (as the core's pool infers it), else the only client given."""
        providers = self.config.providers
        head, _, rest = model.partition("/")
        if rest and head in providers:
            self.body["model"] = rest
            return head
        for spec in self.config.candidates:
            if spec["model"] == model and spec.get("provider") in providers:
                return spec["provider"]
        try:
            found = _native.decide(
                {"request": {"messages": []}, "models": [model], "providers": list(providers), "prefer": "lowest_cost"}
            )
            return found["provider"]
        except RoutingError:
            pass
        if len(providers) == 1:
            return next(iter(providers))
        raise routing_error(
            "unknown_model",
            f"no provider client given serves {model!r}; name it as 'provider/{model}'",
            {"model": model, "providers": list(providers)},
        )

    # -- attempts ----------------------------------------------------------------------

    def next_attempt(
        self, reserve: bool = True
    ) -> Optional[Tuple[Target, Dict[str, Any], Call, Optional[float], Dict[str, Any]]]:
        """The next attempt: its target, translated request, metered Call, timeout and
        the decision behind it; None when no candidate is left (raise `failure()`).
        `reserve=False`: the caller reserves the attempt's worst case itself (an async
        caller, off its loop)."""
        walk = self.walk
        while True:
            pick = walk.next()
            if pick is None:
                return None
            provider, model, decision = pick
            if decision is not None:
                decision = _decimals(decision)
                if self.config.router is not None:
                    provider, model, decision = self._by_router(decision)
            target = Target(provider, self.config.providers[provider], model)
            try:
                request = _native.translate("request", "openai", provider, self.body, {"model": model})
            except FallbackUnsupportedError as exc:
                # This candidate cannot express the request; another may.
                self.last = exc
                if not walk.unsupported():
                    raise
                continue
            try:
                number, timeout = walk.begin_attempt()
            except FallbackDeadlineError as deadline:
                raise deadline from self.last
            if timeout is None and self.timeout is not None:
                timeout = float(self.timeout)
            if provider == "openai" and self.stream:
                # The routed client meters the stream: ask for the usage chunk (hidden
                # from the caller unless asked for).
                request["stream_options"] = {**(request.get("stream_options") or {}), "include_usage": True}
            if provider in ("openai", "anthropic"):
                request.update(self.sdk_options)
            operation = _fallback._TARGET_OPERATIONS[provider]
            call = Call(provider, operation, model, self.attribution, self.stream, request)
            call.call_id, call.attempt, call.want_cost = walk.call_id, number, True
            if not self.metered:
                call.done = True  # COSTLINE_DISABLED: route, never record
            elif reserve and (_budgets.active or _budgets.caps_seen):
                # Raises BudgetExceededError (recorded as blocked); nothing is sent.
                call.reservation = _budgets.reserve(call, request)
            return target, request, call, timeout, decision or {}

    def failed(self, call: Call, exc: BaseException) -> None:
        call.finish(None, None, exc)
        self.last = exc
        self.walk.failed(*failure_of(exc))

    def failure(self) -> BaseException:
        """What to raise when no attempt served: a call the caller named a model for
        raises the provider's own error; a routed call a `CostlineError` carrying the
        provider's status and request id (its cause is the provider's error)."""
        last = self.last
        if last is None:  # pragma: no cover (a plan always has a first candidate)
            return routing_error("no_candidates", "no candidate model to route to")
        if not self.routed or isinstance(last, CostlineError):
            return last
        _, status = failure_of(last)
        message, details = self.walk.failure(type(last).__name__, str(last), status)
        err = CostlineError(message)
        err.code = "provider_error"
        err.request_id = request_id_of(last)
        err.details = details
        err.__cause__ = last
        return err

    def info(self, target: Target, call: Call, decision: Dict[str, Any]) -> RoutingInfo:
        cost = call.cost
        fields = self.walk.info()
        fields["cost_usd"] = Decimal(cost) if cost is not None else None
        fields["estimated_cost_usd"] = _money(fields.get("estimated_cost_usd"))
        return RoutingInfo(**fields, decision=decision or None)

    def route(self) -> Dict[str, Any]:
        """The decision without sending anything (`client.route(...)`)."""
        return self.decision if self.decision is not None else decide(self._route_input(None))


def request_id_of(exc: BaseException) -> Optional[str]:
    """The provider's request id on an SDK error, when it carries one."""
    found = getattr(exc, "request_id", None)
    if isinstance(found, str) and found:
        return found
    response = getattr(exc, "response", None)
    if isinstance(response, dict):  # botocore ClientError
        meta = response.get("ResponseMetadata") or {}
        return meta.get("RequestId") or (meta.get("HTTPHeaders") or {}).get("x-amzn-requestid")
    for holder in (response, getattr(exc, "raw_response", None)):
        headers = getattr(holder, "headers", None)
        if headers is not None:
            for name in ("x-request-id", "request-id", "x-amzn-requestid"):
                value = headers.get(name)
                if value:
                    return str(value)
    return None
