// Budgets in Node: the same core and semantics as Python. A call over a hard
// cap throws BudgetExceededError before anything is sent and is recorded as
// blocked; every way a call ends settles or releases its reservation; caps
// hold under 1,000 concurrent promises and across a Node and a Python process
// sharing one ledger store.
import "./env.mjs";

import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";

import OpenAI from "costline/openai";
import { BudgetExceededError, CostlineError, ConfigError, budgetStatus, configure, flush, run } from "costline";
import { native, recorded, runNode, runPython, useMock } from "./support.mjs";

const mock = useMock();
// $0.00001 per token in and out: 1 prompt + 1000 completion tokens cost $0.01001 (the mock answers max_tokens).
const PRICES = { "budget-model": { input: "0.00001", output: "0.00001" } };
const HEADERS = { "x-mock-prompt-tokens": "1", "x-mock-completion-tokens": "1000" };
const MESSAGES = [{ role: "user", content: "hi" }];
const client = () => new OpenAI({ baseURL: mock.openaiBaseURL, apiKey: "k", maxRetries: 0 });
const chat = (c, options = {}) =>
  c.chat.completions.create({ model: "budget-model", messages: MESSAGES, max_tokens: 1000 }, { headers: HEADERS, ...options });

function install(budgets, extra = {}) {
  configure({ prices: PRICES, budgets, budgetStore: "memory", ...extra });
}

afterEach(async () => {
  await flush(10_000);
  configure({ budgets: [], budgetStore: "", redisUrl: "", budgetFailMode: "open", prices: {}, onBudgetAlert: null });
});

const cents = (usd) => Math.round(Number(usd) * 1e5); // for comparisons only: the amounts are exact decimal strings

test("a call over a hard cap throws BudgetExceededError before anything is sent, and is recorded as blocked", async () => {
  install([{ limitUsd: "0.005", period: "day", name: "tiny" }]);
  const err = await chat(client()).catch((e) => e);
  assert.ok(err instanceof BudgetExceededError && err instanceof CostlineError, String(err));
  assert.equal(err.budgetName, "tiny");
  assert.equal(err.scope, "global");
  assert.equal(err.period, "day");
  assert.equal(err.limitUsd, "0.005");
  assert.equal(err.spentUsd, "0");
  assert.ok(cents(err.attemptedUsd) > cents(err.limitUsd), err.attemptedUsd);
  assert.match(err.message, /tiny/);
  assert.deepEqual(await mock.requests("/chat/completions"), [], "nothing reached the provider");
  const [event] = await recorded();
  assert.equal(event.status, "blocked");
  assert.equal(event.input_tokens + event.output_tokens, 0);
});

test("run({ maxCostUsd }) caps that run alone, and its calls settle to their actual cost", async () => {
  configure({ prices: PRICES });
  const c = client();
  const admitted = await run({ agent: "researcher", maxCostUsd: "0.025" }, async () => {
    let n = 0;
    for (let i = 0; i < 5; i++) {
      try {
        await chat(c);
        n++;
      } catch (err) {
        assert.ok(err instanceof BudgetExceededError, String(err));
        assert.equal(err.scope, "run");
      }
    }
    return n;
  });
  assert.equal(admitted, 2);
  // Another run has its own cap.
  await run({ maxCostUsd: "0.02" }, () => chat(c));
  const ok = (await recorded()).filter((e) => e.status === "ok");
  assert.equal(ok.length, 3);
  assert.throws(() => run({ maxCostUsd: "lots" }, () => 1), TypeError);
});

test("the addon reserves the same worst case from the request as JSON text (the drop-ins' fast path) as from the object", () => {
  install([{ limitUsd: "100", period: "day" }]);
  const body = { model: "budget-model", messages: [{ role: "user", content: "a longer prompt, ".repeat(50) }], max_tokens: 1000 };
  const fromObject = native.budgetReserve("openai", "chat", "budget-model", body, false, undefined, []);
  const fromText = native.budgetReserve("openai", "chat", "budget-model", undefined, false, undefined, [], JSON.stringify(body));
  try {
    // 1000 output tokens and the counted prompt (some 200 tokens) at $0.00001 each.
    const held = native.budgetReservedUsd(fromObject);
    assert.ok(cents(held) > cents("0.0115"), held);
    assert.equal(native.budgetReservedUsd(fromText), held);
  } finally {
    native.budgetRelease(fromObject);
    native.budgetRelease(fromText);
  }
  // A released handle holds nothing, and releasing it again is harmless.
  assert.equal(native.budgetReservedUsd(fromObject), null);
  native.budgetRelease(fromObject);
  assert.equal(budgetStatus()[0].reserved_usd, "0");
});

