// The Bedrock drop-in (`costline/bedrock`) is the real
// `@aws-sdk/client-bedrock-runtime` client, metered through its middleware
// stack: the same outputs, event streams and exceptions as the plain client,
// one event per call, priced under Bedrock model ids (inference profiles
// included), against the mock provider's SigV4-accepting Bedrock routes.
import "./env.mjs";

import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";

import * as esm from "@aws-sdk/client-bedrock-runtime";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { BedrockRuntimeClient, BedrockRuntime } from "costline/bedrock";
import { configure, instrument, run, BudgetExceededError } from "costline";
import { recorded, oneEvent, useMock } from "./support.mjs";

const { ConverseCommand, ConverseStreamCommand, InvokeModelCommand, InvokeModelWithResponseStreamCommand, ThrottlingException } =
  esm;

const mock = useMock();

const CLAUDE = "anthropic.claude-sonnet-4-5-20250929-v1:0";
const MESSAGES = [{ role: "user", content: [{ text: "Say hello to the mock." }] }];
const SECRET = "bedrock-SECRET-key-4242";
// The bedrock_converse_cache_read_and_write_billed_once vector: 100 uncached,
// 5000 cache reads and 1000 cache writes in, 200 out.
const CACHED = {
  "x-mock-prompt-tokens": "100",
  "x-mock-completion-tokens": "200",
  "x-mock-cached-tokens": "5000",
  "x-mock-cache-write-tokens": "1000",
};

/**
 * Client configuration for the mock: fake static credentials (the mock
 * accepts any SigV4 signature) and HTTP/1.1 (the SDK's default handler for
 * this client speaks HTTP/2, which the mock does not).
 */
const config = (extra = {}) => ({
  region: "us-east-1",
  endpoint: mock.url + "/bedrock",
  credentials: { accessKeyId: "AKIDMOCK", secretAccessKey: SECRET },
  requestHandler: new NodeHttpHandler(),
  maxAttempts: 1,
  ...extra,
});

/** Send the mock's x-mock-* headers with every request of `client`. */
function withHeaders(client, headers) {
  client.middlewareStack.add(
    (next) => async (args) => {
      Object.assign(args.request.headers, headers);
      return next(args);
    },
    { step: "build", name: "mockHeaders" },
  );
  return client;
}

const ours = (headers = {}, extra, costline) => withHeaders(new BedrockRuntimeClient(config(extra), costline), headers);
const raw = (headers = {}, extra) => withHeaders(new esm.BedrockRuntimeClient(config(extra)), headers);

/** An output without the per-request metadata the SDK adds. */
function plain(output) {
  const { $metadata, ...rest } = output;
  void $metadata;
  return rest;
}

async function collect(stream) {
  const out = [];
  for await (const event of stream) out.push(event);
  return out;
}

const decode = (body) => JSON.parse(Buffer.from(body).toString());

test("the drop-ins are subclasses of the SDK's clients, with import as with require", () => {
  assert.ok(new BedrockRuntimeClient(config()) instanceof esm.BedrockRuntimeClient);
  assert.ok(new BedrockRuntime(config()) instanceof esm.BedrockRuntime);
  assert.equal(Object.getPrototypeOf(BedrockRuntimeClient), esm.BedrockRuntimeClient);
  const require = createRequire(import.meta.url);
  const cjs = require("costline/bedrock");
  const sdk = require("@aws-sdk/client-bedrock-runtime");
  assert.ok(new cjs.BedrockRuntimeClient(config()) instanceof sdk.BedrockRuntimeClient);
  assert.ok(new cjs.BedrockRuntime(config()) instanceof sdk.BedrockRuntime);
  assert.equal(cjs.ThrottlingException, sdk.ThrottlingException, "the SDK's exports pass through");
});

