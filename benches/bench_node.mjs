// costline's overhead in Node, measured side by side with the plain `openai`
// client (and the plain `@google/genai` and `@mistralai/mistralai` clients) in one run. Both clients get the same in-process fake fetch (no
// sockets), so the difference is the CPU costline adds per call. Rounds
// alternate plain and drop-in; medians of rounds are printed. Run with
// `make bench` (release addon).
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

// The bench's own ledger, removed at the end (unless the caller named one).
const benchDir = process.env.COSTLINE_LEDGER ? undefined : mkdtempSync(path.join(os.tmpdir(), "costline-bench-"));
if (benchDir) process.env.COSTLINE_LEDGER = path.join(benchDir, "bench.db");

const require = createRequire(import.meta.url);
const { OpenAI: PlainOpenAI } = await import("openai");
const { default: OpenAI } = await import("costline/openai");
const costline = await import("costline");

const COMPLETION = JSON.stringify({
  id: "chatcmpl-1",
  object: "chat.completion",
  created: 1,
  model: "gpt-4o-2024-08-06",
  choices: [{ index: 0, message: { role: "assistant", content: "Hello there." }, finish_reason: "stop" }],
  usage: {
    prompt_tokens: 1000,
    completion_tokens: 500,
    total_tokens: 1500,
    prompt_tokens_details: { cached_tokens: 200, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0 },
  },
});

function sse(includeUsage) {
  const lines = [];
  for (const word of ["Hello", " from", " the", " fake", " fetch"]) {
    const c = { id: "c", object: "chat.completion.chunk", created: 1, model: "gpt-4o-2024-08-06", choices: [{ index: 0, delta: { content: word }, finish_reason: null }] };
    if (includeUsage) c.usage = null;
    lines.push(`data: ${JSON.stringify(c)}\n\n`);
  }
  if (includeUsage) {
    lines.push(`data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", created: 1, model: "gpt-4o-2024-08-06", choices: [], usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } })}\n\n`);
  }
  lines.push("data: [DONE]\n\n");
  return lines.map((l) => new TextEncoder().encode(l));
}
const SSE_USAGE = sse(true);
const SSE_PLAIN = sse(false);

async function fakeFetch(url, init) {
  const body = JSON.parse(init.body);
  if (!body.stream) {
    return new Response(COMPLETION, { status: 200, headers: { "content-type": "application/json" } });
  }
  const chunks = body.stream_options?.include_usage ? SSE_USAGE : SSE_PLAIN;
  let i = 0;
  const stream = new ReadableStream({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++]);
      else controller.close();
    },
  });
  return new Response(stream, { status: 200, headers: { "content-type": "text/event-stream" } });
}

const options = { apiKey: "k", baseURL: "http://fake.invalid/v1", fetch: fakeFetch, maxRetries: 0 };
const plain = new PlainOpenAI(options);
const metered = new OpenAI(options);
const messages = [{ role: "user", content: "Say hello." }];

// Gemini and Mistral: each SDK's plain client and costline's drop-in, with
// the same fake fetch (a Gemini body, a Mistral chat body / event stream).
const { GoogleGenAI: PlainGoogleGenAI } = await import("@google/genai");
const { GoogleGenAI } = await import("costline/google");
const { Mistral: PlainMistral, HTTPClient } = await import("@mistralai/mistralai");
const { Mistral } = await import("costline/mistral");

const GEMINI_CHUNKS = ["Hello", " from", " the", " fake", " fetch"].map((text, i, all) => {
  const last = i === all.length - 1;
  const usageMetadata = { promptTokenCount: 1000, cachedContentTokenCount: 200, candidatesTokenCount: last ? 500 : 0, totalTokenCount: last ? 1500 : 1000 };
  const candidate = { content: { parts: [{ text }], role: "model" }, index: 0, ...(last ? { finishReason: "STOP" } : {}) };
  return `data: ${JSON.stringify({ candidates: [candidate], usageMetadata, modelVersion: "gemini-2.5-flash" })}\r\n\r\n`;
});
const GEMINI_BODY = GEMINI_CHUNKS.at(-1).slice(6, -4);
const MISTRAL_BODY = JSON.stringify({ ...JSON.parse(COMPLETION), model: "mistral-small-latest" });
const MISTRAL_SSE = sse(true).map((c) => new TextDecoder().decode(c).replaceAll("gpt-4o-2024-08-06", "mistral-small-latest").replace(',"usage":null', ""));

