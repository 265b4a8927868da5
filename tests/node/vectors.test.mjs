// The shared vectors in tests/vectors/ (the Rust and Python suites replay the
// same files): usage payload -> tokens and exact cost, model -> price key,
// text -> token count, through the Node addon and package.
import "./env.mjs";

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { cost, countTokens } from "costline";
import { REPO, native } from "./support.mjs";

const VECTORS = join(REPO, "tests", "vectors");

function load(name, key) {
  const data = JSON.parse(readFileSync(join(VECTORS, name), "utf8"));
  const cases = key ? data[key] : data;
  assert.ok(Array.isArray(cases) && cases.length > 0, `${name}: expected a non-empty list of cases`);
  return cases;
}

/** Decimal strings compared as exact numbers ("0.00725" == "0.007250"), never as floats. */
function sameDecimal(actual, expected, what) {
  const norm = (s) => {
    assert.match(s, /^-?\d+(\.\d+)?$/, `${what}: ${s} is not a decimal string`);
    let [int, frac = ""] = s.split(".");
    frac = frac.replace(/0+$/, "");
    int = int.replace(/^(-?)0+(?=\d)/, "$1");
    return frac ? `${int}.${frac}` : int;
  };
  assert.equal(norm(actual), norm(expected), what);
}

const TOKEN_FIELDS = ["input_tokens", "output_tokens", "cached_input_tokens", "cache_write_input_tokens", "reasoning_tokens"];

function checkEvent(event, expected, name) {
  for (const field of TOKEN_FIELDS) assert.equal(event[field], expected[field], `${name}: ${field}`);
  if (expected.cost_usd === null) assert.equal(event.cost_usd, null, `${name}: cost_usd`);
  else sameDecimal(event.cost_usd, expected.cost_usd, `${name}: cost_usd`);
  assert.equal(event.cost_source, expected.cost_source, `${name}: cost_source`);
  assert.equal(event.price_key, expected.price_key, `${name}: price_key`);
  assert.equal(event.usage_source, expected.usage_source ?? "provider", `${name}: usage_source`);
}

const usageVectors = load("usage_cost.json", "vectors");

test("every usage vector gives its exact tokens and cost through the addon", () => {
  for (const v of usageVectors) {
    const event = JSON.parse(
      native.previewEvent(v.provider, v.operation ?? "chat", v.model, v.resolved_model ?? null, JSON.stringify(v.usage_parts)),
    );
    checkEvent(event, v.expected, v.name);
    assert.deepEqual(event.sdk.lang, "node");
  }
});

/**
 * The body a provider would send for a vector's usage: what the drop-ins
 * meter, byte for byte (the service tier sits beside the usage, as in the APIs).
 */
function bodyOf(v) {
  const parts = v.usage_parts.map((p) => ({ ...p }));
  if (v.provider === "anthropic" && parts.length === 2) {
    const start = { type: "message_start", message: { type: "message", role: "assistant", model: v.resolved_model ?? v.model, content: [], usage: parts[0] } };
    const delta = { type: "message_delta", delta: { stop_reason: "end_turn" }, usage: parts[1] };
    const body = [start, delta, { type: "message_stop" }].map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join("");
    return { stream: true, body };
  }
  if (v.provider === "google" && parts.length > 1) {
    // A Gemini stream: cumulative usageMetadata on each chunk, the last one final.
    const chunks = parts.map((usageMetadata) => ({ candidates: [], usageMetadata, modelVersion: v.resolved_model ?? v.model }));
    return { stream: true, body: chunks.map((c) => `data: ${JSON.stringify(c)}\r\n\r\n`).join("") };
  }
  if (parts.length !== 1) return undefined;
  const usage = parts[0];
  if (v.provider === "anthropic") {
    return { stream: false, body: JSON.stringify({ type: "message", role: "assistant", model: v.resolved_model ?? v.model, content: [], usage }) };
  }
  if (v.provider === "google" && !("prompt_tokens" in usage)) {
    return { stream: false, body: JSON.stringify({ candidates: [], usageMetadata: usage, modelVersion: v.resolved_model ?? v.model }) };
  }
  // OpenAI's shape: OpenAI, Azure, Mistral, Gemini's compatible endpoint and
  // every OpenAI-compatible host (groq, deepseek...).
  if (v.provider !== "anthropic" && v.provider !== "bedrock") {
    const tier = usage.service_tier;
    delete usage.service_tier;
    const body = { object: "chat.completion", model: v.resolved_model ?? v.model, choices: [], usage };
    if (tier !== undefined) body.service_tier = tier;
    return { stream: false, body: JSON.stringify(body) };
  }
  return undefined;
}

// Bedrock's responses are decoded by the AWS SDKs (JSON and AWS event-stream
// framing), never scanned as bodies: its vectors replay through previewEvent only.
test("every OpenAI, Anthropic, Gemini, Mistral and compatible-host usage vector gives the same event when read from a response body", () => {
  let replayed = 0;
  const seen = new Set();
  for (const v of usageVectors) {
    const made = bodyOf(v);
    if (!made) continue;
    const event = JSON.parse(native.previewBodyEvent(v.provider, v.operation ?? "chat", v.model, made.stream, made.body));
    checkEvent(event, v.expected, `${v.name} (body)`);
    replayed++;
    seen.add(v.provider);
  }
  for (const provider of ["openai", "azure", "anthropic", "google", "mistral", "groq", "deepseek"]) {
    assert.ok(seen.has(provider), `no ${provider} vector was replayed as a body`);
  }
  const bodies = usageVectors.filter((v) => v.provider !== "bedrock").length;
  assert.ok(replayed >= bodies - 3, `only ${replayed} of ${bodies} vectors replayed as bodies`);
});

test("every model resolution vector names its price key", () => {
  for (const c of load("model_resolution.json", "cases")) {
    assert.equal(native.priceKey(c.provider, c.model) ?? null, c.expected_price_key, `${c.provider}:${c.model} (${c.step})`);
  }
});

test("every token vector is counted exactly by countTokens", () => {
  for (const c of load("tokens.json")) {
    assert.equal(countTokens(c.text, c.model), c.tokens, `${c.model}: ${JSON.stringify(c.text.slice(0, 30))}`);
  }
});

test("cost() of the issue's example is the exact decimal string", () => {
  assert.equal(cost({ model: "gpt-4o", inputTokens: 1000, outputTokens: 500, cachedInputTokens: 200 }), "0.00725");
});

test("cost() of an unknown model is null, never zero", () => {
  assert.equal(cost({ model: "no-such-model-xyz", inputTokens: 10, outputTokens: 10 }), null);
});

test("countTokens is offline and survives a pathological input", () => {
  assert.equal(countTokens("hello world", "gpt-4o"), 2);
  assert.ok(countTokens("a".repeat(100_000), "gpt-4o") > 0);
});
