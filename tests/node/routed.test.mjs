// The routed client, `new Costline({ providers })`: the core's pick on a fixed
// candidate table, served through real SDK clients against the mock provider,
// answered as OpenAI chat completion objects whoever served, one event per
// attempt with the request's metadata as tags.
import "./env.mjs";

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";

import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import DropInOpenAI from "costline/openai";
import { configure, run, track, flush, Costline, CostlineError, RoutingError, BudgetExceededError, FallbackDeadlineError } from "costline";
import { recorded, useMock, REPO, SECRET_KEY } from "./support.mjs";

const mock = useMock();
const vectors = JSON.parse(readFileSync(join(REPO, "tests", "vectors", "routing", "decisions.json"), "utf8"));
// The vectors' fixed candidate table: pinned prices, test scores and latencies.
const CANDIDATES = vectors.cases[0].input.candidates.map(({ model, provider, quality, latency_ms }) => ({ model, provider, quality, latencyMs: latency_ms }));
const content = (name) => vectors.cases.find((c) => c.name === name).input.request.messages[0].content;
const PLAIN = content("lowest_cost takes the cheapest candidate");
const CODE = content("a code block asks for a standard model");
const SHORT = content("a short prompt is basic when no min_confidence is set");
const USAGE = { "x-mock-prompt-tokens": "1000", "x-mock-completion-tokens": "500" };

const openai = (headers) => new OpenAI({ baseURL: mock.openaiBaseURL, apiKey: SECRET_KEY, maxRetries: 0, defaultHeaders: headers });
const anthropic = (headers) => new Anthropic({ baseURL: mock.anthropicBaseURL, apiKey: SECRET_KEY, maxRetries: 0, defaultHeaders: headers });

function client(options = {}) {
  configure({ prices: vectors.prices });
  return new Costline({ providers: { openai: openai(), anthropic: anthropic() }, models: CANDIDATES, ...options });
}

const ask = (content, extra = {}) => ({ model: "auto", max_tokens: 100, messages: [{ role: "user", content }], ...extra });

async function collect(stream) {
  const out = [];
  for await (const chunk of stream) out.push(chunk);
  return out;
}

/** The provider requests the mock received: [path, model]. */
async function sent() {
  return (await mock.requests()).map((r) => [r.path, r.model]);
}

test("each prefer mode picks its model on the fixed candidate table, and that model serves", async () => {
  const c = client();
  const cases = [
    ["lowest_cost", PLAIN, "gpt-4.1-nano", "/v1/chat/completions"],
    ["lowest_cost_that_meets_quality", CODE, "gpt-4o-mini", "/v1/chat/completions"],
    ["highest_quality", PLAIN, "claude-sonnet-4-5", "/v1/messages"],
    ["lowest_latency", PLAIN, "gpt-4.1-nano", "/v1/chat/completions"],
  ];
  for (const [prefer, content, model, path] of cases) {
    await mock.reset();
    const r = await c.chat.completions.create(ask(content, { routing: { prefer } }));
    assert.equal(r.costline.routedTo, model, prefer);
    assert.deepEqual(await sent(), [[path, model]], prefer);
    assert.equal(r.object, "chat.completion");
    assert.match(r.costline.reason, new RegExp(`^${model.replace(/\./g, "\\.")} \\(`));
  }
});

test("maxCostUsd and minConfidence change the pick", async () => {
  const c = client();
  const best = await c.chat.completions.create(ask(PLAIN, { routing: { prefer: "highest_quality" } }));
  assert.equal(best.costline.routedTo, "claude-sonnet-4-5");
  const capped = await c.chat.completions.create(ask(PLAIN, { routing: { prefer: "highest_quality", maxCostUsd: "0.0011" } }));
  assert.equal(capped.costline.routedTo, "gpt-4o");
  const short = await c.chat.completions.create(ask(SHORT));
  assert.equal(short.costline.routedTo, "gpt-4.1-nano");
  const sure = await c.chat.completions.create(ask(SHORT, { routing: { minConfidence: 0.8 } }));
  assert.equal(sure.costline.routedTo, "gpt-4o-mini");
  assert.equal(sure.costline.confidence, 0.6);
  assert.equal(sure.costline.decision.level_raised, true);
});

