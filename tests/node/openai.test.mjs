// The OpenAI drop-in returns exactly what the `openai` package returns, and
// records one event per logical call, with the right tokens, cost and model.
import "./env.mjs";

import { test } from "node:test";
import assert from "node:assert/strict";

import * as esm from "openai";
import OpenAI, { AzureOpenAI } from "costline/openai";
import { recorded, oneEvent, useMock, stripVolatile, MESSAGES, SECRET_KEY } from "./support.mjs";

const mock = useMock();

// The SDK class the drop-in extends, and its error classes (the SDK's statics,
// `OpenAI.RateLimitError`, as its README shows): the plain client to compare
// with is the same SDK. Whether those are also the classes that
// `import "openai"` gives is tested on its own below.
const RawOpenAI = Object.getPrototypeOf(OpenAI);
const sdk = RawOpenAI;

const ours = (opts = {}, costline) => new OpenAI({ baseURL: mock.openaiBaseURL, apiKey: SECRET_KEY, maxRetries: 0, ...opts }, costline);
const raw = (opts = {}) => new RawOpenAI({ baseURL: mock.openaiBaseURL, apiKey: SECRET_KEY, maxRetries: 0, ...opts });

const USAGE = { "x-mock-prompt-tokens": "1000", "x-mock-cached-tokens": "200", "x-mock-completion-tokens": "500" };

async function collect(stream) {
  const out = [];
  for await (const chunk of stream) out.push(chunk);
  return out;
}

/** gpt-4o-2024-08-06 (what the mock answers for gpt-4o): 800 x 2.5/M + 200 x 1.25/M + 500 x 10/M. */
function assertGpt4oUsage(event, { stream, operation = "chat" }) {
  assert.equal(event.provider, "openai");
  assert.equal(event.operation, operation);
  assert.equal(event.model, "gpt-4o");
  assert.equal(event.resolved_model, "gpt-4o-2024-08-06");
  assert.equal(event.stream, stream);
  assert.equal(event.status, "ok");
  assert.equal(event.error_type, null);
  assert.equal(event.usage_source, "provider");
  assert.deepEqual([event.input_tokens, event.cached_input_tokens, event.output_tokens], [1000, 200, 500]);
  assert.equal(event.cost_usd, "0.00725");
  assert.equal(event.cost_source, "catalog");
  assert.equal(event.sdk.lang, "node");
}

test("the drop-ins are subclasses of the SDK's classes", () => {
  assert.equal(RawOpenAI.name, "OpenAI");
  assert.ok(ours() instanceof RawOpenAI);
  assert.equal(Object.getPrototypeOf(AzureOpenAI).name, "AzureOpenAI");
  assert.ok(new AzureOpenAI({ apiKey: "x", endpoint: "http://127.0.0.1:9", apiVersion: "2024-10-21" }) instanceof RawOpenAI);
});

test("with `import`, the drop-ins and their errors are instances of what `import \"openai\"` exports", async () => {
  assert.ok(ours() instanceof esm.OpenAI, "new OpenAI() from costline/openai is not an instance of openai's OpenAI");
  assert.ok(new AzureOpenAI({ apiKey: "x", endpoint: "http://127.0.0.1:9", apiVersion: "2024-10-21" }) instanceof esm.AzureOpenAI);
  const err = await ours().chat.completions.create({ model: "gpt-4o", messages: MESSAGES }, { headers: { "x-mock-error": "429" } }).catch((e) => e);
  assert.ok(err instanceof esm.RateLimitError, "a 429 is not an instance of openai's RateLimitError");
  await recorded();
});

test("chat.completions.create returns what the plain client returns and records one exact event", async () => {
  const mine = await ours().chat.completions.create({ model: "gpt-4o", messages: MESSAGES }, { headers: USAGE });
  const theirs = await raw().chat.completions.create({ model: "gpt-4o", messages: MESSAGES }, { headers: USAGE });
  assert.deepEqual(stripVolatile(mine), stripVolatile(theirs));
  assert.equal(mine.usage.prompt_tokens, 1000);
  const event = await oneEvent();
  assertGpt4oUsage(event, { stream: false });
  assert.equal(event.latency_ms >= 0, true);
});

