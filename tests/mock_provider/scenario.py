"""What one mocked call answers: output words, token counts, model, injected faults.

Everything here is deterministic: the same request with the same `x-mock-*` headers
always produces the same text and the same usage, so tests can assert exact numbers.

Default token counts:
- prompt tokens: ceil(characters of prompt text / 4), at least 1, where the prompt text
  is every string under `messages` / `input` / `system` / `instructions` / `prompt`
  reached through `content`, `text` and `input` keys (see `default_prompt_tokens`);
- completion tokens: the number of output words (plus reasoning tokens when asked).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

BASE_WORDS = ["Hello", "from", "the", "mock", "provider."]
DEFAULT_CHUNKS = len(BASE_WORDS)

# Dated snapshots the real APIs answer with for an alias (as listed in the SDKs' model
# literals); any other name is echoed back unchanged, as the APIs do for pinned names.
SNAPSHOTS = {
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
    "gpt-4-turbo": "gpt-4-turbo-2024-04-09",
    "gpt-4": "gpt-4-0613",
    "gpt-3.5-turbo": "gpt-3.5-turbo-0125",
    "gpt-5": "gpt-5-2025-08-07",
    "gpt-5-mini": "gpt-5-mini-2025-08-07",
    "gpt-5-nano": "gpt-5-nano-2025-08-07",
    "gpt-5.1": "gpt-5.1-2025-11-13",
    "gpt-5.2": "gpt-5.2-2025-12-11",
    "gpt-5.2-pro": "gpt-5.2-pro-2025-12-11",
    "gpt-5.4-mini": "gpt-5.4-mini-2026-03-17",
    "gpt-5.4-nano": "gpt-5.4-nano-2026-03-17",
    "gpt-5.5": "gpt-5.5-2026-04-23",
    "o1": "o1-2024-12-17",
    "o1-mini": "o1-mini-2024-09-12",
    "o3": "o3-2025-04-16",
    "o3-mini": "o3-mini-2025-01-31",
    "o4-mini": "o4-mini-2025-04-16",
    "claude-3-5-haiku-latest": "claude-3-5-haiku-20241022",
    "claude-3-7-sonnet-latest": "claude-3-7-sonnet-20250219",
    "claude-sonnet-4-0": "claude-sonnet-4-20250514",
    "claude-opus-4-0": "claude-opus-4-20250514",
    "claude-opus-4-1": "claude-opus-4-1-20250805",
    "claude-sonnet-4-5": "claude-sonnet-4-5-20250929",
    "claude-haiku-4-5": "claude-haiku-4-5-20251001",
    "claude-opus-4-5": "claude-opus-4-5-20251101",
}

_INT_HEADERS = {
    "x-mock-prompt-tokens": "prompt_tokens",
    "x-mock-completion-tokens": "completion_tokens",
    "x-mock-cached-tokens": "cached_tokens",
    "x-mock-reasoning-tokens": "reasoning_tokens",
    "x-mock-cache-write-tokens": "cache_write_tokens",
    "x-mock-cache-write-5m": "cache_write_5m",
    "x-mock-cache-write-1h": "cache_write_1h",
    "x-mock-chunks": "chunks",
    "x-mock-chunk-delay-ms": "chunk_delay_ms",
    "x-mock-error-times": "error_times",
}


class BadKnob(ValueError):
    """An `x-mock-*` header the mock cannot understand (answered with a 400)."""


@dataclass
class Fault:
    """One directive of `x-mock-error`: a status code, `slow`, `cut` or `midstream-error`."""

    kind: str  # "status" | "slow" | "cut" | "midstream-error" | "drop"
    value: int = 0


@dataclass
class Knobs:
    """The `x-mock-*` headers of one request, parsed."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    chunks: int = DEFAULT_CHUNKS
    chunk_delay_ms: int = 0
    error_times: int | None = None
    resolved_model: str | None = None
    service_tier: str | None = None
    delta_usage: str = "output"
    usage_patch: dict[str, Any] | None = None
    # `x-mock-usage: null`: the response carries no usage at all (some compatible servers).
    omit_usage: bool = False
    faults: list[Fault] = field(default_factory=list)
    # `x-mock-tool-call: NAME {"json": "args"}`: the answer (plain or streamed) is that one tool call.
    tool_call: tuple[str, dict[str, Any]] | None = None

    def fault(self, kind: str) -> Fault | None:
        return next((f for f in self.faults if f.kind == kind), None)


def parse_knobs(headers: dict[str, str]) -> Knobs:
    """Read the `x-mock-*` headers (names lower-cased); raise `BadKnob` on nonsense."""
    knobs = Knobs()
    for name, attr in _INT_HEADERS.items():
        if name in headers:
            setattr(knobs, attr, _non_negative_int(name, headers[name]))
    if knobs.chunks < 1:
        raise BadKnob("x-mock-chunks must be at least 1")
    knobs.resolved_model = headers.get("x-mock-resolved-model") or None
    knobs.service_tier = headers.get("x-mock-service-tier") or None
    delta_usage = headers.get("x-mock-delta-usage", "output").strip().lower()
    if delta_usage not in ("output", "full"):
        raise BadKnob("x-mock-delta-usage must be 'output' or 'full'")
    knobs.delta_usage = delta_usage
    if "x-mock-usage" in headers:
        try:
            patch = json.loads(headers["x-mock-usage"])
        except ValueError as exc:
            raise BadKnob(f"x-mock-usage is not JSON: {exc}") from None
        if patch is None:
            knobs.omit_usage = True
        elif not isinstance(patch, dict):
            raise BadKnob("x-mock-usage must be a JSON object or null")
        else:
            knobs.usage_patch = patch
    knobs.faults = parse_faults(headers.get("x-mock-error", ""))
    if "x-mock-tool-call" in headers:
        knobs.tool_call = _parse_tool_call(headers["x-mock-tool-call"])
    return knobs