test("an OpenAI-served call is an OpenAI chat completion with costline beside its fields, and one exact event", async () => {
  const c = client();
  const r = await c.chat.completions.create(ask(PLAIN, { routing: { prefer: "lowest_cost" } }), { headers: USAGE });
  assert.equal(r.object, "chat.completion");
  assert.match(r.model, /^gpt-4\.1-nano/); // the mock answers with a dated snapshot
  assert.equal(r.choices[0].message.role, "assistant");
  assert.equal(r.choices[0].message.content, "Hello from the mock provider.");
  assert.equal(r.usage.prompt_tokens, 1000);
  assert.ok(!Object.keys(r).includes("costline"), "costline must not be enumerable");
  assert.ok(!JSON.stringify(r).includes("routedTo"));
  // 1000 x 0.1/M + 500 x 0.4/M at the vectors' pinned prices.
  assert.equal(r.costline.costUsd, "0.0003");
  assert.equal(r.costline.attempts, 1);
  assert.equal(r.costline.provider, "openai");
  const [event] = await recorded();
  assert.equal(event.provider, "openai");
  assert.equal(event.model, "gpt-4.1-nano");
  assert.equal(event.cost_usd, "0.0003");
  assert.equal(event.status, "ok");
});

test("an Anthropic-served call comes back as an OpenAI chat completion, plain and streamed", async () => {
  const c = client();
  const r = await c.chat.completions.create(ask(PLAIN, { routing: { prefer: "highest_quality" } }));
  assert.equal(r.object, "chat.completion");
  assert.match(r.model, /^claude-sonnet-4-5/);
  assert.equal(r.choices[0].message.content, "Hello from the mock provider.");
  assert.equal(r.choices[0].finish_reason, "stop");
  assert.equal(typeof r.usage.prompt_tokens, "number");
  assert.equal(r.costline.provider, "anthropic");
  const s = await c.chat.completions.create(ask(PLAIN, { routing: { prefer: "highest_quality" }, stream: true }));
  assert.equal(s.costline.routedTo, "claude-sonnet-4-5");
  const chunks = await collect(s);
  assert.ok(chunks.every((ch) => ch.object === "chat.completion.chunk"));
  assert.equal(chunks.map((ch) => ch.choices[0]?.delta?.content ?? "").join(""), "Hello from the mock provider.");
  assert.equal(chunks.at(-1).choices[0].finish_reason, "stop");
  assert.ok(chunks.every((ch) => ch.usage === undefined), "the caller asked for no usage chunk");
  const events = await recorded();
  assert.deepEqual(events.map((e) => [e.provider, e.model, e.stream, e.status]), [
    ["anthropic", "claude-sonnet-4-5", false, "ok"],
    ["anthropic", "claude-sonnet-4-5", true, "ok"],
  ]);
  assert.equal(s.costline.costUsd, events[1].cost_usd);
  assert.ok(events[1].output_tokens > 0 && events[1].usage_source === "provider");
});

test("an OpenAI-served stream: chunks as the SDK gives them, usage metered and shown only when asked for", async () => {
  const c = client();
  const s = await c.chat.completions.create(ask(PLAIN, { routing: { prefer: "lowest_cost" }, stream: true }), { headers: USAGE });
  const chunks = await collect(s);
  assert.ok(chunks.length >= 3);
  assert.ok(chunks.every((ch) => ch.object === "chat.completion.chunk" && ch.choices.length === 1 && !("usage" in ch)));
  assert.equal(s.costline.costUsd, "0.0003");
  const withUsage = await collect(
    await c.chat.completions.create(ask(PLAIN, { routing: { prefer: "lowest_cost" }, stream: true, stream_options: { include_usage: true } }), { headers: USAGE }),
  );
  assert.equal(withUsage.at(-1).usage.prompt_tokens, 1000);
  const events = await recorded();
  assert.deepEqual(events.map((e) => [e.model, e.stream, e.input_tokens, e.output_tokens, e.cost_usd]), [
    ["gpt-4.1-nano", true, 1000, 500, "0.0003"],
    ["gpt-4.1-nano", true, 1000, 500, "0.0003"],
  ]);
});

test("metadata lands in the event's tags, over run tags, and is never sent to the provider", async () => {
  const c = client();
  const metadata = { customerId: "acme", featureId: "support-triage", environment: "production", costCenter: "customer-success" };
  await run("triage", { tags: { team: "support", environment: "staging" } }, () => c.chat.completions.create(ask(PLAIN, { metadata })));
  const [event] = await recorded();
  assert.deepEqual(event.tags, { team: "support", customer_id: "acme", feature_id: "support-triage", environment: "production", cost_center: "customer-success" });
  assert.equal(event.agent, "triage");
  const [request] = await mock.requests();
  assert.equal(request.body.metadata, undefined);
  assert.equal(request.body.routing, undefined);
  assert.ok(!JSON.stringify(request.body).includes("acme"));
});