test("converse returns what the plain client returns and bills cache reads and writes once, exactly", async () => {
  const mine = await ours(CACHED).send(new ConverseCommand({ modelId: CLAUDE, messages: MESSAGES }));
  const theirs = await raw(CACHED).send(new ConverseCommand({ modelId: CLAUDE, messages: MESSAGES }));
  assert.deepEqual(plain(mine), plain(theirs));
  const event = await oneEvent();
  assert.deepEqual(
    [event.provider, event.operation, event.model, event.stream, event.status, event.usage_source],
    ["bedrock", "converse", CLAUDE, false, "ok", "provider"],
  );
  assert.deepEqual([event.input_tokens, event.cached_input_tokens, event.cache_write_input_tokens, event.output_tokens], [6100, 5000, 1000, 200]);
  // 100 x 3/M + 5000 x 0.3/M + 1000 x 3.75/M + 200 x 15/M
  assert.deepEqual([event.cost_usd, event.price_key], ["0.00855", CLAUDE]);
  assert.equal(event.sdk.lang, "node");
  assert.ok(!JSON.stringify(event).includes(SECRET));
  assert.ok(!JSON.stringify(event).includes("Hello"), "output text never enters an event");
});

test("a converse stream gives the plain client's events and takes its usage from the metadata event", async () => {
  const model = "us." + CLAUDE;
  const mine = await ours(CACHED).send(new ConverseStreamCommand({ modelId: model, messages: MESSAGES }));
  const theirs = await raw(CACHED).send(new ConverseStreamCommand({ modelId: model, messages: MESSAGES }));
  const [a, b] = [await collect(mine.stream), await collect(theirs.stream)];
  assert.deepEqual(a, b);
  assert.ok("metadata" in a[a.length - 1]);
  const event = await oneEvent();
  assert.deepEqual([event.operation, event.model, event.stream, event.usage_source], ["converse", model, true, "provider"]);
  // the us. profile's own price: the bedrock_us_inference_profile_has_its_own_price vector
  assert.deepEqual([event.cost_usd, event.price_key], ["0.009405", model]);
});

for (const [model, headers, cost] of [
  ["meta.llama3-8b-instruct-v1:0", { "x-mock-prompt-tokens": "1000", "x-mock-completion-tokens": "500" }, "0.0006"],
  ["amazon.titan-text-express-v1", { "x-mock-prompt-tokens": "300", "x-mock-completion-tokens": "200", "x-mock-usage": "null" }, "0.00018"],
  [
    "apac.anthropic.claude-3-5-haiku-20241022-v1:0",
    { "x-mock-prompt-tokens": "1000", "x-mock-completion-tokens": "100", "x-mock-cached-tokens": "2000", "x-mock-cache-write-tokens": "500", "x-mock-usage": "null" },
    "0.00186",
  ],
]) {
  test(`invoke_model of ${model.split(".").at(-2)} returns the plain client's body and prices the family's counts`, async () => {
    const body = JSON.stringify({ prompt: "hi" });
    const mine = await ours(headers).send(new InvokeModelCommand({ modelId: model, body }));
    const theirs = await raw(headers).send(new InvokeModelCommand({ modelId: model, body }));
    assert.ok(mine.body instanceof Uint8Array);
    assert.deepEqual(decode(mine.body), decode(theirs.body));
    assert.equal(mine.body.transformToString(), theirs.body.transformToString());
    const event = await oneEvent();
    assert.deepEqual([event.operation, event.model, event.cost_usd, event.usage_source], ["invoke", model, cost, "provider"]);
  });
}

test("invoke_model of a body without counts takes the count headers", async () => {
  // Mistral's Bedrock body has no counts of its own; the response headers do.
  const model = "mistral.mistral-large-2402-v1:0";
  const headers = { "x-mock-prompt-tokens": "40", "x-mock-completion-tokens": "7" };
  const out = await ours(headers).send(new InvokeModelCommand({ modelId: model, body: new TextEncoder().encode('{"prompt":"hi"}') }));
  assert.ok(!("usage" in decode(out.body)));
  const event = await oneEvent();
  assert.deepEqual([event.input_tokens, event.output_tokens, event.usage_source], [40, 7, "provider"]);
});

