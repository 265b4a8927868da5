"""The drop-in mechanism shared by every provider: a mixin that overrides the
SDK client's single request path (`request()`), through which every resource,
every `with_raw_response` / `with_streaming_response` variant and every stream
passes. What differs per provider lives in an `Adapter`."""

from __future__ import annotations

import inspect
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from . import _budgets, _fallback, _native
from ._budgets import BudgetExceededError
from ._call import Call
from ._context import capture
from ._raw import filter_usage_chunk, meter_raw_body
from ._runtime import guarded, is_disabled, report
from ._streams import Observer, attach_async, attach_sync

# The header the SDKs set on `with_raw_response` ("raw") and
# `with_streaming_response` ("stream") requests.
_RAW_RESPONSE_HEADER = "X-Stainless-Raw-Response"


class ClientOptions:
    """The `costline={...}` options of one client."""

    __slots__ = ("tags", "agent", "stream_usage", "provider", "fallback")
    KEYS = ("tags", "agent", "stream_usage", "provider", "fallback")

    def __init__(
        self,
        tags: Mapping[str, str],
        agent: Optional[str],
        stream_usage: bool,
        provider: Optional[str] = None,
        fallback: Optional[_fallback.Chain] = None,
    ) -> None:
        self.tags = tags
        self.agent = agent
        self.stream_usage = stream_usage
        # The provider recorded (and priced under), when the caller names it;
        # else the adapter's, or the one the client's host implies.
        self.provider = provider
        # Targets tried when a call fails with a retryable error (`_fallback`).
        self.fallback = fallback

    @classmethod
    def parse(cls, value: Optional[Mapping[str, Any]]) -> ClientOptions:
        if value is None:
            return DEFAULT_OPTIONS
        if not isinstance(value, Mapping):
            raise TypeError("costline= takes a dict of options, e.g. costline={'tags': {...}}")
        unknown = sorted(set(value) - set(cls.KEYS))
        if unknown:
            raise ValueError(f"unknown costline option(s) {unknown}; this version supports {list(cls.KEYS)}")
        tags = {str(k): str(v) for k, v in (value.get("tags") or {}).items()}
        agent = value.get("agent")
        if agent is not None and not isinstance(agent, str):
            raise TypeError("costline={'agent': ...} must be a string")
        provider = value.get("provider")
        if provider is not None and (not isinstance(provider, str) or not provider):
            raise TypeError("costline={'provider': ...} must be a non-empty string")
        fallback = _fallback.parse_chain(value.get("fallback"))
        return cls(tags, agent, bool(value.get("stream_usage", True)), provider, fallback)

    def with_agent(self, agent: str) -> ClientOptions:
        return ClientOptions(self.tags, agent, self.stream_usage, self.provider, self.fallback)


DEFAULT_OPTIONS = ClientOptions({}, None, True)


class Adapter:
    """What one provider does differently: where the model and usage live,
    how its streams look, which raw-response classes it has."""

    provider: str = ""
    stream_classes: Tuple[type, ...] = ()
    # The SDK's response model base: a parsed, non-stream response.
    model_classes: Tuple[type, ...] = ()

    def prepare(self, operation: str, options: Any, stream: bool, opts: ClientOptions) -> Tuple[Any, bool]:
        """Adjust the request options before sending; returns (options,
        hide_usage_chunk)."""
        return options, False

    def response_usage(self, operation: str, obj: Any) -> Tuple[Optional[list], Optional[str]]:
        """(usage parts, resolved model) of a parsed non-stream response."""
        raise NotImplementedError

    def observer(self, operation: str, hide_usage: bool) -> Observer:
        raise NotImplementedError

    def client_provider(self, client: Any) -> str:
        """The provider a client's calls are recorded under when its options
        name none (the OpenAI adapter reads the client's host)."""
        return self.provider

    def response_texts(self, operation: str, obj: Any) -> List[str]:
        """The output text of a parsed response, for an estimate when it
        carried no usage (rare: only then is this read)."""
        return []


def agent_client(client: Any, name: str, build: Callable[[str], Any]) -> Any:
    """What every drop-in's `with_agent(name)` shares: the name checked, and
    one client per agent name, made once by `build(name)` and kept on `client`."""
    if not isinstance(name, str) or not name:
        raise TypeError("with_agent() needs a non-empty agent name")
    cache: Dict[str, Any] = client.__dict__.setdefault("_costline_agents", {})
    found = cache.get(name)
    if found is None:
        found = cache[name] = build(name)
    return found


_operations: Dict[Tuple[str, str], Optional[str]] = {}


def _operation(provider: str, url: str) -> Optional[str]:
    key = (provider, url)
    try:
        return _operations[key]
    except KeyError:
        op = _native.operation_for_path(provider, url)
        if len(_operations) < 1024:
            _operations[key] = op
        return op


