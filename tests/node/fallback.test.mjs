// Fallback chains (issue 10), the policy and the metering: a drop-in whose
// provider fails walks its chain of raw clients; the caller keeps its own
// SDK's types; every attempt is an event linked by callId, priced under the
// model that served it. The mock fails the primary with `x-mock-error`.
import "./env.mjs";

import { test } from "node:test";
import assert from "node:assert/strict";

import RawOpenAI from "openai";
import RawAnthropic from "@anthropic-ai/sdk";
import { OpenAI } from "costline/openai";
import { Anthropic } from "costline/anthropic";
import * as genai from "@google/genai";
import {
  cost,
  instrument,
  run,
  ConfigError,
  BudgetExceededError,
  FallbackUnsupportedError,
  FallbackDeadlineError,
  FallbackTimeoutError,
} from "costline";
import { recorded, useMock } from "./support.mjs";
import { HI, TEXT, collect, failingSource, rawClient, target } from "./fallback-support.mjs";

const mock = useMock();

const byAttempt = (events) => [...events].sort((a, b) => a.attempt - b.attempt);

test("an OpenAI caller served by Anthropic gets a ChatCompletion with costline beside its fields", async () => {
  const client = failingSource(mock, "openai", [target(mock, "anthropic")]);
  const reply = await client.chat.completions.create({ model: "gpt-4o", messages: HI, max_tokens: 50 });
  assert.equal(reply.object, "chat.completion");
  assert.equal(reply.choices[0].message.content, TEXT);
  assert.equal(reply.choices[0].finish_reason, "stop");
  assert.match(reply.model, /^claude-haiku-4-5/);
  const info = reply.costline;
  assert.equal(info.servedBy, "anthropic/claude-haiku-4-5");
  assert.equal(info.attempts, 2);
  assert.match(info.costUsd, /^0\.\d+$/);
  assert.ok(!Object.keys(reply).includes("costline"), "costline is not enumerable");
  assert.ok(!("costline" in JSON.parse(JSON.stringify(reply))));
  const sent = (await mock.requests("/v1/messages")).at(-1).body;
  assert.equal(sent.model, "claude-haiku-4-5");
  assert.equal(sent.max_tokens, 50);
  assert.deepEqual(sent.messages, [{ role: "user", content: [{ type: "text", text: HI[0].content }] }]);
});

test("each attempt is its own event, linked by callId, the served one priced exactly under the target's model", async () => {
  const usage = { "x-mock-prompt-tokens": "1000", "x-mock-completion-tokens": "500" };
  const client = failingSource(mock, "openai", [target(mock, "anthropic", usage)]);
  const reply = await client.chat.completions.create({ model: "gpt-4o", messages: HI });
  const events = byAttempt(await recorded());
  assert.deepEqual(
    events.map((e) => [e.provider, e.model, e.status, e.attempt]),
    [
      ["openai", "gpt-4o", "error", 1],
      ["anthropic", "claude-haiku-4-5", "ok", 2],
    ],
  );
  assert.equal(events[0].call_id, reply.costline.callId);
  assert.equal(events[1].call_id, reply.costline.callId);
  assert.equal(events[0].error_type, "InternalServerError");
  assert.equal(events[0].cost_usd, "0");
  const exact = cost({ model: "claude-haiku-4-5", provider: "anthropic", inputTokens: 1000, outputTokens: 500 });
  assert.equal(exact, "0.0035");
  assert.equal(events[1].cost_usd.replace(/0+$/, ""), exact);
  assert.equal(reply.costline.costUsd.replace(/0+$/, ""), exact);
  assert.deepEqual([events[1].input_tokens, events[1].output_tokens], [1000, 500]);
});

test("run() totals include every attempt that cost money", async () => {
  const usage = { "x-mock-prompt-tokens": "1000", "x-mock-completion-tokens": "500" };
  const client = failingSource(mock, "openai", [target(mock, "anthropic", usage)]);
  const total = await run("agent", async (r) => {
    await client.chat.completions.create({ model: "gpt-4o", messages: HI });
    return { cost: r.costUsd, calls: r.calls };
  });
  assert.deepEqual(total, { cost: "0.0035", calls: 2 });
});