function streamOf(chunks) {
  let i = 0;
  const encoder = new TextEncoder();
  return new ReadableStream({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(encoder.encode(chunks[i++]));
      else controller.close();
    },
  });
}

async function geminiFetch(url) {
  if (String(url).includes(":streamGenerateContent")) {
    return new Response(streamOf(GEMINI_CHUNKS), { status: 200, headers: { "content-type": "text/event-stream" } });
  }
  return new Response(GEMINI_BODY, { status: 200, headers: { "content-type": "application/json" } });
}

async function mistralFetch(request) {
  const body = await request.json();
  if (body.stream) return new Response(streamOf(MISTRAL_SSE), { status: 200, headers: { "content-type": "text/event-stream" } });
  return new Response(MISTRAL_BODY, { status: 200, headers: { "content-type": "application/json" } });
}

const geminiOptions = { apiKey: "k", httpOptions: { baseUrl: "http://fake.invalid", fetch: geminiFetch } };
const mistralOptions = () => ({ apiKey: "k", serverURL: "http://fake.invalid", httpClient: new HTTPClient({ fetcher: mistralFetch }) });
const plainGemini = new PlainGoogleGenAI(geminiOptions);
const meteredGemini = new GoogleGenAI(geminiOptions);
const plainMistral = new PlainMistral(mistralOptions());
const meteredMistral = new Mistral(mistralOptions());

const providerCases = [
  ["gemini models.generateContent", (c) => c.models.generateContent({ model: "gemini-2.5-flash", contents: "Say hello." }), plainGemini, meteredGemini],
  [
    "gemini generateContentStream, 5 chunks",
    async (c) => {
      for await (const _ of await c.models.generateContentStream({ model: "gemini-2.5-flash", contents: "Say hello." })) void _;
    },
    plainGemini,
    meteredGemini,
  ],
  ["mistral chat.complete", (c) => c.chat.complete({ model: "mistral-small-latest", messages }), plainMistral, meteredMistral],
  [
    "mistral chat.stream, 5 chunks + usage",
    async (c) => {
      for await (const _ of await c.chat.stream({ model: "mistral-small-latest", messages })) void _;
    },
    plainMistral,
    meteredMistral,
  ],
];

const cases = [
  ["chat.completions.create, non-stream", (c) => c.chat.completions.create({ model: "gpt-4o", messages })],
  [
    "chat stream, 5 chunks + usage (include_usage)",
    async (c) => {
      for await (const _ of await c.chat.completions.create({ model: "gpt-4o", messages, stream: true, stream_options: { include_usage: true } })) void _;
    },
  ],
  [
    "chat stream, caller did not ask for usage",
    async (c) => {
      for await (const _ of await c.chat.completions.create({ model: "gpt-4o", messages, stream: true })) void _;
    },
  ],
];

