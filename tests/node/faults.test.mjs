// costline never breaks the host: a core panic becomes an error (never a
// crash), a fault inside metering never reaches the app's call, odd
// responses are still recorded, and bad settings say what is wrong.
import "./env.mjs";

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";

import OpenAI from "costline/openai";
import { configure, settings, track, cost, CostlineError, ConfigError, InvalidEventError } from "costline";
import { recorded, oneEvent, useMock, native, runNode, exported, MESSAGES } from "./support.mjs";
import { SESSION_DIR } from "./env.mjs";

const mock = useMock();

const client = () => new OpenAI({ baseURL: mock.openaiBaseURL, apiKey: "k", maxRetries: 0 });

test("a core panic reaches JavaScript as an error, and the process carries on", async () => {
  assert.throws(() => native.testPanic(), (err) => err instanceof Error && /costline:internal: .*deliberate test panic/.test(err.message));
  assert.throws(() => native.testPanic(), /deliberate test panic/); // and again: nothing was poisoned
  await client().chat.completions.create({ model: "gpt-4o", messages: MESSAGES });
  assert.equal((await oneEvent()).status, "ok");
});

test("a core panic in a child process is an error it can catch, not a crash", async () => {
  const out = await runNode(`
import { createRequire } from "node:module";
const { native } = createRequire(process.cwd() + "/")("./npm/dist/binding.js");
try { native.testPanic(); console.log("no error"); } catch (e) { console.log("caught " + e.message); }
`);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /^caught costline:internal: /);
});

/** Replace one member of the addon for the length of `fn`. */
async function withNative(name, replacement, fn) {
  const original = native[name];
  native[name] = replacement;
  try {
    return await fn();
  } finally {
    native[name] = original;
  }
}

test("a meter that cannot be built leaves the call as the plain client makes it", async () => {
  const broken = function () {
    throw new Error("meter construction exploded");
  };
  const [plain, streamed] = await withNative("meterOpen", broken, async () => {
    const c = client();
    const plain = await c.chat.completions.create({ model: "gpt-4o", messages: MESSAGES });
    const chunks = [];
    for await (const ch of await c.chat.completions.create({ model: "gpt-4o", messages: MESSAGES, stream: true })) chunks.push(ch);
    return [plain, chunks];
  });
  assert.ok(plain.choices[0].message.content);
  assert.ok(streamed.length > 1);
  assert.ok(streamed.every((c) => c.usage === undefined), "the usage chunk costline asked for is still not the caller's");
  assert.equal((await recorded()).length, 2, "both calls recorded (the stream estimated)");
});

test("recording that throws at every step never reaches the app: same results, same chunks, same errors", async () => {
  const exploding = (step) => () => {
    throw new Error(`${step} exploded`);
  };
  const faulty = (fn) => withNative("meterFeed", exploding("meterFeed"), () => withNative("meterTail", exploding("meterTail"), () => withNative("meterFinish", exploding("meterFinish"), fn)));
  const results = await withNative("recordText", exploding("recordText"), () => faulty(async () => {
    const c = client();
    const plain = await c.chat.completions.create({ model: "gpt-4o", messages: MESSAGES });
    const chunks = [];
    for await (const ch of await c.chat.completions.create({ model: "gpt-4o", messages: MESSAGES, stream: true, stream_options: { include_usage: true } })) chunks.push(ch);
    const raw = await (await c.chat.completions.create({ model: "gpt-4o", messages: MESSAGES }).asResponse()).json();
    const err = await c.chat.completions.create({ model: "gpt-4o", messages: MESSAGES }, { headers: { "x-mock-error": "429" } }).catch((e) => e);
    return { plain, chunks, raw, err };
  }));
  assert.ok(results.plain.choices[0].message.content);
  assert.ok(results.chunks.length > 2);
  assert.ok(results.chunks[results.chunks.length - 1].usage, "the caller's own usage chunk");
  assert.equal(results.raw.object, "chat.completion");
  assert.equal(results.err.status, 429, "the SDK's error, not costline's");
});

test("a finish that panics in the core is a logged fault, never the app's error", async () => {
  const panicky = () => native.testPanic();
  const streamed = await withNative("meterFinish", panicky, async () => {
    const chunks = [];
    for await (const ch of await client().chat.completions.create({ model: "gpt-4o", messages: MESSAGES, stream: true })) chunks.push(ch);
    return chunks;
  });
  assert.ok(streamed.length > 1);
  assert.equal(native.metersOpen(), 0, "the meter whose finish failed was given back");
});

test("a response whose usage is malformed is recorded as an estimate", async () => {
  await client().chat.completions.create({ model: "gpt-4o", messages: MESSAGES }, { headers: { "x-mock-usage": JSON.stringify({ prompt_tokens: -5 }) } });
  const event = await oneEvent();
  assert.equal(event.usage_source, "estimate");
  assert.equal(event.input_tokens, 0);
});

test("a response without usage is estimated, not free", async () => {
  await client().chat.completions.create({ model: "gpt-4o", messages: MESSAGES }, { headers: { "x-mock-usage": "null" } });
  const event = await oneEvent();
  assert.equal(event.usage_source, "estimate");
  assert.ok(event.input_tokens > 0 && event.output_tokens > 0, JSON.stringify(event));
  assert.notEqual(event.cost_usd, "0");
});

test("a stream the app never reads is still recorded when the process exits", async () => {
  const ledger = join(mkdtempSync(join(SESSION_DIR, "unread-")), "ledger.db");
  const out = await runNode(
    `
import OpenAI from "costline/openai";
const client = new OpenAI({ baseURL: process.env.MOCK_URL + "/v1", apiKey: "k", maxRetries: 0 });
globalThis.kept = await client.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }], stream: true });
`,
    { env: { MOCK_URL: mock.url, COSTLINE_LEDGER: ledger } },
  );
  assert.equal(out.code, 0, out.stderr);
  const events = await exported(ledger);
  assert.equal(events.length, 1);
  assert.equal(events[0].stream, true);
});

test("bad settings throw ConfigError and change nothing", () => {
  const before = settings();
  assert.throws(() => configure({ queueSize: 0 }), ConfigError);
  assert.throws(() => configure({ nonsense: 1 }), ConfigError);
  assert.deepEqual(settings(), before);
});

test("track() and cost() refuse bad numbers with InvalidEventError", async () => {
  assert.throws(() => track({ provider: "openai", model: "gpt-4o", inputTokens: 1.5 }), InvalidEventError);
  assert.throws(() => track({ provider: "openai", model: "gpt-4o", inputTokens: -1 }), CostlineError);
  assert.throws(() => cost({ model: "gpt-4o", inputTokens: Number.NaN, outputTokens: 1 }), InvalidEventError);
  assert.deepEqual(await recorded(), []);
});
