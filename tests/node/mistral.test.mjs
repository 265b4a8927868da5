// The Mistral drop-in (`costline/mistral`) is `@mistralai/mistralai`'s own
// client: same objects, same event streams, same errors; each call is one
// event priced under `mistral/...`, cached prompt tokens billed once.
import "./env.mjs";

import { test } from "node:test";
import assert from "node:assert/strict";

import * as sdk from "@mistralai/mistralai";
import * as sdkErrors from "@mistralai/mistralai/models/errors";
import { Mistral } from "costline/mistral";
import { BudgetExceededError, instrument, run } from "costline";
import { recorded, oneEvent, useMock, MESSAGES, SECRET_KEY } from "./support.mjs";

const mock = useMock();

const MODEL = "mistral-small-latest";
// The mistral_cached_prompt_billed_once vector.
const CACHED = { "x-mock-prompt-tokens": "2000", "x-mock-cached-tokens": "1500", "x-mock-completion-tokens": "100" };

const options = () => ({ apiKey: SECRET_KEY, serverURL: mock.mistralServerURL });
const ours = (costline) => new Mistral(options(), costline);
const raw = () => new sdk.Mistral(options());

/** A response without the fields the mock varies per request. */
const same = (value) => {
  const { id, created, ...rest } = value;
  return rest;
};

async function collect(stream) {
  const out = [];
  for await (const event of stream) out.push(event);
  return out;
}

/** mistral-small-latest: 500 uncached x 0.1/M + 1500 cached x 0.01/M + 100 x 0.3/M = 0.0001575. */
function assertCachedUsage(event, { stream }) {
  assert.equal(event.provider, "mistral");
  assert.equal(event.operation, "chat");
  assert.equal(event.model, MODEL);
  assert.equal(event.stream, stream);
  assert.equal(event.status, "ok");
  assert.equal(event.input_tokens, 2000);
  assert.equal(event.cached_input_tokens, 1500);
  assert.equal(event.output_tokens, 100);
  assert.equal(event.cost_usd, "0.0001575");
  assert.equal(event.price_key, "mistral/mistral-small-latest");
  assert.equal(event.usage_source, "provider");
  assert.ok(!JSON.stringify(event).includes(SECRET_KEY));
}

test("the drop-in is the SDK's Mistral", () => {
  assert.ok(ours() instanceof sdk.Mistral);
});

test("chat.complete returns what the plain client returns and bills cached tokens once", async () => {
  const mine = await ours().chat.complete({ model: MODEL, messages: MESSAGES }, { headers: CACHED });
  const event = await oneEvent();
  const theirs = await raw().chat.complete({ model: MODEL, messages: MESSAGES }, { headers: CACHED });
  assert.deepEqual(same(mine), same(theirs));
  assertCachedUsage(event, { stream: false });
});

test("chat.stream yields the plain client's events and records the last chunk's usage", async () => {
  const mine = await collect(await ours().chat.stream({ model: MODEL, messages: MESSAGES }, { headers: CACHED }));
  const event = await oneEvent();
  const theirs = await collect(await raw().chat.stream({ model: MODEL, messages: MESSAGES }, { headers: CACHED }));
  assert.ok(mine.length > 1);
  assert.deepEqual(mine.map((e) => same(e.data)), theirs.map((e) => same(e.data)));
  assert.equal(mine.at(-1).data.usage.promptTokens, 2000);
  assertCachedUsage(event, { stream: true });
});

test("a stream left early (break), before its usage arrived, is recorded once, estimated", async () => {
  // Chunks 0.5 s apart: the usage chunk is seconds away when the caller leaves.
  const slow = { "x-mock-chunks": "6", "x-mock-chunk-delay-ms": "500" };
  const stream = await ours().chat.stream({ model: MODEL, messages: MESSAGES }, { headers: slow });
  for await (const event of stream) {
    assert.ok(event.data);
    break;
  }
  const event = await oneEvent();
  assert.equal(event.stream, true);
  assert.equal(event.status, "ok");
  assert.equal(event.usage_source, "estimate");
  assert.ok(event.input_tokens > 0);
});