test("configure() rejects a malformed budget, naming it", () => {
  assert.throws(() => configure({ budgets: [{ limitUsd: "5", perod: "day" }] }), (e) => e instanceof ConfigError && /perod/.test(e.message));
  assert.throws(() => configure({ budgets: [{ period: "day" }] }), (e) => e instanceof ConfigError && /limit_usd/.test(e.message));
});

test("every way a call ends leaves nothing reserved: provider error, abort, a stream left early", async () => {
  install([{ limitUsd: "100", period: "day" }]);
  const metersBefore = native.metersOpen();
  const c = client();
  await assert.rejects(chat(c, { headers: { ...HEADERS, "x-mock-error": "429" } }));
  const controller = new AbortController();
  const slow = chat(c, { headers: { ...HEADERS, "x-mock-error": "slow:2000" }, signal: controller.signal });
  setTimeout(() => controller.abort(), 100);
  await assert.rejects(slow);
  const stream = await c.chat.completions.create(
    { model: "budget-model", messages: MESSAGES, max_tokens: 1000, stream: true },
    { headers: { ...HEADERS, "x-mock-chunks": "20" } },
  );
  for await (const _ of stream) break;
  await chat(c);
  await flush(10_000);
  const [row] = budgetStatus();
  assert.equal(row.reserved_usd, "0");
  assert.ok(cents(row.spent_usd) >= cents("0.01001"), row.spent_usd);
  // A stream refused before sending, whose meter (to hide the usage chunk costline asks for) was already open.
  install([{ limitUsd: "0.005", period: "day" }]);
  await assert.rejects(c.chat.completions.create({ model: "budget-model", messages: MESSAGES, stream: true }), (e) => e instanceof BudgetExceededError);
  assert.equal(native.metersOpen(), metersBefore, "every stream's meter was given back");
});

test("enforceStream stops a stream before its running cost passes the cap; the caller's loop throws BudgetExceededError", async () => {
  install([{ limitUsd: "0.005", period: "day", enforceStream: true }]);
  const c = client();
  // No max_tokens: the worst case alone would be refused up front without enforceStream.
  const stream = await c.chat.completions.create(
    { model: "budget-model", messages: MESSAGES, stream: true },
    { headers: { "x-mock-chunks": "2000" } },
  );
  const received = [];
  const err = await (async () => {
    for await (const chunk of stream) received.push(chunk);
  })().catch((e) => e);
  assert.ok(err instanceof BudgetExceededError, String(err));
  assert.equal(err.budgetName, "global/day");
  assert.ok(cents(err.attemptedUsd) > cents("0.004"), err.attemptedUsd);
  assert.ok(received.length > 100 && received.length < 600, String(received.length));
  await flush(10_000);
  const [row] = budgetStatus();
  assert.equal(row.reserved_usd, "0");
  assert.ok(cents(row.spent_usd) > 0 && cents(row.spent_usd) <= cents("0.005"), row.spent_usd);
  const [event] = await recorded();
  assert.deepEqual([event.status, event.error_type, event.stream], ["error", "BudgetExceededError", true]);
  // Without enforceStream the same stream is refused before it is sent.
  install([{ limitUsd: "0.005", period: "day" }]);
  await assert.rejects(
    c.chat.completions.create({ model: "budget-model", messages: MESSAGES, stream: true }),
    (e) => e instanceof BudgetExceededError,
  );
});