test("a chat stream without include_usage: the same chunks as the plain client, usage asked for and hidden", async () => {
  const mine = await collect(await ours().chat.completions.create({ model: "gpt-4o", messages: MESSAGES, stream: true }, { headers: USAGE }));
  const theirs = await collect(await raw().chat.completions.create({ model: "gpt-4o", messages: MESSAGES, stream: true }, { headers: USAGE }));
  assert.ok(mine.length > 2);
  assert.deepEqual(mine.map(stripVolatile), theirs.map(stripVolatile));
  assert.ok(mine.every((c) => c.usage === undefined && c.choices.length === 1), "the hidden usage chunk leaked");
  const sent = await mock.requests("/chat/completions");
  assert.deepEqual(sent[0].stream_options, { include_usage: true }); // costline asked for it...
  assert.equal(sent[1].stream_options ?? null, null); // ...the plain client did not
  assertGpt4oUsage(await oneEvent(), { stream: true }); // ...and used it
});

test("a chat stream with the caller's own include_usage passes the usage chunk through unchanged", async () => {
  const body = { model: "gpt-4o", messages: MESSAGES, stream: true, stream_options: { include_usage: true } };
  const mine = await collect(await ours().chat.completions.create(body, { headers: USAGE }));
  const theirs = await collect(await raw().chat.completions.create(body, { headers: USAGE }));
  assert.deepEqual(mine.map(stripVolatile), theirs.map(stripVolatile));
  const last = mine[mine.length - 1];
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage.prompt_tokens, 1000);
  assertGpt4oUsage(await oneEvent(), { stream: true });
});

test("streamUsage: false leaves the request alone and estimates the stream's tokens", async () => {
  const chunks = await collect(await ours({}, { streamUsage: false }).chat.completions.create({ model: "gpt-4o", messages: MESSAGES, stream: true }));
  assert.ok(chunks.length > 0);
  const [sent] = await mock.requests("/chat/completions");
  assert.equal(sent.stream_options ?? null, null);
  const event = await oneEvent();
  assert.equal(event.usage_source, "estimate");
  assert.ok(event.input_tokens > 0 && event.output_tokens > 0, JSON.stringify(event));
  assert.equal(event.stream, true);
});

test("chat.completions.stream() (the helper) gives the same result and records one event", async () => {
  const helper = ours().chat.completions.stream({ model: "gpt-4o", messages: MESSAGES }, { headers: USAGE });
  const deltas = [];
  helper.on("content", (delta) => deltas.push(delta));
  const final = await helper.finalChatCompletion();
  const plain = await raw().chat.completions.stream({ model: "gpt-4o", messages: MESSAGES }, { headers: USAGE }).finalChatCompletion();
  assert.deepEqual(stripVolatile(final), stripVolatile(plain));
  assert.equal(deltas.join(""), final.choices[0].message.content);
  assertGpt4oUsage(await oneEvent(), { stream: true });
});

test("chat.completions.stream() left early (break) records one ok event", async () => {
  const helper = ours().chat.completions.stream({ model: "gpt-4o", messages: MESSAGES }, { headers: { "x-mock-chunks": "20" } });
  for await (const chunk of helper) {
    if (chunk.choices[0]?.delta?.content) break;
  }
  const event = await oneEvent();
  assert.equal(event.status, "ok");
  assert.equal(event.stream, true);
  assert.ok(event.input_tokens > 0);
});

