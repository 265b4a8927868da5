// The routed client served by each of the five providers, through the SDK's
// own client and through costline's drop-in: the caller gets OpenAI chat
// completion objects (plain) and chunks (streamed) whoever served, and each
// attempt is one event, priced under the candidate's model.
import "./env.mjs";

import { test } from "node:test";
import assert from "node:assert/strict";

import { Costline } from "costline";
import { OpenAI } from "costline/openai";
import { Anthropic } from "costline/anthropic";
import { GoogleGenAI } from "costline/google";
import { Mistral } from "costline/mistral";
import { BedrockRuntimeClient } from "costline/bedrock";
import { recorded, useMock } from "./support.mjs";
import { rawClient, bedrockConfig, MODELS, PROVIDERS, HI, TEXT } from "./fallback-support.mjs";

const mock = useMock();

function dropIn(provider) {
  switch (provider) {
    case "openai":
      return new OpenAI({ baseURL: mock.openaiBaseURL, apiKey: "test", maxRetries: 0 });
    case "anthropic":
      return new Anthropic({ baseURL: mock.anthropicBaseURL, apiKey: "test", maxRetries: 0 });
    case "google":
      return new GoogleGenAI({ apiKey: "test", httpOptions: { baseUrl: mock.geminiBaseURL } });
    case "mistral":
      return new Mistral({ apiKey: "test", serverURL: mock.mistralServerURL });
    case "bedrock":
      return new BedrockRuntimeClient(bedrockConfig(mock));
  }
  throw new Error(provider);
}

async function collect(stream) {
  const out = [];
  for await (const chunk of stream) out.push(chunk);
  return out;
}

for (const provider of PROVIDERS) {
  for (const kind of ["sdk client", "drop-in"]) {
    test(`${provider} (${kind}) serves a routed call as an OpenAI chat completion, plain and streamed, one event each`, async () => {
      const client = kind === "drop-in" ? dropIn(provider) : rawClient(mock, provider);
      const model = MODELS[provider];
      const routed = new Costline({ providers: { [provider]: client }, models: [{ model, provider, quality: 70 }] });
      const body = { model: "auto", max_tokens: 64, messages: HI, metadata: { customerId: "acme" } };
      const r = await routed.chat.completions.create(body);
      assert.equal(r.object, "chat.completion");
      assert.equal(r.choices[0].message.role, "assistant");
      assert.equal(r.choices[0].message.content, TEXT);
      assert.equal(r.choices[0].finish_reason, "stop");
      assert.ok(r.usage.prompt_tokens > 0 && r.usage.completion_tokens > 0);
      assert.equal(r.costline.routedTo, model);
      assert.equal(r.costline.provider, provider);
      const s = await routed.chat.completions.create({ ...body, stream: true });
      const chunks = await collect(s);
      assert.ok(chunks.length >= 2 && chunks.every((c) => c.object === "chat.completion.chunk"));
      assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? "").join(""), TEXT);
      assert.equal(chunks.filter((c) => c.choices[0]?.finish_reason).at(-1).choices[0].finish_reason, "stop");
      const events = await recorded();
      assert.deepEqual(
        events.map((e) => [e.provider, e.model, e.stream, e.status, e.usage_source, e.tags.customer_id]),
        [
          [provider, model, false, "ok", "provider", "acme"],
          [provider, model, true, "ok", "provider", "acme"],
        ],
      );
      assert.equal(r.costline.costUsd, events[0].cost_usd);
      assert.equal(s.costline.costUsd, events[1].cost_usd);
      assert.match(events[0].cost_usd, /^0\.\d+$/);
      assert.notEqual(events[0].call_id, events[1].call_id);
      assert.deepEqual([events[0].call_id, events[0].attempt], [r.costline.callId, 1]);
    });
  }
}

test("a routed call falls back across providers and both attempts share call_id", async () => {
  const routed = new Costline({
    providers: { google: rawClient(mock, "google", { "x-mock-error": "503" }), bedrock: rawClient(mock, "bedrock") },
    models: [
      { model: MODELS.google, provider: "google", quality: 70 },
      { model: MODELS.bedrock, provider: "bedrock", quality: 70 },
    ],
    routing: { prefer: "lowest_cost" },
  });
  const r = await routed.chat.completions.create({ model: "auto", max_tokens: 64, messages: HI });
  assert.equal(r.costline.provider, "bedrock");
  assert.equal(r.costline.attempts, 2);
  const events = await recorded();
  assert.deepEqual(events.map((e) => [e.provider, e.status, e.attempt]), [
    ["google", "error", 1],
    ["bedrock", "ok", 2],
  ]);
  assert.equal(events[0].call_id, r.costline.callId);
  assert.equal(events[1].call_id, r.costline.callId);
  assert.equal(events[1].cost_usd, r.costline.costUsd);
});