test("a budget in a named time zone keeps that zone's calendar", () => {
  install([{ limitUsd: "1", period: "day", timezone: "Pacific/Kiritimati" }]);
  const [row] = budgetStatus();
  assert.equal(row.timezone, "Pacific/Kiritimati");
  // UTC+14 all year: the zone's date is the UTC date of 14 hours later.
  const dates = [-5000, 0, 5000].map((d) => new Date(Date.now() + d + 14 * 3600_000).toISOString().slice(0, 10));
  assert.ok(dates.includes(row.period_label), `${row.period_label} not in ${dates}`);
  assert.throws(() => install([{ limitUsd: "1", timezone: "Mars/Olympus" }]), (e) => e instanceof ConfigError && /IANA/.test(e.message));
});

test("alerts fire once at each threshold through onBudgetAlert", async () => {
  const alerts = [];
  install([{ limitUsd: "0.04", period: "day", name: "a" }], { onBudgetAlert: (a) => alerts.push(a) });
  const c = client();
  for (let i = 0; i < 4; i++) await chat(c).catch(() => undefined);
  await flush(10_000);
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(alerts.map((a) => a.thresholdPercent), [75]);
  assert.equal(alerts[0].budgetName, "a");
});

test("1,000 concurrent promises against a $1.00 cap never pass it, and let all but one call's worth through", async () => {
  install([{ limitUsd: "1.00", period: "day" }]);
  const c = client();
  const outcomes = await Promise.all(
    Array.from({ length: 1000 }, () =>
      chat(c).then(
        () => 1,
        (err) => {
          assert.ok(err instanceof BudgetExceededError, String(err));
          return 0;
        },
      ),
    ),
  );
  const admitted = outcomes.reduce((a, b) => a + b, 0);
  await flush(30_000);
  const [row] = budgetStatus();
  assert.equal(row.reserved_usd, "0");
  assert.ok(cents(row.spent_usd) <= cents("1.00"), `spent ${row.spent_usd}`);
  assert.ok(admitted >= 98, `only ${admitted} admitted`);
  const ok = (await recorded()).filter((e) => e.status === "ok");
  assert.equal(ok.length, admitted);
});

test("run({ maxCostUsd }) holds in a process that never configured budgets", async () => {
  const out = await runNode(
    `import OpenAI from "costline/openai";
import { configure, run, BudgetExceededError } from "costline";
configure({ prices: ${JSON.stringify(PRICES)} });
const c = new OpenAI({ baseURL: process.env.BASE, apiKey: "k", maxRetries: 0 });
const chat = () => c.chat.completions.create({ model: "budget-model", messages: ${JSON.stringify(MESSAGES)}, max_tokens: 1000 }, { headers: ${JSON.stringify(HEADERS)} });
const outcome = await run({ maxCostUsd: "0.015" }, async () => {
  await chat();
  try { await chat(); return "sent"; } catch (e) { return e instanceof BudgetExceededError ? e.scope : String(e); }
});
console.log(outcome);`,
    { env: { BASE: mock.openaiBaseURL, COSTLINE_LEDGER: mock.ledger }, timeoutMs: 60_000 },
  );
  assert.equal(out.code, 0, out.stderr);
  assert.equal(out.stdout.trim().split("\n").pop(), "run");
});

