// A tool-call round trip through a fallback, all 20 directional pairs, plain and
// streamed (issue 10): the target answers with a tool call (the mock's
// `x-mock-tool-call`), the caller gets it in its own SDK's types (a stream put
// together as that SDK's callers do), sends the tool's result back in its own
// API's shape, and the next fallback hands the target the call and the result in
// the target's shape. Every attempt is an event, linked to its call by call_id.
import "./env.mjs";

import { test } from "node:test";
import assert from "node:assert/strict";

import * as bedrock from "@aws-sdk/client-bedrock-runtime";

import { recorded, useMock } from "./support.mjs";
import { MODELS, PROVIDERS, TEXT, collect, failingSource, target } from "./fallback-support.mjs";

const mock = useMock();

const ARGS = { city: "Paris" };
const SCHEMA = { type: "object", properties: { city: { type: "string" } } };
const TOOL_CALL = { "x-mock-tool-call": "get_weather " + JSON.stringify(ARGS) };
const QUESTION = "Weather in Paris?";
/** How each caller's API ends an answer that is a tool call. */
const TOOL_FINISH = { openai: "tool_calls", mistral: "tool_calls", anthropic: "tool_use", google: "STOP", bedrock: "tool_use" };
/** The end of each target's chat path, plain and streamed. */
const TARGET_PATHS = {
  openai: ["/v1/chat/completions", "/v1/chat/completions"],
  anthropic: ["/v1/messages", "/v1/messages"],
  google: [":generateContent", ":streamGenerateContent"],
  mistral: ["/mistral/v1/chat/completions", "/mistral/v1/chat/completions"],
  bedrock: ["/converse", "/converse-stream"],
};

/** One call offering the weather tool in the source's own API, plain or streamed: what its caller reads. */
async function ask(source, client, history, stream) {
  const model = MODELS[source];
  if (source === "openai") {
    const tools = [{ type: "function", function: { name: "get_weather", parameters: SCHEMA } }];
    const reply = await client.chat.completions.create({ model, messages: history, tools, max_tokens: 50, stream });
    return { reply, chunks: stream ? await collect(reply) : null };
  }
  if (source === "mistral") {
    const params = { model, messages: history, tools: [{ type: "function", function: { name: "get_weather", parameters: SCHEMA } }], maxTokens: 50 };
    const reply = stream ? await client.chat.stream(params) : await client.chat.complete(params);
    return { reply, chunks: stream ? await collect(reply) : null };
  }
  if (source === "anthropic") {
    const tools = [{ name: "get_weather", input_schema: SCHEMA }];
    const reply = await client.messages.create({ model, max_tokens: 50, messages: history, tools, stream });
    return { reply, chunks: stream ? await collect(reply) : null };
  }
  if (source === "google") {
    const params = { model, contents: history, config: { tools: [{ functionDeclarations: [{ name: "get_weather", parameters: SCHEMA }] }] } };
    if (!stream) return { reply: await client.models.generateContent(params), chunks: null };
    const chunks = await collect(await client.models.generateContentStream(params));
    return { reply: chunks.at(-1), chunks };
  }
  const input = {
    modelId: model,
    messages: history,
    toolConfig: { tools: [{ toolSpec: { name: "get_weather", inputSchema: { json: SCHEMA } } }] },
    inferenceConfig: { maxTokens: 50 },
  };
  if (!stream) return { reply: await client.send(new bedrock.ConverseCommand(input)), chunks: null };
  const reply = await client.send(new bedrock.ConverseStreamCommand(input));
  return { reply, chunks: await collect(reply.stream) };
}

function firstTurn(source) {
  if (source === "google") return [{ role: "user", parts: [{ text: QUESTION }] }];
  if (source === "bedrock") return [{ role: "user", content: [{ text: QUESTION }] }];
  return [{ role: "user", content: QUESTION }];
}

/** [id, name, arguments, finish] of the one tool call of a plain reply, read from the caller's SDK types. */
function replyToolCall(source, reply) {
  if (source === "openai" || source === "mistral") {
    const choice = reply.choices[0];
    const [call] = source === "openai" ? choice.message.tool_calls : choice.message.toolCalls;
    const args = call.function.arguments;
    return [call.id, call.function.name, typeof args === "string" ? JSON.parse(args) : args, source === "openai" ? choice.finish_reason : choice.finishReason];
  }
  if (source === "anthropic") {
    const [block] = reply.content;
    assert.equal(block.type, "tool_use");
    return [block.id, block.name, block.input, reply.stop_reason];
  }
  if (source === "google") {
    const [call] = reply.functionCalls;
    return [call.id, call.name, call.args, reply.candidates[0].finishReason];
  }
  const [block] = reply.output.message.content;
  return [block.toolUse.toolUseId, block.toolUse.name, block.toolUse.input, reply.stopReason];
}