for (const model of ["anthropic.claude-3-5-haiku-20241022-v1:0", "meta.llama3-8b-instruct-v1:0"]) {
  test(`an invoke stream of ${model.split(".")[0]} gives the plain client's chunks and records the model's usage`, async () => {
    const headers = { "x-mock-prompt-tokens": "50", "x-mock-completion-tokens": "25" };
    const body = JSON.stringify({ prompt: "hi" });
    const mine = await collect((await ours(headers).send(new InvokeModelWithResponseStreamCommand({ modelId: model, body }))).body);
    const theirs = await collect((await raw(headers).send(new InvokeModelWithResponseStreamCommand({ modelId: model, body }))).body);
    assert.deepEqual(mine.map((c) => decode(c.chunk.bytes)), theirs.map((c) => decode(c.chunk.bytes)));
    const event = await oneEvent();
    assert.deepEqual([event.operation, event.stream, event.input_tokens, event.output_tokens], ["invoke", true, 50, 25]);
    assert.deepEqual([event.usage_source, event.cost_source], ["provider", "catalog"]);
  });
}

test("errors are the SDK's exceptions, unchanged, and recorded once", async () => {
  const headers = { "x-mock-error": "429" };
  const mine = await ours(headers).send(new ConverseCommand({ modelId: CLAUDE, messages: MESSAGES })).catch((e) => e);
  const theirs = await raw(headers).send(new ConverseCommand({ modelId: CLAUDE, messages: MESSAGES })).catch((e) => e);
  assert.ok(mine instanceof ThrottlingException, `${mine}`);
  assert.equal(mine.constructor, theirs.constructor);
  assert.deepEqual([mine.name, mine.message, mine.$metadata.httpStatusCode], [theirs.name, theirs.message, 429]);
  const event = await oneEvent();
  assert.deepEqual([event.status, event.error_type, event.input_tokens], ["error", "ThrottlingException", 0]);
});

test("a call the SDK retries is one event", async () => {
  const headers = { "x-mock-error": "500", "x-mock-error-times": "1" };
  const out = await ours(headers, { maxAttempts: 3 }).send(new ConverseCommand({ modelId: CLAUDE, messages: MESSAGES }));
  assert.equal(out.$metadata.attempts, 2);
  assert.equal((await mock.requests("/converse")).length, 2);
  const event = await oneEvent();
  assert.equal(event.status, "ok");
});

test("a converse stream left early is recorded once, estimated", async () => {
  const out = await ours().send(new ConverseStreamCommand({ modelId: CLAUDE, messages: MESSAGES }));
  for await (const event of out.stream) {
    assert.ok("messageStart" in event);
    break;
  }
  const event = await oneEvent();
  assert.deepEqual([event.stream, event.status, event.usage_source], [true, "ok", "estimate"]);
  assert.ok(event.input_tokens > 0);
});

test("an invoke stream left early is estimated, not priced from its opening counts", async () => {
  const out = await ours({ "x-mock-prompt-tokens": "50" }).send(
    new InvokeModelWithResponseStreamCommand({ modelId: "anthropic.claude-3-5-haiku-20241022-v1:0", body: JSON.stringify({ messages: MESSAGES }) }),
  );
  for await (const chunk of out.body) {
    void chunk;
    break;
  }
  const event = await oneEvent();
  assert.deepEqual([event.stream, event.status, event.usage_source], [true, "ok", "estimate"]);
});

test("a stream the server cuts throws what the plain client throws and records one error event", async () => {
  const headers = { "x-mock-error": "cut:3" };
  const read = async (client) => {
    const out = await client.send(new ConverseStreamCommand({ modelId: CLAUDE, messages: MESSAGES }));
    return collect(out.stream).catch((e) => e);
  };
  const mine = await read(ours(headers));
  const theirs = await read(raw(headers));
  assert.ok(mine instanceof Error, `${mine}`);
  assert.deepEqual([mine.constructor, mine.name], [theirs.constructor, theirs.name]);
  const event = await oneEvent();
  assert.deepEqual([event.stream, event.status, event.usage_source], [true, "error", "estimate"]);
  assert.ok(event.error_type);
});