test("an Anthropic caller served by OpenAI gets a Message; the system prompt maps", async () => {
  const client = failingSource(mock, "anthropic", [target(mock, "openai")]);
  const reply = await client.messages.create({ model: "claude-haiku-4-5", max_tokens: 50, system: "Be brief.", messages: HI });
  assert.equal(reply.type, "message");
  assert.equal(reply.content[0].text, TEXT);
  assert.equal(reply.stop_reason, "end_turn");
  assert.equal(reply.costline.servedBy, "openai/gpt-4o-mini");
  const sent = (await mock.requests("/v1/chat/completions")).at(-1).body;
  assert.deepEqual(sent.messages[0], { role: "system", content: "Be brief." });
  assert.equal(sent.max_completion_tokens, 50);
});

test("an OpenAI stream falls back to Anthropic's events as chat chunks, with the usage chunk it asked for", async () => {
  const client = failingSource(mock, "openai", [target(mock, "anthropic")]);
  const stream = await client.chat.completions.create({
    model: "gpt-4o",
    messages: HI,
    stream: true,
    stream_options: { include_usage: true },
  });
  const chunks = await collect(stream);
  assert.equal(chunks.filter((c) => c.choices.length).map((c) => c.choices[0].delta.content ?? "").join(""), TEXT);
  assert.deepEqual(chunks.at(-1).choices, []);
  assert.ok(chunks.at(-1).usage.completion_tokens > 0);
  assert.equal(stream.costline.servedBy, "anthropic/claude-haiku-4-5");
  assert.match(stream.costline.costUsd, /^0\.\d+$/, "the cost is known once the stream ended");
  const events = byAttempt(await recorded());
  assert.deepEqual(
    events.map((e) => [e.provider, e.status, e.stream, e.attempt]),
    [
      ["openai", "error", true, 1],
      ["anthropic", "ok", true, 2],
    ],
  );
  assert.equal(events[1].usage_source, "provider");
  assert.equal(events[1].cost_usd, stream.costline.costUsd);
});

test("leaving a fallback stream early closes the target's stream and records its attempt", async () => {
  const client = failingSource(mock, "openai", [target(mock, "anthropic", { "x-mock-chunks": "40" })]);
  const stream = await client.chat.completions.create({ model: "gpt-4o", messages: HI, stream: true });
  let seen = 0;
  for await (const chunk of stream) {
    if (chunk.choices[0]?.delta?.content && ++seen === 2) break;
  }
  const events = byAttempt(await recorded());
  assert.deepEqual(
    events.map((e) => [e.provider, e.status, e.attempt]),
    [
      ["openai", "error", 1],
      ["anthropic", "ok", 2],
    ],
  );
});

test("a tool-call round trip reaches the target in its own shape, and the target's tool call comes back as the caller's", async () => {
  const messages = [
    { role: "user", content: "Weather in Paris?" },
    {
      role: "assistant",
      content: null,
      tool_calls: [{ id: "call_1", type: "function", function: { name: "weather", arguments: '{"city":"Paris"}' } }],
    },
    { role: "tool", tool_call_id: "call_1", content: "18C" },
  ];
  const tools = [{ type: "function", function: { name: "weather", parameters: { type: "object" } } }];
  const client = failingSource(mock, "openai", [target(mock, "anthropic")]);
  const reply = await client.chat.completions.create({ model: "gpt-4o", messages, tools });
  assert.equal(reply.choices[0].message.content, TEXT);
  const sent = (await mock.requests("/v1/messages")).at(-1).body;
  assert.deepEqual(sent.messages[1].content, [{ type: "tool_use", id: "call_1", name: "weather", input: { city: "Paris" } }]);
  assert.deepEqual(sent.messages[2].content, [{ type: "tool_result", tool_use_id: "call_1", content: "18C" }]);
  assert.deepEqual(sent.tools, [{ name: "weather", input_schema: { type: "object" } }]);
});