test("embeddings.create is priced from its usage", async () => {
  const response = await ours().embeddings.create({ model: "mistral-embed", inputs: ["a", "b"] }, { headers: { "x-mock-prompt-tokens": "16" } });
  assert.equal(response.data.length, 2);
  const event = await oneEvent();
  assert.equal(event.operation, "embeddings");
  assert.equal(event.input_tokens, 16);
  assert.equal(event.cost_usd, "0.0000016");
});

test("an HTTP error throws the SDK's error, as the plain client does, and records one error event", async () => {
  const headers = { "x-mock-error": "429" };
  const mine = await ours().chat.complete({ model: MODEL, messages: MESSAGES }, { headers }).catch((e) => e);
  const event = await oneEvent();
  const theirs = await raw().chat.complete({ model: MODEL, messages: MESSAGES }, { headers }).catch((e) => e);
  assert.ok(mine instanceof sdkErrors.SDKError);
  assert.equal(mine.constructor, theirs.constructor);
  assert.equal(mine.statusCode, 429);
  assert.equal(event.status, "error");
  assert.equal(event.error_type, "SDKError");
});

test("a stream the server cuts throws what the plain client throws and records one event", async () => {
  const headers = { "x-mock-error": "midstream-error" };
  const mine = await collect(await ours().chat.stream({ model: MODEL, messages: MESSAGES }, { headers })).catch((e) => e);
  const event = await oneEvent();
  const theirs = await collect(await raw().chat.stream({ model: MODEL, messages: MESSAGES }, { headers })).catch((e) => e);
  assert.equal(Array.isArray(mine), Array.isArray(theirs));
  assert.equal(mine.length, theirs.length);
  assert.equal(event.stream, true);
  assert.equal(event.usage_source, "estimate");
});

test("withAgent, costline tags, run() and instrument(plainClient) attribute each call", async () => {
  const client = ours({ tags: { team: "a" } });
  const writer = client.withAgent("writer");
  assert.equal(client.withAgent("writer"), writer);
  assert.ok(writer instanceof sdk.Mistral);
  await writer.chat.complete({ model: MODEL, messages: MESSAGES });
  await run("job", () => client.chat.complete({ model: MODEL, messages: MESSAGES }));
  const plain = raw();
  await plain.chat.complete({ model: MODEL, messages: MESSAGES }); // a resource built before instrument()
  assert.equal(instrument(plain, { tags: { via: "instrument" } }), plain);
  instrument(plain, { tags: { via: "instrument" } });
  await plain.chat.complete({ model: MODEL, messages: MESSAGES });
  await plain.embeddings.create({ model: "mistral-embed", inputs: ["a"] });
  const events = await recorded();
  assert.deepEqual(events.map((e) => e.agent ?? null), ["writer", "job", null, null]);
  assert.deepEqual(events.map((e) => e.tags.team ?? e.tags.via ?? null), ["a", "a", "instrument", "instrument"]);
});

test("unmetered paths (models.list) pass through", async () => {
  await ours().models.list().catch(() => undefined);
  assert.deepEqual(await recorded(), []);
});

test("a call over a run's cap throws BudgetExceededError before anything is sent, and is recorded as blocked", async () => {
  const client = ours();
  for (const call of [
    () => client.chat.complete({ model: MODEL, messages: MESSAGES }),
    async () => collect(await client.chat.stream({ model: MODEL, messages: MESSAGES })),
  ]) {
    const err = await run({ maxCostUsd: "0.0000001" }, call).catch((e) => e);
    assert.ok(err instanceof BudgetExceededError, String(err));
  }
  assert.deepEqual(await mock.requests("/chat/completions"), [], "nothing reached the provider");
  const events = await recorded();
  assert.deepEqual(events.map((e) => [e.status, e.stream]), [["blocked", false], ["blocked", true]]);
});