test("a converse stream that ends without its metadata event is estimated", async () => {
  const out = await ours({ "x-mock-error": "midstream-error" }).send(new ConverseStreamCommand({ modelId: CLAUDE, messages: MESSAGES }));
  const events = await collect(out.stream);
  assert.ok(!events.some((e) => "metadata" in e));
  const event = await oneEvent();
  assert.deepEqual([event.status, event.usage_source], ["ok", "estimate"]);
  assert.ok(event.input_tokens > 0 && event.output_tokens > 0);
});

test("a budget cap refuses the call before anything is sent", async () => {
  // Run caps are checked by the budget engine, which configure({ budgets }) starts.
  configure({ budgets: [] });
  const client = ours();
  const err = await run({ agent: "capped", maxCostUsd: "0.000001" }, () =>
    client.send(new ConverseCommand({ modelId: CLAUDE, messages: MESSAGES, inferenceConfig: { maxTokens: 1000 } })),
  ).catch((e) => e);
  assert.ok(err instanceof BudgetExceededError, `${err}`);
  assert.equal((await mock.requests()).length, 0, "nothing reached the provider");
  const event = await oneEvent();
  assert.deepEqual([event.status, event.agent, event.model], ["blocked", "capped", CLAUDE]);
});

test("a Bedrock stream reserves its worst case even under enforceStream budgets (nothing meters it as it goes)", async () => {
  // The first step a metered stream would reserve (256 tokens of Sonnet output) fits; the worst case does not.
  configure({ budgets: [{ limitUsd: "0.05", period: "day", enforceStream: true }], budgetStore: "memory" });
  try {
    const err = await ours()
      .send(new ConverseStreamCommand({ modelId: CLAUDE, messages: MESSAGES }))
      .catch((e) => e);
    assert.ok(err instanceof BudgetExceededError, `${err}`);
    assert.equal((await mock.requests()).length, 0, "nothing reached the provider");
    assert.equal((await oneEvent()).status, "blocked");
  } finally {
    configure({ budgets: [], budgetStore: "" });
  }
});

test("runs, withAgent, client tags and instrument() attribute each call", async () => {
  const client = ours({}, undefined, { tags: { team: "b" } });
  const plainClient = instrument(raw());
  assert.equal(instrument(plainClient), plainClient, "instrument() is idempotent and returns the client");
  const total = await run("lead", async (r) => {
    await client.withAgent("writer").send(new ConverseCommand({ modelId: CLAUDE, messages: MESSAGES }));
    await client.send(new ConverseCommand({ modelId: CLAUDE, messages: MESSAGES }));
    await plainClient.send(new ConverseCommand({ modelId: CLAUDE, messages: MESSAGES }));
    return r.costUsd;
  });
  assert.equal(client.withAgent("writer"), client.withAgent("writer"), "agent views are reused");
  const events = await recorded();
  assert.equal(events.length, 3);
  assert.deepEqual(events.map((e) => e.agent).sort(), ["lead", "lead", "writer"]);
  assert.deepEqual(events.map((e) => e.tags.team ?? null).sort(), ["b", "b", null]);
  assert.ok(Number(total) > 0);
});

test("BedrockRuntime's methods are metered the same way, its agent views too", async () => {
  const client = new BedrockRuntime(config(), { agent: "agg" });
  withHeaders(client, CACHED);
  const out = await client.converse({ modelId: CLAUDE, messages: MESSAGES });
  assert.equal(out.usage.cacheReadInputTokens, 5000);
  await client.withAgent("critic").converse({ modelId: CLAUDE, messages: MESSAGES });
  const events = await recorded();
  assert.deepEqual(
    events.map((e) => [e.agent, e.cost_usd]),
    [
      ["agg", "0.00855"],
      ["critic", "0.00855"],
    ],
  );
});

test("calls that do not bill pass through unrecorded", async () => {
  const client = ours();
  // A command costline does not meter (no Bedrock route answers it here): the SDK's error, no event.
  const err = await client.send(new esm.ListAsyncInvokesCommand({})).catch((e) => e);
  assert.ok(err instanceof Error);
  assert.equal((await recorded()).length, 0);
});
