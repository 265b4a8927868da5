// Attribution with AsyncLocalStorage: runs nest (agentPath, shared runId, tags
// merged with the inner run winning) and follow awaits, Promise.all fan-out,
// timers and event emitters; client options and process tags layer beneath.
import "./env.mjs";

import { test } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";

import RawOpenAI from "openai";
import OpenAI from "costline/openai";
import Anthropic from "costline/anthropic";
import { run, withAgent, currentRun, configure, instrument, track, report } from "costline";
import { recorded, oneEvent, useMock, MESSAGES } from "./support.mjs";

const mock = useMock();

const openai = (costline) => new OpenAI({ baseURL: mock.openaiBaseURL, apiKey: "k", maxRetries: 0 }, costline);
const claude = (costline) => new Anthropic({ baseURL: mock.anthropicBaseURL, apiKey: "k", maxRetries: 0 }, costline);
const chat = (client, tag, headers = {}) =>
  client.chat.completions.create({ model: "gpt-4o", messages: MESSAGES }, { headers: { "x-mock-prompt-tokens": "100", ...headers, "x-call": tag } });

/** Events keyed by the prompt token count each call asked the mock for. */
function byTokens(events) {
  return new Map(events.map((e) => [e.input_tokens, e]));
}

/** Exact decimal sum of decimal strings (BigInt on a common scale, never floats). */
function decimalSum(values) {
  const scale = 30;
  let total = 0n;
  for (const v of values) {
    const [int, frac = ""] = v.split(".");
    total += BigInt(int + frac.padEnd(scale, "0"));
  }
  const s = total.toString().padStart(scale + 1, "0");
  const out = `${s.slice(0, -scale)}.${s.slice(-scale)}`.replace(/\.?0+$/, "");
  return out || "0";
}

test("nested runs share the outer runId, extend agentPath and merge tags with the inner run winning", async () => {
  const client = openai();
  let outerId;
  await run({ agent: "triage", tags: { customer: "acme", phase: "outer" } }, async (outer) => {
    outerId = outer.runId;
    await chat(client, "a", { "x-mock-prompt-tokens": "101" });
    await run("research", { tags: { phase: "inner", step: "1" } }, async (inner) => {
      assert.equal(inner.runId, outer.runId);
      assert.deepEqual(inner.agentPath, ["triage", "research"]);
      assert.equal(currentRun(), inner);
      await chat(client, "b", { "x-mock-prompt-tokens": "102" });
    });
    assert.equal(currentRun(), outer);
  });
  const events = byTokens(await recorded());
  const a = events.get(101);
  const b = events.get(102);
  assert.equal(a.run_id, outerId);
  assert.equal(b.run_id, outerId);
  assert.equal(a.agent, "triage");
  assert.deepEqual(a.agent_path, ["triage"]);
  assert.equal(b.agent, "research");
  assert.deepEqual(b.agent_path, ["triage", "research"]);
  assert.deepEqual(a.tags, { customer: "acme", phase: "outer" });
  assert.deepEqual(b.tags, { customer: "acme", phase: "inner", step: "1" });
});

test("run() takes a name, a name and options, or options; outside a run nothing is attributed", async () => {
  const client = openai();
  await chat(client, "none", { "x-mock-prompt-tokens": "110" });
  await run("named", () => chat(client, "n", { "x-mock-prompt-tokens": "111" }));
  await run("named-opts", { runId: "run-fixed-1" }, () => chat(client, "o", { "x-mock-prompt-tokens": "112" }));
  await run(() => chat(client, "anon", { "x-mock-prompt-tokens": "113" }));
  const events = byTokens(await recorded());
  assert.equal(events.get(110).run_id, null);
  assert.equal(events.get(110).agent, null);
  assert.deepEqual(events.get(110).agent_path, []);
  assert.equal(events.get(111).agent, "named");
  assert.ok(events.get(111).run_id);
  assert.equal(events.get(112).run_id, "run-fixed-1");
  assert.ok(events.get(113).run_id);
  assert.equal(events.get(113).agent, null);
});

