"""AWS Bedrock: `costline.bedrock.client(...)`, a real `boto3` `bedrock-runtime`
client metered through botocore's event hooks, and `costline.instrument(client)`
for one built elsewhere.

botocore emits `before-call` and `after-call` events on each client's own
emitter around every operation: costline registers one handler for each, for the
operations that bill (`Converse`, `ConverseStream`, `InvokeModel`,
`InvokeModelWithResponseStream`; the core names them from the request path). The
client, its responses, its `EventStream`s and its exceptions are botocore's own:

- Converse: the response's `usage`;
- ConverseStream: the stream's `metadata` event;
- InvokeModel: the `X-Amzn-Bedrock-*-Token-Count` headers, else the body's own
  counts per model family (the body is read and handed back as an identical
  `StreamingBody`);
- InvokeModelWithResponseStream: each chunk's Anthropic usage or the last chunk's
  `amazon-bedrock-invocationMetrics`.

A stream is recorded once, when it ends, fails, is closed, or is collected unfinished."""

from __future__ import annotations

import contextvars
import io
import json
from typing import Any, Dict, Iterator, List, Mapping, Optional

from . import _budgets, _fallback_sources, _native
from ._budgets import BudgetExceededError
from ._call import Call
from ._context import capture
from ._hook import ClientOptions
from ._runtime import guarded, is_disabled, report

__all__ = ["client", "instrument_client", "with_agent"]

PROVIDER = "bedrock"
_CALL_KEY = "costline_call"
_HANDLER_ID = "costline-meter"
_HEADER_COUNTS = {
    "x-amzn-bedrock-input-token-count": "inputTokenCount",
    "x-amzn-bedrock-output-token-count": "outputTokenCount",
    "x-amzn-bedrock-cache-read-input-token-count": "cacheReadInputTokenCount",
    "x-amzn-bedrock-cache-write-input-token-count": "cacheWriteInputTokenCount",
}
# The options of an agent view's call in flight (`with_agent`): read by the
# before-call handler, which runs inside the call.
_override: contextvars.ContextVar[Optional[ClientOptions]] = contextvars.ContextVar(
    "costline_bedrock_options", default=None
)


class _Meter:
    def __init__(self, options: ClientOptions) -> None:
        self.options = options

    def before_call(self, params: Any = None, context: Any = None, **_: Any) -> None:
        try:
            self._start(params, context)
        except BudgetExceededError:
            raise  # a budget cap refuses the call: nothing is sent
        except Exception as exc:
            report("starting a call", exc)

    def _start(self, params: Any, context: Any) -> None:
        if is_disabled() or not isinstance(params, dict) or not isinstance(context, dict):
            return
        path = params.get("url_path") or ""
        operation = _native.operation_for_path(PROVIDER, path)
        if operation is None:
            return
        opts = _override.get() or self.options
        model = _native.model_for_path(PROVIDER, path) or "unknown"
        stream = path.rstrip("/").endswith(("-stream", "invoke-with-response-stream"))
        body = _request_body(params)
        call = Call(opts.provider or PROVIDER, operation, model, capture(opts.agent, opts.tags), stream, body)
        if _budgets.active or _budgets.caps_seen:
            # Raises BudgetExceededError (the blocked call is recorded) when a cap would pass.
            call.reservation = _budgets.reserve(call, body)
        context[_CALL_KEY] = call

    def after_call(self, http_response: Any = None, parsed: Any = None, context: Any = None, **_: Any) -> None:
        call = context.get(_CALL_KEY) if isinstance(context, dict) else None
        if call is None or call.done:
            return
        try:
            _finish(call, http_response, parsed)
        except Exception as exc:
            report("metering a response", exc)

    def after_call_error(self, exception: Any = None, context: Any = None, **_: Any) -> None:
        call = context.get(_CALL_KEY) if isinstance(context, dict) else None
        if call is not None and not call.done and not _fallback_sources.defer(call):
            call.finish(None, None, exception)


def _request_body(params: Dict[str, Any]) -> Optional[Mapping[str, Any]]:
    """The request body as JSON, for an estimate when no usage comes."""
    body = params.get("body")
    if isinstance(body, dict):
        return body
    if isinstance(body, (bytes, str)) and body:
        try:
            parsed = json.loads(body)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None
    return None


def _finish(call: Call, http_response: Any, parsed: Any) -> None:
    status = getattr(http_response, "status_code", 200)
    if status >= 300:
        if _fallback_sources.defer(call):
            return  # a fallback chain takes the failed call (`_fallback_sources`)
        code = (parsed or {}).get("Error", {}).get("Code") if isinstance(parsed, dict) else None
        call.finish(None, None, None, error_type=code or "ClientError")
        return
    if not isinstance(parsed, dict):
        call.finish(None, None, None, [])
        return
    if "usage" in parsed:  # Converse
        call.finish([parsed["usage"]], None, None, [_converse_text(parsed)])
    elif "stream" in parsed:  # ConverseStream
        _watch(parsed["stream"], call, _converse_event)
    elif call.stream and "body" in parsed:  # InvokeModelWithResponseStream
        _watch(parsed["body"], call, _invoke_chunk)
    elif "body" in parsed:  # InvokeModel
        _finish_invoke(call, http_response, parsed)
    else:
        call.finish(None, None, None, [])


def _converse_text(parsed: Dict[str, Any]) -> str:
    content = ((parsed.get("output") or {}).get("message") or {}).get("content") or []
    return "".join(block.get("text", "") for block in content if isinstance(block, dict))


