// Streams the caller abandons (issue 8's exit paths, issue 10's streams): a
// fallback stream and a routed-client stream that the caller leaves with
// `break`, stops with an AbortController, or never reads before the process
// exits. Each records its attempt once, and leaves nothing reserved against
// the budgets: the plain drop-in's behaviour (`meter.abandon()` in call.ts).
import "./env.mjs";

import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";

import RawAnthropic from "@anthropic-ai/sdk";
import { Costline, budgetStatus, configure, flush } from "costline";
import { recorded, runNode, exported, useMock } from "./support.mjs";
import { SESSION_DIR } from "./env.mjs";
import { HI, failingSource, target } from "./fallback-support.mjs";

const mock = useMock();

// 20 chunks 50 ms apart: the stream is still flowing when the caller leaves.
const SLOW = { "x-mock-chunks": "20", "x-mock-chunk-delay-ms": "50" };

function withBudget() {
  configure({ budgets: [{ limitUsd: "100", period: "day" }], budgetStore: "memory" });
}

afterEach(async () => {
  await flush(10_000);
  configure({ budgets: [], budgetStore: "" });
});

/** What the one budget holds reserved now (a decimal string). */
const reserved = () => budgetStatus()[0].reserved_usd;

const attempts = (events) => [...events].sort((a, b) => a.attempt - b.attempt).map((e) => [e.provider, e.status, e.attempt]);

/** Read `stream`, running `onChunk(n)` for each chunk; what the loop threw, or undefined. */
async function readWith(stream, onChunk) {
  let n = 0;
  try {
    for await (const _ of stream) {
      if (onChunk(++n) === "break") break;
    }
  } catch (err) {
    return err;
  }
  return undefined;
}

function fallbackClient() {
  return failingSource(mock, "openai", [target(mock, "anthropic", SLOW)]);
}

const fallbackStream = (client, options) =>
  client.chat.completions.create({ model: "gpt-4o", messages: HI, max_tokens: 50, stream: true }, options);

test("a fallback stream left with break records the target's attempt and leaves nothing reserved", async () => {
  withBudget();
  const stream = await fallbackStream(fallbackClient());
  assert.notEqual(reserved(), "0", "the target's worst case is reserved while it streams");
  await readWith(stream, () => "break");
  assert.equal(reserved(), "0");
  assert.deepEqual(attempts(await recorded()), [
    ["openai", "error", 1],
    ["anthropic", "ok", 2],
  ]);
  assert.match(stream.costline.costUsd, /^0\.\d+$/, "what arrived is priced");
});

// Gemini's and Mistral's SDKs fail the read with an AbortError; the attempt was left, not failed.
for (const provider of ["anthropic", "google", "mistral", "openai"]) {
  test(`a fallback stream (to ${provider}) stopped by the caller's AbortController is recorded once as left, and leaves nothing reserved`, async () => {
    withBudget();
    const controller = new AbortController();
    const client = failingSource(mock, "openai", [target(mock, provider, SLOW)]);
    const stream = await fallbackStream(client, { signal: controller.signal });
    const started = Date.now();
    await readWith(stream, (n) => void (n === 2 && controller.abort()));
    assert.ok(Date.now() - started < 900, "the abort stopped the stream (20 chunks take 1 s)");
    assert.equal(reserved(), "0");
    assert.deepEqual(attempts(await recorded()), [
      ["openai", "error", 1],
      [provider, "ok", 2],
    ]);
  });
}

test("a fallback stream stopped through the SDK stream's own controller records its attempt once and leaves nothing reserved", async () => {
  withBudget();
  const stream = await fallbackStream(fallbackClient());
  await readWith(stream, (n) => void (n === 2 && stream.controller.abort()));
  assert.equal(reserved(), "0");
  assert.deepEqual(attempts(await recorded()), [
    ["openai", "error", 1],
    ["anthropic", "ok", 2],
  ]);
});

function routedClient() {
  configure({ prices: { "claude-haiku-4-5": { input: "0.000001", output: "0.000005" } } });
  const anthropic = new RawAnthropic({ baseURL: mock.anthropicBaseURL, apiKey: "k", maxRetries: 0, defaultHeaders: SLOW });
  return new Costline({ providers: { anthropic }, models: [{ model: "claude-haiku-4-5", provider: "anthropic", quality: 50 }] });
}

const routedStream = (client, options) =>
  client.chat.completions.create({ model: "auto", max_tokens: 100, messages: HI, stream: true }, options);