test("caller errors (400) never fall back: raised as they are, one event without call_id", async () => {
  const client = failingSource(mock, "openai", [target(mock, "anthropic")], "400");
  await assert.rejects(client.chat.completions.create({ model: "gpt-4o", messages: HI }), RawOpenAI.BadRequestError);
  assert.deepEqual(await mock.requests("/v1/messages"), []);
  const [event] = await recorded();
  assert.equal(event.status, "error");
  assert.equal(event.call_id ?? null, null);
  assert.equal(event.attempt ?? null, null);
});

test("the deadline counts from the primary's start: a slow primary leaves no time for a fallback", async () => {
  const client = failingSource(mock, "openai", { targets: [target(mock, "anthropic")], deadlineMs: 300 }, "slow:600,503");
  await assert.rejects(client.chat.completions.create({ model: "gpt-4o", messages: HI }), (err) => {
    assert.ok(err instanceof FallbackDeadlineError, String(err));
    assert.ok(err.cause instanceof RawOpenAI.InternalServerError, String(err.cause));
    return true;
  });
  assert.deepEqual(await mock.requests("/v1/messages"), []);
  assert.deepEqual((await recorded()).map((e) => [e.status, e.attempt]), [["error", 1]]);
});

test("an untranslatable request raises FallbackUnsupportedError naming the feature, or skips the target when asked", async () => {
  const client = failingSource(mock, "openai", [target(mock, "anthropic")]);
  await assert.rejects(client.chat.completions.create({ model: "gpt-4o", messages: HI, logprobs: true }), (err) => {
    assert.ok(err instanceof FallbackUnsupportedError);
    assert.deepEqual([err.feature, err.target], ["logprobs", "anthropic"]);
    return true;
  });
  const skipping = failingSource(mock, "openai", {
    targets: [target(mock, "anthropic"), target(mock, "openai")],
    onUnsupported: "skip",
  });
  const reply = await skipping.chat.completions.create({ model: "gpt-4o", messages: HI, logprobs: true });
  assert.equal(reply.costline.servedBy, "openai/gpt-4o-mini");
  assert.deepEqual(await mock.requests("/v1/messages"), []);
});

test("the last failure is raised when every target fails, each attempt an error event", async () => {
  const dead = { provider: "anthropic", model: "claude-haiku-4-5", client: rawClient(mock, "anthropic", { "x-mock-error": "529" }) };
  const client = failingSource(mock, "openai", [dead]);
  await assert.rejects(client.chat.completions.create({ model: "gpt-4o", messages: HI }), RawAnthropic.APIError);
  const events = byAttempt(await recorded());
  assert.deepEqual(
    events.map((e) => [e.attempt, e.status]),
    [
      [1, "error"],
      [2, "error"],
    ],
  );
  assert.equal(events[0].call_id, events[1].call_id);
});

test("a costline drop-in is refused as a target, and bad options when the client is made", () => {
  const dropIn = new Anthropic({ apiKey: "x" });
  assert.throws(() => failingSource(mock, "openai", [{ provider: "anthropic", model: "m", client: dropIn }]), /not a costline drop-in/);
  assert.throws(
    () => failingSource(mock, "openai", { targets: [target(mock, "anthropic")], retryOn: ["400"] }),
    (err) => err instanceof ConfigError && /never falls back/.test(err.message),
  );
  assert.throws(() => failingSource(mock, "openai", { targets: [target(mock, "anthropic")], retries: 3 }), /unknown fallback option/);
  assert.throws(() => failingSource(mock, "openai", [{ provider: "cohere", model: "m", client: {} }]), /fallback provider/);
});

test("the attempt timeout cuts a slow target", async () => {
  const slow = target(mock, "anthropic", { "x-mock-error": "slow:5000" });
  const client = failingSource(mock, "openai", { targets: [slow], attemptTimeoutMs: 300 });
  const started = Date.now();
  await assert.rejects(client.chat.completions.create({ model: "gpt-4o", messages: HI }), FallbackTimeoutError);
  assert.ok(Date.now() - started < 4000, "the 5 s answer was not waited for");
  const events = byAttempt(await recorded());
  assert.deepEqual(
    events.map((e) => [e.attempt, e.status, e.error_type]),
    [
      [1, "error", "InternalServerError"],
      [2, "error", "FallbackTimeoutError"],
    ],
  );
});

