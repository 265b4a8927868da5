// The Gemini drop-in (`costline/google`) is `@google/genai`'s own client:
// same responses, chunks and errors; one event per API call, priced under
// `gemini/...`, cached content billed once, thoughts billed as output.
import "./env.mjs";

import { test } from "node:test";
import assert from "node:assert/strict";

import * as genai from "@google/genai";
import { GoogleGenAI, ApiError } from "costline/google";
import { BudgetExceededError, instrument, run } from "costline";
import { recorded, oneEvent, useMock, SECRET_KEY } from "./support.mjs";

const mock = useMock();

const MODEL = "gemini-2.5-flash";
// The gemini_cached_content_billed_once_thoughts_as_output vector.
const CACHED = {
  "x-mock-prompt-tokens": "10000",
  "x-mock-cached-tokens": "8000",
  "x-mock-completion-tokens": "2000",
  "x-mock-reasoning-tokens": "1500",
};

const options = () => ({ apiKey: SECRET_KEY, httpOptions: { baseUrl: mock.geminiBaseURL } });
const ours = (costline) => new GoogleGenAI(options(), costline);
const raw = () => new genai.GoogleGenAI(options());
const config = (headers) => ({ httpOptions: { headers } });

/** A response without the fields the mock varies per request. */
const same = (response) => {
  const { responseId, sdkHttpResponse, ...rest } = JSON.parse(JSON.stringify(response));
  return rest;
};

async function collect(stream) {
  const out = [];
  for await (const chunk of stream) out.push(chunk);
  return out;
}

/**
 * gemini-2.5-flash: 2000 uncached x 0.30/M + 8000 cached x 0.03/M + (2000 answer
 * + 1500 thoughts... reported as 2000 output incl. thoughts) x 2.50/M = 0.00584.
 */
function assertCachedUsage(event, { stream }) {
  assert.equal(event.provider, "google");
  assert.equal(event.operation, "generate_content");
  assert.equal(event.model, MODEL);
  assert.equal(event.resolved_model, MODEL);
  assert.equal(event.stream, stream);
  assert.equal(event.status, "ok");
  assert.equal(event.input_tokens, 10000);
  assert.equal(event.cached_input_tokens, 8000);
  assert.equal(event.output_tokens, 2000);
  assert.equal(event.reasoning_tokens, 1500);
  assert.equal(event.cost_usd, "0.00584");
  assert.equal(event.price_key, "gemini/gemini-2.5-flash");
  assert.equal(event.usage_source, "provider");
  assert.ok(!JSON.stringify(event).includes(SECRET_KEY));
}

test("the drop-in is the SDK's GoogleGenAI, and its errors are the SDK's", () => {
  assert.ok(ours() instanceof genai.GoogleGenAI);
  assert.equal(ApiError, genai.ApiError);
});

test("generateContent returns what the plain client returns; cached tokens billed once, thoughts as output", async () => {
  const mine = await ours().models.generateContent({ model: MODEL, contents: "hi", config: config(CACHED) });
  const event = await oneEvent();
  const theirs = await raw().models.generateContent({ model: MODEL, contents: "hi", config: config(CACHED) });
  assert.equal(Object.getPrototypeOf(mine), Object.getPrototypeOf(theirs));
  assert.deepEqual(same(mine), same(theirs));
  assert.equal(mine.text, theirs.text);
  assertCachedUsage(event, { stream: false });
});

test("generateContentStream yields the plain client's chunks and takes the last chunk's usage", async () => {
  const mine = await collect(await ours().models.generateContentStream({ model: MODEL, contents: "hi", config: config(CACHED) }));
  const event = await oneEvent();
  const theirs = await collect(await raw().models.generateContentStream({ model: MODEL, contents: "hi", config: config(CACHED) }));
  assert.ok(mine.length > 1);
  assert.deepEqual(mine.map(same), theirs.map(same));
  assertCachedUsage(event, { stream: true });
});

