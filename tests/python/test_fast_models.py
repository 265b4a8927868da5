"""The caller's OpenAI and Anthropic objects a fallback builds (`costline._fast_models`)
are exactly what the SDK's own `construct_type` builds from the same data: the same
classes all the way down, the same values, the same fields set and extras. Checked on
every translated response and stream chunk of the shared vectors, and on data the
translation never writes (unknown keys, nulls, a variant the union does not know)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, List

import pytest
from anthropic._models import construct_type as anthropic_construct
from anthropic.types import Message, RawMessageStreamEvent
from openai._models import construct_type as openai_construct
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from pydantic import BaseModel

from costline._fast_models import chunk_builder

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "translate"
TYPES = {
    ("openai", "response"): ("openai", ChatCompletion, openai_construct),
    ("openai", "stream"): ("openai", ChatCompletionChunk, openai_construct),
    ("anthropic", "response"): ("anthropic", Message, anthropic_construct),
    ("anthropic", "stream"): ("anthropic", RawMessageStreamEvent, anthropic_construct),
}


def assert_same(built: Any, expected: Any, path: str = "") -> None:
    assert type(built) is type(expected), path
    if isinstance(expected, BaseModel):
        assert built.__pydantic_fields_set__ == expected.__pydantic_fields_set__, path
        assert (built.__pydantic_extra__ or {}).keys() == (expected.__pydantic_extra__ or {}).keys(), path
        assert built.__pydantic_private__ == expected.__pydantic_private__, path
        assert built.__dict__.keys() == expected.__dict__.keys(), path
        for key in expected.__dict__:
            assert_same(built.__dict__[key], expected.__dict__[key], f"{path}.{key}")
        for key in expected.__pydantic_extra__ or {}:
            assert_same(built.__pydantic_extra__[key], expected.__pydantic_extra__[key], f"{path}.{key}")
        assert built == expected and built.to_dict() == expected.to_dict(), path
    elif isinstance(expected, list):
        assert len(built) == len(expected), path
        for i, (b, e) in enumerate(zip(built, expected)):
            assert_same(b, e, f"{path}[{i}]")
    else:
        assert built == expected, path


def vector_items() -> List[Any]:
    items = []
    for name, kind in (("responses.json", "response"), ("streams.json", "stream")):
        for case in json.loads((VECTORS / name).read_text())["cases"]:
            if case["source"] in ("openai", "anthropic"):
                outputs = case["expected"] if kind == "stream" else [case["expected"]]
                for i, data in enumerate(outputs):
                    items.append(pytest.param(case["source"], kind, data, id=f"{case['name']}[{i}]"))
    return items


@pytest.mark.parametrize("source,kind,data", vector_items())
def test_each_translated_object_is_the_sdks_own(source, kind, data):
    sdk, type_, construct = TYPES[(source, kind)]
    assert_same(chunk_builder(sdk, type_)(data), construct(type_=type_, value=data))


ODD = [
    ("openai", "stream", {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": []}),
    (
        "openai",
        "stream",
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "m",
            "something_new": {"a": 1},
            "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3, "prompt_tokens_details": None},
            "choices": [{"index": 0, "delta": {"content": None, "role": "assistant"}, "finish_reason": "odd_reason"}],
        },
    ),
    ("anthropic", "stream", {"type": "a_new_event", "payload": [1, 2]}),
    ("anthropic", "stream", {"type": "content_block_delta", "index": 0, "delta": {"type": "new_delta", "x": 1}}),
    ("anthropic", "stream", {"type": "ping"}),
]


@pytest.mark.filterwarnings("ignore:Pydantic serializer warnings")
@pytest.mark.parametrize("source,kind,data", ODD)
def test_data_the_translation_never_writes_is_built_as_the_sdk_builds_it(source, kind, data):
    sdk, type_, construct = TYPES[(source, kind)]
    assert_same(chunk_builder(sdk, type_)(data), construct(type_=type_, value=data))
