// Shared by the fallback test files: raw provider clients against the mock
// (the chains' targets), costline drop-ins whose own provider fails (the
// sources), and readers of what each caller's SDK gives back.
import assert from "node:assert/strict";

import RawOpenAI from "openai";
import RawAnthropic from "@anthropic-ai/sdk";
import * as genai from "@google/genai";
import * as mistral from "@mistralai/mistralai";
import * as bedrock from "@aws-sdk/client-bedrock-runtime";
import { NodeHttpHandler } from "@smithy/node-http-handler";

import { OpenAI } from "costline/openai";
import { Anthropic } from "costline/anthropic";
import { GoogleGenAI } from "costline/google";
import { Mistral } from "costline/mistral";
import { BedrockRuntimeClient } from "costline/bedrock";

export const HI = [{ role: "user", content: "Say hello to the mock." }];
export const TEXT = "Hello from the mock provider.";

/** The model each target is asked for (the events are priced under it). */
export const MODELS = {
  openai: "gpt-4o-mini",
  anthropic: "claude-haiku-4-5",
  google: "gemini-2.5-flash",
  mistral: "mistral-small-latest",
  bedrock: "us.anthropic.claude-haiku-4-5-20251001-v1:0",
};
export const PROVIDERS = Object.keys(MODELS);

/** Send `headers` with every request of an AWS SDK client. */
export function withBedrockHeaders(client, headers) {
  client.middlewareStack.add(
    (next) => async (args) => {
      Object.assign(args.request.headers, headers);
      return next(args);
    },
    { step: "build", name: "mockHeaders" },
  );
  return client;
}

export function bedrockConfig(mock) {
  return {
    region: "us-east-1",
    endpoint: mock.url + "/bedrock",
    credentials: { accessKeyId: "AKIDMOCK", secretAccessKey: "secret" },
    requestHandler: new NodeHttpHandler(),
    maxAttempts: 1,
  };
}

/** A raw (unmetered) client of `provider` against the mock; `headers` on its every request. */
export function rawClient(mock, provider, headers = {}) {
  switch (provider) {
    case "openai":
      return new RawOpenAI({ baseURL: mock.openaiBaseURL, apiKey: "test", maxRetries: 0, defaultHeaders: headers });
    case "anthropic":
      return new RawAnthropic({ baseURL: mock.anthropicBaseURL, apiKey: "test", maxRetries: 0, defaultHeaders: headers });
    case "google":
      return new genai.GoogleGenAI({ apiKey: "test", httpOptions: { baseUrl: mock.geminiBaseURL, headers } });
    case "mistral":
      return new mistral.Mistral({ apiKey: "test", serverURL: mock.mistralServerURL, retryConfig: { strategy: "none" }, ...headerFetch(headers) });
    case "bedrock":
      return withBedrockHeaders(new bedrock.BedrockRuntimeClient(bedrockConfig(mock)), headers);
  }
  throw new Error(provider);
}

/** Mistral's SDK takes no default headers: an HTTP client that adds them. */
function headerFetch(headers) {
  if (!Object.keys(headers).length) return {};
  const httpClient = new mistral.HTTPClient({
    fetcher: (input, init) => {
      const request = new Request(input, init);
      for (const [k, v] of Object.entries(headers)) request.headers.set(k, v);
      return fetch(request);
    },
  });
  return { httpClient };
}

export const target = (mock, provider, headers) => ({ provider, model: MODELS[provider], client: rawClient(mock, provider, headers) });

/** The status each source's mock fails with (Anthropic's overloaded 529, else 503). */
const FAIL = { openai: "503", anthropic: "529", google: "503", mistral: "503", bedrock: "503" };

/** A costline drop-in of `source` whose every call fails (`x-mock-error`), with `fallback`. */
export function failingSource(mock, source, fallback, error = FAIL[source]) {
  const headers = { "x-mock-error": error };
  switch (source) {
    case "openai":
      return new OpenAI({ baseURL: mock.openaiBaseURL, apiKey: "test", maxRetries: 0, defaultHeaders: headers }, { fallback });
    case "anthropic":
      return new Anthropic({ baseURL: mock.anthropicBaseURL, apiKey: "test", maxRetries: 0, defaultHeaders: headers }, { fallback });
    case "google":
      return new GoogleGenAI(
        { apiKey: "test", httpOptions: { baseUrl: mock.geminiBaseURL, headers, retryOptions: { attempts: 1 } } },
        { fallback },
      );
    case "mistral":
      return new Mistral(
        { apiKey: "test", serverURL: mock.mistralServerURL, retryConfig: { strategy: "none" }, ...headerFetch(headers) },
        { fallback },
      );
    case "bedrock":
      return withBedrockHeaders(new BedrockRuntimeClient(bedrockConfig(mock), { fallback }), headers);
  }
  throw new Error(source);
}

/** Where `costline` is on a source's stream: the stream object, or (Gemini: an async generator) each chunk. */
export const streamInfo = (source, { stream, chunks }) => (source === "google" ? chunks.at(-1).costline : stream.costline);