test("a deadline holds: no attempt starts after it", async () => {
  const slow = target(mock, "anthropic", { "x-mock-error": "slow:5000" });
  const fine = target(mock, "openai");
  const client = failingSource(mock, "openai", { targets: [slow, fine], attemptTimeoutMs: 500, deadlineMs: 500 });
  const started = Date.now();
  await assert.rejects(client.chat.completions.create({ model: "gpt-4o", messages: HI }), (err) => {
    assert.ok(err instanceof FallbackDeadlineError, String(err));
    assert.ok(err.cause instanceof FallbackTimeoutError, String(err.cause));
    return true;
  });
  assert.ok(Date.now() - started < 4000);
  assert.deepEqual((await recorded()).map((e) => e.attempt).sort(), [1, 2]);
  assert.equal((await mock.requests("/v1/chat/completions")).length, 1, "only the primary reached OpenAI");
});

test("a target whose worst case would pass a hard cap is skipped (recorded blocked), and the error says so when none fits", async () => {
  const chain = [target(mock, "anthropic"), target(mock, "openai")];
  const client = failingSource(mock, "openai", chain);
  // gpt-4o-mini at 1000 tokens fits 0.002; claude-haiku-4-5 at 1000 output tokens (0.005) does not.
  const reply = await run({ maxCostUsd: "0.002" }, () =>
    client.chat.completions.create({ model: "gpt-4o-mini", messages: HI, max_tokens: 1000 }),
  );
  assert.equal(reply.costline.servedBy, "openai/gpt-4o-mini");
  assert.equal(reply.costline.attempts, 3);
  const events = byAttempt(await recorded());
  assert.deepEqual(
    events.map((e) => [e.provider, e.status, e.attempt]),
    [
      ["openai", "error", 1],
      ["anthropic", "blocked", 2],
      ["openai", "ok", 3],
    ],
  );
  assert.equal(new Set(events.map((e) => e.call_id)).size, 1);
  assert.deepEqual(await mock.requests("/v1/messages"), [], "the skipped target was never sent");

  const tooDear = failingSource(mock, "openai", [target(mock, "anthropic")]);
  await assert.rejects(
    run({ maxCostUsd: "0.002" }, () => tooDear.chat.completions.create({ model: "gpt-4o-mini", messages: HI, max_tokens: 1000 })),
    (err) => {
      assert.ok(err instanceof BudgetExceededError, String(err));
      assert.match(err.message, /^no fallback target could serve within the budgets \(skipped anthropic\/claude-haiku-4-5: /);
      assert.match(err.message, /the last failure: InternalServerError$/);
      assert.deepEqual(err.skipped.map((s) => s.target), ["anthropic/claude-haiku-4-5"]);
      assert.equal(err.scope, "run");
      assert.equal(err.limitUsd, "0.002");
      assert.ok(err.cause instanceof RawOpenAI.InternalServerError);
      return true;
    },
  );
});

test("a connection failure falls back (the mock drops the primary's connection)", async () => {
  const client = failingSource(mock, "openai", [target(mock, "anthropic")], "drop");
  const reply = await client.chat.completions.create({ model: "gpt-4o", messages: HI });
  assert.equal(reply.costline.servedBy, "anthropic/claude-haiku-4-5");
  const [primary] = byAttempt(await recorded());
  assert.equal(primary.error_type, "APIConnectionError");
});

test("a Gemini caller's own error (400) is the SDK's ApiError, not a fallback", async () => {
  const client = failingSource(mock, "google", [target(mock, "anthropic")], "400");
  await assert.rejects(
    client.models.generateContent({ model: "gemini-2.5-flash", contents: "hi" }),
    (err) => err instanceof genai.ApiError && err.status === 400,
  );
  assert.deepEqual(await mock.requests("/v1/messages"), []);
});

test("a call its provider served carries no callId or attempt (docs/events.md: only chains that walked)", async () => {
  const client = new OpenAI({ baseURL: mock.openaiBaseURL, apiKey: "test", maxRetries: 0 }, { fallback: [target(mock, "anthropic")] });
  await client.chat.completions.create({ model: "gpt-4o", messages: HI });
  const [event] = await recorded();
  assert.equal(event.status, "ok");
  assert.equal(event.call_id ?? null, null);
  assert.equal(event.attempt ?? null, null);
});

/** A raw Anthropic client whose server answers with a tool call (the mock models none): plain and streamed. */
function toolCallingClaude() {
  const message = {
    id: "msg_tool",
    type: "message",
    role: "assistant",
    model: "claude-haiku-4-5-20251001",
    content: [{ type: "tool_use", id: "toolu_1", name: "weather", input: { city: "Paris" } }],
    stop_reason: "tool_use",
    stop_sequence: null,
    usage: { input_tokens: 100, output_tokens: 20 },
  };
  const events = [
    { type: "message_start", message: { ...message, content: [], stop_reason: null, usage: { input_tokens: 100, output_tokens: 1 } } },
    { type: "content_block_start", index: 0, content_block: { type: "tool_use", id: "toolu_1", name: "weather", input: {} } },
    { type: "content_block_delta", index: 0, delta: { type: "input_json_delta", partial_json: '{"city":' } },
    { type: "content_block_delta", index: 0, delta: { type: "input_json_delta", partial_json: '"Paris"}' } },
    { type: "content_block_stop", index: 0 },
    { type: "message_delta", delta: { stop_reason: "tool_use", stop_sequence: null }, usage: { output_tokens: 20 } },
    { type: "message_stop" },
  ];
  const fetch = async (url, init) => {
    if (!JSON.parse(init.body).stream) return new Response(JSON.stringify(message), { headers: { "content-type": "application/json" } });
    const sse = events.map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join("");
    return new Response(sse, { headers: { "content-type": "text/event-stream" } });
  };
  return new RawAnthropic({ apiKey: "test", baseURL: "http://fake.invalid", fetch, maxRetries: 0 });
}

test("a tool call the target makes comes back as the caller's tool_calls, plain and streamed", async () => {
  const tools = [{ type: "function", function: { name: "weather", parameters: { type: "object" } } }];
  const chain = [{ provider: "anthropic", model: "claude-haiku-4-5", client: toolCallingClaude() }];
  const client = failingSource(mock, "openai", chain);
  const reply = await client.chat.completions.create({ model: "gpt-4o", messages: HI, tools });
  const choice = reply.choices[0];
  assert.equal(choice.finish_reason, "tool_calls");
  assert.deepEqual(
    choice.message.tool_calls.map((c) => [c.id, c.type, c.function.name, JSON.parse(c.function.arguments)]),
    [["toolu_1", "function", "weather", { city: "Paris" }]],
  );
  const chunks = await collect(await client.chat.completions.create({ model: "gpt-4o", messages: HI, tools, stream: true }));
  const deltas = chunks.flatMap((c) => c.choices[0]?.delta?.tool_calls ?? []);
  assert.equal(deltas[0].id, "toolu_1");
  assert.equal(deltas[0].function.name, "weather");
  assert.deepEqual(JSON.parse(deltas.map((d) => d.function?.arguments ?? "").join("")), { city: "Paris" });
  assert.equal(chunks.filter((c) => c.choices[0]?.finish_reason).at(-1).choices[0].finish_reason, "tool_calls");
  const served = (await recorded()).filter((e) => e.status === "ok");
  assert.deepEqual(served.map((e) => [e.provider, e.input_tokens, e.output_tokens]).sort(), [
    ["anthropic", 100, 20],
    ["anthropic", 100, 20],
  ]);
});

test("a target's stream that answered in time is read to its end, past the attempt timeout", async () => {
  const slowChunks = target(mock, "anthropic", { "x-mock-chunk-delay-ms": "150" });
  const client = failingSource(mock, "openai", { targets: [slowChunks], attemptTimeoutMs: 400 });
  const stream = await client.chat.completions.create({ model: "gpt-4o", messages: HI, stream: true });
  const chunks = await collect(stream);
  assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? "").join(""), TEXT);
  assert.equal(stream.costline.servedBy, "anthropic/claude-haiku-4-5");
});

