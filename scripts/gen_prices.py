#!/usr/bin/env python3
"""Generate costline's price catalog, ``core/data/prices.json``, from litellm's price list.

Usage::

    python3 scripts/gen_prices.py [SOURCE] [--out core/data/prices.json] [--litellm-version V]

SOURCE is a litellm wheel (``litellm-*.whl``), or the bare JSON file
(``model_prices_and_context_window_backup.json``, then pass ``--litellm-version``).
Without SOURCE the script runs ``pip download --no-deps litellm`` into a temporary
directory and reads the wheel it gets. Standard library only.

Output (deterministic: same input, same bytes)::

    {
      "catalog_version": "litellm-<version>+<first 8 hex of sha256 of "models">",
      "source": "...", "units": "...",
      "models": {
        "<catalog key>": {
          "provider": "<litellm_provider>", "mode": "chat|responses|embedding|completion",
          "max_input_tokens": int, "max_output_tokens": int,          (when known)
          <rates>,                                                     (standard rates)
          "context_tiers": [{"above_input_tokens": N, <rates>}, ...],   (sorted by N)
          "service_tiers": {"batch"|"flex"|"priority": {<rates>, "context_tiers": [...]}}
        }
      }
    }

where ``<rates>`` are USD per token as exact decimal strings, each optional except the
standard ``input`` and ``output``: ``input``, ``output``, ``cache_read``,
``cache_write_5m``, ``cache_write_1h``, ``cache_write_12h``, ``input_audio``,
``output_audio``, and ``cache_write_1h_derived: true`` when the 1-hour write price was
derived (rule 5).

Rules:

1. Models kept: litellm providers openai, text-completion-openai, azure, azure_text,
   azure_ai, anthropic, gemini, vertex_ai*, mistral, bedrock, bedrock_converse, groq,
   together_ai, fireworks_ai, deepseek, xai, openrouter; modes
   chat, responses, embedding, completion (``ft:`` fine-tuning entries are chat entries and
   are kept). Entries without an ``input_cost_per_token`` (priced per second, per image...)
   are dropped. A missing ``output_cost_per_token`` is "0" for embeddings; other modes
   without it are dropped.
2. Prices: litellm stores binary floats; each is converted through ``repr()`` (the shortest
   text that round-trips, i.e. the literal litellm's authors typed) to ``decimal.Decimal``
   and written in plain notation without trailing zeros: 2.5e-06 -> "0.0000025".
   A negative price aborts the run.
3. Field names: ``input_cost_per_token`` -> input, ``output_cost_per_token`` -> output,
   ``cache_read_input_token_cost`` -> cache_read, ``cache_creation_input_token_cost`` ->
   cache_write_5m (the default TTL: 5 minutes at Anthropic, 30 minutes at OpenAI),
   ``cache_creation_input_token_cost_above_1hr`` -> cache_write_1h,
   ``cache_creation_input_token_cost_above_12hr`` -> cache_write_12h,
   ``input_cost_per_audio_token`` -> input_audio, ``output_cost_per_audio_token`` ->
   output_audio. Any of these followed by ``_above_<N>k_tokens`` belongs to the long-context
   tier with threshold N*1000 input tokens; followed (also after the tier) by ``_batches``,
   ``_flex`` or ``_priority`` it belongs to that service tier (``batches`` is written
   ``batch``). Other litellm fields (per-image, per-second, "ultrafast", "decisions"...)
   are not carried.
4. ``max_input_tokens`` / ``max_output_tokens`` are carried when they are positive integers.
5. Anthropic's published rule prices a 1-hour cache write at 2x the base input price. For a
   Claude model (a key containing "claude") whose rate set has a 5-minute write price and
   an input price but no 1-hour write price, the 1-hour price is derived as 2 x that set's
   input price and the set is marked ``"cache_write_1h_derived": true``. This applies to the
   standard rates, each long-context tier and each service tier separately.
"""

from __future__ import annotations

import argparse
import decimal
import glob
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile

PRICE_JSON_IN_WHEEL = "litellm/model_prices_and_context_window_backup.json"

KEPT_PROVIDERS = {
    "openai",
    "text-completion-openai",
    "azure",
    "azure_text",
    "azure_ai",
    "anthropic",
    "gemini",
    "mistral",
    "bedrock",
    "bedrock_converse",
    # OpenAI-compatible services the OpenAI drop-in recognises by host.
    "groq",
    "together_ai",
    "fireworks_ai",
    "deepseek",
    "xai",
    "openrouter",
}
KEPT_MODES = {"chat", "responses", "embedding", "completion"}

# litellm base field name -> costline rate name. Longest names first so that the
# 1-hour cache field is not read as the 5-minute one with a suffix.
RATE_FIELDS = {
    "cache_creation_input_token_cost_above_12hr": "cache_write_12h",
    "cache_creation_input_token_cost_above_1hr": "cache_write_1h",
    "cache_creation_input_token_cost": "cache_write_5m",
    "cache_read_input_token_cost": "cache_read",
    "input_cost_per_audio_token": "input_audio",
    "output_cost_per_audio_token": "output_audio",
    "input_cost_per_token": "input",
    "output_cost_per_token": "output",
}
SERVICE_TIERS = {"batches": "batch", "flex": "flex", "priority": "priority"}

FIELD_RE = re.compile(
    r"^(?P<base>"
    + "|".join(re.escape(name) for name in sorted(RATE_FIELDS, key=len, reverse=True))
    + r")(?:_above_(?P<kilo>\d+)k_tokens)?(?:_(?P<service>"
    + "|".join(SERVICE_TIERS)
    + r"))?$"
)