def _parse_tool_call(spec: str) -> tuple[str, dict[str, Any]]:
    name, _, args = spec.strip().partition(" ")
    try:
        arguments = json.loads(args or "{}")
    except ValueError as exc:
        raise BadKnob(f"x-mock-tool-call arguments are not JSON: {exc}") from None
    if not name or not isinstance(arguments, dict):
        raise BadKnob("x-mock-tool-call is 'NAME {json object}'")
    return name, arguments


def tool_pieces(arguments: dict[str, Any], pieces: int = 3) -> list[str]:
    """The arguments' JSON text cut into `pieces` parts, as APIs that stream a tool
    call's arguments send them (joined they parse back to `arguments`)."""
    text = json.dumps(arguments)
    size = max(1, math.ceil(len(text) / pieces))
    return [text[i : i + size] for i in range(0, len(text), size)]


def parse_faults(spec: str) -> list[Fault]:
    """`429`, `slow:200`, `cut:3`, `midstream-error`, `drop`, or several joined by commas."""
    faults = []
    for part in (p.strip().lower() for p in spec.split(",")):
        if not part:
            continue
        if part.isdigit():
            status = int(part)
            if not 400 <= status <= 599:
                raise BadKnob(f"x-mock-error status {status} is not an error status")
            faults.append(Fault("status", status))
        elif part in ("midstream-error", "drop"):
            faults.append(Fault(part))
        elif part.partition(":")[0] in ("slow", "cut"):
            kind, _, arg = part.partition(":")
            faults.append(Fault(kind, _non_negative_int("x-mock-error " + kind, arg)))
        else:
            raise BadKnob(f"unknown x-mock-error directive {part!r}")
    return faults


def _non_negative_int(name: str, raw: str) -> int:
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise BadKnob(f"{name} must be an integer, got {raw!r}") from None
    if value < 0:
        raise BadKnob(f"{name} must not be negative")
    return value


def resolved_model(requested: str, knobs: Knobs) -> str:
    return knobs.resolved_model or SNAPSHOTS.get(requested, requested)


def _text_chars(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        return sum(_text_chars(item) for item in value)
    if isinstance(value, dict):
        return sum(_text_chars(value[key]) for key in ("content", "text", "input") if key in value)
    return 0


def default_prompt_tokens(body: dict[str, Any]) -> int:
    """The prompt tokens the mock reports when no `x-mock-prompt-tokens` is given."""
    chars = sum(_text_chars(body.get(key)) for key in ("messages", "input", "system", "instructions", "prompt"))
    return max(1, math.ceil(chars / 4))


def output_words(knobs: Knobs, max_tokens: int | None) -> tuple[list[str], bool]:
    """The words the model "generates" and whether `max_tokens` cut them short."""
    words = [BASE_WORDS[i % len(BASE_WORDS)] for i in range(knobs.chunks)]
    if max_tokens is not None and 0 < max_tokens < len(words):
        return words[:max_tokens], True
    return words, False


def text_deltas(words: list[str]) -> list[str]:
    """One delta per word; joined they give the full text ("Hello from the mock provider.")."""
    return [word if i == 0 else " " + word for i, word in enumerate(words)]


@dataclass
class Tokens:
    """Token counts of one call, before each provider shapes them."""

    prompt: int
    completion: int
    cached: int
    reasoning: int
    cache_write: int
    cache_write_5m: int
    cache_write_1h: int


def tokens_for(body: dict[str, Any], knobs: Knobs, words: list[str], *, cache_in_prompt: bool) -> Tokens:
    """Count tokens. `cache_in_prompt`: OpenAI counts cached reads inside the prompt,
    so a default prompt is raised to cover them; Anthropic reports them separately."""
    prompt = knobs.prompt_tokens
    if prompt is None:
        prompt = default_prompt_tokens(body)
        if cache_in_prompt:
            prompt = max(prompt, knobs.cached_tokens + knobs.cache_write_tokens)
    completion = knobs.completion_tokens
    if completion is None:
        completion = len(words) + knobs.reasoning_tokens
    return Tokens(
        prompt=prompt,
        completion=completion,
        cached=knobs.cached_tokens,
        reasoning=knobs.reasoning_tokens,
        cache_write=knobs.cache_write_tokens,
        cache_write_5m=knobs.cache_write_5m,
        cache_write_1h=knobs.cache_write_1h,
    )


def deep_merge(base: dict[str, Any], patch: dict[str, Any] | None) -> dict[str, Any]:
    """`x-mock-usage` lets a test add or replace any usage field (audio tokens...)."""
    if not patch:
        return base
    merged = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