for (const source of ["google", "mistral"]) {
  test(`leaving a ${source} caller's fallback stream early closes the target's stream and records its attempt`, async () => {
    const client = failingSource(mock, source, [target(mock, "anthropic", { "x-mock-chunks": "40" })]);
    const stream =
      source === "google"
        ? await client.models.generateContentStream({ model: "gemini-2.5-flash", contents: "hi" })
        : await client.chat.stream({ model: "mistral-small-latest", messages: HI });
    let seen = 0;
    for await (const chunk of stream) {
      void chunk;
      if (++seen === 2) break;
    }
    const events = byAttempt(await recorded());
    assert.deepEqual(
      events.map((e) => [e.provider, e.status, e.attempt]),
      [
        [source, "error", 1],
        ["anthropic", "ok", 2],
      ],
    );
  });
}

test("retryOn replaces the failures that fall back", async () => {
  const only429 = failingSource(mock, "openai", { targets: [target(mock, "anthropic")], retryOn: ["429"] });
  await assert.rejects(only429.chat.completions.create({ model: "gpt-4o", messages: HI }), RawOpenAI.InternalServerError);
  assert.deepEqual(await mock.requests("/v1/messages"), []);
  const with503 = failingSource(mock, "openai", { targets: [target(mock, "anthropic")], retryOn: [503] });
  assert.equal((await with503.chat.completions.create({ model: "gpt-4o", messages: HI })).costline.attempts, 2);
});

