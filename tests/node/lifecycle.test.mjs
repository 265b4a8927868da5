// A process's life with costline: scripts that never flush exit on their own
// with every event kept (also through process.exit), COSTLINE_DISABLED makes
// the drop-ins plain clients, worker threads and cluster workers record their
// own calls, shutdown() is idempotent.
import "./env.mjs";

import { test } from "node:test";
import assert from "node:assert/strict";
import { Worker } from "node:worker_threads";
import { existsSync, mkdtempSync } from "node:fs";
import { join } from "node:path";

import { shutdown, flush } from "costline";
import OpenAI from "costline/openai";
import { recorded, useMock, runNode, runProcess, exported, MESSAGES, REPO } from "./support.mjs";
import { SESSION_DIR } from "./env.mjs";

const mock = useMock();

const childLedger = () => join(mkdtempSync(join(SESSION_DIR, "child-")), "ledger.db");

/** A script making 24 calls of every kind through both drop-ins; it never calls flush(). */
const CALLS = 24;
const SCRIPT = (ending) => `
import OpenAI from "costline/openai";
import Anthropic from "costline/anthropic";
const url = process.env.MOCK_URL;
const openai = new OpenAI({ baseURL: url + "/v1", apiKey: "k", maxRetries: 0 });
const claude = new Anthropic({ baseURL: url, apiKey: "k", maxRetries: 0 });
const messages = ${JSON.stringify(MESSAGES)};
for (let i = 0; i < 10; i++) await openai.chat.completions.create({ model: "gpt-4o", messages });
for (let i = 0; i < 5; i++) for await (const c of await openai.chat.completions.create({ model: "gpt-4o", messages, stream: true })) {}
await Promise.all([1, 2, 3, 4].map(() => claude.messages.create({ model: "claude-haiku-4-5", max_tokens: 32, messages })));
for (let i = 0; i < 4; i++) for await (const e of await claude.messages.create({ model: "claude-haiku-4-5", max_tokens: 32, messages, stream: true })) {}
await openai.responses.create({ model: "gpt-4o-mini", input: "hi" });
process.stdout.write("LAST_CALL " + Date.now() + "\\n");
${ending}
`;

async function scriptWithoutFlush(ending) {
  const ledger = childLedger();
  const out = await runNode(SCRIPT(ending), { env: { MOCK_URL: mock.url, COSTLINE_LEDGER: ledger }, timeoutMs: 60_000 });
  assert.equal(out.code, 0, out.stderr);
  assert.equal(out.stderr, "", "nothing logged");
  const last = Number(/LAST_CALL (\d+)/.exec(out.stdout)?.[1]);
  assert.ok(last > 0, out.stdout);
  return { ledger, afterLastCallMs: out.exitedAt - last };
}

test("a script that never calls flush() exits on its own within 2 s of its last call, every event in the ledger", async () => {
  const { ledger, afterLastCallMs } = await scriptWithoutFlush("");
  assert.ok(afterLastCallMs < 2000, `the process lived ${afterLastCallMs} ms after its last call`);
  const events = await exported(ledger);
  assert.equal(events.length, CALLS);
  assert.ok(events.every((e) => e.status === "ok" && e.usage_source === "provider"), JSON.stringify(events));
  assert.equal(new Set(events.map((e) => e.event_id)).size, CALLS);
});

test("process.exit(0) right after the last call keeps every event", async () => {
  const { ledger, afterLastCallMs } = await scriptWithoutFlush("process.exit(0);");
  assert.ok(afterLastCallMs < 2000, `the process lived ${afterLastCallMs} ms after its last call`);
  assert.equal((await exported(ledger)).length, CALLS);
});

test("a script whose last act is a track() (no await after it) still records it at exit", async () => {
  const ledger = childLedger();
  const out = await runNode(`import { track } from "costline"; for (let i = 0; i < 50; i++) track({ provider: "openai", model: "gpt-4o", inputTokens: 10, outputTokens: 5 });`, {
    env: { COSTLINE_LEDGER: ledger },
  });
  assert.equal(out.code, 0, out.stderr);
  assert.equal((await exported(ledger)).length, 50);
});

test("COSTLINE_DISABLED=1 makes the drop-in a plain client: no event, the request untouched", async () => {
  const ledger = childLedger();
  const out = await runNode(
    `
import OpenAI from "costline/openai";
import { flush } from "costline";
const client = new OpenAI({ baseURL: process.env.MOCK_URL + "/v1", apiKey: "k", maxRetries: 0 });
if (!(client instanceof Object.getPrototypeOf(OpenAI))) throw new Error("not the SDK class");
const chunks = [];
for await (const c of await client.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }], stream: true })) chunks.push(c);
await client.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] });
await flush();
console.log(JSON.stringify({ chunks: chunks.length }));
`,
    { env: { MOCK_URL: mock.url, COSTLINE_LEDGER: ledger, COSTLINE_DISABLED: "1" } },
  );
  assert.equal(out.code, 0, out.stderr);
  assert.ok(JSON.parse(out.stdout).chunks > 0);
  const [streamed] = await mock.requests("/chat/completions");
  assert.equal(streamed.stream_options ?? null, null, "costline changed the request while disabled");
  assert.ok(!existsSync(ledger) || (await exported(ledger)).length === 0, "an event was recorded while disabled");
});

test("calls made in a worker thread are recorded", async () => {
  const worker = new Worker(
    `
const { parentPort, workerData } = require("node:worker_threads");
const { OpenAI } = require("costline/openai");
const { run } = require("costline");
(async () => {
  const client = new OpenAI({ baseURL: workerData.url + "/v1", apiKey: "k", maxRetries: 0 });
  await run("in-worker", async () => {
    for (let i = 0; i < 3; i++) await client.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] });
  });
  parentPort.postMessage("done");
})().catch((e) => parentPort.postMessage("failed: " + e.stack));
`,
    { eval: true, workerData: { url: mock.url } },
  );
  const message = await new Promise((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
  assert.equal(message, "done");
  await worker.terminate();
  const events = await recorded();
  assert.equal(events.length, 3);
  assert.ok(events.every((e) => e.agent === "in-worker" && e.sdk.lang === "node"));
});

test("cluster workers record their own calls in the shared ledger", async () => {
  const ledger = childLedger();
  const out = await runProcess(process.execPath, [join(REPO, "tests", "node", "fixtures", "cluster.mjs")], {
    env: { MOCK_URL: mock.url, COSTLINE_LEDGER: ledger },
  });
  assert.equal(out.code, 0, out.stderr);
  const events = await exported(ledger);
  assert.equal(events.length, 10);
  assert.deepEqual(events.map((e) => e.tags.worker).sort(), ["0", "0", "0", "0", "0", "1", "1", "1", "1", "1"]);
});

test("shutdown() is idempotent and later calls record again", async () => {
  const client = new OpenAI({ baseURL: mock.openaiBaseURL, apiKey: "k", maxRetries: 0 });
  await client.chat.completions.create({ model: "gpt-4o", messages: MESSAGES });
  assert.equal(await shutdown(), true);
  assert.equal(await shutdown(), true);
  await client.chat.completions.create({ model: "gpt-4o", messages: MESSAGES });
  assert.equal(await flush(), true);
  assert.equal((await recorded()).length, 2);
});
