"""Fallback chains (issue 10): when a drop-in's call fails with a retryable error, try
the chain's targets in order, each a raw provider client. The request is translated into
the target's API and the answer back into the caller's, by the core
(`_native.translate`, `_native.FallbackStream`); the policy (which failures fall back,
timeouts, the deadline, call_id and attempt numbers) is the core's too
(`_native.FallbackCall`). Every attempt is its own event, linked by `call_id`.

This version: synchronous clients; OpenAI chat completions and Anthropic messages as
sources; `openai`, `anthropic`, `mistralai`, `google-genai` and boto3 `bedrock-runtime`
clients as targets; streams through `create(stream=True)`."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any, AsyncIterator, Dict, Iterator, List, Mapping, Optional, Tuple

from . import _native
from ._call import Call

FallbackUnsupportedError = _native.FallbackUnsupportedError
FallbackDeadlineError = _native.FallbackDeadlineError

# The operation each source translates (the drop-in's other endpoints never fall back).
_SOURCE_OPERATIONS = {("openai", "chat"), ("anthropic", "messages")}
# What a target's call is recorded as.
_TARGET_OPERATIONS = {
    "openai": "chat",
    "anthropic": "messages",
    "mistral": "chat",
    "google": "generate_content",
    "bedrock": "converse",
}
# Where each target's response carries its usage (what the core's normaliser reads).
_USAGE_KEYS = {
    "openai": "usage",
    "anthropic": "usage",
    "mistral": "usage",
    "google": "usageMetadata",
    "bedrock": "usage",
}
_POLICY_KEYS = ("retry_on", "attempt_timeout_s", "deadline_s", "on_unsupported")


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
        if provider not in _TARGET_OPERATIONS:
            raise ValueError(f"fallback provider {provider!r}: this version falls back to {sorted(_TARGET_OPERATIONS)}")
        if getattr(type(client), "_costline_metered", False):
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


class _Walk:
    """One logical call walking its chain, shared by the sync and async paths."""

    def __init__(self, started: Any, exc: Exception, chain: Chain, stream: bool) -> None:
        self.fc = fc = _native.FallbackCall(chain.policy)
        fc.begin_attempt()
        self.primary = primary = started.call
        primary.call_id, primary.attempt = fc.call_id, 1
        primary.finish(None, None, exc)
        self.source = started.adapter.provider
        # The SDKs leave their "not given" sentinels in the body until they serialise it.
        self.body = {k: v for k, v in (primary.request or {}).items() if type(v).__name__ not in ("Omit", "NotGiven")}
        stream_options = self.body.get("stream_options")
        self.include_usage = bool(isinstance(stream_options, Mapping) and stream_options.get("include_usage"))
        self.stream = stream
        self.kind, self.status = failure_of(exc)
        self.last: BaseException = exc
        self.targets = iter(chain.targets)

    def next_attempt(self) -> Optional[Tuple[Target, Dict[str, Any], Call, Optional[float]]]:
        """The next target to try with its translated request, its attempt's Call and
        timeout; None when the chain is exhausted (raise `last`)."""
        fc = self.fc
        for target in self.targets:
            if not fc.falls_back(self.kind, self.status, True):
                raise self.last
            try:
                number, timeout = fc.begin_attempt()
            except FallbackDeadlineError as deadline:
                raise deadline from self.last
            try:
                request = _native.translate("request", self.source, target.provider, self.body, {"model": target.model})
            except FallbackUnsupportedError:
                if fc.skip_unsupported:
                    continue
                raise
            operation = _TARGET_OPERATIONS[target.provider]
            call = Call(target.provider, operation, target.model, self.primary.attribution, self.stream, request)
            call.call_id, call.attempt, call.want_cost = fc.call_id, number, True
            return target, request, call, timeout
        return None

    def failed(self, call: Call, failed: Exception) -> None:
        call.finish(None, None, failed)
        self.last = failed
        self.kind, self.status = failure_of(failed)

    def ctx(self, target: Target) -> Dict[str, Any]:
        return {"model": target.model, "include_usage": self.include_usage}

    def served(self, target: Target, call: Call, result: Any, cast_to: Any) -> Any:
        """A non-stream answer: metered, translated, built as the caller's type."""
        data = _wire(target.provider, result)
        usage = data.get(_USAGE_KEYS[target.provider])
        call.finish([usage] if usage else None, data.get("model") or data.get("modelVersion"))
        answer = _native.translate("response", self.source, target.provider, data, self.ctx(target))
        obj = _construct(self.source, cast_to, answer, stream=False)
        _attach_info(obj, target, self.fc.attempts, call)
        return obj