test("the SDKs' own helpers work on a fallback's answer: withResponse() and Anthropic's messages.stream()", async () => {
  const openai = failingSource(mock, "openai", [target(mock, "anthropic")]);
  const { data, response } = await openai.chat.completions.create({ model: "gpt-4o", messages: HI }).withResponse();
  assert.equal(response.status, 200);
  assert.equal(data.choices[0].message.content, TEXT);
  assert.equal(data.costline.servedBy, "anthropic/claude-haiku-4-5");
  const anthropic = failingSource(mock, "anthropic", [target(mock, "openai")]);
  const helper = anthropic.messages.stream({ model: "claude-haiku-4-5", max_tokens: 50, messages: HI });
  const texts = [];
  helper.on("text", (t) => texts.push(t));
  const final = await helper.finalMessage();
  assert.equal(final.content[0].text, TEXT);
  assert.equal(texts.join(""), TEXT);
});

test("a Mistral caller's fallback answers carry costline (non-enumerable): complete(), and stream() priced once ended", async () => {
  const client = failingSource(mock, "mistral", [target(mock, "anthropic")]);
  const params = { model: "mistral-small-latest", messages: HI, maxTokens: 50 };
  const reply = await client.chat.complete(params);
  assert.equal(reply.choices[0].message.content, TEXT);
  assert.equal(reply.costline.servedBy, "anthropic/claude-haiku-4-5");
  assert.equal(reply.costline.attempts, 2);
  assert.match(reply.costline.costUsd, /^0\.\d+$/);
  assert.ok(!Object.keys(reply).includes("costline") && !("costline" in JSON.parse(JSON.stringify(reply))));
  const stream = await client.chat.stream(params);
  assert.equal(stream.costline.servedBy, "anthropic/claude-haiku-4-5");
  assert.equal(stream.costline.costUsd, null, "not priced before the stream ended");
  const chunks = await collect(stream);
  assert.equal(chunks.map((e) => e.data.choices[0]?.delta?.content ?? "").join(""), TEXT);
  assert.match(stream.costline.costUsd, /^0\.\d+$/, "priced once it ended");
  const served = (await recorded()).filter((e) => e.status === "ok");
  assert.deepEqual(
    served.map((e) => e.call_id).sort(),
    [reply, stream].map((r) => r.costline.callId).sort(),
  );
  assert.equal(served.find((e) => e.call_id === stream.costline.callId).cost_usd, stream.costline.costUsd);
  // An answer its own provider gave carries nothing.
  const plain = await instrument(rawClient(mock, "mistral"), { fallback: [target(mock, "anthropic")] }).chat.complete(params);
  assert.equal(plain.choices[0].message.content, TEXT);
  assert.equal(plain.costline, undefined);
});