test("every candidate over maxCostUsd: RoutingError before anything is sent", async () => {
  const c = client();
  const err = await c.chat.completions.create(ask(PLAIN, { routing: { maxCostUsd: "0.00000001" } })).catch((e) => e);
  assert.ok(err instanceof RoutingError && err instanceof CostlineError);
  assert.equal(err.code, "over_max_cost");
  assert.equal(err.details.max_cost_usd, "0.00000001");
  assert.equal(err.details.cheapest_model, "gpt-4.1-nano");
  assert.equal(err.requestId, null);
  assert.deepEqual(await mock.requests(), []);
  assert.deepEqual(await recorded(), []);
});

test("a failed routed call falls back to the next candidate; every attempt is metered", async () => {
  configure({ prices: vectors.prices });
  const c = new Costline({ providers: { openai: openai({ "x-mock-error": "500" }), anthropic: anthropic() }, models: CANDIDATES });
  const r = await c.chat.completions.create(ask(CODE));
  // gpt-4o-mini meets the standard bar; it fails; the next cheapest meeting it is claude-haiku-4-5.
  assert.equal(r.costline.routedTo, "claude-haiku-4-5");
  assert.equal(r.costline.attempts, 2);
  assert.match(r.costline.reason, /^fell back after gpt-4o-mini failed: claude-haiku-4-5 \(anthropic\)/);
  assert.equal(r.costline.callId.length, 36);
  assert.deepEqual(await sent(), [["/v1/chat/completions", "gpt-4o-mini"], ["/v1/messages", "claude-haiku-4-5"]]);
  const events = await recorded();
  assert.deepEqual(events.map((e) => [e.provider, e.model, e.status, e.call_id, e.attempt]), [
    ["openai", "gpt-4o-mini", "error", r.costline.callId, 1],
    ["anthropic", "claude-haiku-4-5", "ok", r.costline.callId, 2],
  ]);
  assert.equal(r.costline.costUsd, events[1].cost_usd);
});

test("a routed call that fails everywhere raises CostlineError with the provider's request id; a concrete model's error keeps its SDK type", async () => {
  configure({ prices: vectors.prices });
  const failing = { "x-mock-error": "503" };
  const c = new Costline({ providers: { openai: openai(failing), anthropic: anthropic(failing) }, models: CANDIDATES, fallback: false });
  const err = await c.chat.completions.create(ask(PLAIN)).catch((e) => e);
  assert.ok(err instanceof CostlineError);
  assert.equal(err.code, "provider_error");
  assert.equal(err.details.status, 503);
  assert.equal(err.details.provider, "openai");
  assert.match(err.requestId, /^req_/);
  assert.ok(err.cause instanceof OpenAI.InternalServerError);
  const concrete = await c.chat.completions.create({ ...ask(PLAIN), model: "gpt-4o" }).catch((e) => e);
  assert.ok(concrete instanceof OpenAI.InternalServerError, String(concrete));
});

test("a user router's answer replaces the core's pick; it is told the request's shape, never its content", async () => {
  let seen;
  const c = client({
    router: (summary, candidates) => {
      seen = { summary, candidates };
      return "claude-haiku-4-5";
    },
  });
  const r = await c.chat.completions.create(ask(PLAIN, { metadata: { customerId: "acme" } }));
  assert.equal(r.costline.routedTo, "claude-haiku-4-5");
  assert.equal(r.costline.provider, "anthropic");
  assert.match(r.costline.reason, /^claude-haiku-4-5 \(anthropic\): chosen by the router; core's pick gpt-4\.1-nano/);
  assert.deepEqual(await sent(), [["/v1/messages", "claude-haiku-4-5"]]);
  assert.equal(seen.summary.pick, "gpt-4.1-nano");
  assert.equal(seen.summary.level, 1);
  assert.equal(seen.summary.messages, 1);
  assert.deepEqual(seen.summary.tags, { customer_id: "acme" });
  assert.ok(!JSON.stringify(seen.summary).includes("Summarise"), "the router never sees the prompt");
  assert.deepEqual(seen.candidates.map((r) => r.model).sort(), ["claude-haiku-4-5", "claude-sonnet-4-5", "gpt-4.1-nano", "gpt-4o", "gpt-4o-mini"]);
  const kept = await client({ router: async () => null }).chat.completions.create(ask(PLAIN));
  assert.equal(kept.costline.routedTo, "gpt-4.1-nano");
  const bad = await client({ router: () => "gpt-9" }).chat.completions.create(ask(PLAIN)).catch((e) => e);
  assert.ok(bad instanceof RoutingError);
  assert.equal(bad.code, "invalid_router_pick");
  assert.equal(bad.details.picked, "gpt-9");
});

test("a costline drop-in as a provider: each attempt is recorded once", async () => {
  configure({ prices: vectors.prices });
  const dropIn = new DropInOpenAI({ baseURL: mock.openaiBaseURL, apiKey: SECRET_KEY, maxRetries: 0 });
  const c = new Costline({ providers: { openai: dropIn }, models: CANDIDATES });
  await c.chat.completions.create(ask(PLAIN, { metadata: { customerId: "acme" } }));
  const events = await recorded();
  assert.equal(events.length, 1);
  assert.equal(events[0].tags.customer_id, "acme");
  // The drop-in meters its own calls as before.
  await dropIn.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] });
  assert.equal((await recorded()).length, 2);
});

