// One core, one truth: Python and Node write one ledger at once and lose
// nothing, the npm `costline` command reads it, and the same call made from
// Python and from Node yields the same event (but for ids, time and sdk).
import "./env.mjs";

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { join } from "node:path";

import { useMock, runNode, runPython, runProcess, exported, REPO } from "./support.mjs";
import { SESSION_DIR } from "./env.mjs";

const mock = useMock();

const newLedger = () => join(mkdtempSync(join(SESSION_DIR, "interop-")), "ledger.db");

const PER_PROCESS = 200;

/** Exact sum of decimal strings (BigInt on a common scale). */
function decimalTotal(values) {
  const scale = 30;
  let total = 0n;
  for (const v of values) {
    const [int, frac = ""] = v.split(".");
    total += BigInt(int + frac.padEnd(scale, "0"));
  }
  return total.toString();
}

const NODE_WRITER = `
import OpenAI from "costline/openai";
const client = new OpenAI({ baseURL: process.env.MOCK_URL + "/v1", apiKey: "k", maxRetries: 0 }, { tags: { writer: "node" } });
const messages = [{ role: "user", content: "hi" }];
for (let i = 0; i < ${PER_PROCESS}; i += 4) {
  await Promise.all([0, 1, 2, 3].map((k) => client.chat.completions.create({ model: "gpt-4o", messages }, { headers: { "x-mock-prompt-tokens": String(i + k + 1) } })));
}
`;

const PYTHON_WRITER = `
import os
from concurrent.futures import ThreadPoolExecutor
from costline.openai import OpenAI
client = OpenAI(base_url=os.environ["MOCK_URL"] + "/v1", api_key="k", max_retries=0, costline={"tags": {"writer": "python"}})
messages = [{"role": "user", "content": "hi"}]
def call(i):
    client.chat.completions.create(model="gpt-4o", messages=messages, extra_headers={"x-mock-prompt-tokens": str(i + 1)})
with ThreadPoolExecutor(4) as pool:
    list(pool.map(call, range(${PER_PROCESS})))
`;

test("a Python process and a Node process writing one ledger at once lose nothing", async () => {
  const ledger = newLedger();
  const env = { MOCK_URL: mock.url, COSTLINE_LEDGER: ledger };
  const [node, python] = await Promise.all([runNode(NODE_WRITER, { env, timeoutMs: 180_000 }), runPython(PYTHON_WRITER, { env, timeoutMs: 180_000 })]);
  assert.equal(node.code, 0, node.stderr);
  assert.equal(python.code, 0, python.stderr);

  const events = await exported(ledger);
  assert.equal(new Set(events.map((e) => e.event_id)).size, 2 * PER_PROCESS, "every event_id once");
  assert.equal(events.length, 2 * PER_PROCESS);
  for (const [writer, lang] of [["node", "node"], ["python", "python"]]) {
    const mine = events.filter((e) => e.tags.writer === writer);
    assert.equal(mine.length, PER_PROCESS, writer);
    assert.ok(mine.every((e) => e.sdk.lang === lang));
    const tokens = mine.map((e) => e.input_tokens).sort((a, b) => a - b);
    assert.deepEqual(tokens, Array.from({ length: PER_PROCESS }, (_, i) => i + 1), `${writer}: every call, once`);
  }

  // Same calls, same price: the two languages' totals are equal, to the last digit.
  const total = (writer) => decimalTotal(events.filter((e) => e.tags.writer === writer).map((e) => e.cost_usd));
  assert.equal(total("node"), total("python"));
});

test("`costline report --json` (the npm bin) reads a ledger that Python and Node wrote", async () => {
  const ledger = newLedger();
  const env = { COSTLINE_LEDGER: ledger };
  const node = await runNode(
    `import { track } from "costline"; for (let i = 0; i < 3; i++) track({ provider: "openai", model: "gpt-4o", inputTokens: 1000, outputTokens: 100, tags: { writer: "node" } });`,
    { env },
  );
  assert.equal(node.code, 0, node.stderr);
  const python = await runPython(
    `import costline\nfor _ in range(2):\n    costline.track(provider="openai", model="gpt-4o", input_tokens=1000, output_tokens=100, tags={"writer": "python"})`,
    { env },
  );
  assert.equal(python.code, 0, python.stderr);

  // The npm bin, as users run it: `npx costline` (linked by `npm ci` to the
  // committed npm/bin/costline.js, which exists before dist/ is built).
  const npx = process.platform === "win32" ? "npx.cmd" : "npx";
  const report = await runProcess(npx, ["--no-install", "costline", "report", "--json", "--ledger", ledger, "--by", "tag:writer"], { cwd: REPO });
  assert.equal(report.code, 0, report.stderr);
  const parsed = JSON.parse(report.stdout);
  assert.equal(parsed.totals.calls, 5);
  const rows = Object.fromEntries(parsed.rows.map((r) => [r.group["tag:writer"], r]));
  assert.equal(rows.node.calls, 3);
  assert.equal(rows.python.calls, 2);
  // gpt-4o: 1000 x 2.5/M + 100 x 10/M = 0.0035 a call
  assert.equal(Number(rows.node.cost_usd), 0.0105);
  assert.equal(Number(rows.python.cost_usd), 0.007);
  assert.equal(Number(parsed.totals.cost_usd), 0.0175);
});