/** The same from a stream's chunks, put together as the SDK's callers do (argument pieces joined). */
function streamToolCall(source, chunks) {
  const calls = new Map();
  let finish = "";
  const piece = (key, id, name, args) => {
    const call = calls.get(key) ?? { id: "", name: "", args: "" };
    call.id = id || call.id;
    call.name = name || call.name;
    if (args && typeof args === "object") call.args = args;
    else if (args) call.args += args;
    calls.set(key, call);
  };
  for (const chunk of chunks) {
    if (source === "openai" || source === "mistral") {
      for (const choice of source === "openai" ? chunk.choices : chunk.data.choices) {
        for (const tc of (source === "openai" ? choice.delta.tool_calls : choice.delta.toolCalls) ?? []) {
          piece(tc.index ?? 0, tc.id, tc.function?.name, tc.function?.arguments);
        }
        finish = (source === "openai" ? choice.finish_reason : choice.finishReason) || finish;
      }
    } else if (source === "anthropic") {
      if (chunk.type === "content_block_start" && chunk.content_block.type === "tool_use") {
        piece(chunk.index, chunk.content_block.id, chunk.content_block.name);
      } else if (chunk.type === "content_block_delta" && chunk.delta.type === "input_json_delta") {
        piece(chunk.index, undefined, undefined, chunk.delta.partial_json);
      } else if (chunk.type === "message_delta") finish = chunk.delta.stop_reason;
    } else if (source === "google") {
      for (const fc of chunk.functionCalls ?? []) piece(calls.size, fc.id, fc.name, fc.args);
      finish = chunk.candidates?.[0]?.finishReason || finish;
    } else {
      const body = Object.values(chunk)[0];
      const use = (body.start ?? body.delta)?.toolUse;
      if (use) piece(body.contentBlockIndex, use.toolUseId, use.name, use.input);
      finish = body.stopReason || finish;
    }
  }
  assert.equal(calls.size, 1, `one tool call: ${JSON.stringify([...calls.values()])}`);
  const [call] = calls.values();
  return [call.id, call.name, typeof call.args === "string" ? JSON.parse(call.args) : call.args, finish];
}

/** The first turn, the assistant's tool call and the tool's result ("18C"), in the caller's API. */
function secondTurn(source, id, name, args) {
  const history = firstTurn(source);
  if (source === "openai") {
    const call = { id, type: "function", function: { name, arguments: JSON.stringify(args) } };
    return [...history, { role: "assistant", content: null, tool_calls: [call] }, { role: "tool", tool_call_id: id, content: "18C" }];
  }
  if (source === "mistral") {
    const call = { id, type: "function", function: { name, arguments: JSON.stringify(args) } };
    return [...history, { role: "assistant", content: "", toolCalls: [call] }, { role: "tool", toolCallId: id, name, content: "18C" }];
  }
  if (source === "anthropic") {
    return [
      ...history,
      { role: "assistant", content: [{ type: "tool_use", id, name, input: args }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: id, content: "18C" }] },
    ];
  }
  if (source === "google") {
    return [
      ...history,
      { role: "model", parts: [{ functionCall: { id, name, args } }] },
      { role: "user", parts: [{ functionResponse: { id, name, response: { temp: "18C" } } }] },
    ];
  }
  return [
    ...history,
    { role: "assistant", content: [{ toolUse: { toolUseId: id, name, input: args } }] },
    { role: "user", content: [{ toolResult: { toolUseId: id, content: [{ text: "18C" }] } }] },
  ];
}

/** The answer's text as the caller reads it, plain or streamed. */
function answerText(source, { reply, chunks }) {
  if (source === "openai") return chunks ? chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("") : reply.choices[0].message.content;
  if (source === "mistral") return chunks ? chunks.map((e) => e.data.choices[0]?.delta?.content ?? "").join("") : reply.choices[0].message.content;
  if (source === "anthropic") {
    return chunks ? chunks.filter((e) => e.type === "content_block_delta").map((e) => e.delta.text).join("") : reply.content[0].text;
  }
  if (source === "google") return chunks ? chunks.map((c) => c.text ?? "").join("") : reply.text;
  if (chunks) return chunks.map((e) => e.contentBlockDelta?.delta?.text ?? "").join("");
  return reply.output.message.content[0].text;
}