test("run() returns what its function returns and lets its errors through unchanged", async () => {
  assert.equal(run("sync", () => 42), 42);
  assert.equal(await run("async", async () => "done"), "done");
  class Mine extends Error {}
  const thrown = new Mine("boom");
  assert.throws(() => run("throws", () => { throw thrown; }), (e) => e === thrown);
  await assert.rejects(run("rejects", async () => { throw thrown; }), (e) => e === thrown);
  assert.equal(currentRun(), undefined, "no run leaks out of a failed one");
  assert.throws(() => run("no function"), TypeError);
});

test("Promise.all fan-out inside nested runs keeps each branch's attribution", async () => {
  const client = openai();
  const c2 = claude();
  await run("planner", async () => {
    await Promise.all(
      [1, 2, 3].map((i) =>
        run(`worker-${i}`, { tags: { shard: String(i) } }, async () => {
          await sleep(5 * (4 - i)); // finish out of order
          await Promise.all([
            chat(client, `w${i}`, { "x-mock-prompt-tokens": String(200 + i) }),
            run("leaf", () =>
              c2.messages.create({ model: "claude-haiku-4-5", max_tokens: 16, messages: MESSAGES }, { headers: { "x-mock-prompt-tokens": String(300 + i) } }),
            ),
          ]);
        }),
      ),
    );
  });
  const events = await recorded();
  assert.equal(events.length, 6);
  const runIds = new Set(events.map((e) => e.run_id));
  assert.equal(runIds.size, 1);
  const tokens = byTokens(events);
  for (const i of [1, 2, 3]) {
    assert.deepEqual(tokens.get(200 + i).agent_path, ["planner", `worker-${i}`]);
    assert.deepEqual(tokens.get(200 + i).tags, { shard: String(i) });
    assert.deepEqual(tokens.get(300 + i).agent_path, ["planner", `worker-${i}`, "leaf"]);
    assert.equal(tokens.get(300 + i).agent, "leaf");
    assert.deepEqual(tokens.get(300 + i).tags, { shard: String(i) });
  }
});

test("a run follows setTimeout callbacks and EventEmitter listeners fired inside it", async () => {
  const client = openai();
  const emitter = new EventEmitter();
  const done = [];
  emitter.on("work", (tokens) => done.push(chat(client, "emitted", { "x-mock-prompt-tokens": String(tokens) })));
  await run("timers", async () => {
    await new Promise((resolve, reject) => setTimeout(() => chat(client, "timer", { "x-mock-prompt-tokens": "401" }).then(resolve, reject), 10));
    emitter.emit("work", 402);
    await sleep(1);
    setImmediate(() => emitter.emit("work", 403));
    await sleep(20);
  });
  await Promise.all(done);
  const events = byTokens(await recorded());
  for (const t of [401, 402, 403]) {
    assert.equal(events.get(t)?.agent, "timers", `call ${t}: ${JSON.stringify(events.get(t))}`);
  }
  assert.equal(events.get(401).run_id, events.get(403).run_id);
});

test("concurrent runs do not leak into each other", async () => {
  const client = openai();
  await Promise.all(
    ["a", "b", "c", "d"].map((name, i) =>
      run(name, async () => {
        for (let k = 0; k < 3; k++) {
          await sleep((i * 7 + k * 3) % 5);
          await chat(client, name, { "x-mock-prompt-tokens": String(500 + i * 10 + k) });
        }
      }),
    ),
  );
  const events = await recorded();
  assert.equal(events.length, 12);
  for (const e of events) {
    const i = Math.floor((e.input_tokens - 500) / 10);
    assert.equal(e.agent, ["a", "b", "c", "d"][i], JSON.stringify(e));
  }
  assert.equal(new Set(events.map((e) => e.run_id)).size, 4);
});

