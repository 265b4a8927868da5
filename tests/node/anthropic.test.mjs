// The Anthropic drop-in returns exactly what `@anthropic-ai/sdk` returns, and
// records one event per logical call, with cache reads and writes normalised.
import "./env.mjs";

import { test } from "node:test";
import assert from "node:assert/strict";

import * as esm from "@anthropic-ai/sdk";
import Anthropic from "costline/anthropic";
import { recorded, oneEvent, useMock, stripVolatile, MESSAGES, SECRET_KEY } from "./support.mjs";

const mock = useMock();

// The SDK class the drop-in extends and its error classes (its statics,
// `Anthropic.RateLimitError`); the ESM identity is tested on its own.
const RawAnthropic = Object.getPrototypeOf(Anthropic);
const sdk = RawAnthropic;

const ours = (opts = {}, costline) => new Anthropic({ baseURL: mock.anthropicBaseURL, apiKey: SECRET_KEY, maxRetries: 0, ...opts }, costline);
const raw = (opts = {}) => new RawAnthropic({ baseURL: mock.anthropicBaseURL, apiKey: SECRET_KEY, maxRetries: 0, ...opts });

const BODY = { model: "claude-sonnet-4-5", max_tokens: 256, messages: MESSAGES };
// 1000 uncached + 300 cache reads + 200 5-minute cache writes in, 50 out.
const USAGE = { "x-mock-prompt-tokens": "1000", "x-mock-cached-tokens": "300", "x-mock-cache-write-5m": "200", "x-mock-completion-tokens": "50" };

/** An error's message without the request id the mock varies per request. */
const sameMessage = (err) => err.message.replace(/req_mock\w+/g, "req_mock");

async function collect(stream) {
  const out = [];
  for await (const ev of stream) out.push(ev);
  return out;
}

/**
 * claude-sonnet-4-5-20250929: 1000 x 3/M + 300 x 0.3/M + 200 x 3.75/M + 50 x 15/M
 * = 0.003 + 0.00009 + 0.00075 + 0.00075 = 0.00459.
 */
function assertSonnetUsage(event, { stream }) {
  assert.equal(event.provider, "anthropic");
  assert.equal(event.operation, "messages");
  assert.equal(event.model, "claude-sonnet-4-5");
  assert.equal(event.resolved_model, "claude-sonnet-4-5-20250929");
  assert.equal(event.stream, stream);
  assert.equal(event.status, "ok");
  assert.equal(event.usage_source, "provider");
  assert.deepEqual(
    [event.input_tokens, event.cached_input_tokens, event.cache_write_input_tokens, event.output_tokens],
    [1500, 300, 200, 50],
  );
  assert.equal(event.cost_usd, "0.00459");
  assert.equal(event.sdk.lang, "node");
}

test("the drop-in is a subclass of the SDK's class", () => {
  assert.equal(RawAnthropic.name, "Anthropic");
  assert.ok(ours() instanceof RawAnthropic);
});

test("with `import`, the drop-in and its errors are instances of what `import \"@anthropic-ai/sdk\"` exports", async () => {
  assert.ok(ours() instanceof esm.Anthropic, "new Anthropic() from costline/anthropic is not an instance of the SDK's Anthropic");
  const err = await ours().messages.create(BODY, { headers: { "x-mock-error": "429" } }).catch((e) => e);
  assert.ok(err instanceof esm.RateLimitError, "a 429 is not an instance of the SDK's RateLimitError");
  await recorded();
});

test("messages.create returns what the plain client returns and records one exact event", async () => {
  const mine = await ours().messages.create(BODY, { headers: USAGE });
  const theirs = await raw().messages.create(BODY, { headers: USAGE });
  assert.deepEqual(stripVolatile(mine), stripVolatile(theirs));
  assertSonnetUsage(await oneEvent(), { stream: false });
});

test("a messages stream gives the same events as the plain client and takes usage from start and delta", async () => {
  const mine = await collect(await ours().messages.create({ ...BODY, stream: true }, { headers: USAGE }));
  const theirs = await collect(await raw().messages.create({ ...BODY, stream: true }, { headers: USAGE }));
  assert.deepEqual(mine.map(stripVolatile), theirs.map(stripVolatile));
  assert.equal(mine[mine.length - 1].type, "message_stop");
  assertSonnetUsage(await oneEvent(), { stream: true });
});

test("messages.stream() (the helper) gives the same final message and records one event", async () => {
  const helper = ours().messages.stream(BODY, { headers: USAGE });
  const text = [];
  helper.on("text", (t) => text.push(t));
  const final = await helper.finalMessage();
  const plain = await raw().messages.stream(BODY, { headers: USAGE }).finalMessage();
  assert.deepEqual(stripVolatile(final), stripVolatile(plain));
  assert.equal(text.join(""), final.content[0].text);
  assertSonnetUsage(await oneEvent(), { stream: true });
});

test(".withResponse() gives the parsed message and the Response, and records one event", async () => {
  const { data, response } = await ours().messages.create(BODY, { headers: USAGE }).withResponse();
  assert.ok(response instanceof Response);
  assert.equal(data.type, "message");
  assertSonnetUsage(await oneEvent(), { stream: false });
});