// The same calls, made from each language: attribution, usage headers, errors.
const CASES = [
  ["chat", { model: "gpt-4o" }, { "x-mock-prompt-tokens": "1000", "x-mock-cached-tokens": "200", "x-mock-completion-tokens": "500" }, false],
  ["chat", { model: "gpt-4o-mini" }, { "x-mock-chunks": "7" }, true],
  ["chat", { model: "gpt-4o", stream_options: { include_usage: true } }, {}, true],
  ["chat", { model: "o3" }, { "x-mock-reasoning-tokens": "40", "x-mock-service-tier": "flex" }, false],
  ["chat", { model: "no-such-model-xyz" }, {}, false],
  ["chat", { model: "gpt-4o" }, { "x-mock-error": "429" }, false],
  ["chat", { model: "gpt-4o" }, { "x-mock-usage": JSON.stringify({ completion_tokens: -3 }) }, false],
  ["chat", { model: "gpt-4o" }, { "x-mock-error": "midstream-error" }, true],
  ["responses", { model: "gpt-4o", input: "hello there" }, { "x-mock-reasoning-tokens": "5" }, false],
  ["responses", { model: "gpt-4o-mini", input: "hello there" }, {}, true],
  ["embeddings", { model: "text-embedding-3-small", input: "hello there" }, {}, false],
  ["messages", { model: "claude-sonnet-4-5", max_tokens: 64 }, { "x-mock-cached-tokens": "300", "x-mock-cache-write-1h": "50" }, false],
  ["messages", { model: "claude-haiku-4-5", max_tokens: 64 }, { "x-mock-cache-write-5m": "20", "x-mock-delta-usage": "full" }, true],
  ["messages", { model: "claude-haiku-4-5", max_tokens: 64 }, { "x-mock-error": "429" }, false],
];

const NODE_SAME = `
import OpenAI from "costline/openai";
import Anthropic from "costline/anthropic";
import { run, configure } from "costline";
configure({ tags: { app: "parity" } });
const cases = JSON.parse(process.env.CASES);
const openai = new OpenAI({ baseURL: process.env.MOCK_URL + "/v1", apiKey: "k", maxRetries: 0 }, { tags: { client: "c1" } });
const claude = new Anthropic({ baseURL: process.env.MOCK_URL, apiKey: "k", maxRetries: 0 }, { agent: "lookup" });
const messages = [{ role: "user", content: "Say hello to the mock." }];
await run({ agent: "triage", runId: "run-parity-1", tags: { customer: "acme" } }, async () => {
  for (const [op, body, headers, stream] of cases) {
    const args = op === "chat" || op === "messages" ? { messages, ...body } : { ...body };
    if (stream) args.stream = true;
    const resource = { chat: openai.chat.completions, responses: openai.responses, embeddings: openai.embeddings, messages: claude.messages }[op];
    try {
      const out = await resource.create(args, { headers });
      if (stream) for await (const _ of out) {}
    } catch {}
  }
});
`;

const PYTHON_SAME = `
import json, os
import costline
from costline.openai import OpenAI
from costline.anthropic import Anthropic
costline.configure(tags={"app": "parity"})
cases = json.loads(os.environ["CASES"])
openai = OpenAI(base_url=os.environ["MOCK_URL"] + "/v1", api_key="k", max_retries=0, costline={"tags": {"client": "c1"}})
claude = Anthropic(base_url=os.environ["MOCK_URL"], api_key="k", max_retries=0, costline={"agent": "lookup"})
messages = [{"role": "user", "content": "Say hello to the mock."}]
resources = {"chat": openai.chat.completions, "responses": openai.responses, "embeddings": openai.embeddings, "messages": claude.messages}
with costline.run("triage", run_id="run-parity-1", tags={"customer": "acme"}):
    for op, body, headers, stream in cases:
        args = {"messages": messages, **body} if op in ("chat", "messages") else dict(body)
        if stream:
            args["stream"] = True
        try:
            out = resources[op].create(**args, extra_headers=headers)
            if stream:
                for _ in out:
                    pass
        except Exception:
            pass
`;

const VOLATILE = ["event_id", "timestamp", "latency_ms", "sdk", "call_id"];

test("the same calls made from Python and from Node yield the same events, except ids, time and sdk", async () => {
  const fromNode = newLedger();
  const fromPython = newLedger();
  const env = { MOCK_URL: mock.url, CASES: JSON.stringify(CASES) };
  const node = await runNode(NODE_SAME, { env: { ...env, COSTLINE_LEDGER: fromNode } });
  assert.equal(node.code, 0, node.stderr);
  const python = await runPython(PYTHON_SAME, { env: { ...env, COSTLINE_LEDGER: fromPython } });
  assert.equal(python.code, 0, python.stderr);

  const strip = (e) => Object.fromEntries(Object.entries(e).filter(([k]) => !VOLATILE.includes(k)));
  const nodeEvents = await exported(fromNode);
  const pythonEvents = await exported(fromPython);
  assert.equal(nodeEvents.length, CASES.length, "Node: one event per call");
  assert.equal(pythonEvents.length, CASES.length, "Python: one event per call");
  assert.ok(nodeEvents.every((e) => e.sdk.lang === "node"));
  assert.ok(pythonEvents.every((e) => e.sdk.lang === "python"));
  const differences = [];
  CASES.forEach((c, i) => {
    try {
      assert.deepEqual(strip(nodeEvents[i]), strip(pythonEvents[i]));
    } catch (err) {
      differences.push(`case ${i} ${JSON.stringify(c)}:\n${err.message}`);
    }
  });
  assert.deepEqual(differences, [], differences.join("\n\n"));
});
