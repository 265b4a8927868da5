"""Fallback chains (issue 10): when a drop-in's call fails with a retryable error, try
the chain's targets in order, each a raw provider client. The request is translated into
the target's API and the answer back into the caller's, by the core
(`_native.translate`, `_native.FallbackStream`); the policy (which failures fall back,
timeouts, the deadline, call_id and attempt numbers) is the core's too
(`_native.FallbackWalk`). Every attempt is its own event, linked by `call_id`.

Sources: the OpenAI (chat completions), Anthropic (messages), Gemini (generate_content),
Mistral (chat) and Bedrock (converse) drop-ins, sync and async, plain and streamed.
Targets: `openai`, `anthropic`, `mistralai`, `google-genai` and boto3 `bedrock-runtime`
clients (`_fallback_send`). Before each attempt the target's worst case is reserved
against the configured budgets; a target that would break a cap is skipped.
How each drop-in hands its failed call here: `_hook` (OpenAI, Anthropic) and
`_fallback_sources` (Gemini, Mistral, Bedrock)."""

from __future__ import annotations

import contextvars
import json
import time
from decimal import Decimal
from typing import Any, Dict, List, Mapping, Optional, Tuple

from . import _budgets, _native
from ._budgets import BudgetExceededError
from ._call import Call
from ._fallback_raw import raw_body
from ._fallback_send import decode_images as _decode_images  # noqa: F401  (kept importable)
from ._fallback_send import send as _send
from ._fallback_send import send_async as _send_async
from ._fallback_send import wire as _wire
from ._fallback_stream import USAGE_KEYS as _USAGE_KEYS
from ._fallback_stream import AsyncFallbackStream, FallbackStream
from ._fast_models import chunk_builder
from ._runtime import report

FallbackUnsupportedError = _native.FallbackUnsupportedError
FallbackDeadlineError = _native.FallbackDeadlineError

__all__ = [
    "AsyncFallbackStream",
    "Chain",
    "FallbackStream",
    "Target",
    "parse_chain",
    "run_async",
    "run_sync",
    "serve_async",
    "serve_sync",
]

# The operation each source translates (the drop-in's other endpoints never fall back).
_SOURCE_OPERATIONS = {
    ("openai", "chat"),
    ("anthropic", "messages"),
    ("google", "generate_content"),
    ("mistral", "chat"),
    ("bedrock", "converse"),
}
# What a target's call is recorded as.
_TARGET_OPERATIONS = {
    "openai": "chat",
    "anthropic": "messages",
    "mistral": "chat",
    "google": "generate_content",
    "bedrock": "converse",
}
_POLICY_KEYS = ("retry_on", "attempt_timeout_s", "deadline_s", "on_unsupported")

# Set by a caller that cannot receive `response.costline` on the object this module
# builds (the Gemini drop-in: its SDK builds the response from the translated body):
# each served call appends its info dict here.
served_info: contextvars.ContextVar[Optional[List[Dict[str, Any]]]] = contextvars.ContextVar(
    "costline_fallback_served", default=None
)


class Target:
    __slots__ = ("provider", "client", "model")

    def __init__(self, provider: str, client: Any, model: str) -> None:
        self.provider = provider
        self.client = client
        self.model = model


class Chain:
    __slots__ = ("targets", "policy")

    def __init__(self, targets: List[Target], policy: Dict[str, Any]) -> None:
        self.targets = targets
        self.policy = policy


def _is_drop_in(client: Any) -> bool:
    if getattr(type(client), "_costline_metered", False):
        return True
    own = getattr(client, "__dict__", {})
    # An instrumented client: Gemini / Mistral (`_costline`), boto3 (`_costline_meter`).
    return "_costline" in own or "_costline_meter" in own


def parse_chain(value: Any) -> Optional[Chain]:
    """`costline={"fallback": [...]}`: a list of targets, or
    `{"targets": [...], "retry_on": [...], "attempt_timeout_s": ..., "deadline_s": ...,
    "on_unsupported": "raise" | "skip"}`."""
    if value is None:
        return None
    policy: Dict[str, Any] = {}
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - {"targets", *_POLICY_KEYS})
        if unknown:
            raise ValueError(f"unknown fallback option(s) {unknown}")
        policy = {k: value[k] for k in _POLICY_KEYS if k in value}
        value = value.get("targets")
    if not isinstance(value, (list, tuple)) or not value:
        raise TypeError("costline={'fallback': [...]} takes a list of {'provider', 'client', 'model'}")
    targets = []
    for item in value:
        if not isinstance(item, Mapping) or {"provider", "client", "model"} - set(item):
            raise TypeError("each fallback target is a dict with 'provider', 'client' and 'model'")
        provider, client, model = item["provider"], item["client"], item["model"]
        if provider == "gemini":
            provider = "google"
        if provider not in _TARGET_OPERATIONS:
            raise ValueError(f"fallback provider {provider!r}: this version falls back to {sorted(_TARGET_OPERATIONS)}")
        if _is_drop_in(client):
            # Its own metering would record the attempt a second time, without call_id.
            raise TypeError("fallback targets take the provider SDK's own client, not a costline drop-in")
        if not isinstance(model, str) or not model:
            raise TypeError("a fallback target's 'model' must be a non-empty string")
        targets.append(Target(provider, client, model))
    _native.check_fallback_options(policy)
    return Chain(targets, policy)