def run_sync(started: Any, exc: Exception, cast_to: Any, stream: bool, chain: Chain) -> Any:
    """The primary attempt failed with `exc`: walk the chain. Returns the caller's SDK
    object (or stream); raises the last failure when no target served."""
    walk = _Walk(started, exc, chain, stream)
    while True:
        step = walk.next_attempt()
        if step is None:
            raise walk.last
        target, request, call, timeout = step
        try:
            result = _send(target, request, stream, timeout)
        except Exception as failed:
            walk.failed(call, failed)
            continue
        if stream:
            return FallbackStream(walk.source, target, result, call, walk.fc, walk.ctx(target))
        return walk.served(target, call, result, cast_to)


async def run_async(started: Any, exc: Exception, cast_to: Any, stream: bool, chain: Chain) -> Any:
    """`run_sync` for async clients; the targets are async clients too."""
    walk = _Walk(started, exc, chain, stream)
    while True:
        step = walk.next_attempt()
        if step is None:
            raise walk.last
        target, request, call, timeout = step
        try:
            result = await _send_async(target, request, stream, timeout)
        except Exception as failed:
            walk.failed(call, failed)
            continue
        if stream:
            return AsyncFallbackStream(walk.source, target, result, call, walk.fc, walk.ctx(target))
        return walk.served(target, call, result, cast_to)


async def _send_async(target: Target, request: Dict[str, Any], stream: bool, timeout: Optional[float]) -> Any:
    kwargs = dict(request)
    if timeout is not None:
        kwargs["timeout"] = timeout
    if target.provider == "openai":
        return await target.client.chat.completions.create(**kwargs)
    if target.provider == "anthropic":
        return await target.client.messages.create(**kwargs)
    raise NotImplementedError(f"async fallback to {target.provider} is not supported yet (openai, anthropic)")


def _send(target: Target, request: Dict[str, Any], stream: bool, timeout: Optional[float]) -> Any:
    """Call the target's SDK with the translated request; a stream is an iterator of
    the target's stream items."""
    kwargs = dict(request)
    client, provider = target.client, target.provider
    if provider == "openai":
        if timeout is not None:
            kwargs["timeout"] = timeout
        return client.chat.completions.create(**kwargs)
    if provider == "anthropic":
        if timeout is not None:
            kwargs["timeout"] = timeout
        return client.messages.create(**kwargs)
    if provider == "mistral":
        kwargs.pop("stream", None)
        if timeout is not None:
            kwargs["timeout_ms"] = int(timeout * 1000)
        return client.chat.stream(**kwargs) if stream else client.chat.complete(**kwargs)
    if provider == "google":
        kwargs.pop("stream", None)
        model, contents = kwargs.pop("model"), kwargs.pop("contents")
        config: Dict[str, Any] = dict(kwargs.pop("generationConfig", {}))
        config.update(kwargs)  # systemInstruction, tools, toolConfig: GenerateContentConfig's own fields
        if timeout is not None:
            config["httpOptions"] = {"timeout": int(timeout * 1000)}
        method = client.models.generate_content_stream if stream else client.models.generate_content
        return method(model=model, contents=contents, config=config or None)
    if provider == "bedrock":
        kwargs.pop("stream", None)
        _decode_images(kwargs)
        return client.converse_stream(**kwargs)["stream"] if stream else client.converse(**kwargs)
    raise ValueError(f"fallback to {provider} is not supported")


def _decode_images(request: Dict[str, Any]) -> None:
    """boto3 takes image bytes, the translation carries base64 text."""
    for message in request.get("messages", ()):
        for block in message.get("content", ()):
            source = block.get("image", {}).get("source") if isinstance(block, dict) else None
            if source and isinstance(source.get("bytes"), str):
                source["bytes"] = base64.b64decode(source["bytes"])


def _wire(provider: str, obj: Any) -> Dict[str, Any]:
    """A target SDK's response (or stream item) as its API's JSON."""
    if isinstance(obj, dict):  # boto3
        return obj
    if provider in ("openai", "anthropic"):
        return obj.to_dict()
    if provider == "mistral":
        obj = getattr(obj, "data", obj)  # a stream's CompletionEvent
        return json.loads(obj.model_dump_json(by_alias=True, exclude_none=True))
    return obj.model_dump(mode="json", by_alias=True, exclude_none=True)  # google-genai: camelCase aliases