test(".asResponse() of a stream read as bytes is the plain body and is metered", async () => {
  const response = await ours().messages.create({ ...BODY, stream: true }, { headers: USAGE }).asResponse();
  const text = Buffer.from(await response.arrayBuffer()).toString("utf8");
  assert.match(text, /event: message_stop/);
  assertSonnetUsage(await oneEvent(), { stream: true });
});

test(".asResponse() read with .json() is metered", async () => {
  const response = await ours().messages.create(BODY, { headers: USAGE }).asResponse();
  assert.equal((await response.json()).usage.input_tokens, 1000);
  assertSonnetUsage(await oneEvent(), { stream: false });
});

test("withOptions() keeps metering and the costline options", async () => {
  const client = ours({}, { tags: { team: "search" } }).withOptions({ timeout: 30_000 });
  await client.messages.create(BODY, { headers: USAGE });
  const event = await oneEvent();
  assertSonnetUsage(event, { stream: false });
  assert.deepEqual(event.tags, { team: "search" });
});

test("a 429 throws Anthropic's RateLimitError and records an error event", async () => {
  const mine = await ours().messages.create(BODY, { headers: { "x-mock-error": "429" } }).catch((e) => e);
  const theirs = await raw().messages.create(BODY, { headers: { "x-mock-error": "429" } }).catch((e) => e);
  assert.ok(mine instanceof sdk.RateLimitError, `got ${mine}`);
  assert.equal(mine.constructor, theirs.constructor);
  assert.equal(sameMessage(mine), sameMessage(theirs));
  const event = await oneEvent();
  assert.equal(event.status, "error");
  assert.equal(event.error_type, "RateLimitError");
  assert.equal(event.cost_usd, "0");
});

test("an overloaded 529 retried and then answered is one ok event", async () => {
  await ours({ maxRetries: 2 }).messages.create(BODY, { headers: { ...USAGE, "x-mock-error": "529", "x-mock-error-times": "1" } });
  assert.equal((await mock.requests("/v1/messages")).length, 2);
  assertSonnetUsage(await oneEvent(), { stream: false });
});

test("a cut stream throws what the plain client throws and records one error event", async () => {
  const headers = { "x-mock-error": "cut:3" };
  const mine = await collect(await ours().messages.create({ ...BODY, stream: true }, { headers })).catch((e) => e);
  const theirs = await collect(await raw().messages.create({ ...BODY, stream: true }, { headers })).catch((e) => e);
  assert.ok(mine instanceof Error, `expected an error, got ${JSON.stringify(mine)}`);
  assert.equal(mine.constructor, theirs.constructor);
  const event = await oneEvent();
  assert.equal(event.status, "error");
  assert.ok(event.error_type);
  // message_start arrived before the cut: its input tokens were spent.
  assert.ok(event.input_tokens > 0, JSON.stringify(event));
});

test("an error event in the middle of a stream throws what the plain client throws and records one error event", async () => {
  const headers = { "x-mock-error": "midstream-error" };
  const mine = await collect(await ours().messages.create({ ...BODY, stream: true }, { headers })).catch((e) => e);
  const theirs = await collect(await raw().messages.create({ ...BODY, stream: true }, { headers })).catch((e) => e);
  assert.ok(mine instanceof sdk.APIError, `got ${mine}`);
  assert.equal(mine.constructor, theirs.constructor);
  assert.equal(sameMessage(mine), sameMessage(theirs));
  const event = await oneEvent();
  assert.equal(event.status, "error");
  assert.equal(event.error_type, mine.constructor.name);
});

test("a break out of a stream records one ok event", async () => {
  const stream = await ours().messages.create({ ...BODY, stream: true }, { headers: { "x-mock-chunks": "20" } });
  let seen = 0;
  for await (const ev of stream) {
    assert.ok(ev.type);
    if (++seen === 3) break;
  }
  const event = await oneEvent();
  assert.equal(event.status, "ok");
  assert.equal(event.stream, true);
  assert.ok(event.input_tokens > 0);
});

test("messages.stream() left early (break) records one ok event", async () => {
  const helper = ours().messages.stream(BODY, { headers: { "x-mock-chunks": "20" } });
  for await (const ev of helper) {
    if (ev.type === "content_block_delta") break;
  }
  const event = await oneEvent();
  assert.equal(event.status, "ok", "leaving a stream early is not an error");
  assert.equal(event.stream, true);
});

test("messages.stream() abandoned early (abort after the first text) records one event", async () => {
  const helper = ours().messages.stream(BODY, { headers: { "x-mock-chunks": "20" } });
  for await (const ev of helper) {
    if (ev.type === "content_block_delta") {
      helper.abort();
      break;
    }
  }
  await helper.done().catch(() => {});
  const event = await oneEvent();
  assert.equal(event.status, "ok", "leaving a stream early is not an error");
  assert.equal(event.stream, true);
  assert.ok(event.input_tokens > 0);
});

test("count_tokens passes through unmetered", async () => {
  const counted = await ours().messages.countTokens({ model: "claude-sonnet-4-5", messages: MESSAGES });
  assert.ok(counted.input_tokens > 0);
  assert.deepEqual(await recorded(), []);
});
