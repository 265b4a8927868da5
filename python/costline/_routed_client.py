"""`costline.Costline` and `costline.AsyncCostline` (issue 11): an OpenAI-compatible
client over the provider clients an app already has, routing `model="auto"` in-process.

    client = Costline(providers={"openai": OpenAI(), "anthropic": Anthropic()})
    r = client.chat.completions.create(model="auto", routing={...}, metadata={...}, messages=[...])
    r.choices[0].message.content   # an openai ChatCompletion, whoever served it
    r.costline.routed_to, r.costline.cost_usd, r.costline.reason

Each attempt is sent with the providers' drop-in metering off (`_runtime.unmetered`) and
recorded here once, with the call's metadata as tags and `call_id` / `attempt`."""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Optional, Sequence

from . import _budgets, _fallback, _native
from ._call import Call, usage_parts
from ._fallback import Target
from ._routed import Config, Plan
from ._routed_stream import AsyncRoutedStream, RoutedStream, first_event, first_event_async
from ._runtime import unmetered


def _served(plan: Plan, target: Target, call: Call, result: Any, decision: Dict[str, Any]) -> Any:
    """A non-stream answer: metered, translated into a ChatCompletion, routing info attached."""
    provider = target.provider
    if provider == "openai" and hasattr(result, "choices"):
        # Already the caller's type (keeps the SDK's request id); its usage object is
        # read by the core as the drop-in reads it, without a dict copy.
        call.finish(usage_parts(result.usage, result.service_tier), result.model)
        answer = result
    else:
        data = _fallback._wire(provider, result)
        usage = data.get(_fallback._USAGE_KEYS[provider])
        call.finish([usage] if usage else None, data.get("model") or data.get("modelVersion"))
        translated = _native.translate("response", "openai", provider, data, {"model": target.model})
        answer = _fallback._construct("openai", None, translated, stream=False)
    # Beside the model's fields, not among them: model_dump() and equality stay the SDK's.
    object.__setattr__(answer, "costline", plan.info(target, call, decision))
    return answer


def _close_quietly(stream: Any) -> None:
    try:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
    except Exception:  # noqa: BLE001 (the attempt already failed; its error is what counts)
        pass


async def _aclose_quietly(stream: Any) -> None:
    try:
        close = getattr(stream, "aclose", None) or getattr(stream, "close", None)
        result = close() if close is not None else None
        if hasattr(result, "__await__"):
            await result
    except Exception:  # noqa: BLE001 (the attempt already failed; its error is what counts)
        pass


def _create_sync(config: Config, kwargs: Dict[str, Any]) -> Any:
    plan = Plan(config, kwargs)
    while True:
        step = plan.next_attempt()
        if step is None:
            raise plan.failure()
        target, request, call, timeout, decision = step
        token = unmetered.set(True)
        try:
            result = _fallback._send(target, request, plan.stream, timeout)
        except Exception as exc:
            plan.failed(call, exc)
            continue
        except BaseException as exc:  # interrupted or cancelled: recorded, never retried
            call.finish(None, None, exc)
            raise
        finally:
            unmetered.reset(token)
        if not plan.stream:
            return _served(plan, target, call, result, decision)
        try:
            started = first_event(result)
        except Exception as exc:
            _close_quietly(result)
            plan.failed(call, exc)
            continue
        return RoutedStream(plan, target, result, started, call, decision)


async def _create_async(config: Config, kwargs: Dict[str, Any]) -> Any:
    plan = Plan(config, kwargs)
    while True:
        # A reservation that may wait long is made off the loop (the walk itself stays on
        # it: it may call the caller's router).
        later = _budgets.reserve_off_loop()
        step = plan.next_attempt(reserve=not later)
        if step is None:
            raise plan.failure()
        target, request, call, timeout, decision = step
        if later and not call.done:
            # Raises BudgetExceededError (recorded as blocked); nothing is sent.
            call.reservation = await _budgets.reserve_async(call, request)
        token = unmetered.set(True)
        try:
            result = await _fallback._send_async(target, request, plan.stream, timeout)
        except Exception as exc:
            plan.failed(call, exc)
            continue
        except BaseException as exc:  # interrupted or cancelled: recorded, never retried
            call.finish(None, None, exc)
            raise
        finally:
            unmetered.reset(token)
        if not plan.stream:
            return _served(plan, target, call, result, decision)
        try:
            started = await first_event_async(result)
        except Exception as exc:
            await _aclose_quietly(result)
            plan.failed(call, exc)
            continue
        return AsyncRoutedStream(plan, target, result, started, call, decision)


class _Completions:
    def __init__(self, config: Config, create: Callable[[Config, Dict[str, Any]], Any]) -> None:
        self._config = config
        self._create = create

    def create(self, **kwargs: Any) -> Any:
        """An OpenAI chat completion request, plus `routing={prefer, max_cost_usd,
        min_confidence, models, latencies_ms}` and `metadata={customer_id, feature_id,
        environment, cost_center, ...}` (event tags, never sent). `model="auto"` routes;
        a model name is sent to the provider that serves it, metered, falling back to the
        routing pool when it fails. Returns a ChatCompletion (stream: ChatCompletionChunks)
        with `.costline`."""
        return self._create(self._config, kwargs)


class _Chat:
    def __init__(self, config: Config, create: Callable[[Config, Dict[str, Any]], Any]) -> None:
        self.completions = _Completions(config, create)


class Costline:
    """An OpenAI-compatible client that routes each request to a model of the providers
    given (`model="auto"`), meters every attempt and falls back between candidates.

    `providers`: {"openai" | "anthropic" | "google" (or "gemini") | "mistral" | "bedrock":
    client}; costline drop-ins or the SDKs' own clients (a boto3 `bedrock-runtime` client).
    `models`: names pinning the pool, or candidate dicts {"model", "provider", "quality",
    "latency_ms"}. `scores`: {model: quality} on the quality table's scale. `router`: a
    callable (summary, candidates) -> model name or None (the core's pick). `fallback`:
    True, False, or {"retry_on", "attempt_timeout_s", "deadline_s"}. `tags` and `agent`:
    on every event, as a drop-in's."""

    _create: Callable[[Config, Dict[str, Any]], Any] = staticmethod(_create_sync)

    def __init__(
        self,
        providers: Mapping[str, Any],
        *,
        models: Optional[Sequence[Any]] = None,
        scores: Optional[Mapping[str, float]] = None,
        router: Optional[Callable[..., Any]] = None,
        fallback: Any = True,
        tags: Optional[Mapping[str, str]] = None,
        agent: Optional[str] = None,
        level_scores: Optional[Sequence[float]] = None,
    ) -> None:
        is_async = type(self)._create is _create_async
        self._config = Config(providers, models, scores, router, fallback, tags, agent, level_scores, is_async)
        self.chat = _Chat(self._config, type(self)._create)

    @property
    def providers(self) -> Dict[str, Any]:
        return dict(self._config.providers)

    def route(self, **kwargs: Any) -> Dict[str, Any]:
        """The decision `create(**kwargs)` would act on, without sending anything: the
        pick, its one-line reason and every candidate's worst-case cost (`Decimal`)."""
        return Plan(self._config, {**kwargs, "model": "auto"}).route()


class AsyncCostline(Costline):
    """`Costline` over async provider clients: `await client.chat.completions.create(...)`;
    streams are async iterators."""

    _create = staticmethod(_create_async)
