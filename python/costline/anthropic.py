"""Drop-in Anthropic clients: `from costline.anthropic import Anthropic, AsyncAnthropic`.

The `anthropic` SDK's own classes with `request()` overridden: `messages.create`
(plain and streamed), the `messages.stream()` helper and `with_raw_response`
are metered; `messages.count_tokens` passes through unmetered."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import anthropic as _anthropic
from anthropic import _streaming as _anthropic_streaming

from . import _native
from ._call import usage_parts
from ._hook import Adapter, install, is_metered, metered_class
from ._streams import Observer

__all__ = ["Anthropic", "AsyncAnthropic"]


class AnthropicAdapter(Adapter):
    provider = "anthropic"
    stream_classes = (_anthropic_streaming.Stream, _anthropic_streaming.AsyncStream)
    model_classes = (_anthropic.BaseModel,)

    def response_usage(self, operation: str, obj: Any) -> Tuple[Optional[list], Optional[str]]:
        return usage_parts(getattr(obj, "usage", None)), getattr(obj, "model", None) or None

    def response_texts(self, operation: str, obj: Any) -> List[str]:
        blocks = getattr(obj, "content", None) or ()
        return [b.text for b in blocks if getattr(b, "type", None) == "text" and isinstance(b.text, str)]

    def observer(self, operation: str, hide_usage: bool) -> Observer:
        # Usage of a message stream: `message_start` carries input and cache
        # counts, the last `message_delta` the cumulative output count.
        return _native.StreamObserver(self.provider, operation, False)


ADAPTER = AnthropicAdapter()


class Anthropic(_anthropic.Anthropic):
    """`anthropic.Anthropic`, metered. Extra keyword: `costline={"tags": {...}, "agent": "..."}`."""


class AsyncAnthropic(_anthropic.AsyncAnthropic):
    """`anthropic.AsyncAnthropic`, metered."""


install(Anthropic, ADAPTER, is_async=False)
install(AsyncAnthropic, ADAPTER, is_async=True)

_DROP_INS: Dict[type, type] = {
    _anthropic.Anthropic: Anthropic,
    _anthropic.AsyncAnthropic: AsyncAnthropic,
}


def metered_type(cls: type) -> Optional[type]:
    """The metered class for an `anthropic` client class, or None."""
    if is_metered(cls):
        return cls
    if cls in _DROP_INS:
        return _DROP_INS[cls]
    # Other clients (Bedrock, Vertex) share the request path; their own
    # request() override stays in the MRO after ours.
    if issubclass(cls, _anthropic._base_client.AsyncAPIClient):
        return metered_class(cls, ADAPTER, True, _DROP_INS)
    if issubclass(cls, _anthropic._base_client.SyncAPIClient):
        return metered_class(cls, ADAPTER, False, _DROP_INS)
    return None