test("responses.create, plain and streamed, each record one exact event", async () => {
  const client = ours();
  const plain = await client.responses.create({ model: "gpt-4o", input: "hi" }, { headers: USAGE });
  const plainRaw = await raw().responses.create({ model: "gpt-4o", input: "hi" }, { headers: USAGE });
  assert.deepEqual(stripVolatile(plain), stripVolatile(plainRaw));
  assert.equal(plain.output_text, plainRaw.output_text);
  const [first] = await recorded();
  assertGpt4oUsage(first, { stream: false, operation: "responses" });

  const streamed = await collect(await client.responses.create({ model: "gpt-4o", input: "hi", stream: true }, { headers: USAGE }));
  const streamedRaw = await collect(await raw().responses.create({ model: "gpt-4o", input: "hi", stream: true }, { headers: USAGE }));
  assert.deepEqual(streamed.map(stripVolatile), streamedRaw.map(stripVolatile));
  assert.equal(streamed[streamed.length - 1].type, "response.completed");
  const all = await recorded();
  assert.equal(all.length, 2);
  assertGpt4oUsage(all[1], { stream: true, operation: "responses" });
});

test("embeddings.create returns the decoded vectors and records the input tokens", async () => {
  const mine = await ours().embeddings.create({ model: "text-embedding-3-small", input: "hello" }, { headers: { "x-mock-prompt-tokens": "12000" } });
  const theirs = await raw().embeddings.create({ model: "text-embedding-3-small", input: "hello" }, { headers: { "x-mock-prompt-tokens": "12000" } });
  assert.deepEqual(mine, theirs);
  assert.equal(mine.data[0].embedding.length, 8);
  const event = await oneEvent();
  assert.equal(event.operation, "embeddings");
  assert.equal(event.model, "text-embedding-3-small");
  assert.equal(event.input_tokens, 12000);
  assert.equal(event.output_tokens, 0);
  assert.equal(event.cost_usd, "0.00024");
  assert.equal(event.stream, false);
});

test(".withResponse() gives the parsed data and the Response, and records one event", async () => {
  const { data, response, request_id } = await ours().chat.completions.create({ model: "gpt-4o", messages: MESSAGES }).withResponse();
  assert.ok(response instanceof Response);
  assert.equal(response.status, 200);
  assert.ok(request_id);
  assert.ok(data.choices[0].message.content);
  const event = await oneEvent();
  assert.equal(event.input_tokens, data.usage.prompt_tokens);
  assert.equal(event.output_tokens, data.usage.completion_tokens);
  assert.equal(event.resolved_model, data.model);
});

test(".withResponse() on a stream records one event when the stream is read", async () => {
  const { data: stream, response } = await ours().chat.completions.create({ model: "gpt-4o", messages: MESSAGES, stream: true }, { headers: USAGE }).withResponse();
  assert.equal(response.status, 200);
  const chunks = await collect(stream);
  assert.ok(chunks.every((c) => c.usage === undefined));
  assertGpt4oUsage(await oneEvent(), { stream: true });
});

test(".asResponse() read with .json() is the plain body and is metered", async () => {
  const response = await ours().chat.completions.create({ model: "gpt-4o", messages: MESSAGES }, { headers: USAGE }).asResponse();
  const body = await response.json();
  assert.equal(body.object, "chat.completion");
  assert.equal(body.usage.prompt_tokens, 1000);
  assertGpt4oUsage(await oneEvent(), { stream: false });
});

test(".asResponse() read as body bytes is the plain body and is metered", async () => {
  const response = await ours().chat.completions.create({ model: "gpt-4o", messages: MESSAGES }, { headers: USAGE }).asResponse();
  const reader = response.body.getReader();
  const parts = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(Buffer.from(value));
  }
  const body = JSON.parse(Buffer.concat(parts).toString("utf8"));
  assert.equal(body.usage.completion_tokens, 500);
  assertGpt4oUsage(await oneEvent(), { stream: false });
});

test(".asResponse() of a stream read as bytes still hides the usage chunk costline asked for", async () => {
  const response = await ours().chat.completions.create({ model: "gpt-4o", messages: MESSAGES, stream: true }, { headers: USAGE }).asResponse();
  const text = Buffer.from(await response.arrayBuffer()).toString("utf8");
  assert.match(text, /data: \[DONE\]/);
  assert.doesNotMatch(text, /"usage"/);
  assertGpt4oUsage(await oneEvent(), { stream: true });
});