/** [tool name, arguments, result as JSON text, whether the result names the call's id] of what a target received, in its own shape. */
function received(provider, body) {
  if (provider === "openai" || provider === "mistral") {
    const [call] = body.messages.flatMap((m) => m.tool_calls ?? []);
    const [result] = body.messages.filter((m) => m.role === "tool");
    return [call.function.name, JSON.parse(call.function.arguments), JSON.stringify(result.content), call.id === result.tool_call_id];
  }
  if (provider === "anthropic") {
    const blocks = body.messages.flatMap((m) => (Array.isArray(m.content) ? m.content : []));
    const use = blocks.find((b) => b.type === "tool_use");
    const result = blocks.find((b) => b.type === "tool_result");
    return [use.name, use.input, JSON.stringify(result.content), use.id === result.tool_use_id];
  }
  if (provider === "google") {
    const parts = body.contents.flatMap((c) => c.parts);
    const call = parts.find((p) => p.functionCall).functionCall;
    const result = parts.find((p) => p.functionResponse).functionResponse;
    return [call.name, call.args, JSON.stringify(result.response), call.id === result.id && call.name === result.name];
  }
  const blocks = body.messages.flatMap((m) => m.content);
  const use = blocks.find((b) => b.toolUse).toolUse;
  const result = blocks.find((b) => b.toolResult).toolResult;
  return [use.name, use.input, JSON.stringify(result.content), use.toolUseId === result.toolUseId];
}

for (const source of PROVIDERS) {
  for (const provider of PROVIDERS) {
    if (provider === source) continue;
    for (const stream of [false, true]) {
      test(`${source} caller, ${provider} target, ${stream ? "streamed" : "plain"}: a tool call and its result round trip`, async () => {
        const asked = await ask(source, failingSource(mock, source, [target(mock, provider, TOOL_CALL)]), firstTurn(source), stream);
        const [id, name, args, finish] = stream ? streamToolCall(source, asked.chunks) : replyToolCall(source, asked.reply);
        assert.deepEqual([name, args, finish], ["get_weather", ARGS, TOOL_FINISH[source]]);
        assert.ok(id, "the caller gets an id to answer the call with");
        assert.equal(asked.reply.costline.servedBy, `${provider}/${MODELS[provider]}`);

        const answered = await ask(source, failingSource(mock, source, [target(mock, provider)]), secondTurn(source, id, name, args), stream);
        assert.equal(answerText(source, answered), TEXT);
        const [sent] = (await mock.requests(TARGET_PATHS[provider][Number(stream)])).slice(-1);
        const [gotName, gotArgs, gotResult, paired] = received(provider, sent.body);
        assert.deepEqual([gotName, gotArgs, paired], ["get_weather", ARGS, true]);
        assert.match(gotResult, /18C/);

        const events = await recorded();
        const calls = new Map();
        for (const e of events) calls.set(e.call_id, [...(calls.get(e.call_id) ?? []), e]);
        assert.equal(calls.size, 2);
        for (const attempts of calls.values()) {
          attempts.sort((a, b) => a.attempt - b.attempt);
          assert.deepEqual(
            attempts.map((e) => [e.provider, e.status, e.attempt, e.stream]),
            [
              [source, "error", 1, stream],
              [provider, "ok", 2, stream],
            ],
          );
        }
      });
    }
  }
}

// Anthropic streams a call without arguments as one empty `input_json_delta`: every
// caller still gets `{}` (callers of OpenAI, Mistral and Bedrock parse JSON text).
for (const source of PROVIDERS) {
  for (const provider of PROVIDERS) {
    if (provider === source) continue;
    test(`${source} caller, ${provider} target, streamed: a tool call without arguments is {}`, async () => {
      const headers = { "x-mock-tool-call": "get_weather {}" };
      const asked = await ask(source, failingSource(mock, source, [target(mock, provider, headers)]), firstTurn(source), true);
      const [, name, args] = streamToolCall(source, asked.chunks);
      assert.deepEqual([name, args], ["get_weather", {}]);
    });
  }
}
