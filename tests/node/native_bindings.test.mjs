// The addon's translation, fallback-policy and routing entry points
// (bindings-node/src/translate.rs, fallback_walk.rs, routing.rs): errors arrive with the core's
// code, and the outputs are the core's (the vectors pin the details).
import "./env.mjs";

import { test } from "node:test";
import assert from "node:assert/strict";

import { native } from "./support.mjs";

const REQUEST = { model: "gpt-4o", max_tokens: 50, messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hi" }] };

/** Two OpenAI candidates, cheapest first. */
const ROUTE_INPUT = {
  request: REQUEST,
  candidates: [
    { model: "gpt-4o-mini", provider: "openai", quality: 55 },
    { model: "gpt-4o", provider: "openai", quality: 72 },
  ],
  prefer: "lowest_cost",
};

test("translate turns an OpenAI request into an Anthropic one", () => {
  const out = native.translate("request", "openai", "anthropic", REQUEST, { model: "claude-haiku-4-5" });
  assert.equal(out.model, "claude-haiku-4-5");
  assert.equal(out.max_tokens, 50);
  assert.deepEqual(out.system, "Be brief.");
  assert.deepEqual(out.messages, [{ role: "user", content: [{ type: "text", text: "Hi" }] }]);
});

test("a feature the target cannot express throws fallback_unsupported with its feature and target", () => {
  const request = { model: "gpt-4o", messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "https://example.com/cat.png" } }] }] };
  assert.throws(
    () => native.translate("request", "openai", "bedrock", request, { model: "us.anthropic.claude-haiku-4-5-20251001-v1:0" }),
    (err) => {
      assert.match(err.message, /^costline:fallback_unsupported: /);
      const details = JSON.parse(err.message.slice("costline:fallback_unsupported: ".length));
      assert.equal(details.target, "bedrock");
      assert.match(details.feature, /image_url/);
      return true;
    },
  );
});

test("FallbackStream turns Anthropic stream events into OpenAI chunks", () => {
  const stream = new native.FallbackStream("openai", "anthropic", { id: "chatcmpl-1", model: "claude-haiku-4-5", created: 1, include_usage: true });
  const chunks = [
    ...stream.push({ type: "message_start", message: { id: "msg_1", model: "claude-haiku-4-5", usage: { input_tokens: 5, output_tokens: 0 } } }),
    ...stream.push({ type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }),
    ...stream.push({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hello" } }),
    ...stream.push({ type: "message_delta", delta: { stop_reason: "end_turn" }, usage: { output_tokens: 2 } }),
    ...stream.push({ type: "message_stop" }),
    ...stream.finish(),
  ];
  assert.ok(chunks.every((c) => c.object === "chat.completion.chunk" && c.id === "chatcmpl-1"));
  const text = chunks.map((c) => c.choices?.[0]?.delta?.content ?? "").join("");
  assert.equal(text, "Hello");
  assert.ok(chunks.some((c) => c.choices?.[0]?.finish_reason === "stop"));
  assert.deepEqual(chunks.at(-1).usage?.prompt_tokens, 5);
});

test("FallbackWalk numbers a chain's attempts and applies the policy", () => {
  const walk = new native.FallbackWalk({ attempt_timeout_s: 2 }, ["anthropic/claude-haiku-4-5", "openai/gpt-4o-mini"], 0);
  assert.match(walk.callId, /\S/);
  assert.equal(walk.primaryFailed("status", 429), true);
  assert.deepEqual(walk.nextStep(), { index: 0, number: 2, timeoutMs: 2000 });
  assert.equal(walk.unsupported(), false);
  walk.budgetSkipped("over the cap");
  assert.deepEqual(walk.nextStep(), { index: 1, number: 3, timeoutMs: 2000 });
  assert.deepEqual(walk.served(), { served_by: "openai/gpt-4o-mini", attempts: 3, call_id: walk.callId });
  walk.failed("status", 503);
  assert.equal(walk.nextStep(), null);
  assert.deepEqual(walk.exhausted("InternalServerError").skipped, [{ target: "anthropic/claude-haiku-4-5", reason: "over the cap" }]);
  const caller = new native.FallbackWalk({}, ["openai/gpt-4o"], 0);
  assert.equal(caller.primaryFailed("status", 400), false);
  assert.throws(() => new native.FallbackWalk({ deadline_s: -1 }, [], 0), /^Error: costline:config: /);
  assert.throws(() => native.checkFallbackOptions({ deadline_s: -1 }), /^Error: costline:config: /);
});

test("RoutedWalk falls back to the cheapest candidate not tried and says why", () => {
  const input = ROUTE_INPUT;
  const walk = new native.RoutedWalk(JSON.stringify(input), {}, null, null);
  assert.equal(JSON.parse(walk.decision).model, "gpt-4o-mini");
  assert.equal(JSON.parse(walk.next()).model, "gpt-4o-mini");
  assert.equal(walk.beginAttempt().number, 1);
  walk.failed("status", 503);
  const next = JSON.parse(walk.next());
  assert.equal(next.model, "gpt-4o");
  walk.beginAttempt();
  const info = walk.info();
  assert.equal(info.attempts, 2);
  assert.match(info.reason, /^fell back after gpt-4o-mini failed: gpt-4o \(openai\)/);
  assert.deepEqual(walk.tried, ["gpt-4o-mini", "gpt-4o"]);
  walk.failed("status", 401);
  assert.equal(walk.next(), null);
  assert.equal(walk.failure("AuthenticationError", "no", 401).details.tried.length, 2);
  assert.throws(() => walk.choose("gpt-9"), /costline:routing: .*invalid_router_pick/);
  assert.throws(() => new native.RoutedWalk(JSON.stringify({ ...input, max_cost_usd: "0" }), null, null, null), /costline:routing: .*over_max_cost/);
});

test("decide picks per prefer and reports a routing error as JSON", () => {
  const input = ROUTE_INPUT;
  const decision = JSON.parse(native.decide(JSON.stringify(input)));
  assert.equal(decision.model, "gpt-4o-mini");
  assert.throws(
    () => native.decide(JSON.stringify({ ...input, max_cost_usd: "0" })),
    (err) => {
      assert.match(err.message, /^costline:routing: /);
      assert.equal(JSON.parse(err.message.slice("costline:routing: ".length)).code, "over_max_cost");
      return true;
    },
  );
});