test(".asResponse() of a stream read with .text() still hides the usage chunk costline asked for", async () => {
  const response = await ours().chat.completions.create({ model: "gpt-4o", messages: MESSAGES, stream: true }, { headers: USAGE }).asResponse();
  const text = await response.text();
  const plain = await (await raw().chat.completions.create({ model: "gpt-4o", messages: MESSAGES, stream: true }, { headers: USAGE }).asResponse()).text();
  const dataLines = (t) => t.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.replace(/"(id|created)":[^,]+,/g, ""));
  assert.deepEqual(dataLines(text), dataLines(plain), "the caller sees the plain client's bytes");
  assertGpt4oUsage(await oneEvent(), { stream: true });
});

test("withOptions() keeps metering and the costline options", async () => {
  const client = ours({}, { agent: "base", tags: { team: "search" } }).withOptions({ timeout: 30_000 });
  assert.ok(client instanceof RawOpenAI);
  await client.chat.completions.create({ model: "gpt-4o", messages: MESSAGES }, { headers: USAGE });
  const event = await oneEvent();
  assertGpt4oUsage(event, { stream: false });
  assert.equal(event.agent, "base");
  assert.deepEqual(event.tags, { team: "search" });
});

test("a 429 throws the SDK's RateLimitError, as the plain client does, and records an error event", async () => {
  const headers = { "x-mock-error": "429" };
  const mine = await ours().chat.completions.create({ model: "gpt-4o", messages: MESSAGES }, { headers }).catch((e) => e);
  const theirs = await raw().chat.completions.create({ model: "gpt-4o", messages: MESSAGES }, { headers }).catch((e) => e);
  assert.ok(mine instanceof sdk.RateLimitError, `got ${mine}`);
  assert.ok(mine instanceof sdk.APIError);
  assert.equal(mine.constructor, theirs.constructor);
  assert.equal(mine.status, 429);
  assert.equal(mine.message, theirs.message);
  const event = await oneEvent();
  assert.equal(event.status, "error");
  assert.equal(event.error_type, "RateLimitError");
  assert.equal(event.input_tokens, 0);
  assert.equal(event.cost_usd, "0");
});

test("a call retried after a 429 and then answered is one ok event", async () => {
  const client = ours({ maxRetries: 2 });
  const done = await client.chat.completions.create(
    { model: "gpt-4o", messages: MESSAGES },
    { headers: { ...USAGE, "x-mock-error": "429", "x-mock-error-times": "1" } },
  );
  assert.ok(done.choices.length);
  const attempts = await mock.requests("/chat/completions");
  assert.equal(attempts.length, 2, "the SDK retried once");
  const event = await oneEvent();
  assertGpt4oUsage(event, { stream: false });
});

test("a 500 after every retry is one error event", async () => {
  const err = await ours({ maxRetries: 2 }).chat.completions.create({ model: "gpt-4o", messages: MESSAGES }, { headers: { "x-mock-error": "500" } }).catch((e) => e);
  assert.ok(err instanceof sdk.InternalServerError, `got ${err}`);
  assert.equal((await mock.requests("/chat/completions")).length, 3);
  const event = await oneEvent();
  assert.equal(event.status, "error");
  assert.equal(event.error_type, "InternalServerError");
});

test("a stream cut by the server throws what the plain client throws and records one error event", async () => {
  const headers = { "x-mock-error": "cut:2" };
  const mine = await collect(await ours().chat.completions.create({ model: "gpt-4o", messages: MESSAGES, stream: true }, { headers })).catch((e) => e);
  const theirs = await collect(await raw().chat.completions.create({ model: "gpt-4o", messages: MESSAGES, stream: true }, { headers })).catch((e) => e);
  assert.ok(mine instanceof Error, `expected an error, got ${JSON.stringify(mine)}`);
  assert.equal(mine.constructor, theirs.constructor);
  assert.equal(mine.message, theirs.message);
  const event = await oneEvent();
  assert.equal(event.status, "error");
  assert.ok(event.error_type, "error_type names the failure");
  assert.equal(event.stream, true);
});