test("a routed stream left with break records its attempt once and leaves nothing reserved", async () => {
  withBudget();
  const stream = await routedStream(routedClient());
  assert.notEqual(reserved(), "0");
  assert.equal(await readWith(stream, () => "break"), undefined);
  assert.equal(reserved(), "0");
  assert.deepEqual(attempts(await recorded()), [["anthropic", "ok", 1]]);
  assert.match(stream.costline.costUsd, /^0\.\d+$/);
});

test("a routed stream stopped by the caller's AbortController ends the provider's stream, records it once, leaves nothing reserved", async () => {
  withBudget();
  const controller = new AbortController();
  const stream = await routedStream(routedClient(), { signal: controller.signal });
  const started = Date.now();
  await readWith(stream, (n) => void (n === 2 && controller.abort()));
  assert.ok(Date.now() - started < 900, "the abort stopped the stream (20 chunks take 1 s)");
  assert.equal(reserved(), "0");
  assert.deepEqual(attempts(await recorded()), [["anthropic", "ok", 1]]);
});

test("a routed stream stopped with its abort() ends quietly, records it once, leaves nothing reserved", async () => {
  withBudget();
  const stream = await routedStream(routedClient());
  const started = Date.now();
  assert.equal(await readWith(stream, (n) => void (n === 2 && stream.abort())), undefined);
  assert.ok(Date.now() - started < 900, "the abort stopped the stream (20 chunks take 1 s)");
  assert.equal(reserved(), "0");
  assert.deepEqual(attempts(await recorded()), [["anthropic", "ok", 1]]);
});

// A child process opens a stream, never reads it, and exits: through
// `shutdown()`, or by running out of work (beforeExit). It prints what its
// budget holds reserved from an exit handler that runs after costline's.
const NEVER_READ = {
  fallback: `
import { OpenAI } from "costline/openai";
import RawAnthropic from "@anthropic-ai/sdk";
const anthropic = new RawAnthropic({ baseURL: process.env.ANTHROPIC_URL, apiKey: "k", maxRetries: 0 });
const client = new OpenAI(
  { baseURL: process.env.OPENAI_URL, apiKey: "k", maxRetries: 0, defaultHeaders: { "x-mock-error": "503" } },
  { fallback: [{ provider: "anthropic", client: anthropic, model: "claude-haiku-4-5" }] },
);
const open = () => client.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }], max_tokens: 50, stream: true });
`,
  routed: `
import { Costline } from "costline";
import RawAnthropic from "@anthropic-ai/sdk";
const anthropic = new RawAnthropic({ baseURL: process.env.ANTHROPIC_URL, apiKey: "k", maxRetries: 0 });
const client = new Costline({ providers: { anthropic }, models: [{ model: "claude-haiku-4-5", provider: "anthropic", quality: 50 }] });
const open = () => client.chat.completions.create({ model: "auto", messages: [{ role: "user", content: "hi" }], max_tokens: 50, stream: true });
`,
};

for (const kind of ["fallback", "routed"]) {
  for (const exit of ["shutdown", "beforeExit"]) {
    test(`a ${kind} stream never read is recorded, its reservation settled, when the process exits (${exit})`, async () => {
      const ledger = join(mkdtempSync(join(SESSION_DIR, "abandoned-")), "ledger.db");
      const source = `
import { budgetStatus, configure, shutdown } from "costline";
configure({ budgets: [{ limitUsd: "100", period: "day" }], budgetStore: "memory" });
${NEVER_READ[kind]}
globalThis.kept = await open();
process.stdout.write("reserved while open: " + budgetStatus()[0].reserved_usd + "\\n");
process.on("exit", () => process.stdout.write("reserved at exit: " + budgetStatus()[0].reserved_usd + "\\n"));
${exit === "shutdown" ? "await shutdown();" : ""}
`;
      const out = await runNode(source, {
        env: { OPENAI_URL: mock.openaiBaseURL, ANTHROPIC_URL: mock.anthropicBaseURL, COSTLINE_LEDGER: ledger },
      });
      assert.equal(out.code, 0, out.stderr);
      assert.doesNotMatch(out.stdout, /reserved while open: 0\n/);
      assert.match(out.stdout, /reserved at exit: 0\n/);
      const events = await exported(ledger);
      const served = events.filter((e) => e.provider === "anthropic");
      assert.equal(served.length, 1, JSON.stringify(events));
      // The provider answered: as the plain drop-in's, the call stands (not cut off).
      assert.deepEqual([served[0].stream, served[0].status], [true, "ok"]);
    });
  }
}