test("a concrete model is only metered (no routing), priced under that model", async () => {
  const c = client();
  const r = await c.chat.completions.create({ ...ask(PLAIN), model: "claude-haiku-4-5" });
  assert.equal(r.costline.routedTo, "claude-haiku-4-5");
  assert.equal(r.costline.confidence, null);
  assert.equal(r.costline.decision, null);
  assert.equal(r.costline.reason, "the model the caller named");
  assert.deepEqual(await sent(), [["/v1/messages", "claude-haiku-4-5"]]);
});

test("budgets hold for routed calls: a hard cap blocks before sending", async () => {
  const c = client();
  const err = await run({ maxCostUsd: "0.0000001" }, () => c.chat.completions.create(ask(PLAIN))).catch((e) => e);
  assert.ok(err instanceof BudgetExceededError, String(err));
  assert.deepEqual(await mock.requests(), []);
});

test("disabled: the routed client still routes and answers, and records nothing", async () => {
  const c = client();
  configure({ disabled: true });
  try {
    const r = await c.chat.completions.create(ask(PLAIN, { routing: { prefer: "highest_quality" } }));
    assert.equal(r.costline.routedTo, "claude-sonnet-4-5");
    assert.equal(r.costline.costUsd, null);
  } finally {
    configure({ disabled: false });
  }
  assert.deepEqual(await recorded(), []);
});

test("a candidate that cannot express the request is skipped for the next; without fallback it is an error", async () => {
  // Anthropic has no logprobs: the best candidate (claude-sonnet-4-5) cannot serve this request.
  const c = client();
  const r = await c.chat.completions.create(ask(PLAIN, { routing: { prefer: "highest_quality" }, logprobs: true }));
  assert.equal(r.costline.routedTo, "gpt-4o");
  assert.equal(r.costline.attempts, 1);
  assert.deepEqual(await sent(), [["/v1/chat/completions", "gpt-4o"]]);
  const err = await client({ fallback: false }).chat.completions.create(ask(PLAIN, { routing: { prefer: "highest_quality" }, logprobs: true })).catch((e) => e);
  assert.ok(err instanceof CostlineError, String(err));
  assert.equal(err.code, "fallback_unsupported");
  assert.equal(err.target ?? err.details.target, "anthropic");
  assert.deepEqual(await sent(), [["/v1/chat/completions", "gpt-4o"]]);
});