test("a Node and a Python process sharing one ledger store hold one cap together", async () => {
  const ledger = mock.ledger;
  const calls = 80; // each; together they want $1.60 against $1.00
  const node = runNode(
    `import OpenAI from "costline/openai";
import { configure, flush, BudgetExceededError } from "costline";
configure({ ledger: process.env.SHARED, prices: ${JSON.stringify(PRICES)}, budgets: [{ limitUsd: "1.00", period: "day" }], budgetStore: "ledger" });
const c = new OpenAI({ baseURL: process.env.BASE, apiKey: "k", maxRetries: 0 });
let admitted = 0;
await Promise.all(Array.from({ length: ${calls} }, () => c.chat.completions.create({ model: "budget-model", messages: ${JSON.stringify(MESSAGES)}, max_tokens: 1000 }, { headers: ${JSON.stringify(HEADERS)} })
  .then(() => admitted++, (e) => { if (!(e instanceof BudgetExceededError)) throw e; })));
await flush(30000);
console.log(JSON.stringify({ admitted }));`,
    { env: { SHARED: ledger, BASE: mock.openaiBaseURL }, timeoutMs: 120_000 },
  );
  const python = runPython(
    `import json, os
from concurrent.futures import ThreadPoolExecutor
import costline
from costline.openai import OpenAI
costline.configure(ledger=os.environ["SHARED"], prices=${JSON.stringify(PRICES)}, budgets=[costline.Budget("1.00", "day")], budget_store="ledger")
c = OpenAI(base_url=os.environ["BASE"], api_key="k", max_retries=0)
def one(_):
    try:
        c.chat.completions.create(model="budget-model", messages=${JSON.stringify(MESSAGES)}, max_tokens=1000, extra_headers=${JSON.stringify(HEADERS)})
        return 1
    except costline.BudgetExceededError:
        return 0
with ThreadPoolExecutor(8) as pool:
    admitted = sum(pool.map(one, range(${calls})))
costline.flush(30)
print(json.dumps({"admitted": admitted}))`,
    { env: { SHARED: ledger, BASE: mock.openaiBaseURL }, timeoutMs: 120_000 },
  );
  const [n, p] = await Promise.all([node, python]);
  assert.equal(n.code, 0, n.stderr);
  assert.equal(p.code, 0, p.stderr);
  const admitted = JSON.parse(n.stdout.trim().split("\n").pop()).admitted + JSON.parse(p.stdout.trim().split("\n").pop()).admitted;
  assert.ok(admitted <= 99 && admitted >= 98, `admitted ${admitted}`);
  configure({ ledger, prices: PRICES, budgets: [{ limitUsd: "1.00", period: "day" }], budgetStore: "ledger" });
  const [row] = budgetStatus();
  assert.equal(row.reserved_usd, "0");
  assert.ok(cents(row.spent_usd) <= cents("1.00"), row.spent_usd);
  const langs = new Set((await recorded()).filter((e) => e.status === "ok").map((e) => e.sdk.lang));
  assert.deepEqual([...langs].sort(), ["node", "python"]);
});

test("a process that ends without flushing leaves its settlements made (ledger store)", async () => {
  const ledger = mock.ledger;
  const child = await runNode(
    `import OpenAI from "costline/openai";
import { configure } from "costline";
configure({ ledger: process.env.SHARED, prices: ${JSON.stringify(PRICES)}, budgets: [{ limitUsd: "10.00", period: "day" }], budgetStore: "ledger" });
const c = new OpenAI({ baseURL: process.env.BASE, apiKey: "k", maxRetries: 0 });
for (let i = 0; i < 5; i++) await c.chat.completions.create({ model: "budget-model", messages: ${JSON.stringify(MESSAGES)}, max_tokens: 1000 }, { headers: ${JSON.stringify(HEADERS)} });`,
    { env: { SHARED: ledger, BASE: mock.openaiBaseURL }, timeoutMs: 60_000 },
  );
  assert.equal(child.code, 0, child.stderr);
  configure({ ledger, prices: PRICES, budgets: [{ limitUsd: "10.00", period: "day" }], budgetStore: "ledger" });
  const [row] = budgetStatus();
  assert.equal(row.reserved_usd, "0");
  assert.equal(row.spent_usd, "0.05005");
});

test("a reservation waiting for its store (a Redis that never answers) leaves the event loop running", async () => {
  const sockets = [];
  const silent = net.createServer((s) => sockets.push(s)); // accepts, never answers
  await new Promise((resolve) => silent.listen(0, "127.0.0.1", resolve));
  install([{ limitUsd: "1", period: "day" }], { budgetStore: "redis", redisUrl: `redis://127.0.0.1:${silent.address().port}` });
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  try {
    const started = performance.now();
    await chat(client()); // the store gives up after its read timeout; the fail mode (open) lets the call through
    const waited = performance.now() - started;
    assert.ok(waited > 500, `the store was waited for: ${waited} ms`);
    assert.ok(ticks >= 10, `${ticks} timer ticks while the call waited ${waited} ms for its store`);
  } finally {
    clearInterval(timer);
    for (const s of sockets) s.destroy();
    silent.close();
  }
});
