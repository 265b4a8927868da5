// The OpenAI drop-in against OpenAI-compatible services: the provider comes
// from the client's baseURL host (or `{ provider }` in its costline options)
// and the call is priced under that provider's catalog entries; a self-hosted
// model is unknown. The services' hosts are reached through a fetch that sends
// every request to the local mock instead (no network).
import "./env.mjs";

import { test } from "node:test";
import assert from "node:assert/strict";

import OpenAI, { AzureOpenAI } from "costline/openai";
import * as esm from "costline/openai";
import { instrument } from "costline";
import PlainOpenAI from "openai";
import { oneEvent, useMock, native } from "./support.mjs";

const mock = useMock();
const MESSAGES = [{ role: "user", content: "hi" }];

/** A fetch that answers requests for `host` from the mock's OpenAI routes. */
const viaMock = (baseURL) => (url, init) => fetch(String(url).replace(baseURL, mock.openaiBaseURL), init);

function hosted(baseURL, costline, Client = OpenAI) {
  return new Client({ baseURL, apiKey: "k", maxRetries: 0, fetch: viaMock(baseURL) }, costline);
}

const HOSTS = [
  ["https://api.groq.com/openai/v1", "groq"],
  ["https://api.together.xyz/v1", "together_ai"],
  ["https://api.fireworks.ai/inference/v1", "fireworks_ai"],
  ["https://api.deepseek.com", "deepseek"],
  ["https://api.x.ai/v1", "xai"],
  ["https://openrouter.ai/api/v1", "openrouter"],
  ["https://my-res.openai.azure.com/openai", "azure"],
  ["https://api.openai.com/v1", "openai"],
];

test("the core names the provider of each compatible host; self-hosted ones are unknown", () => {
  for (const [url, provider] of HOSTS) assert.equal(native.providerForBaseUrl(url), provider, url);
  for (const url of ["http://localhost:11434/v1", "http://127.0.0.1:8000/v1", "https://api.groq.com.evil.example/v1"]) {
    assert.equal(native.providerForBaseUrl(url) ?? null, null, url);
  }
});

test("a call to Groq's host is recorded as groq and priced under groq/...", async () => {
  const headers = { "x-mock-prompt-tokens": "1000", "x-mock-cached-tokens": "400", "x-mock-completion-tokens": "200" };
  const client = hosted("https://api.groq.com/openai/v1");
  await client.chat.completions.create({ model: "openai/gpt-oss-120b", messages: MESSAGES }, { headers });
  const event = await oneEvent();
  // The groq_compatible_host_priced_under_groq vector.
  assert.equal(event.provider, "groq");
  assert.equal(event.price_key, "groq/openai/gpt-oss-120b");
  assert.equal(event.cost_usd, "0.00024");
});

test("each compatible host's call is recorded under its provider (ES module build too)", async () => {
  for (const [url, provider] of HOSTS) {
    await mock.reset();
    const { freshLedger } = await import("./support.mjs");
    await freshLedger();
    await hosted(url, undefined, esm.OpenAI).chat.completions.create({ model: "some-model", messages: MESSAGES });
    const event = await oneEvent();
    assert.equal(event.provider, provider, url);
  }
});

test("{ provider } in the costline options is recorded and priced under its entries", async () => {
  const headers = { "x-mock-prompt-tokens": "2000", "x-mock-cached-tokens": "1500", "x-mock-completion-tokens": "100" };
  const client = new OpenAI({ baseURL: mock.openaiBaseURL, apiKey: "k", maxRetries: 0 }, { provider: "mistral" });
  await client.chat.completions.create({ model: "mistral-small-latest", messages: MESSAGES }, { headers });
  const event = await oneEvent();
  assert.equal(event.provider, "mistral");
  assert.equal(event.price_key, "mistral/mistral-small-latest");
  assert.equal(event.cost_source, "catalog");
  // The mistral_cached_prompt_billed_once vector.
  assert.equal(event.cost_usd, "0.0001575");
});

test("the provider option survives withAgent", async () => {
  const client = new OpenAI({ baseURL: mock.openaiBaseURL, apiKey: "k", maxRetries: 0 }, { provider: "azure" });
  await client.withAgent("writer").chat.completions.create({ model: "gpt-4o", messages: MESSAGES });
  const event = await oneEvent();
  assert.equal(event.provider, "azure");
  assert.equal(event.price_key, "azure/gpt-4o-2024-08-06");
  assert.equal(event.agent, "writer");
});

test("AzureOpenAI is recorded as azure whatever its endpoint", async () => {
  const client = new AzureOpenAI({ endpoint: mock.url, apiKey: "k", apiVersion: "2024-10-21", maxRetries: 0, fetch: (url, init) => fetch(String(url).replace(/\/openai\/deployments\/[^/]+/, "/v1").replace(/\?.*$/, ""), init) });
  await client.chat.completions.create({ model: "gpt-4o", messages: MESSAGES });
  const event = await oneEvent();
  assert.equal(event.provider, "azure");
  assert.equal(event.price_key, "azure/gpt-4o-2024-08-06");
});

test("instrument(plainClient, { provider }) records that provider", async () => {
  const plain = instrument(new PlainOpenAI({ baseURL: mock.openaiBaseURL, apiKey: "k", maxRetries: 0 }), { provider: "deepseek" });
  await plain.chat.completions.create({ model: "deepseek-chat", messages: MESSAGES });
  const event = await oneEvent();
  assert.equal(event.provider, "deepseek");
  assert.equal(event.price_key, "deepseek/deepseek-chat");
});

test("a self-hosted model is recorded under openai with an unknown cost", async () => {
  const client = new OpenAI({ baseURL: mock.openaiBaseURL, apiKey: "k", maxRetries: 0 });
  await client.chat.completions.create({ model: "qwen2.5:7b-instruct", messages: MESSAGES });
  const event = await oneEvent();
  assert.equal(event.provider, "openai");
  assert.ok(event.input_tokens > 0);
  assert.equal(event.cost_usd, null);
  assert.equal(event.cost_source, "unknown");
  assert.equal(event.price_key, null);
});

test("a bad provider option is refused", () => {
  assert.throws(() => new OpenAI({ baseURL: "http://127.0.0.1:9/v1", apiKey: "k" }, { provider: 3 }), TypeError);
});