def _construct(source: str, cast_to: Any, data: Any, stream: bool) -> Any:
    """The caller's SDK type built from translated data, as the SDK builds its own
    (no validation: the SDK's `construct_type`)."""
    if source == "openai":
        from openai._models import construct_type as openai_construct
        from openai.types.chat import ChatCompletion, ChatCompletionChunk

        return openai_construct(type_=ChatCompletionChunk if stream else ChatCompletion, value=data)
    from anthropic._models import construct_type as anthropic_construct
    from anthropic.types import Message, RawMessageStreamEvent

    return anthropic_construct(type_=RawMessageStreamEvent if stream else Message, value=data)


def _info(target: Target, attempts: int, call: Call) -> Dict[str, Any]:
    cost = getattr(call, "cost", None)
    return {
        "served_by": f"{target.provider}/{target.model}",
        "attempts": attempts,
        "cost_usd": Decimal(cost) if cost is not None else None,
        "call_id": call.call_id,
    }


def _attach_info(obj: Any, target: Target, attempts: int, call: Call) -> None:
    # Beside the model's fields, not among them: model_dump() and equality stay the SDK's.
    object.__setattr__(obj, "costline", _info(target, attempts, call))


class FallbackStream:
    """The target's stream, translated chunk by chunk into the caller's chunk types.
    Iterate it, use it as a context manager, `close()` it, as the SDK's stream."""

    def __init__(self, source: str, target: Target, inner: Any, call: Call, fc: Any, ctx: Dict[str, Any]) -> None:
        self._source = source
        self._target = target
        self._inner = inner
        self._call = call
        self._fc = fc
        self._translator = _native.FallbackStream(source, target.provider, ctx)
        # OpenAI and Anthropic streams: the drop-ins' own observer; the others: the
        # usage their last usage-bearing event carried.
        self._observer = (
            _native.StreamObserver(target.provider, call.operation, False)
            if target.provider in ("openai", "anthropic")
            else None
        )
        self._usage: Any = None
        self._resolved: Optional[str] = None
        self._iterator = self._chunks()
        self.costline: Dict[str, Any] = _info(target, fc.attempts, call)

    def _chunks(self) -> Iterator[Any]:
        try:
            for event in self._inner:
                if self._observer is not None:
                    self._observer.observe(event)
                data = _wire(self._target.provider, event)
                if self._observer is None:
                    self._watch(data)
                for chunk in self._translator.push(data):
                    yield _construct(self._source, None, chunk, stream=True)
        except BaseException as exc:
            self._finish(exc)
            raise
        self._finish(None)
        for chunk in self._translator.finish():
            yield _construct(self._source, None, chunk, stream=True)

    def _watch(self, data: Dict[str, Any]) -> None:
        provider = self._target.provider
        if provider == "bedrock":
            usage = data.get("metadata", {}).get("usage")
        else:
            usage = data.get(_USAGE_KEYS[provider])
            self._resolved = data.get("model") or data.get("modelVersion") or self._resolved
        if usage:
            self._usage = usage

    def _finish(self, error: Optional[BaseException]) -> None:
        o = self._observer
        if o is not None:
            self._call.finish(o.parts, o.resolved_model, error, o.texts)
        else:
            self._call.finish([self._usage] if self._usage else None, self._resolved, error, [])
        self.costline = _info(self._target, self._fc.attempts, self._call)

    def __iter__(self) -> Iterator[Any]:
        return self._iterator

    def __next__(self) -> Any:
        return next(self._iterator)

    def __enter__(self) -> FallbackStream:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()
        if not self._call.done:
            self._finish(None)


class AsyncFallbackStream(FallbackStream):
    """`FallbackStream` over an async target stream: `async for`, `async with`, `aclose()`."""

    def __init__(self, source: str, target: Target, inner: Any, call: Call, fc: Any, ctx: Dict[str, Any]) -> None:
        super().__init__(source, target, inner, call, fc, ctx)
        self._aiterator = self._achunks()

    def _chunks(self) -> Iterator[Any]:
        return iter(())

    async def _achunks(self) -> AsyncIterator[Any]:
        try:
            async for event in self._inner:
                if self._observer is not None:
                    self._observer.observe(event)
                data = _wire(self._target.provider, event)
                if self._observer is None:
                    self._watch(data)
                for chunk in self._translator.push(data):
                    yield _construct(self._source, None, chunk, stream=True)
        except BaseException as exc:
            self._finish(exc)
            raise
        self._finish(None)
        for chunk in self._translator.finish():
            yield _construct(self._source, None, chunk, stream=True)

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._aiterator

    async def __anext__(self) -> Any:
        return await self._aiterator.__anext__()

    async def __aenter__(self) -> AsyncFallbackStream:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            result = close()
            if hasattr(result, "__await__"):
                await result
        if not self._call.done:
            self._finish(None)
