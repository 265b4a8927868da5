"""Drop-in OpenAI clients: `from costline.openai import OpenAI, AsyncOpenAI`.

They are the `openai` SDK's own classes with one method overridden
(`request()`), so every endpoint, `with_raw_response`,
`with_streaming_response`, `with_options()`, `copy()` and every stream behaves
exactly as the SDK's; each metered call also becomes one costline event."""

from __future__ import annotations

import copy as _copy
from typing import Any, Dict, List, Mapping, Optional, Tuple

import openai as _openai
from openai import _streaming as _openai_streaming

from . import _native
from ._call import usage_parts
from ._hook import Adapter, ClientOptions, install, is_metered, metered_class
from ._streams import Observer

__all__ = ["OpenAI", "AsyncOpenAI", "AzureOpenAI", "AsyncAzureOpenAI"]


class OpenAIAdapter(Adapter):
    provider = "openai"
    stream_classes = (_openai_streaming.Stream, _openai_streaming.AsyncStream)
    model_classes = (_openai.BaseModel,)

    def prepare(self, operation: str, options: Any, stream: bool, opts: ClientOptions) -> Tuple[Any, bool]:
        if not (stream and operation in ("chat", "completions") and opts.stream_usage):
            return options, False
        body = getattr(options, "json_data", None)
        if not isinstance(body, Mapping):
            return options, False
        stream_options = body.get("stream_options")
        if isinstance(stream_options, Mapping) and stream_options.get("include_usage"):
            return options, False
        extra = getattr(options, "extra_json", None)
        if isinstance(extra, Mapping) and "stream_options" in extra:
            return options, False
        # Ask for the usage chunk; the observer hides it from the caller.
        new_options = _copy.copy(options)
        new_options.json_data = {
            **body,
            "stream_options": {**(stream_options or {}), "include_usage": True},
        }
        return new_options, True

    def response_usage(self, operation: str, obj: Any) -> Tuple[Optional[list], Optional[str]]:
        resolved = getattr(obj, "model", None) or None
        return usage_parts(getattr(obj, "usage", None), getattr(obj, "service_tier", None)), resolved

    def response_texts(self, operation: str, obj: Any) -> List[str]:
        if operation == "responses":
            text = getattr(obj, "output_text", None)
            return [text] if isinstance(text, str) else []
        texts: List[str] = []
        for choice in getattr(obj, "choices", None) or ():
            message = getattr(choice, "message", None)
            text = getattr(message, "content", None) if message is not None else getattr(choice, "text", None)
            if isinstance(text, str):
                texts.append(text)
        return texts

    def observer(self, operation: str, hide_usage: bool) -> Observer:
        return _native.StreamObserver(self.provider, operation, hide_usage)

    def client_provider(self, client: Any) -> str:
        # The OpenAI SDK speaks to many OpenAI-compatible services: the host
        # of its base_url names the one billing the call (Groq, Azure...).
        base_url = getattr(client, "base_url", None)
        cached = client.__dict__.get("_costline_host")
        if cached is not None and cached[0] is base_url:
            return cached[1]
        provider = _native.provider_for_base_url(str(base_url)) if base_url is not None else None
        provider = provider or getattr(client, "_costline_default_provider", self.provider)
        client.__dict__["_costline_host"] = (base_url, provider)
        return provider


ADAPTER = OpenAIAdapter()


class OpenAI(_openai.OpenAI):
    """`openai.OpenAI`, metered. Extra keyword: `costline={"tags": {...}, "agent": "..."}`."""


class AsyncOpenAI(_openai.AsyncOpenAI):
    """`openai.AsyncOpenAI`, metered."""


class AzureOpenAI(_openai.AzureOpenAI):
    """`openai.AzureOpenAI`, metered (provider recorded as "azure", priced by
    the `azure/...` catalog entries; deployment names are priced by the model
    the response reports)."""

    _costline_default_provider = "azure"


class AsyncAzureOpenAI(_openai.AsyncAzureOpenAI):
    """`openai.AsyncAzureOpenAI`, metered (provider "azure")."""

    _costline_default_provider = "azure"


install(OpenAI, ADAPTER, is_async=False)
install(AsyncOpenAI, ADAPTER, is_async=True)
install(AzureOpenAI, ADAPTER, is_async=False)
install(AsyncAzureOpenAI, ADAPTER, is_async=True)

_DROP_INS: Dict[type, type] = {
    _openai.OpenAI: OpenAI,
    _openai.AsyncOpenAI: AsyncOpenAI,
    _openai.AzureOpenAI: AzureOpenAI,
    _openai.AsyncAzureOpenAI: AsyncAzureOpenAI,
}


def metered_type(cls: type) -> Optional[type]:
    """The metered class for an `openai` client class, or None."""
    if is_metered(cls):
        return cls
    if cls in _DROP_INS:
        return _DROP_INS[cls]
    if issubclass(cls, _openai.AsyncOpenAI):
        return metered_class(cls, ADAPTER, True, _DROP_INS)
    if issubclass(cls, _openai.OpenAI):
        return metered_class(cls, ADAPTER, False, _DROP_INS)
    return None
