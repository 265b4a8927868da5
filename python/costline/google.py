"""Drop-in Gemini client: `from costline.google import Client`.

The `google-genai` SDK sends every call of every module (`models`, `caches`,
`batches`..., sync and `client.aio`) through four methods of the client's one
`BaseApiClient`: `request`, `request_streamed`, `async_request` and
`async_request_streamed`, each given the API path (`models/{model}:{method}`)
and returning the raw response body as text. costline meters those four, on the
client's own API client object: the modules, response objects, chunks and
errors are the SDK's own. Usage comes from the body (`usageMetadata`) through
the core's `BodyScanner`; a stream's from its last chunk (a stream closed early
or failed is estimated: its running counts lack the output). `count_tokens`
and other unbilled paths pass through."""

from __future__ import annotations

import copy as _copy
from typing import Any, AsyncIterator, Dict, Iterator, Mapping, Optional

from google import genai as _genai

from . import _budgets, _fallback_sources, _native
from ._budgets import BudgetExceededError
from ._call import Call
from ._context import capture
from ._hook import DEFAULT_OPTIONS, ClientOptions, agent_client
from ._runtime import guarded, is_disabled, report

__all__ = ["Client"]

PROVIDER = "google"
_METHODS = ("request", "request_streamed", "async_request", "async_request_streamed")


class _Meter:
    """The metering of one API client: its options and its unwrapped methods."""

    def __init__(self, api: Any, options: ClientOptions) -> None:
        self.options = options
        cls = type(api)
        self.originals = {name: getattr(cls, name).__get__(api, cls) for name in _METHODS}

    def start(self, path: Any, request_dict: Any, stream: bool, reserve: bool = True) -> Optional[Call]:
        if is_disabled() or not isinstance(path, str):
            return None
        operation = _native.operation_for_path(PROVIDER, path)
        if operation is None:
            return None
        opts = self.options
        model = _native.model_for_path(PROVIDER, path) or "unknown"
        body = request_dict if isinstance(request_dict, Mapping) else None
        call = Call(opts.provider or PROVIDER, operation, model, capture(opts.agent, opts.tags), stream, body)
        if reserve and (_budgets.active or _budgets.caps_seen):
            # Raises BudgetExceededError (the blocked call is recorded) when a cap would pass.
            call.reservation = _budgets.reserve(call, body)
        return call


def _finish_body(call: Call, body: Any) -> None:
    scanner = _native.BodyScanner(call.provider, False)
    scanner.feed(body.encode("utf-8") if isinstance(body, str) else bytes(body or b""))
    parts, resolved, text = scanner.finish()
    call.finish(parts or None, resolved, None, [text])


class _StreamTally:
    """Each chunk's body fed to one event-stream scanner as a `data:` line."""

    __slots__ = ("call", "scanner")

    def __init__(self, call: Call) -> None:
        self.call = call
        self.scanner = _native.BodyScanner(call.provider, True)

    def feed(self, response: Any) -> None:
        body = getattr(response, "body", None)
        if isinstance(body, str):
            self.scanner.feed(b"data: " + body.encode("utf-8") + b"\n")

    def end(self, error: Optional[BaseException], completed: bool) -> None:
        if self.call.done:
            return
        parts, resolved, text = self.scanner.finish()
        # A stream that did not complete carries only running counts (the
        # output so far is not in them): estimate from the request and the
        # text that arrived, labelled as such.
        self.call.finish(parts if completed and parts else None, resolved, error, [text])


def _start(meter: _Meter, path: Any, request_dict: Any, stream: bool) -> Optional[Call]:
    try:
        return meter.start(path, request_dict, stream)
    except BudgetExceededError:
        raise  # a budget cap refuses the call: nothing is sent
    except Exception as exc:
        report("starting a call", exc)
        return None


async def _start_async(meter: _Meter, path: Any, request_dict: Any, stream: bool) -> Optional[Call]:
    """`_start` for `client.aio`: a reservation that may wait long (the ledger or
    Redis, slow or failing) is made on the loop's executor; the loop keeps running."""
    later = _budgets.reserve_off_loop()
    try:
        call = meter.start(path, request_dict, stream, reserve=not later)
        if call is not None and later:
            call.reservation = await _budgets.reserve_async(call, call.request)
        return call
    except BudgetExceededError:
        raise  # a budget cap refuses the call: nothing is sent
    except Exception as exc:
        report("starting a call", exc)
        return None