def _finish_invoke(call: Call, http_response: Any, parsed: Dict[str, Any]) -> None:
    headers = getattr(http_response, "headers", None) or {}
    counts = {field: headers[name] for name, field in _HEADER_COUNTS.items() if name in headers}
    part: Any = None
    if counts:
        part = {field: int(value) for field, value in counts.items() if str(value).isdigit()}
    else:
        # No count headers: read the body's own counts, then hand the caller
        # an identical, unread body.
        body = parsed["body"]
        data = body.read()
        parsed["body"] = type(body)(io.BytesIO(data), len(data))
        part = _native.bedrock_invoke_usage(data)
    call.finish([part] if part else None, None, None, [])


class _Tally:
    __slots__ = ("call", "parts", "texts", "reader", "completed")

    def __init__(self, call: Call, reader: Any) -> None:
        self.call = call
        self.parts: List[Any] = []
        self.texts: List[str] = []
        self.reader = reader
        self.completed = False

    def end(self, error: Optional[BaseException]) -> None:
        # A stream that did not complete has at most its opening counts (an
        # Anthropic message_start): estimate it instead, labelled as such.
        if not self.call.done:
            parts = self.parts if self.completed and self.parts else None
            self.call.finish(parts, None, error, self.texts)


def _converse_event(tally: _Tally, event: Any) -> None:
    if "metadata" in event:
        usage = event["metadata"].get("usage")
        if usage is not None:
            tally.parts = [usage]
    elif "contentBlockDelta" in event:
        text = event["contentBlockDelta"].get("delta", {}).get("text")
        if isinstance(text, str):
            tally.texts.append(text)


def _invoke_chunk(tally: _Tally, event: Any) -> None:
    data = (event.get("chunk") or {}).get("bytes")
    if data:
        part = _native.bedrock_invoke_chunk_usage(data)
        if part is not None:
            tally.parts.append(part)


def _watch(stream: Any, call: Call, reader: Any) -> None:
    """Observe a botocore `EventStream` in place: each parsed event, its end,
    its errors and `close()`; the caller iterates the same object."""
    tally = _Tally(call, reader)
    parse = stream._parse_event
    close = stream.close

    def parse_event(event: Any) -> Any:
        try:
            parsed = parse(event)
        except BaseException as exc:  # an exception event: botocore raises it
            guarded("recording a stream", tally.end, exc)
            raise
        if isinstance(parsed, dict):
            guarded("reading a stream event", reader, tally, parsed)
        return parsed

    def closing() -> Any:
        try:
            return close()
        finally:
            guarded("recording a stream", tally.end, None)

    stream._parse_event = parse_event
    stream.close = closing
    stream._event_generator = _ending(stream._event_generator, tally)


def _ending(events: Iterator[Any], tally: _Tally) -> Iterator[Any]:
    error: Optional[BaseException] = None
    try:
        yield from events
        tally.completed = True
    except GeneratorExit:
        raise
    except BaseException as exc:
        error = exc
        raise
    finally:
        guarded("recording a stream", tally.end, error)


def instrument_client(client: Any, options: Optional[Mapping[str, Any]] = None) -> Any:
    """Meter a `bedrock-runtime` client in place (idempotent): its own event
    emitter gains costline's handlers; class and identity are unchanged."""
    events = client.meta.events
    meter = client.__dict__.get("_costline_meter")
    parsed = ClientOptions.parse(options) if options is not None or meter is None else meter.options
    if meter is None:
        meter = _Meter(parsed)
        service = client.meta.service_model.service_id.hyphenize()
        events.register(f"before-call.{service}", meter.before_call, unique_id=_HANDLER_ID + "-before")
        events.register(f"after-call.{service}", meter.after_call, unique_id=_HANDLER_ID + "-after")
        events.register(f"after-call-error.{service}", meter.after_call_error, unique_id=_HANDLER_ID + "-error")
        client.__dict__["_costline_meter"] = meter
        client.__dict__["with_agent"] = lambda name: with_agent(client, name)
        _native.prewarm()
    meter.options = parsed
    if parsed.fallback is not None or "converse" in client.__dict__:
        _fallback_sources.install_bedrock(client, parsed.fallback)
    return client


def client(*args: Any, costline: Optional[Mapping[str, Any]] = None, session: Any = None, **kwargs: Any) -> Any:
    """`boto3.client("bedrock-runtime", ...)`, metered: the same arguments
    (the service name may be left out), plus `costline={...}` (`"fallback": [...]`
    included) and an optional boto3 `session`."""
    import boto3

    if not args and "service_name" not in kwargs:
        args = ("bedrock-runtime",)
    made = (session or boto3).client(*args, **kwargs)
    return instrument_client(made, costline)


class _AgentView:
    """A client's calls attributed to one agent: every attribute is the
    client's own; its operations run with the agent's options."""

    def __init__(self, client: Any, options: ClientOptions) -> None:
        self._costline_client = client
        self._costline_options = options

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._costline_client, name)
        if not callable(value) or name.startswith("_") or name in ("meta", "exceptions"):
            return value
        options = self._costline_options

        def call(*args: Any, **kwargs: Any) -> Any:
            token = _override.set(options)
            try:
                return value(*args, **kwargs)
            finally:
                _override.reset(token)

        return call


def with_agent(client: Any, name: str) -> Any:
    """`client` with its calls attributed to agent `name` (a view over the same
    boto3 client: botocore clients cannot be copied)."""
    if not isinstance(name, str) or not name:
        raise TypeError("with_agent() needs a non-empty agent name")
    instrument_client(client)
    meter: _Meter = client.__dict__["_costline_meter"]
    return _AgentView(client, meter.options.with_agent(name))