test("withAgent(): a sub-agent inside a run, a run of its own outside one; client.withAgent() too", async () => {
  const client = openai();
  await withAgent("solo", () => chat(client, "solo", { "x-mock-prompt-tokens": "601" }));
  await run("boss", async () => {
    await withAgent("helper", () => chat(client, "helper", { "x-mock-prompt-tokens": "602" }));
    await client.withAgent("summarizer").chat.completions.create({ model: "gpt-4o", messages: MESSAGES }, { headers: { "x-mock-prompt-tokens": "603" } });
  });
  await client.withAgent("lonely").chat.completions.create({ model: "gpt-4o", messages: MESSAGES }, { headers: { "x-mock-prompt-tokens": "604" } });
  assert.equal(client.withAgent("summarizer"), client.withAgent("summarizer"), "withAgent copies are reused");
  const events = byTokens(await recorded());
  assert.deepEqual(events.get(601).agent_path, ["solo"]);
  assert.ok(events.get(601).run_id);
  assert.deepEqual(events.get(602).agent_path, ["boss", "helper"]);
  assert.deepEqual(events.get(603).agent_path, ["boss", "summarizer"]);
  assert.equal(events.get(603).agent, "summarizer");
  assert.equal(events.get(602).run_id, events.get(603).run_id);
  assert.deepEqual(events.get(604).agent_path, ["lonely"]);
  assert.ok(events.get(604).run_id);
  assert.notEqual(events.get(604).run_id, events.get(601).run_id);
});

test("tags layer process (configure) < client (2nd constructor arg) < run, inner wins", async () => {
  configure({ tags: { env: "test", team: "process", feature: "support-bot" } });
  try {
    const client = claude({ agent: "lookup", tags: { team: "search", tier: "client" } });
    await client.messages.create({ model: "claude-haiku-4-5", max_tokens: 16, messages: MESSAGES }, { headers: { "x-mock-prompt-tokens": "701" } });
    await run("triage", { tags: { tier: "run", customer: "acme" } }, () =>
      client.messages.create({ model: "claude-haiku-4-5", max_tokens: 16, messages: MESSAGES }, { headers: { "x-mock-prompt-tokens": "702" } }),
    );
  } finally {
    configure({ tags: {} });
  }
  const events = byTokens(await recorded());
  assert.deepEqual(events.get(701).tags, { env: "test", team: "search", tier: "client", feature: "support-bot" });
  assert.deepEqual(events.get(701).agent_path, ["lookup"]);
  assert.deepEqual(events.get(702).tags, { env: "test", team: "search", tier: "run", customer: "acme", feature: "support-bot" });
  assert.deepEqual(events.get(702).agent_path, ["triage", "lookup"]);
});

test("r.costUsd is the exact decimal sum of the run's events, nested runs included", async () => {
  const client = openai();
  const c2 = claude();
  let outerTotal;
  let innerTotal;
  let calls;
  await run("costs", async (outer) => {
    assert.equal(outer.costUsd, "0");
    await chat(client, "1", { "x-mock-prompt-tokens": "1234", "x-mock-cached-tokens": "17" });
    await run("inner", async (inner) => {
      await Promise.all([
        c2.messages.create({ model: "claude-sonnet-4-5", max_tokens: 16, messages: MESSAGES }, { headers: { "x-mock-prompt-tokens": "333", "x-mock-cache-write-1h": "7" } }),
        client.embeddings.create({ model: "text-embedding-3-small", input: "x" }, { headers: { "x-mock-prompt-tokens": "999" } }),
      ]);
      track({ provider: "openai", model: "gpt-4o-mini", inputTokens: 77, outputTokens: 3 });
      innerTotal = inner.costUsd;
    });
    await client.chat.completions.create({ model: "no-such-model-xyz", messages: MESSAGES });
    outerTotal = outer.costUsd;
    calls = [outer.calls, outer.unpricedCalls];
  });
  const events = await recorded();
  assert.equal(events.length, 5);
  const priced = events.filter((e) => e.cost_usd !== null);
  assert.equal(outerTotal, decimalSum(priced.map((e) => e.cost_usd)));
  assert.equal(innerTotal, decimalSum(priced.filter((e) => e.agent_path.includes("inner")).map((e) => e.cost_usd)));
  assert.equal(typeof outerTotal, "string");
  assert.deepEqual(calls, [5, events.length - priced.length]);
});