test("a stream left early (break) records one event, estimated: its running counts lack the output", async () => {
  const stream = await ours().models.generateContentStream({ model: MODEL, contents: "hi" });
  for await (const chunk of stream) {
    assert.ok(chunk.text);
    break;
  }
  const event = await oneEvent();
  assert.equal(event.stream, true);
  assert.equal(event.status, "ok");
  assert.equal(event.usage_source, "estimate");
  assert.ok(event.input_tokens > 0);
  assert.ok(event.output_tokens > 0);
});

test("an error in the middle of a stream throws what the plain client throws and records one error event", async () => {
  const bad = config({ "x-mock-error": "midstream-error" });
  const mine = await collect(await ours().models.generateContentStream({ model: MODEL, contents: "hi", config: bad })).catch((e) => e);
  const event = await oneEvent();
  const theirs = await collect(await raw().models.generateContentStream({ model: MODEL, contents: "hi", config: bad })).catch((e) => e);
  assert.ok(mine instanceof Error && theirs instanceof Error);
  assert.equal(mine.constructor, theirs.constructor);
  assert.equal(mine.message, theirs.message);
  assert.equal(event.status, "error");
  assert.equal(event.stream, true);
});

test("an HTTP error throws the SDK's ApiError, as the plain client does, and records one error event", async () => {
  const bad = config({ "x-mock-error": "429" });
  const mine = await ours().models.generateContent({ model: MODEL, contents: "hi", config: bad }).catch((e) => e);
  const event = await oneEvent();
  const theirs = await raw().models.generateContent({ model: MODEL, contents: "hi", config: bad }).catch((e) => e);
  assert.ok(mine instanceof genai.ApiError);
  assert.equal(mine.constructor, theirs.constructor);
  assert.equal(mine.status, 429);
  assert.equal(mine.message, theirs.message);
  assert.equal(event.status, "error");
  assert.equal(event.error_type, "ApiError");
});

test("embedContent, which reports no usage, is estimated from its input", async () => {
  const response = await ours().models.embedContent({ model: "text-embedding-004", contents: ["hello", "world"] });
  assert.equal(response.embeddings.length, 2);
  const event = await oneEvent();
  assert.equal(event.operation, "embeddings");
  assert.equal(event.usage_source, "estimate");
  assert.ok(event.input_tokens > 0);
  assert.equal(event.output_tokens, 0);
});

test("countTokens passes through unmetered", async () => {
  const counted = await ours().models.countTokens({ model: MODEL, contents: "hi" });
  assert.equal(counted.totalTokens, 7);
  assert.deepEqual(await recorded(), []);
});

test("withAgent, costline tags, run() and instrument(plainClient) attribute each call", async () => {
  const client = ours({ tags: { team: "g" } });
  const writer = client.withAgent("writer");
  assert.equal(client.withAgent("writer"), writer);
  assert.ok(writer instanceof genai.GoogleGenAI);
  await writer.models.generateContent({ model: MODEL, contents: "hi" });
  await run("job", () => client.models.generateContent({ model: MODEL, contents: "hi" }));
  const plain = raw();
  assert.equal(instrument(plain, { tags: { via: "instrument" } }), plain);
  instrument(plain, { tags: { via: "instrument" } });
  await plain.models.generateContent({ model: MODEL, contents: "hi" });
  const events = await recorded();
  assert.equal(events.length, 3);
  assert.deepEqual(events.map((e) => e.agent ?? null), ["writer", "job", null]);
  assert.deepEqual(events.map((e) => e.tags.team ?? null), ["g", "g", null]);
  assert.ok(events[1].run_id);
  assert.equal(events[2].tags.via, "instrument");
});

test("a call over a run's cap throws BudgetExceededError before anything is sent, and is recorded as blocked", async () => {
  const client = ours();
  for (const call of [
    () => client.models.generateContent({ model: MODEL, contents: "hi" }),
    async () => collect(await client.models.generateContentStream({ model: MODEL, contents: "hi" })),
  ]) {
    const err = await run({ maxCostUsd: "0.0000001" }, call).catch((e) => e);
    assert.ok(err instanceof BudgetExceededError, String(err));
  }
  assert.deepEqual(await mock.requests("Content"), [], "nothing reached the provider");
  const events = await recorded();
  assert.deepEqual(events.map((e) => [e.status, e.stream]), [["blocked", false], ["blocked", true]]);
});
