"""Type stubs of the routed client (`costline.Costline`, `costline.AsyncCostline`)."""

from decimal import Decimal
from typing import (
    Any,
    AsyncIterator,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Literal,
    Mapping,
    Optional,
    Sequence,
    TypedDict,
    Union,
    overload,
)

from openai.types.chat import ChatCompletion, ChatCompletionChunk

from ._routed import RoutingInfo

class Routing(TypedDict, total=False):
    prefer: Literal["lowest_cost", "lowest_cost_that_meets_quality", "highest_quality", "lowest_latency"]
    max_cost_usd: Union[str, Decimal]
    min_confidence: float
    models: Sequence[str]
    latencies_ms: Mapping[str, int]

class Metadata(TypedDict, total=False):
    customer_id: str
    feature_id: str
    environment: str
    cost_center: str

class Candidate(TypedDict, total=False):
    model: str
    provider: str
    quality: float
    latency_ms: int

Router = Callable[[Dict[str, Any], List[Dict[str, Any]]], Optional[str]]

class ChatCompletionWithRouting(ChatCompletion):
    costline: RoutingInfo

class RoutedStream:
    costline: RoutingInfo
    def __iter__(self) -> Iterator[ChatCompletionChunk]: ...
    def __next__(self) -> ChatCompletionChunk: ...
    def __enter__(self) -> RoutedStream: ...
    def __exit__(self, *exc: Any) -> None: ...
    def close(self) -> None: ...

class AsyncRoutedStream:
    costline: RoutingInfo
    def __aiter__(self) -> AsyncIterator[ChatCompletionChunk]: ...
    async def __anext__(self) -> ChatCompletionChunk: ...
    async def __aenter__(self) -> AsyncRoutedStream: ...
    async def __aexit__(self, *exc: Any) -> None: ...
    async def aclose(self) -> None: ...

class _Completions:
    @overload
    def create(
        self,
        *,
        model: str,
        messages: Iterable[Mapping[str, Any]],
        stream: Literal[False] = ...,
        routing: Optional[Routing] = ...,
        metadata: Optional[Mapping[str, str]] = ...,
        **kwargs: Any,
    ) -> ChatCompletionWithRouting: ...
    @overload
    def create(
        self,
        *,
        model: str,
        messages: Iterable[Mapping[str, Any]],
        stream: Literal[True],
        routing: Optional[Routing] = ...,
        metadata: Optional[Mapping[str, str]] = ...,
        **kwargs: Any,
    ) -> RoutedStream: ...

class _Chat:
    completions: _Completions

class _AsyncCompletions:
    @overload
    async def create(
        self,
        *,
        model: str,
        messages: Iterable[Mapping[str, Any]],
        stream: Literal[False] = ...,
        routing: Optional[Routing] = ...,
        metadata: Optional[Mapping[str, str]] = ...,
        **kwargs: Any,
    ) -> ChatCompletionWithRouting: ...
    @overload
    async def create(
        self,
        *,
        model: str,
        messages: Iterable[Mapping[str, Any]],
        stream: Literal[True],
        routing: Optional[Routing] = ...,
        metadata: Optional[Mapping[str, str]] = ...,
        **kwargs: Any,
    ) -> AsyncRoutedStream: ...

class _AsyncChat:
    completions: _AsyncCompletions

class Costline:
    chat: _Chat
    def __init__(
        self,
        providers: Mapping[str, Any],
        *,
        models: Optional[Sequence[Union[str, Candidate]]] = None,
        scores: Optional[Mapping[str, float]] = None,
        router: Optional[Router] = None,
        fallback: Union[bool, Mapping[str, Any]] = True,
        tags: Optional[Mapping[str, str]] = None,
        agent: Optional[str] = None,
        level_scores: Optional[Sequence[float]] = None,
    ) -> None: ...
    @property
    def providers(self) -> Dict[str, Any]: ...
    def route(
        self,
        *,
        messages: Iterable[Mapping[str, Any]],
        routing: Optional[Routing] = ...,
        metadata: Optional[Mapping[str, str]] = ...,
        **kwargs: Any,
    ) -> Dict[str, Any]: ...

class AsyncCostline(Costline):
    chat: _AsyncChat  # type: ignore[assignment]