def failure_of(exc: BaseException) -> Tuple[str, Optional[int]]:
    """(kind, status) of an SDK exception, as the core's policy takes them."""
    name = type(exc).__name__
    if "Timeout" in name:
        return "timeout", None
    status = getattr(exc, "status_code", None)
    if not isinstance(status, int):
        status = getattr(exc, "code", None)  # google-genai APIError
    if not isinstance(status, int):
        meta = getattr(exc, "response", None)  # botocore ClientError
        status = meta.get("ResponseMetadata", {}).get("HTTPStatusCode") if isinstance(meta, dict) else None
    if isinstance(status, int) and not isinstance(status, bool):
        return "status", status
    if "Connection" in name or "Connect" in name:
        return "connection", None
    return "other", None


def translatable(source: str, operation: str) -> bool:
    return (source, operation) in _SOURCE_OPERATIONS


def source_body(call: Call) -> Dict[str, Any]:
    """The primary's request as its API's JSON. The OpenAI and Anthropic SDKs leave
    their "not given" sentinels in the body until they serialise it."""
    return {k: v for k, v in (call.request or {}).items() if type(v).__name__ not in ("Omit", "NotGiven")}


class _Walk:
    """One logical call walking its chain, shared by the sync and async paths. The
    sequencing (which target is next, whether a failure goes on, attempt numbers and
    timeouts, the deadline, budget skips, `response.costline`) is the core's
    (`_native.FallbackWalk`); this class translates, meters and builds the caller's types."""

    def __init__(
        self, primary: Call, source: str, body: Dict[str, Any], exc: Exception, chain: Chain, stream: bool
    ) -> None:
        # The deadline bounds the whole logical call: its clock started with the primary.
        labels = [f"{t.provider}/{t.model}" for t in chain.targets]
        self.fc = fc = _native.FallbackWalk(chain.policy, labels, time.perf_counter() - primary.started)
        if not fc.primary_failed(*failure_of(exc)):
            # Not a failure that falls back (a 400...): one attempt, recorded as such.
            primary.finish(None, None, exc)
            raise exc
        self.primary = primary
        primary.call_id, primary.attempt = fc.call_id, 1
        _release(primary)
        primary.finish(None, None, exc)
        self.source = source
        self.body = body
        stream_options = body.get("stream_options")
        self.include_usage = bool(isinstance(stream_options, Mapping) and stream_options.get("include_usage"))
        self.stream = stream
        self.last: BaseException = exc
        self.targets = chain.targets
        # The first BudgetExceededError of a target skipped for a budget (its figures).
        self.first_skip: Optional[BaseException] = None

    def next_attempt(self) -> Optional[Tuple[Target, Dict[str, Any], Call, Optional[float]]]:
        """The next target to try with its translated request, its attempt's Call
        (its worst case reserved) and timeout; None when the chain is done (raise
        `exhausted()`)."""
        fc = self.fc
        while True:
            try:
                step = fc.next_step()
            except FallbackDeadlineError as deadline:
                raise deadline from self.last
            if step is None:
                return None
            index, number, timeout = step
            target = self.targets[index]
            try:
                request = _native.translate("request", self.source, target.provider, self.body, {"model": target.model})
            except FallbackUnsupportedError:
                if fc.unsupported():
                    continue
                raise
            if self.stream and not request.get("stream"):
                _stream_flag(request, target.provider)
            operation = _TARGET_OPERATIONS[target.provider]
            call = Call(target.provider, operation, target.model, self.primary.attribution, self.stream, request)
            call.call_id, call.attempt, call.want_cost = fc.call_id, number, True
            if _budgets.active or _budgets.caps_seen:
                try:
                    # The target's worst case under its own model; a cap it would break
                    # skips it (the core records the blocked attempt).
                    call.reservation = _budgets.reserve(call, request)
                except BudgetExceededError as exceeded:
                    fc.budget_skipped(str(exceeded))
                    self.first_skip = self.first_skip or exceeded
                    continue
            return target, request, call, timeout

    def exhausted(self) -> BaseException:
        """What to raise when no target served: the last failure, or a
        BudgetExceededError naming the targets a budget skipped."""
        skips = self.fc.exhausted(type(self.last).__name__ if self.last is not None else None)
        if skips is None:
            return self.last
        err = BudgetExceededError(skips["message"])
        first = self.first_skip
        for key in ("scope", "period", "limit_usd", "spent_usd", "reserved_usd", "attempted_usd", "agent"):
            setattr(err, key, getattr(first, key, None))
        for key in ("budget_name", "store_error"):
            setattr(err, key, getattr(first, key, None))
        err.skipped = skips["skipped"]  # type: ignore[attr-defined]
        err.__cause__ = self.last
        return err

    def failed(self, call: Call, failed: Exception) -> None:
        _release(call)
        call.finish(None, None, failed)
        self.last = failed
        self.fc.failed(*failure_of(failed))

    def ctx(self, target: Target) -> Dict[str, Any]:
        return {"model": target.model, "include_usage": self.include_usage}

    def served(self, target: Target, call: Call, result: Any, cast_to: Any) -> Any:
        """A non-stream answer: metered, translated, built as the caller's type."""
        body = raw_body(result)
        if body is not None:
            # One parse in the core: the answer translated, the usage and model metered.
            answer, usage, resolved = _native.translate_body(self.source, target.provider, body, self.ctx(target))
            call.finish([usage] if usage else None, resolved)
        else:
            data = _wire(target.provider, result)
            usage = data.get(_USAGE_KEYS[target.provider])
            call.finish([usage] if usage else None, data.get("model") or data.get("modelVersion"))
            answer = _native.translate("response", self.source, target.provider, data, self.ctx(target))
        obj = _construct(self.source, cast_to, answer, stream=False)
        info = _info(target, self.fc.attempts, call, self.fc.served())
        if self.source == "bedrock":
            obj = ConverseResponse(_converse_metadata(call, obj))
        _attach_info(obj, info)
        return obj

    def stream_of(self, target: Target, call: Call, inner: Any, is_async: bool) -> Any:
        source, fc = self.source, self.fc

        def build(chunk: Any) -> Any:
            return _construct(source, None, chunk, stream=True)

        served = fc.served()

        def info() -> Dict[str, Any]:
            return _info(target, fc.attempts, call, served)

        cls = AsyncFallbackStream if is_async else FallbackStream
        stream = cls(source, target, inner, call, fc, self.ctx(target), build, info)
        box = served_info.get()
        if box is not None:
            box.append(stream.costline)
        if source == "bedrock":
            # converse_stream's dict: the caller iterates its "stream".
            response = ConverseResponse(_converse_metadata(call, {"stream": stream}))
            object.__setattr__(response, "costline", stream.costline)
            return response
        return stream