/** A free TCP port on 127.0.0.1. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts connections on `port` (10 s at most). */
async function waitForPort(port) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const socket = net.connect(port, "127.0.0.1", () => {
        socket.end();
        resolve(true);
      });
      socket.on("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** One PING/PONG on a kept-open connection to Redis: a loopback round trip, in µs. */
async function pinger(port) {
  const socket = net.connect(port, "127.0.0.1");
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.setNoDelay(true);
  const ping = () =>
    new Promise((resolve) => {
      const t = performance.now();
      socket.once("data", () => resolve((performance.now() - t) * 1000));
      socket.write("PING\r\n");
    });
  ping.close = () => socket.destroy();
  return ping;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// CPU time of the main (JavaScript) thread, in µs: what a call costs the
// event loop, apart from the core's own threads and from other processes
// sharing the cores (wall time on 2 shared cores is mostly their noise).
// Linux reports it in clock ticks (10 ms): rounds are long enough for that.
const statPath = `/proc/self/task/${process.pid}/stat`;
function mainThreadCpuUs() {
  const fields = readFileSync(statPath, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10_000; // utime + stime, ticks of 10 ms
}

async function timeCalls(fn, client, n) {
  const cpu = mainThreadCpuUs();
  for (let i = 0; i < n; i++) await fn(client);
  return (mainThreadCpuUs() - cpu) / n; // µs of main-thread CPU per call
}

const fmt = (x, w = 8) => x.toFixed(1).padStart(w);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
const PER_ROUND = Number(process.env.BENCH_CALLS ?? 3000);
const BUDGET_PROCESSES = 5;

// Budgets: one guarded call shape, timed on the wall clock (the Redis store
// waits on its socket, which CPU time would not show).
const { native } = require("../npm/dist/binding.js");
const runtime = require("../npm/dist/runtime.js");
const budgetBody = { model: "gpt-4o", messages, max_tokens: 100 };
const guardedCall = () => metered.chat.completions.create(budgetBody);
const BUDGET_CALLS = Math.max(1000, Math.round(PER_ROUND / 2));
async function wallUs(fn) {
  const t = performance.now();
  await fn();
  return (performance.now() - t) * 1000;
}

/**
 * Medians of calls with budgets on or off as `first` and `second` say, the two
 * taking turns going first: the second call of a fixed pair runs in another
 * state of the caches, which alone moves a median by microseconds.
 */
async function alternated(first, second, n = BUDGET_CALLS) {
  const times = [[], []];
  const one = async (k, on) => {
    runtime.setBudgetsOn(on);
    times[k].push(await wallUs(guardedCall));
  };
  for (let i = 0; i < n; i++) {
    if (i % 2) {
      await one(0, first);
      await one(1, second);
    } else {
      await one(1, second);
      await one(0, first);
    }
  }
  return [median(times[0]), median(times[1])];
}

// `bench_node.mjs budget-memory-process`: one fresh process's in-memory
// comparison, as JSON: [unguarded, guarded, and the unguarded call timed
// against itself twice (the method's zero)], in µs.
if (process.argv[2] === "budget-memory-process") {
  costline.configure({ budgets: [{ limitUsd: "1000000", period: "total" }], budgetStore: "memory" });
  for (let i = 0; i < 2000; i++) await guardedCall();
  const pair = await alternated(false, true, 3 * BUDGET_CALLS);
  const zero = await alternated(false, false, 3 * BUDGET_CALLS);
  console.log(JSON.stringify([...pair, ...zero]));
  process.exit(0);
}

const openaiVersion = JSON.parse(readFileSync(new URL("../node_modules/openai/package.json", import.meta.url), "utf8")).version;
console.log(`openai ${openaiVersion}, costline ${costline.VERSION}, Node ${process.version}; main-thread CPU per call, medians of ${ROUNDS} rounds of ${PER_ROUND}`);
for (const [name, fn, plainClient = plain, meteredClient = metered] of [...cases, ...providerCases]) {
  for (let i = 0; i < 200; i++) {
    await fn(plainClient);
    await fn(meteredClient);
  }
  const raw = [];
  const ours = [];
  for (let r = 0; r < ROUNDS; r++) {
    raw.push(await timeCalls(fn, plainClient, PER_ROUND));
    ours.push(await timeCalls(fn, meteredClient, PER_ROUND));
  }
  const a = median(raw);
  const b = median(ours);
  const added = median(ours.map((o, i) => o - raw[i]));
  console.log(`${name.padEnd(46)} raw ${fmt(a)} µs   costline ${fmt(b)} µs   added ${(added >= 0 ? "+" : "") + added.toFixed(1).padStart(6)} µs CPU   ratio ${(b / a).toFixed(3)}`);
}
{
  const fn = (c) => costline.run("bench", () => c.chat.completions.create({ model: "gpt-4o", messages }));
  const raw = [];
  const ours = [];
  for (let r = 0; r < ROUNDS; r++) {
    raw.push(await timeCalls(fn, plain, PER_ROUND));
    ours.push(await timeCalls(fn, metered, PER_ROUND));
  }
  const added = median(ours.map((o, i) => o - raw[i]));
  console.log(`${"non-stream inside a run (attribution + total)".padEnd(46)} raw ${fmt(median(raw))} µs   costline ${fmt(median(ours))} µs   added ${(added >= 0 ? "+" : "") + added.toFixed(1).padStart(6)} µs`);
}

{
  // The routed client (issue 11) over the plain openai client, beside that
  // client called directly: the decision (5 candidates), translation, metering.
  const candidates = [
    ["gpt-4.1-nano", 45],
    ["gpt-4o-mini", 55],
    ["gpt-4.1-mini", 62],
    ["gpt-4o", 72],
    ["gpt-4.1", 78],
  ].map(([model, quality]) => ({ model, provider: "openai", quality }));
  const routed = new costline.Costline({ providers: { openai: plain }, models: candidates });
  const routedCases = [
    ["Costline model=auto, 5 candidates, non-stream", (c) => (c === plain ? plain.chat.completions.create({ model: "gpt-4o", messages }) : routed.chat.completions.create({ model: "auto", messages }))],
    ["Costline named model, non-stream", (c) => (c === plain ? plain.chat.completions.create({ model: "gpt-4o", messages }) : routed.chat.completions.create({ model: "gpt-4o", messages }))],
    [
      "Costline model=auto, stream of 5 chunks",
      async (c) => {
        const s = c === plain ? await plain.chat.completions.create({ model: "gpt-4o", messages, stream: true }) : await routed.chat.completions.create({ model: "auto", messages, stream: true });
        for await (const _ of s) void _;
      },
    ],
  ];
  for (const [name, fn] of routedCases) {
    for (let i = 0; i < 200; i++) {
      await fn(plain);
      await fn(routed);
    }
    const raw = [];
    const ours = [];
    for (let r = 0; r < ROUNDS; r++) {
      raw.push(await timeCalls(fn, plain, PER_ROUND));
      ours.push(await timeCalls(fn, routed, PER_ROUND));
    }
    const a = median(raw);
    const b = median(ours);
    const added = median(ours.map((o, i) => o - raw[i]));
    console.log(`${name.padEnd(46)} raw ${fmt(a)} µs   costline ${fmt(b)} µs   added ${(added >= 0 ? "+" : "") + added.toFixed(1).padStart(6)} µs CPU   ratio ${(b / a).toFixed(3)}`);
  }
}

{
  // Bedrock, side by side with the plain @aws-sdk/client-bedrock-runtime client:
  // both get the same in-process request handler (no sockets), so the
  // difference is what costline's middleware adds per call.
  const sdk = await import("@aws-sdk/client-bedrock-runtime");
  const { BedrockRuntimeClient } = await import("costline/bedrock");
  const json = (value) => new TextEncoder().encode(JSON.stringify(value));
  const CONVERSE = json({
    output: { message: { role: "assistant", content: [{ text: "Hello there." }] } },
    stopReason: "end_turn",
    usage: { inputTokens: 800, outputTokens: 500, totalTokens: 1500, cacheReadInputTokens: 200 },
    metrics: { latencyMs: 1 },
  });
  const LLAMA = json({ generation: "Hello there.", prompt_token_count: 1000, generation_token_count: 500, stop_reason: "stop" });
  const requestHandler = {
    async handle(request) {
      const body = request.path.endsWith("/converse") ? CONVERSE : LLAMA;
      return { response: { statusCode: 200, headers: { "content-type": "application/json" }, body } };
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs: () => ({}),
    destroy() {},
  };
  const config = {
    region: "us-east-1",
    endpoint: "http://fake.invalid",
    credentials: { accessKeyId: "AKID", secretAccessKey: "secret" },
    requestHandler,
    maxAttempts: 1,
  };
  const plainBedrock = new sdk.BedrockRuntimeClient(config);
  const meteredBedrock = new BedrockRuntimeClient(config);
  const bedrockCases = [
    [
      "bedrock converse (ConverseCommand)",
      (c) => c.send(new sdk.ConverseCommand({ modelId: "anthropic.claude-sonnet-4-5-20250929-v1:0", messages: [{ role: "user", content: [{ text: "Say hello." }] }] })),
    ],
    ["bedrock invoke_model, Llama body", (c) => c.send(new sdk.InvokeModelCommand({ modelId: "meta.llama3-8b-instruct-v1:0", body: '{"prompt":"Say hello."}' }))],
  ];
  const n = Math.max(1, Math.round(PER_ROUND / 3)); // an AWS SDK call costs several times an openai one
  for (const [name, fn] of bedrockCases) {
    for (let i = 0; i < 100; i++) {
      await fn(plainBedrock);
      await fn(meteredBedrock);
    }
    const raw = [];
    const ours = [];
    for (let r = 0; r < ROUNDS; r++) {
      raw.push(await timeCalls(fn, plainBedrock, n));
      ours.push(await timeCalls(fn, meteredBedrock, n));
    }
    const a = median(raw);
    const b = median(ours);
    const added = median(ours.map((o, i) => o - raw[i]));
    console.log(`${name.padEnd(46)} raw ${fmt(a)} µs   costline ${fmt(b)} µs   added ${(added >= 0 ? "+" : "") + added.toFixed(1).padStart(6)} µs CPU   ratio ${(b / a).toFixed(3)}`);
  }
}

{
  // Fallback (issue 10): an OpenAI call whose provider answers 503, served by
  // Anthropic. Raw: the plain openai client fails and the app calls a plain
  // Anthropic client itself with a request it wrote by hand. costline: the
  // drop-in walks its chain (translation both ways, an event per attempt,
  // the answer built as a ChatCompletion). Same fake fetches, no sockets.
  const { default: PlainAnthropic } = await import("@anthropic-ai/sdk");
  const words = ["Hello", " from", " the", " fake", " fetch"];
  const MESSAGE = JSON.stringify({
    id: "msg_1",
    type: "message",
    role: "assistant",
    model: "claude-haiku-4-5-20251001",
    content: [{ type: "text", text: words.join("") }],
    stop_reason: "end_turn",
    stop_sequence: null,
    usage: { input_tokens: 1000, output_tokens: 500 },
  });
  const EVENTS = [
    { type: "message_start", message: { ...JSON.parse(MESSAGE), content: [], stop_reason: null, usage: { input_tokens: 1000, output_tokens: 1 } } },
    { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
    ...words.map((text) => ({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text } })),
    { type: "content_block_stop", index: 0 },
    { type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: 500 } },
    { type: "message_stop" },
  ].map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
  async function anthropicFetch(url, init) {
    if (JSON.parse(init.body).stream) return new Response(streamOf(EVENTS), { status: 200, headers: { "content-type": "text/event-stream" } });
    return new Response(MESSAGE, { status: 200, headers: { "content-type": "application/json" } });
  }
  const failing = async () =>
    new Response(JSON.stringify({ error: { message: "overloaded", type: "server_error" } }), { status: 503, headers: { "content-type": "application/json" } });
  const claude = new PlainAnthropic({ apiKey: "k", baseURL: "http://fake.invalid", fetch: anthropicFetch, maxRetries: 0 });
  const down = { apiKey: "k", baseURL: "http://fake.invalid/v1", fetch: failing, maxRetries: 0 };
  const plainDown = new PlainOpenAI(down);
  const chained = new OpenAI(down, { fallback: [{ provider: "anthropic", client: claude, model: "claude-haiku-4-5" }] });
  const byHand = { model: "claude-haiku-4-5", max_tokens: 4096, messages: [{ role: "user", content: [{ type: "text", text: "Say hello." }] }] };
  const fallbackCases = [
    [
      "fallback openai -> anthropic, non-stream",
      async () => {
        try {
          await plainDown.chat.completions.create({ model: "gpt-4o", messages });
        } catch {
          await claude.messages.create(byHand);
        }
      },
      () => chained.chat.completions.create({ model: "gpt-4o", messages }),
    ],
    [
      "fallback openai -> anthropic, stream of 5 deltas",
      async () => {
        try {
          await plainDown.chat.completions.create({ model: "gpt-4o", messages, stream: true });
        } catch {
          for await (const _ of await claude.messages.create({ ...byHand, stream: true })) void _;
        }
      },
      async () => {
        for await (const _ of await chained.chat.completions.create({ model: "gpt-4o", messages, stream: true })) void _;
      },
    ],
  ];
  const n = Math.max(1, Math.round(PER_ROUND / 3));
  for (const [name, rawFn, oursFn] of fallbackCases) {
    for (let i = 0; i < 100; i++) {
      await rawFn();
      await oursFn();
    }
    const raw = [];
    const ours = [];
    for (let r = 0; r < ROUNDS; r++) {
      raw.push(await timeCalls(rawFn, null, n));
      ours.push(await timeCalls(oursFn, null, n));
    }
    const a = median(raw);
    const b = median(ours);
    const added = median(ours.map((o, i) => o - raw[i]));
    console.log(`${name.padEnd(46)} raw ${fmt(a)} µs   costline ${fmt(b)} µs   added ${(added >= 0 ? "+" : "") + added.toFixed(1).padStart(6)} µs CPU   ratio ${(b / a).toFixed(3)}`);
  }
}

{
  // Budgets (issue 8, Speed): the added latency of a budget-guarded call over
  // the same drop-in call unguarded, per store. The budget stays configured;
  // only the npm layer's "budgets on" flag differs, so the difference is the
  // reserve + settle work alone. Guarded and unguarded calls alternate one by
  // one and each is timed on the wall clock (the Redis store waits on its
  // socket, which CPU time would not show); medians of calls.
  const stores = [
    ["in-memory", { budgetStore: "memory" }],
    ["ledger", { budgetStore: "ledger" }],
  ];
  let redis;
  let redisPort;
  try {
    redisPort = await freePort();
    redis = spawn("redis-server", ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
    redis.on("error", () => undefined);
    await waitForPort(redisPort);
    stores.push(["redis (loopback)", { budgetStore: "redis", redisUrl: `redis://127.0.0.1:${redisPort}` }]);
  } catch {
    redis?.kill();
    redis = undefined;
  }
  const body = budgetBody;
  const call = guardedCall;
  const n = BUDGET_CALLS;
  try {
    for (const [label, store] of stores) {
      costline.configure({ budgets: [{ limitUsd: "1000000", period: "total" }], ...store });
      for (let i = 0; i < 300; i++) await call();
      const signed = (x) => (x >= 0 ? "+" : "") + x.toFixed(1).padStart(6);
      if (label === "in-memory") {
        // In fresh processes: in this one, after every section above, the heap
        // and the caches make two identical calls several µs apart.
        const runs = [];
        for (let i = 0; i < BUDGET_PROCESSES; i++) {
          const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), "budget-memory-process"], { encoding: "utf8" });
          runs.push(JSON.parse(out.trim().split("\n").at(-1)));
        }
        const a = median(runs.map((r) => r[0]));
        const added = median(runs.map((r) => r[1] - r[0]));
        console.log(`${`budget-guarded call, in-memory store, ${BUDGET_PROCESSES} processes`.padEnd(46)} raw ${fmt(a)} µs   costline ${fmt(a + added)} µs   added ${signed(added)} µs wall   ratio ${((a + added) / a).toFixed(3)}`);
        console.log(`${"  added in each process".padEnd(46)} ${runs.map((r) => signed(r[1] - r[0]).trim()).join(" ")} µs`);
        console.log(`${"  the unguarded call against itself".padEnd(46)} added ${signed(median(runs.map((r) => r[3] - r[2])))} µs wall`);
      } else {
        const [a, b] = await alternated(false, true);
        console.log(`${`budget-guarded call, ${label} store`.padEnd(46)} raw ${fmt(a)} µs   costline ${fmt(b)} µs   added ${signed(b - a)} µs wall   ratio ${(b / a).toFixed(3)}`);
      }
      if (label === "in-memory") {
        // The reservation by itself, timed where it runs: inside each real call, right
        // after the SDK's own work has taken the CPU caches. Far steadier than the
        // difference of two whole calls; the settlement is not in it.
        const proto = require("../npm/dist/call.js").Started.prototype;
        const reserve = proto.reserve;
        const inside = [];
        proto.reserve = function () {
          const t = performance.now();
          try {
            return reserve.call(this);
          } finally {
            inside.push((performance.now() - t) * 1000);
          }
        };
        runtime.setBudgetsOn(true);
        try {
          for (let i = 0; i < n; i++) await call();
        } finally {
          proto.reserve = reserve;
        }
        console.log(`${"  the reservation alone, inside each call".padEnd(46)} ${fmt(median(inside))} µs`);
      }
      // Reserve, then settle through the record the call makes (recordText
      // with the reservation), less that record alone: the budget work by itself.
      const reply = COMPLETION;
      const record = (reservation) =>
        native.recordText("openai", "chat", "gpt-4o", false, 1, undefined, reply, undefined, body, false, reservation);
      const alone = [];
      const guarded = [];
      for (let i = 0; i < n; i++) {
        let t = performance.now();
        record(undefined);
        alone.push((performance.now() - t) * 1000);
        t = performance.now();
        // As the drop-ins pass it: the request as JSON text.
        record(native.budgetReserve("openai", "chat", "gpt-4o", undefined, false, undefined, [], JSON.stringify(body)) ?? undefined);
        guarded.push((performance.now() - t) * 1000);
      }
      console.log(`${`  reserve + settle alone, ${label}`.padEnd(46)} ${fmt(median(guarded) - median(alone))} µs`);
      if (label.startsWith("redis")) {
        // The yardstick of the Redis target (one round trip + 100 µs): a PING
        // measured in the same conditions, right after a call (a tight loop of
        // PINGs keeps the socket and the scheduler hot).
        const ping = await pinger(redisPort);
        const after = [];
        runtime.setBudgetsOn(false);
        for (let i = 0; i < n; i++) {
          await call();
          after.push(await ping());
        }
        ping.close();
        console.log(`${"  one PING round trip after each call".padEnd(46)} ${fmt(median(after))} µs`);
      }
    }
    if (redis) {
      const rtt = [];
      const ping = await pinger(redisPort);
      for (let i = 0; i < 2000; i++) rtt.push(await ping());
      ping.close();
      console.log(`${"redis PING round trip (loopback, for scale)".padEnd(46)} ${fmt(median(rtt))} µs`);
    } else {
      console.log("(redis-server not installed: the redis store was not measured)");
    }
  } finally {
    costline.configure({ budgets: [], budgetStore: "", redisUrl: "" });
    redis?.kill();
  }
}

{
  const input = { model: "gpt-4o", inputTokens: 1000, outputTokens: 500, cachedInputTokens: 200 };
  costline.cost(input);
  const n = 200000;
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) costline.cost(input);
  const us = Number(process.hrtime.bigint() - start) / 1000 / n;
  console.log(`${"costline.cost()".padEnd(46)} ${us.toFixed(2)} µs per call`);
}
{
  let t = process.hrtime.bigint();
  costline.countTokens("warm up", "gpt-4o");
  console.log(`${"first countTokens (o200k encoder build)".padEnd(46)} ${(Number(process.hrtime.bigint() - t) / 1e6).toFixed(1)} ms`);
  const words = "The quick brown fox jumps over the lazy dog, then costs are counted exactly. ";
  const text = words.repeat(Math.ceil((1 << 20) / words.length));
  t = process.hrtime.bigint();
  for (let i = 0; i < 5; i++) costline.countTokens(text, "gpt-4o");
  const secs = Number(process.hrtime.bigint() - t) / 1e9;
  console.log(`${"countTokens English (o200k)".padEnd(46)} ${((5 * text.length) / secs / 1e6).toFixed(1)} MB/s`);
  for (const ch of ["a", " "]) {
    const s = ch.repeat(100 * 1024);
    t = process.hrtime.bigint();
    costline.countTokens(s, "gpt-4o");
    console.log(`${`countTokens '${ch}' x 100 KB`.padEnd(46)} ${(Number(process.hrtime.bigint() - t) / 1e6).toFixed(1)} ms`);
  }
}
{
  // Import cost: fresh processes, medians of 7.
  const ms = (code) => {
    const times = [];
    for (let i = 0; i < 7; i++) {
      const out = execFileSync(process.execPath, ["--input-type=module", "-e", `const t=performance.now(); await import("openai"); const a=performance.now(); ${code} console.log(a-t, performance.now()-a);`], { encoding: "utf8" });
      times.push(out.trim().split(" ").map(Number));
    }
    return [median(times.map((x) => x[0])), median(times.map((x) => x[1]))];
  };
  const [base, extra] = ms('await import("costline/openai");');
  console.log(`${'import "openai"'.padEnd(46)} ${base.toFixed(1)} ms   + "costline/openai" +${extra.toFixed(1)} ms`);
}
await costline.flush(10000);
if (benchDir) {
  await costline.shutdown(10000);
  rmSync(benchDir, { recursive: true, force: true });
}