test("report() reads the spend in-process, grouped, with decimal-string costs", async () => {
  track({ provider: "openai", model: "gpt-4o", inputTokens: 1000, outputTokens: 100, agent: "triage" });
  track({ provider: "openai", model: "gpt-4o", inputTokens: 2000, outputTokens: 0, agent: "writer" });
  track({ provider: "openai", model: "no-such-model-xyz", inputTokens: 5, outputTokens: 5, agent: "writer" });
  const r = await report({ by: "agent" });
  assert.deepEqual(r.by, ["agent"]);
  const rows = Object.fromEntries(r.rows.map((row) => [row.agent, row]));
  // gpt-4o: 1000 x 2.5/M + 100 x 10/M = 0.0035; 2000 x 2.5/M = 0.005
  assert.equal(rows.triage.cost_usd, "0.0035");
  assert.equal(rows.writer.cost_usd, "0.005");
  assert.equal(rows.writer.calls, 2);
  assert.equal(rows.writer.unpriced_calls, 1);
  assert.equal(r.totals.cost_usd, "0.0085");
  assert.equal(r.totals.calls, 3);
});

// The plain SDK classes costline's drop-ins extend (the same module instance).
const PlainOpenAI = Object.getPrototypeOf(OpenAI);
const PlainAnthropic = Object.getPrototypeOf(Anthropic);

test("instrument(plainClient) meters that instance in place, with its options", async () => {
  const plain = new PlainOpenAI({ baseURL: mock.openaiBaseURL, apiKey: "k", maxRetries: 0 });
  const untouched = new PlainOpenAI({ baseURL: mock.openaiBaseURL, apiKey: "k", maxRetries: 0 });
  assert.equal(instrument(plain, { tags: { via: "instrument" } }), plain);
  await run("inst", () => chat(plain, "i", { "x-mock-prompt-tokens": "801" }));
  await chat(untouched, "u", { "x-mock-prompt-tokens": "802" });
  const event = await oneEvent();
  assert.equal(event.input_tokens, 801);
  assert.equal(event.agent, "inst");
  assert.deepEqual(event.tags, { via: "instrument" });
  assert.equal(event.resolved_model, "gpt-4o-2024-08-06");
});

test("withOptions() copies of an instrumented client stay metered; other clients of its class do not", async () => {
  const plain = instrument(new PlainOpenAI({ baseURL: mock.openaiBaseURL, apiKey: "k", maxRetries: 0 }), { tags: { via: "copy" } });
  await chat(plain.withOptions({ timeout: 30_000 }), "copy", { "x-mock-prompt-tokens": "821" });
  await chat(new PlainOpenAI({ baseURL: mock.openaiBaseURL, apiKey: "k", maxRetries: 0 }), "other", { "x-mock-prompt-tokens": "822" });
  const event = await oneEvent();
  assert.equal(event.input_tokens, 821);
  assert.deepEqual(event.tags, { via: "copy" });
});

test("instrument() meters an Anthropic client too, and refuses what it cannot meter", async () => {
  const plain = instrument(new PlainAnthropic({ baseURL: mock.anthropicBaseURL, apiKey: "k", maxRetries: 0 }));
  await plain.messages.create({ model: "claude-haiku-4-5", max_tokens: 16, messages: MESSAGES });
  const event = await oneEvent();
  assert.equal(event.provider, "anthropic");
  assert.throws(() => instrument({}), TypeError);
});

test("instrument() takes clients built from `import \"openai\"` and `import \"@anthropic-ai/sdk\"`", async () => {
  const { default: EsmAnthropic } = await import("@anthropic-ai/sdk");
  const openaiClient = instrument(new RawOpenAI({ baseURL: mock.openaiBaseURL, apiKey: "k", maxRetries: 0 }));
  const claudeClient = instrument(new EsmAnthropic({ baseURL: mock.anthropicBaseURL, apiKey: "k", maxRetries: 0 }));
  await chat(openaiClient, "esm", { "x-mock-prompt-tokens": "811" });
  await claudeClient.messages.create({ model: "claude-haiku-4-5", max_tokens: 16, messages: MESSAGES }, { headers: { "x-mock-prompt-tokens": "812" } });
  const events = byTokens(await recorded());
  assert.equal(events.get(811)?.provider, "openai");
  assert.equal(events.get(812)?.provider, "anthropic");
});