def _metered_methods(meter: _Meter) -> Dict[str, Any]:
    originals = meter.originals

    def request(http_method: Any, path: Any, request_dict: Any, http_options: Any = None) -> Any:
        call = _start(meter, path, request_dict, False)
        if call is None:
            return originals["request"](http_method, path, request_dict, http_options)
        try:
            response = originals["request"](http_method, path, request_dict, http_options)
        except BaseException as exc:
            chain = meter.options.fallback
            if _fallback_sources.gemini_may_fall_back(call, exc, chain):
                return _fallback_sources.gemini_request(call, exc, chain)  # type: ignore[arg-type]
            call.finish(None, None, exc)
            raise
        guarded("metering a response", _finish_body, call, getattr(response, "body", None))
        return response

    def request_streamed(http_method: Any, path: Any, request_dict: Any, http_options: Any = None) -> Any:
        call = _start(meter, path, request_dict, True)
        chunks = originals["request_streamed"](http_method, path, request_dict, http_options)
        if call is None:
            return chunks
        return _sync_stream(chunks, _StreamTally(call), meter.options.fallback)

    async def async_request(http_method: Any, path: Any, request_dict: Any, http_options: Any = None) -> Any:
        call = await _start_async(meter, path, request_dict, False)
        if call is None:
            return await originals["async_request"](http_method, path, request_dict, http_options)
        try:
            response = await originals["async_request"](http_method, path, request_dict, http_options)
        except BaseException as exc:
            chain = meter.options.fallback
            if _fallback_sources.gemini_may_fall_back(call, exc, chain):
                return await _fallback_sources.gemini_request_async(call, exc, chain)  # type: ignore[arg-type]
            call.finish(None, None, exc)
            raise
        guarded("metering a response", _finish_body, call, getattr(response, "body", None))
        return response

    async def async_request_streamed(http_method: Any, path: Any, request_dict: Any, http_options: Any = None) -> Any:
        call = await _start_async(meter, path, request_dict, True)
        if call is None:
            return await originals["async_request_streamed"](http_method, path, request_dict, http_options)
        try:
            chunks = await originals["async_request_streamed"](http_method, path, request_dict, http_options)
        except BaseException as exc:
            chain = meter.options.fallback
            if _fallback_sources.gemini_may_fall_back(call, exc, chain):
                # The HTTP status arrives before any chunk: the whole stream falls back.
                return _fallback_sources.gemini_stream_async(call, exc, chain)  # type: ignore[arg-type]
            call.finish(None, None, exc)
            raise
        return _async_stream(chunks, _StreamTally(call))

    return {
        "request": request,
        "request_streamed": request_streamed,
        "async_request": async_request,
        "async_request_streamed": async_request_streamed,
    }


def _sync_stream(chunks: Iterator[Any], tally: _StreamTally, chain: Any = None) -> Iterator[Any]:
    # A generator like the SDK's own: the request is sent on the first next();
    # closed early or collected unfinished, `finally` still records the call.
    error: Optional[BaseException] = None
    completed = False
    started = False
    try:
        for response in chunks:
            started = True
            guarded("reading a stream chunk", tally.feed, response)
            yield response
        completed = True
    except GeneratorExit:
        raise
    except BaseException as exc:
        if not started and _fallback_sources.gemini_may_fall_back(tally.call, exc, chain):
            # Failed before its first chunk (the HTTP status): the stream falls back.
            yield from _fallback_sources.gemini_stream(tally.call, exc, chain)
            return
        error = exc
        raise
    finally:
        guarded("recording a stream", tally.end, error, completed)


async def _async_stream(chunks: AsyncIterator[Any], tally: _StreamTally) -> AsyncIterator[Any]:
    error: Optional[BaseException] = None
    completed = False
    try:
        async for response in chunks:
            guarded("reading a stream chunk", tally.feed, response)
            yield response
        completed = True
    except GeneratorExit:
        raise
    except BaseException as exc:
        error = exc
        raise
    finally:
        guarded("recording a stream", tally.end, error, completed)


def _install(client: Any, options: ClientOptions) -> None:
    api = client._api_client
    meter = api.__dict__.get("_costline_meter")
    if meter is None:
        meter = _Meter(api, options)
        api.__dict__.update(_metered_methods(meter))
        api.__dict__["_costline_meter"] = meter
        _native.prewarm()
    meter.options = options
    client.__dict__["_costline"] = options
    if options.fallback is not None:
        _fallback_sources.install_gemini(client)


class Client(_genai.Client):
    """`google.genai.Client`, metered (`client.aio` too). Extra keyword:
    `costline={"tags": {...}, "agent": "...", "fallback": [...]}`."""

    _costline_metered = True

    def __init__(self, *args: Any, costline: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _install(self, ClientOptions.parse(costline))

    def with_agent(self, name: str) -> Client:
        """This client with its calls attributed to agent `name`: the same
        connections and settings, its own metering."""
        return _with_agent(self, name)


def _with_agent(client: Any, name: str) -> Any:
    return agent_client(client, name, lambda agent: _agent_copy(client, agent))


def _agent_copy(client: Any, name: str) -> Any:
    options: ClientOptions = client.__dict__.get("_costline", DEFAULT_OPTIONS)
    old_api = client._api_client
    api = _copy.copy(old_api)
    for key in (*_METHODS, "_costline_meter"):
        api.__dict__.pop(key, None)
    new = _rebind(client, old_api, api)
    new.__dict__.pop("_costline_agents", None)
    _install(new, options.with_agent(name))
    return new


def _rebind(obj: Any, old_api: Any, api: Any, depth: int = 0) -> Any:
    """A shallow copy of `obj` whose modules (and `aio`'s) use `api`."""
    new = _copy.copy(obj)
    for key, value in list(new.__dict__.items()):
        if value is old_api:
            new.__dict__[key] = api
        elif depth < 2 and getattr(value, "_api_client", None) is old_api:
            new.__dict__[key] = _rebind(value, old_api, api, depth + 1)
    return new


def instrument_client(client: Any, options: Optional[Mapping[str, Any]]) -> Any:
    """`costline.instrument()` for a `google.genai.Client` built elsewhere:
    its API client is metered in place; class and identity are unchanged."""
    current = client.__dict__.get("_costline")
    _install(client, ClientOptions.parse(options) if options is not None or current is None else current)
    if not hasattr(client, "with_agent"):
        client.with_agent = lambda name: _with_agent(client, name)  # type: ignore[attr-defined]
    return client