def _release(call: Call) -> None:
    """Give a failed attempt's budget hold back now, before the next attempt reserves
    (recording settles it later, on the writer thread; a failure costs nothing)."""
    reservation, call.reservation = call.reservation, None
    if reservation is not None:
        try:
            reservation.release()
        except Exception as exc:
            report("releasing a budget reservation", exc)


def serve_sync(
    primary: Call, source: str, body: Dict[str, Any], exc: Exception, chain: Chain, stream: bool, cast_to: Any = None
) -> Any:
    """The primary attempt (`primary`, not yet recorded) failed with `exc`: walk the
    chain. Returns the caller's SDK object (or stream); raises the last failure when no
    target served (a BudgetExceededError when budgets skipped some)."""
    walk = _Walk(primary, source, body, exc, chain, stream)
    while True:
        step = walk.next_attempt()
        if step is None:
            raise walk.exhausted()
        target, request, call, timeout = step
        try:
            result = _send(target, request, stream, timeout, raw=True)
        except Exception as failed:
            walk.failed(call, failed)
            continue
        except BaseException as interrupted:
            call.finish(None, None, interrupted)
            raise
        if stream:
            return walk.stream_of(target, call, result, is_async=False)
        return walk.served(target, call, result, cast_to)


async def serve_async(
    primary: Call, source: str, body: Dict[str, Any], exc: Exception, chain: Chain, stream: bool, cast_to: Any = None
) -> Any:
    """`serve_sync` for async callers; async targets are awaited, sync ones (boto3) run
    in a worker thread."""
    walk = _Walk(primary, source, body, exc, chain, stream)
    while True:
        # Each attempt reserves its target's worst case: off the loop if the store may wait long.
        step = await _budgets.off_loop_if_waiting(walk.next_attempt)
        if step is None:
            raise walk.exhausted()
        target, request, call, timeout = step
        try:
            result = await _send_async(target, request, stream, timeout, raw=True)
        except Exception as failed:
            walk.failed(call, failed)
            continue
        except BaseException as interrupted:  # a cancelled task
            call.finish(None, None, interrupted)
            raise
        if stream:
            return walk.stream_of(target, call, result, is_async=True)
        return walk.served(target, call, result, cast_to)