test("an error event in the middle of a stream throws what the plain client throws and records one error event", async () => {
  const headers = { "x-mock-error": "midstream-error" };
  const mine = await collect(await ours().chat.completions.create({ model: "gpt-4o", messages: MESSAGES, stream: true }, { headers })).catch((e) => e);
  const theirs = await collect(await raw().chat.completions.create({ model: "gpt-4o", messages: MESSAGES, stream: true }, { headers })).catch((e) => e);
  assert.ok(mine instanceof sdk.APIError, `got ${mine}`);
  assert.equal(mine.constructor, theirs.constructor);
  assert.equal(mine.message, theirs.message);
  const event = await oneEvent();
  assert.equal(event.status, "error");
  assert.equal(event.error_type, "APIError");
});

test("a responses stream that fails midway yields what the plain client yields and records one error event", async () => {
  // The Responses API reports a failure inside the stream as an `error` event
  // and `response.failed`; the openai SDK hands both to the caller as events
  // (it throws only for chat's `data: {"error": ...}`), so the caller sees the
  // same events either way, and the event records the failure.
  const headers = { "x-mock-error": "midstream-error" };
  const mine = await collect(await ours().responses.create({ model: "gpt-4o", input: "hi", stream: true }, { headers }));
  const theirs = await collect(await raw().responses.create({ model: "gpt-4o", input: "hi", stream: true }, { headers }));
  const shape = (events) => events.map((e) => e.type);
  assert.deepEqual(shape(mine), shape(theirs));
  assert.ok(mine.some((e) => e.type === "error") && mine.some((e) => e.type === "response.failed"), JSON.stringify(shape(mine)));
  const event = await oneEvent();
  assert.equal(event.status, "error");
  assert.equal(event.error_type, "APIError");
});

test("a break out of a stream records one ok event", async () => {
  const stream = await ours().chat.completions.create({ model: "gpt-4o", messages: MESSAGES, stream: true }, { headers: { "x-mock-chunks": "20" } });
  let seen = 0;
  for await (const chunk of stream) {
    assert.ok(chunk.choices);
    if (++seen === 2) break;
  }
  const event = await oneEvent();
  assert.equal(event.status, "ok");
  assert.equal(event.stream, true);
  // Whether the usage chunk was already in the bytes read when the loop broke
  // depends on how the body arrived: either way the tokens are counted.
  assert.ok(["estimate", "provider"].includes(event.usage_source));
  assert.ok(event.input_tokens > 0 && event.output_tokens > 0, JSON.stringify(event));
});

test("endpoints costline does not meter pass through and record nothing", async () => {
  const models = await ours().models.list();
  assert.ok(Array.isArray(models.data));
  assert.deepEqual(await recorded(), []);
});

test("an unknown model is recorded with an unknown cost, never zero", async () => {
  await ours().chat.completions.create({ model: "no-such-model-xyz", messages: MESSAGES });
  const event = await oneEvent();
  assert.equal(event.cost_usd, null);
  assert.equal(event.cost_source, "unknown");
  assert.ok(event.input_tokens > 0);
});

test("the API key and the prompt never enter an event", async () => {
  await ours().chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "PROMPT-MARKER-77" }] });
  const text = JSON.stringify(await recorded());
  assert.ok(!text.includes(SECRET_KEY));
  assert.ok(!text.includes("PROMPT-MARKER-77"));
  assert.ok(!text.includes("Hello from the mock"));
});

test("unknown costline options are refused at construction", () => {
  assert.throws(() => ours({}, { budgett: 1 }), /unknown costline option/);
});