test("the fallback policy decides: a 400 never falls back, retryOn narrows what does, an attempt's timeout falls back", async () => {
  configure({ prices: vectors.prices });
  const bad = new Costline({ providers: { openai: openai({ "x-mock-error": "400" }), anthropic: anthropic() }, models: CANDIDATES });
  const e400 = await bad.chat.completions.create(ask(CODE)).catch((e) => e);
  assert.equal(e400.code, "provider_error");
  assert.equal(e400.details.status, 400);
  assert.deepEqual(e400.details.tried, ["gpt-4o-mini"]);
  const narrow = new Costline({ providers: { openai: openai({ "x-mock-error": "503" }), anthropic: anthropic() }, models: CANDIDATES, fallback: { retryOn: ["429"] } });
  const e503 = await narrow.chat.completions.create(ask(CODE)).catch((e) => e);
  assert.equal(e503.details.status, 503);
  assert.equal(e503.details.attempts, 1);
  await mock.reset();
  const slow = new Costline({ providers: { openai: openai({ "x-mock-error": "slow:5000" }), anthropic: anthropic() }, models: CANDIDATES, fallback: { attemptTimeoutMs: 300 } });
  const r = await slow.chat.completions.create(ask(CODE));
  assert.equal(r.costline.routedTo, "claude-haiku-4-5");
  assert.equal(r.costline.attempts, 2);
  assert.throws(() => new Costline({ providers: { openai: openai() }, fallback: { retryOn: ["400"] } }), /400 is the caller's error/);
  assert.throws(() => new Costline({ providers: { openai: openai() }, fallback: { retries: 2 } }), /unknown fallback option/);
});

test("options and requests are checked: unknown providers, routing keys and a model no client serves", async () => {
  assert.throws(() => new Costline({ providers: {} }), /needs providers/);
  assert.throws(() => new Costline({ providers: { cohere: {} } }), /unknown provider cohere/);
  assert.throws(() => new Costline({ providers: { openai: openai() }, model: "x" }), /unknown Costline option/);
  const c = client();
  await assert.rejects(c.chat.completions.create(ask(PLAIN, { routing: { maxCost: "1" } })), /unknown routing option\(s\) maxCost/);
  const unknown = await c.chat.completions.create({ ...ask(PLAIN), model: "some-private-model" }).catch((e) => e);
  assert.ok(unknown instanceof RoutingError);
  assert.equal(unknown.code, "unknown_model");
  const prefixed = await c.chat.completions.create({ ...ask(PLAIN), model: "anthropic/some-private-model" });
  assert.equal(prefixed.costline.routedTo, "some-private-model");
  assert.equal(prefixed.costline.provider, "anthropic");
  assert.deepEqual(await mock.requests().then((all) => all.map((r) => r.model)), ["some-private-model"]);
});

test("route() returns the decision without sending anything", async () => {
  const d = await client().route(ask(CODE));
  assert.equal(d.model, "gpt-4o-mini");
  assert.equal(d.required_level, 2);
  assert.equal(d.candidates.length, 5);
  assert.deepEqual(await mock.requests(), []);
});

test("leaving a routed stream early ends the provider's stream and records what arrived, once", async () => {
  const c = client();
  const s = await c.chat.completions.create(ask(PLAIN, { routing: { prefer: "highest_quality" }, stream: true }), { headers: { "x-mock-chunks": "20" } });
  let seen = 0;
  for await (const chunk of s) {
    assert.equal(chunk.object, "chat.completion.chunk");
    if (++seen === 3) break;
  }
  const events = await recorded();
  assert.equal(events.length, 1);
  assert.deepEqual([events[0].provider, events[0].stream, events[0].status], ["anthropic", true, "ok"]);
  assert.throws(() => s[Symbol.asyncIterator](), /iterated once/);
});

test("lowest_latency without latencies reads each model's p50 from the ledger", async () => {
  for (const [model, latencyMs] of [["gpt-4o", 120], ["gpt-4o", 140], ["gpt-4.1-nano", 900], ["claude-haiku-4-5", 400]]) {
    track({ provider: model.startsWith("claude") ? "anthropic" : "openai", model, inputTokens: 10, outputTokens: 5, latencyMs });
  }
  await flush(10_000);
  const unscored = CANDIDATES.map(({ model, provider, quality }) => ({ model, provider, quality }));
  configure({ prices: vectors.prices });
  const c = new Costline({ providers: { openai: openai(), anthropic: anthropic() }, models: unscored });
  const r = await c.chat.completions.create(ask(PLAIN, { routing: { prefer: "lowest_latency" } }));
  assert.equal(r.costline.routedTo, "gpt-4o");
  assert.match(r.costline.reason, /fastest of 5 candidates within budget \(p50 1[234]0 ms\)/);
  // The caller's latencies win over the ledger's.
  const own = await c.chat.completions.create(ask(PLAIN, { routing: { prefer: "lowest_latency", latenciesMs: { "claude-haiku-4-5": 10 } } }));
  assert.equal(own.costline.routedTo, "claude-haiku-4-5");
});

test("the call's deadline holds: no attempt starts after it (FallbackDeadlineError, its cause the last failure)", async () => {
  configure({ prices: vectors.prices });
  const c = new Costline({ providers: { openai: openai({ "x-mock-error": "slow:30000" }), anthropic: anthropic() }, models: CANDIDATES, fallback: { deadlineMs: 300 } });
  const started = Date.now();
  const err = await c.chat.completions.create(ask(CODE)).catch((e) => e);
  assert.ok(err instanceof FallbackDeadlineError, String(err));
  assert.equal(err.code, "fallback_deadline");
  assert.equal(err.cause?.code, "fallback_timeout");
  assert.ok(Date.now() - started < 20_000, "the 30 s attempt was cut by the deadline");
  assert.deepEqual(await sent(), [["/v1/chat/completions", "gpt-4o-mini"]]);
  const events = await recorded();
  assert.deepEqual(events.map((e) => [e.model, e.status]), [["gpt-4o-mini", "error"]]);
});