class _Started:
    __slots__ = ("call", "options", "hide", "adapter", "raw_stream", "reserve_later")

    def __init__(self, call: Call, options: Any, hide: bool, adapter: Adapter, raw_stream: bool) -> None:
        self.call = call
        self.options = options
        self.hide = hide
        self.adapter = adapter
        # `with_streaming_response`: the caller may read the body as bytes.
        self.raw_stream = raw_stream
        # The reservation is left to the caller's coroutine (`_budgets.reserve_async`).
        self.reserve_later = False


def _start(client: Any, options: Any, stream: bool, in_loop: bool = False) -> Optional[_Started]:
    """The call about to be sent, metered; None when it is not one costline meters.
    `in_loop`: an event loop's call, whose reservation, if the store may wait long,
    is left to its coroutine (`reserve_later`) so that the loop keeps running."""
    if is_disabled():
        return None
    adapter: Adapter = client._costline_adapter
    url = getattr(options, "url", "") or ""
    operation = _operation(adapter.provider, url)
    if operation is None:
        return None
    opts: ClientOptions = getattr(client, "_costline", DEFAULT_OPTIONS)
    body = getattr(options, "json_data", None)
    body = body if isinstance(body, Mapping) else None
    model = body.get("model") if body is not None else None
    headers = getattr(options, "headers", None)
    raw_stream = isinstance(headers, Mapping) and headers.get(_RAW_RESPONSE_HEADER) == "stream"
    if raw_stream:
        # The caller may read the body's bytes: send exactly what it asked for
        # (no hidden usage chunk); usage then comes from the bytes or an estimate.
        hide = False
    else:
        options, hide = adapter.prepare(operation, options, stream, opts)
    call = Call(
        opts.provider or adapter.client_provider(client),
        operation,
        model if isinstance(model, str) and model else "unknown",
        capture(opts.agent, opts.tags),
        stream,
        body,
    )
    started = _Started(call, options, hide, adapter, raw_stream)
    if _budgets.active or _budgets.caps_seen:
        if in_loop and _budgets.reserve_off_loop():
            started.reserve_later = True
        else:
            # Raises BudgetExceededError (nothing is sent) when a cap would pass.
            call.reservation = _budgets.reserve(call, body)
    return started


def _observe(started: _Started, result: Any) -> None:
    """Meter whatever the SDK's request() returned, in place."""
    adapter = started.adapter
    if isinstance(result, adapter.model_classes):
        # The common case first; probing a pydantic model for attributes it
        # lacks (`parse`) costs microseconds through its __getattr__.
        call = started.call
        parts, resolved = adapter.response_usage(call.operation, result)
        if parts:
            call.finish(parts, resolved)
        else:
            call.finish(None, resolved, output_texts=adapter.response_texts(call.operation, result))
        return
    if isinstance(result, adapter.stream_classes):
        _attach(started, result)
        return
    parse = getattr(result, "parse", None)
    if parse is not None and hasattr(result, "http_response"):
        _observe_raw_response(started, result, parse)
        return
    _finish_parsed(started, result)


def _finish_parsed(started: _Started, parsed: Any) -> None:
    """Record a parsed non-stream response. One without usage (some
    compatible servers) is estimated from the request and its output text,
    never recorded as a provider-reported $0."""
    adapter, call = started.adapter, started.call
    parts, resolved = adapter.response_usage(call.operation, parsed)
    if parts:
        call.finish(parts, resolved)
    else:
        call.finish(None, resolved, output_texts=adapter.response_texts(call.operation, parsed))


def _attach(started: _Started, stream: Any) -> None:
    observer = started.adapter.observer(started.call.operation, started.hide)
    usage_filter = None
    if started.hide:
        response = getattr(stream, "response", None)
        if response is not None:
            usage_filter = filter_usage_chunk(response)
    if hasattr(stream, "__aiter__"):
        attach_async(stream, started.call, observer, usage_filter)
    else:
        attach_sync(stream, started.call, observer, usage_filter)


def _observe_raw_response(started: _Started, raw: Any, parse: Any) -> None:
    """`with_raw_response` / `with_streaming_response`: the caller gets the
    SDK's response wrapper; we meter what its `parse()` yields. A non-stream
    body that is already read is parsed now (the SDK caches the result, so
    the caller's own `parse()` returns the very same object)."""

    def meter(parsed: Any) -> None:
        if isinstance(parsed, started.adapter.stream_classes):
            _attach(started, parsed)
        else:
            _finish_parsed(started, parsed)

    if started.raw_stream:
        # Read as bytes or lines and never parsed: meter the bytes themselves.
        guarded("metering a raw response", meter_raw_body, raw.http_response, started.call)

    if inspect.iscoroutinefunction(parse):

        async def parse_async(*args: Any, **kwargs: Any) -> Any:
            parsed = await parse(*args, **kwargs)
            if not args and not kwargs:
                guarded("metering a raw response", meter, parsed)
            return parsed

        raw.parse = parse_async
        return

    def parse_sync(*args: Any, **kwargs: Any) -> Any:
        parsed = parse(*args, **kwargs)
        if not args and not kwargs:
            guarded("metering a raw response", meter, parsed)
        return parsed

    raw.parse = parse_sync
    http = raw.http_response
    if not getattr(raw, "_stream", False) and getattr(http, "is_closed", False):
        parse_sync()