def run_sync(started: Any, exc: Exception, cast_to: Any, stream: bool, chain: Chain) -> Any:
    """The OpenAI / Anthropic drop-ins' entry (`_hook`): `serve_sync` of a started call."""
    call = started.call
    return serve_sync(call, started.adapter.provider, source_body(call), exc, chain, stream, cast_to)


async def run_async(started: Any, exc: Exception, cast_to: Any, stream: bool, chain: Chain) -> Any:
    call = started.call
    return await serve_async(call, started.adapter.provider, source_body(call), exc, chain, stream, cast_to)


def _stream_flag(request: Dict[str, Any], target: str) -> None:
    """Gemini and Bedrock say "stream" by the endpoint, not in the body: a stream from
    them asks an OpenAI or Anthropic target for a stream (OpenAI's with its usage), as
    the core writes it when the source's body says so."""
    if target in ("openai", "anthropic", "mistral"):
        request["stream"] = True
    if target == "openai":
        request["stream_options"] = {"include_usage": True}


class ConverseResponse(dict):
    """What a Bedrock caller gets from a fallback: the `converse` / `converse_stream`
    dict boto3 returns (a `dict`, the same keys, `json.dumps` as before), with
    `response.costline` as an attribute. Not a key: a caller iterating or serialising
    the response sees exactly boto3's shape."""

    __slots__ = ("costline",)


def _converse_metadata(call: Call, data: Dict[str, Any]) -> Dict[str, Any]:
    # boto3 puts ResponseMetadata in every answer; a fallback has no AWS request: its id
    # is the call's, its headers none.
    meta = {"RequestId": call.call_id or "", "HTTPStatusCode": 200, "HTTPHeaders": {}, "RetryAttempts": 0}
    return {"ResponseMetadata": meta, **data}


def _construct(source: str, cast_to: Any, data: Any, stream: bool) -> Any:
    """The caller's SDK type built from translated data, as the SDK builds its own."""
    if source == "openai":
        from openai.types.chat import ChatCompletion, ChatCompletionChunk

        # The SDK's construct_type, planned once per class (`_fast_models`).
        return chunk_builder("openai", ChatCompletionChunk if stream else ChatCompletion)(data)
    if source == "anthropic":
        from anthropic.types import Message, RawMessageStreamEvent

        return chunk_builder("anthropic", RawMessageStreamEvent if stream else Message)(data)
    if source == "mistral":
        from mistralai.client import models
        from mistralai.client.utils import unmarshal_json

        # The SDK's own decoding (its EventStream wraps each chunk as `{"data": ...}`).
        if stream:
            return unmarshal_json(json.dumps({"data": data}), models.CompletionEvent)
        return unmarshal_json(json.dumps(data), models.ChatCompletionResponse)
    # Gemini: the REST body, which the SDK itself turns into GenerateContentResponse
    # (`_fallback_sources`); Bedrock: boto3's dicts are the JSON.
    return data


def _info(target: Target, attempts: int, call: Call, served: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """`response.costline`: who served and in how many attempts (the core's walk says:
    `served`), and what the served attempt cost."""
    cost = getattr(call, "cost", None)
    if served is None:
        served = {"served_by": f"{target.provider}/{target.model}", "attempts": attempts, "call_id": call.call_id}
    return {
        "served_by": served["served_by"],
        "attempts": served["attempts"],
        "cost_usd": Decimal(cost) if cost is not None else None,
        "call_id": served["call_id"],
    }


def _attach_info(obj: Any, info: Dict[str, Any]) -> None:
    box = served_info.get()
    if box is not None:
        box.append(info)
    if isinstance(obj, dict) and not isinstance(obj, ConverseResponse):
        return  # a Gemini body: the SDK's response gets it (`_fallback_sources`)
    # Beside the model's fields, not among them: model_dump() and equality stay the SDK's.
    object.__setattr__(obj, "costline", info)