def keep_provider(provider: str) -> bool:
    return provider in KEPT_PROVIDERS or provider.startswith("vertex_ai")


def exact_decimal(value, where: str) -> str | None:
    """A price as a plain decimal string, exactly as litellm's literal was written."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        text = repr(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        return None
    try:
        number = decimal.Decimal(text)
    except decimal.InvalidOperation:
        print(f"warning: {where}: not a number: {value!r}; skipped", file=sys.stderr)
        return None
    if not number.is_finite():
        return None
    if number < 0:
        raise SystemExit(f"error: {where}: negative price {value!r}")
    # normalize() drops trailing zeros; format "f" writes it without an exponent.
    return format(number.normalize(), "f")


def empty_rate_set() -> dict:
    return {"rates": {}, "tiers": {}}


def convert_model(key: str, entry: dict) -> dict | None:
    """One litellm entry as a costline catalog entry, or None when it is not kept."""
    sets: dict[str, dict] = {"standard": empty_rate_set()}
    for field, value in entry.items():
        match = FIELD_RE.match(field)
        if not match:
            continue
        price = exact_decimal(value, f"{key}.{field}")
        if price is None:
            continue
        service = SERVICE_TIERS.get(match.group("service") or "", "standard")
        rate_set = sets.setdefault(service, empty_rate_set())
        rate = RATE_FIELDS[match.group("base")]
        if match.group("kilo"):
            threshold = int(match.group("kilo")) * 1000
            rate_set["tiers"].setdefault(threshold, {})[rate] = price
        else:
            rate_set["rates"][rate] = price

    standard = sets["standard"]["rates"]
    if "input" not in standard:
        return None
    if "output" not in standard:
        if entry.get("mode") != "embedding":
            return None
        standard["output"] = "0"

    is_claude = "claude" in key.lower()
    out: dict = {"provider": entry["litellm_provider"], "mode": entry["mode"]}
    for limit in ("max_input_tokens", "max_output_tokens"):
        value = entry.get(limit)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            out[limit] = value
    out.update(finish_rates(standard, is_claude))
    if sets["standard"]["tiers"]:
        out["context_tiers"] = finish_tiers(sets["standard"]["tiers"], is_claude)
    services = {}
    for name in ("batch", "flex", "priority"):
        if name not in sets:
            continue
        service = finish_rates(sets[name]["rates"], is_claude)
        if sets[name]["tiers"]:
            service["context_tiers"] = finish_tiers(sets[name]["tiers"], is_claude)
        services[name] = service
    if services:
        out["service_tiers"] = services
    return out


def finish_rates(rates: dict, is_claude: bool) -> dict:
    rates = dict(rates)
    if is_claude and "cache_write_5m" in rates and "input" in rates and "cache_write_1h" not in rates:
        rates["cache_write_1h"] = format((decimal.Decimal(rates["input"]) * 2).normalize(), "f")
        rates["cache_write_1h_derived"] = True
    return rates


def finish_tiers(tiers: dict, is_claude: bool) -> list:
    return [
        {"above_input_tokens": threshold, **finish_rates(rates, is_claude)}
        for threshold, rates in sorted(tiers.items())
    ]


def build_catalog(raw: dict, litellm_version: str) -> dict:
    models = {}
    for key, entry in raw.items():
        if key == "sample_spec" or not isinstance(entry, dict):
            continue
        if not keep_provider(str(entry.get("litellm_provider", ""))):
            continue
        if entry.get("mode") not in KEPT_MODES:
            continue
        converted = convert_model(key, entry)
        if converted is not None:
            models[key] = converted
    canonical = json.dumps(models, sort_keys=True, separators=(",", ":")).encode()
    digest = hashlib.sha256(canonical).hexdigest()[:8]
    return {
        "catalog_version": f"litellm-{litellm_version}+{digest}",
        "source": f"litellm {litellm_version}, {PRICE_JSON_IN_WHEEL}; generated by scripts/gen_prices.py",
        "units": "USD per token, exact decimal strings",
        "models": models,
    }


def read_wheel(path: str) -> tuple[dict, str]:
    match = re.match(r"litellm-([^-]+)-", os.path.basename(path))
    version = match.group(1) if match else "unknown"
    with zipfile.ZipFile(path) as wheel:
        raw = json.loads(wheel.read(PRICE_JSON_IN_WHEEL))
    return raw, version


def download_wheel(directory: str) -> str:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "litellm", "-d", directory],
        check=True,
    )
    wheels = glob.glob(os.path.join(directory, "litellm-*.whl"))
    if not wheels:
        raise SystemExit("error: pip download did not produce a litellm wheel")
    return wheels[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", nargs="?", help="litellm wheel or price JSON; default: pip download litellm")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "core", "data", "prices.json"))
    parser.add_argument("--litellm-version", help="version to stamp when SOURCE is a bare JSON file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        source = args.source or download_wheel(scratch)
        if source.endswith(".whl"):
            raw, version = read_wheel(source)
        else:
            with open(source, encoding="utf-8") as handle:
                raw = json.load(handle)
            version = "unknown"
        version = args.litellm_version or version

    catalog = build_catalog(raw, version)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8", newline="\n") as handle:
        json.dump(catalog, handle, sort_keys=True, indent=1, ensure_ascii=False)
        handle.write("\n")
    print(f"{args.out}: {len(catalog['models'])} models, catalog_version {catalog['catalog_version']}")


if __name__ == "__main__":
    main()