def install(cls: type, adapter: Adapter, *, is_async: bool) -> type:
    """Make `cls` (a direct subclass of an SDK client class) a metered client:
    its `request()` meters every call; `costline=` options, `copy()` /
    `with_options()` and `with_agent()` carry the options along.

    The methods are installed on a plain subclass rather than mixed in from a
    second base, so that `instrument()` can switch an existing client's
    `__class__` (CPython refuses that when a mixin comes first in the bases)."""
    base = cls.__mro__[1]
    base_init = base.__init__
    base_copy = base.copy
    base_request = base.request

    def __init__(self: Any, *args: Any, costline: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> None:
        base_init(self, *args, **kwargs)
        self._costline = ClientOptions.parse(costline)
        _native.prewarm()

    def copy(self: Any, *args: Any, **kwargs: Any) -> Any:
        new = base_copy(self, *args, **kwargs)
        new._costline = self._costline
        return new

    def with_agent(self: Any, name: str) -> Any:
        """This client with its calls attributed to agent `name` (a sub-agent
        of the current run, or a run of its own outside any)."""

        def build(agent: str) -> Any:
            client = self.copy()
            client._costline = self._costline.with_agent(agent)
            return client

        return agent_client(self, name, build)

    if is_async:

        async def request(self: Any, cast_to: Any, options: Any, *args: Any, **kwargs: Any) -> Any:
            # The try/excepts are inline, not `guarded()`: this runs on every call.
            try:
                started = _start(self, options, bool(kwargs.get("stream", False)), in_loop=True)
                if started is not None and started.reserve_later:
                    call = started.call
                    call.reservation = await _budgets.reserve_async(call, call.request)
            except BudgetExceededError:
                raise
            except Exception as exc:
                report("starting a call", exc)
                started = None
            if started is None:
                return await base_request(self, cast_to, options, *args, **kwargs)
            try:
                result = await base_request(self, cast_to, started.options, *args, **kwargs)
            except Exception as exc:
                chain = self._costline.fallback
                if chain is None or not _fallback.translatable(started.adapter.provider, started.call.operation):
                    started.call.finish(None, None, exc)
                    raise
                return await _fallback.run_async(started, exc, cast_to, bool(kwargs.get("stream", False)), chain)
            except BaseException as exc:
                started.call.finish(None, None, exc)
                raise
            try:
                _observe(started, result)
            except Exception as exc:
                report("metering a response", exc)
            return result

    else:

        def request(self: Any, cast_to: Any, options: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
            # The try/excepts are inline, not `guarded()`: this runs on every call.
            try:
                started = _start(self, options, bool(kwargs.get("stream", False)))
            except BudgetExceededError:
                raise
            except Exception as exc:
                report("starting a call", exc)
                started = None
            if started is None:
                return base_request(self, cast_to, options, *args, **kwargs)
            try:
                result = base_request(self, cast_to, started.options, *args, **kwargs)
            except Exception as exc:
                chain = self._costline.fallback
                if chain is None or not _fallback.translatable(started.adapter.provider, started.call.operation):
                    started.call.finish(None, None, exc)
                    raise
                return _fallback.run_sync(started, exc, cast_to, bool(kwargs.get("stream", False)), chain)
            except BaseException as exc:
                started.call.finish(None, None, exc)
                raise
            try:
                _observe(started, result)
            except Exception as exc:
                report("metering a response", exc)
            return result

    for fn in (__init__, copy, with_agent, request):
        fn.__qualname__ = f"{cls.__qualname__}.{fn.__name__}"
        setattr(cls, fn.__name__, fn)
    cls.with_options = copy  # type: ignore[attr-defined]
    cls._costline_adapter = adapter  # type: ignore[attr-defined]
    cls._costline = DEFAULT_OPTIONS  # type: ignore[attr-defined]
    cls._costline_metered = True  # type: ignore[attr-defined]
    return cls


def is_metered(cls: type) -> bool:
    """True for costline's classes and any subclass of them (never meter twice)."""
    return bool(getattr(cls, "_costline_metered", False))


def metered_class(base: type, adapter: Adapter, is_async: bool, cache: Dict[type, type]) -> type:
    """A metered subclass of an SDK client class (for `instrument()` on
    clients of classes costline has no drop-in for), made once per class."""
    cls = cache.get(base)
    if cls is None:
        cls = install(
            type(base.__name__, (base,), {"__module__": base.__module__, "__qualname__": base.__qualname__}),
            adapter,
            is_async=is_async,
        )
        cache[base] = cls
    return cls