export async function collect(iterable) {
  const out = [];
  for await (const item of iterable) out.push(item);
  return out;
}

/** Call `client` (a `source` drop-in) plain and streamed; check its SDK's shapes; return both answers. */
export async function askBoth(source, client) {
  if (source === "openai") {
    const reply = await client.chat.completions.create({ model: "gpt-4o", messages: HI, max_tokens: 50 });
    assert.equal(reply.object, "chat.completion");
    assert.equal(reply.choices[0].message.role, "assistant");
    assert.equal(reply.choices[0].message.content, TEXT);
    assert.equal(reply.choices[0].finish_reason, "stop");
    assert.ok(reply.usage.completion_tokens > 0);
    const stream = await client.chat.completions.create({ model: "gpt-4o", messages: HI, stream: true });
    assert.ok(stream instanceof (await import("openai/streaming")).Stream, "an openai Stream");
    const chunks = await collect(stream);
    assert.ok(chunks.every((c) => c.object === "chat.completion.chunk"));
    assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? "").join(""), TEXT);
    assert.equal(chunks.at(-1).choices[0].finish_reason, "stop");
    return { reply, stream, chunks };
  }
  if (source === "anthropic") {
    const reply = await client.messages.create({ model: "claude-haiku-4-5", max_tokens: 50, messages: HI });
    assert.equal(reply.type, "message");
    assert.equal(reply.role, "assistant");
    assert.equal(reply.content[0].type, "text");
    assert.equal(reply.content[0].text, TEXT);
    assert.equal(reply.stop_reason, "end_turn");
    const stream = await client.messages.create({ model: "claude-haiku-4-5", max_tokens: 50, messages: HI, stream: true });
    assert.ok(stream instanceof (await import("@anthropic-ai/sdk/streaming")).Stream, "an anthropic Stream");
    const chunks = await collect(stream);
    const types = chunks.map((e) => e.type);
    assert.deepEqual(types.slice(0, 2), ["message_start", "content_block_start"]);
    assert.deepEqual(types.slice(-2), ["message_delta", "message_stop"]);
    assert.equal(chunks.filter((e) => e.type === "content_block_delta").map((e) => e.delta.text).join(""), TEXT);
    assert.ok(chunks.at(-2).usage.output_tokens > 0);
    return { reply, stream, chunks };
  }
  if (source === "google") {
    const params = { model: MODELS.google, contents: HI[0].content, config: { maxOutputTokens: 50 } };
    const reply = await client.models.generateContent(params);
    assert.ok(reply instanceof genai.GenerateContentResponse, "a GenerateContentResponse");
    assert.equal(reply.text, TEXT);
    assert.equal(reply.candidates[0].finishReason, "STOP");
    assert.ok(reply.usageMetadata.candidatesTokenCount > 0);
    const stream = await client.models.generateContentStream(params);
    const chunks = await collect(stream);
    assert.ok(chunks.length > 1 && chunks.every((c) => c instanceof genai.GenerateContentResponse));
    assert.equal(chunks.map((c) => c.text ?? "").join(""), TEXT);
    assert.equal(chunks.at(-1).candidates[0].finishReason, "STOP");
    return { reply, stream, chunks };
  }
  if (source === "mistral") {
    const params = { model: MODELS.mistral, messages: HI, maxTokens: 50 };
    const reply = await client.chat.complete(params);
    assert.equal(reply.object, "chat.completion");
    assert.equal(reply.choices[0].message.content, TEXT);
    assert.equal(reply.choices[0].finishReason, "stop", "the SDK's camelCase fields");
    assert.ok(reply.usage.completionTokens > 0);
    const stream = await client.chat.stream(params);
    const chunks = await collect(stream);
    assert.equal(chunks.map((e) => e.data.choices[0]?.delta?.content ?? "").join(""), TEXT);
    assert.equal(chunks.at(-1).data.choices[0].finishReason, "stop");
    return { reply, stream, chunks };
  }
  if (source === "bedrock") {
    const input = {
      modelId: MODELS.bedrock,
      messages: [{ role: "user", content: [{ text: HI[0].content }] }],
      inferenceConfig: { maxTokens: 50 },
    };
    const reply = await client.send(new bedrock.ConverseCommand(input));
    assert.equal(reply.output.message.role, "assistant");
    assert.equal(reply.output.message.content[0].text, TEXT);
    assert.equal(reply.stopReason, "end_turn");
    assert.ok(reply.usage.outputTokens > 0);
    const stream = await client.send(new bedrock.ConverseStreamCommand(input));
    const chunks = await collect(stream.stream);
    const kinds = chunks.map((e) => Object.keys(e)[0]);
    assert.equal(kinds[0], "messageStart");
    assert.ok(kinds.includes("messageStop") && kinds.includes("metadata"), kinds.join());
    assert.equal(chunks.map((e) => e.contentBlockDelta?.delta?.text ?? "").join(""), TEXT);
    assert.equal(chunks.find((e) => e.messageStop).messageStop.stopReason, "end_turn");
    return { reply, stream, chunks };
  }
  throw new Error(source);
}
