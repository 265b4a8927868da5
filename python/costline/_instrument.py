"""`instrument(client)`: meter a client built elsewhere, in place."""

from __future__ import annotations

import sys
from typing import Any, Mapping, Optional, TypeVar

from ._hook import ClientOptions

_C = TypeVar("_C")


def instrument(client: _C, *, costline: Optional[Mapping[str, Any]] = None) -> _C:
    """Meter an existing `openai`, `anthropic`, `mistralai`, `google-genai` or boto3
    `bedrock-runtime` client and return it. The object keeps its identity and its
    settings; only its class gains costline's request hook (a subclass, so `isinstance`
    still holds). `costline=` takes the drop-ins' options, `"fallback": [...]` included."""
    if type(client).__module__.startswith("mistralai."):
        from .mistral import instrument_client

        return instrument_client(client, costline)
    if type(client).__module__ == "botocore.client" and "bedrock" in type(client).__name__.lower():
        from .bedrock import instrument_client as bedrock_instrument_client

        return bedrock_instrument_client(client, costline)
    if type(client).__module__.startswith("google.genai"):
        from .google import instrument_client as google_instrument_client

        return google_instrument_client(client, costline)
    metered = _metered_type(type(client))
    if metered is None:
        raise TypeError(
            "costline.instrument() supports openai, anthropic, mistralai, google-genai and boto3 "
            "bedrock-runtime clients, not "
            f"{type(client).__module__}."
            f"{type(client).__qualname__}"
        )
    if type(client) is not metered:
        client.__class__ = metered
    if costline is not None or "_costline" not in client.__dict__:
        # A chain too: the request hook is the drop-in's own, so it walks it alike.
        client._costline = ClientOptions.parse(costline)  # type: ignore[attr-defined]
    return client


def _metered_type(cls: type) -> Optional[type]:
    # Only SDKs the application already imported can have made this client.
    if "openai" in sys.modules:
        from .openai import metered_type

        found = metered_type(cls)
        if found is not None:
            return found
    if "anthropic" in sys.modules:
        from .anthropic import metered_type as anthropic_metered_type

        return anthropic_metered_type(cls)
    return None
