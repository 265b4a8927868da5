"""Drop-in Mistral client: `from costline.mistral import Mistral`.

The `mistralai` SDK (Speakeasy-generated) has no single request method on its
client class: every resource (`chat`, `embeddings`, `fim`...) sends through
`BaseSDK.do_request`, which runs the client's own SDK hooks (`before_request`,
`after_success`, `after_error`) around each HTTP exchange. costline registers one
hook object on each metered client's hook list, the extension point the SDK
provides, so every call of every resource is seen and nothing the caller gets
is replaced: responses and streams are the SDK's own objects, errors its own
exceptions. Usage is read from the response bytes by the core (`BodyScanner`):
a JSON body once it is read, a stream's bytes as the caller's iteration pulls
them (recorded when the stream ends, is closed, or fails)."""

from __future__ import annotations

import copy as _copy
import json
from typing import Any, Mapping, Optional

from mistralai.client import Mistral as _Mistral

from . import _budgets, _fallback_sources, _native
from ._budgets import BudgetExceededError
from ._call import Call
from ._context import capture
from ._hook import DEFAULT_OPTIONS, ClientOptions, agent_client
from ._raw import meter_raw_body
from ._runtime import is_disabled, report

__all__ = ["Mistral"]

PROVIDER = "mistral"
# Set on the httpx request this hook saw last: the response carries it back.
_CALL_ATTR = "_costline_call"


class _MeterHook:
    """One client's metering, as the SDK's before_request / after_success /
    after_error hooks."""

    def __init__(self, options: ClientOptions) -> None:
        self.options = options

    def before_request(self, hook_ctx: Any, request: Any) -> Any:
        try:
            self._start(request)
        except BudgetExceededError:
            raise  # a budget cap refuses the call: nothing is sent
        except Exception as exc:  # metering never stops the call
            report("starting a call", exc)
        return request

    def _start(self, request: Any) -> None:
        if is_disabled():
            return
        started = getattr(request, _CALL_ATTR, None)
        if started is not None and not started.done:
            return  # a retry of a call still in flight: the same call
        # (A retry after a connection error, which `after_error` recorded
        # as a failed attempt, is metered as its own call: its tokens count.)
        url = str(request.url)
        operation = _native.operation_for_path(PROVIDER, url)
        if operation is None:
            return
        body: Optional[Mapping[str, Any]] = None
        try:
            parsed = json.loads(request.content or b"null")
            body = parsed if isinstance(parsed, Mapping) else None
        except ValueError:
            body = None
        model = body.get("model") if body is not None else None
        stream = bool(body.get("stream")) if body is not None else False
        opts = self.options
        call = Call(
            opts.provider or PROVIDER,
            operation,
            model if isinstance(model, str) and model else "unknown",
            capture(opts.agent, opts.tags),
            stream,
            body,
        )
        if _budgets.active or _budgets.caps_seen:
            # Raises BudgetExceededError (the blocked call is recorded) when a cap would pass.
            call.reservation = _budgets.reserve(call, body)
        setattr(request, _CALL_ATTR, call)

    def after_success(self, hook_ctx: Any, response: Any) -> Any:
        call = getattr(response.request, _CALL_ATTR, None)
        if call is None or call.done:
            return response
        try:
            if call.stream:
                # Bytes pass to the SDK's EventStream unchanged; the call is
                # recorded when the body ends, is closed or fails.
                meter_raw_body(response, call)
            else:
                scanner = _native.BodyScanner(call.provider, False)
                scanner.feed(response.content)
                parts, resolved, text = scanner.finish()
                call.finish(parts or None, resolved, None, [text])
        except Exception as exc:
            report("metering a response", exc)
        return response

    def after_error(self, hook_ctx: Any, response: Any, error: Any) -> Any:
        try:
            request = response.request if response is not None else getattr(error, "request", None)
            call = getattr(request, _CALL_ATTR, None) if request is not None else None
            if call is not None and not call.done:
                if _fallback_sources.defer(call):
                    pass  # a fallback chain takes the failed call (`_fallback_sources`)
                elif error is not None:
                    call.finish(None, None, error)
                else:
                    call.finish(None, None, None, error_type=_sdk_error_name(response.status_code))
        except Exception as exc:
            report("metering an error", exc)
        return response, error


def _sdk_error_name(status: int) -> str:
    # What the SDK's resource methods raise for an error status.
    return "HTTPValidationError" if status == 422 else "SDKError"


def _install(client: Any, options: ClientOptions) -> None:
    hooks = client.sdk_configuration.__dict__["_hooks"]
    mine = [h for h in hooks.before_request_hooks if isinstance(h, _MeterHook)]
    if mine:
        for hook in mine:
            hook.options = options
        return
    hook = _MeterHook(options)
    # Last, so that the request it marks is the one sent (earlier hooks may
    # replace it).
    hooks.register_before_request_hook(hook)
    hooks.register_after_success_hook(hook)
    hooks.register_after_error_hook(hook)
    client.__dict__["_costline"] = options
    _native.prewarm()


def _install_fallback(client: Any, options: ClientOptions) -> None:
    # An instrumented client given new options without a chain drops the old one.
    if options.fallback is not None or "_costline_fallback" in client.__dict__:
        _fallback_sources.install_mistral(client, options.fallback)
        client.__dict__["_costline_fallback"] = options.fallback


class Mistral(_Mistral):
    """`mistralai.client.Mistral`, metered. Extra keyword:
    `costline={"tags": {...}, "agent": "...", "fallback": [...]}`."""

    _costline_metered = True

    def __init__(self, *args: Any, costline: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        options = ClientOptions.parse(costline)
        _install(self, options)
        _install_fallback(self, options)

    def with_agent(self, name: str) -> Mistral:
        """This client with its calls attributed to agent `name`: the same
        HTTP clients and settings, its own hooks."""
        return _with_agent(self, name)


def _with_agent(client: Any, name: str) -> Any:
    return agent_client(client, name, lambda agent: _agent_copy(client, agent))


def _agent_copy(client: Any, name: str) -> Any:
    options: ClientOptions = client.__dict__.get("_costline", DEFAULT_OPTIONS)
    new = _copy.copy(client)
    # Resources are created lazily per client and hold its configuration:
    # the copy makes its own, from a configuration with its own hook list.
    for key in list(new.__dict__):
        if key in type(client)._sub_sdk_map or key in ("_costline_agents",):
            del new.__dict__[key]
    config = _copy.copy(client.sdk_configuration)
    hooks = _copy.copy(config.__dict__["_hooks"])
    for kind in ("sdk_init_hooks", "before_request_hooks", "after_success_hooks", "after_error_hooks"):
        setattr(hooks, kind, [h for h in getattr(hooks, kind) if not isinstance(h, _MeterHook)])
    config.__dict__["_hooks"] = hooks
    new.sdk_configuration = config
    _install(new, options.with_agent(name))
    _install_fallback(new, options)
    return new


def instrument_client(client: Any, options: Optional[Mapping[str, Any]]) -> Any:
    """`costline.instrument()` for a `mistralai` client built elsewhere: its
    own hook list gains costline's hook; class and identity are unchanged."""
    current = client.__dict__.get("_costline")
    parsed = ClientOptions.parse(options) if options is not None or current is None else current
    _install(client, parsed)
    _install_fallback(client, parsed)
    if not hasattr(client, "with_agent"):
        client.with_agent = lambda name: _with_agent(client, name)  # type: ignore[attr-defined]
    return client
