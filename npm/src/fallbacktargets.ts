/**
 * Calling one fallback target: a raw provider client (`openai`,
 * `@anthropic-ai/sdk`, `@google/genai`, `@mistralai/mistralai`,
 * `@aws-sdk/client-bedrock-runtime`) given a request already translated into
 * its API's JSON (`native.translate`), and its answer back as that API's JSON
 * (a stream: its events, Bedrock's as `{eventType: body}`), which is what the
 * core's translation and metering read. Nothing here imports an SDK: the
 * client is the caller's, and Bedrock's command classes are loaded when first
 * needed. Reusable beyond fallback chains (the routing client, issue 11):
 * `callTarget`, `targetStarted`, `failureOf`.
 */

import { Started } from "./call";
import { type Captured } from "./context";
import { native, type NativeBedrockUsage } from "./binding";
import { STATE } from "./hook";
import { guarded } from "./runtime";

/** What a target's call is recorded as, per provider. */
export const TARGET_OPERATIONS: Record<string, string> = {
  openai: "chat",
  anthropic: "messages",
  google: "generate_content",
  mistral: "chat",
  bedrock: "converse",
};

export interface TargetLike {
  readonly provider: string;
  readonly client: unknown;
  readonly model: string;
}

/** A target's answer, as its API's JSON: `response` (non-stream) or `events` (stream). */
export interface TargetAnswer {
  response?: Record<string, unknown>;
  events?: AsyncIterator<Record<string, unknown>>;
}

/** Is `client` a costline drop-in (or instrumented)? Such a client meters itself. */
export function isMetered(client: unknown): boolean {
  return !!client && typeof client === "object" && (client as { [STATE]?: unknown })[STATE] !== undefined;
}

/** How a call failed, in the core policy's terms (`FallbackWalk.failed`, `RoutedWalk.failed`). */
export interface Failure {
  kind: string;
  status?: number;
}

/** (kind, status) of an SDK error: what the core's policy takes. */
export function failureOf(err: unknown): Failure {
  if (!err || typeof err !== "object") return { kind: "other" };
  const e = err as Record<string, unknown> & { name?: string; constructor?: { name?: string } };
  const name = `${e.constructor?.name ?? ""} ${typeof e.name === "string" ? e.name : ""}`;
  if (/Timeout/i.test(name) || e.code === "fallback_timeout") return { kind: "timeout" };
  const metadata = e.$metadata as { httpStatusCode?: unknown } | undefined;
  // openai / anthropic / @google/genai: status; mistral: statusCode; AWS: $metadata.httpStatusCode.
  for (const status of [e.status, e.statusCode, metadata?.httpStatusCode]) {
    if (typeof status === "number" && Number.isInteger(status) && status >= 100) return { kind: "status", status };
  }
  if (/Connect/i.test(name)) return { kind: "connection" };
  // fetch's "fetch failed" (a TypeError with a system error as cause), Node's socket errors.
  const cause = (e.cause ?? e) as { code?: unknown };
  if (typeof cause.code === "string" && /^(ECONN|ENOTFOUND|EPIPE|ETIMEDOUT|EAI_AGAIN|UND_ERR)/.test(cause.code)) {
    return /TIMEOUT/i.test(cause.code) ? { kind: "timeout" } : { kind: "connection" };
  }
  if (e instanceof TypeError && /fetch failed|terminated/i.test(String(e.message))) return { kind: "connection" };
  return { kind: "other" };
}

const encoder = new TextEncoder();

/**
 * One target attempt in flight, recorded as the target's own call (priced
 * under its model): a non-stream answer from its JSON, a stream from its
 * events as they pass (the same byte meter the drop-ins use; Bedrock: the
 * usage its metadata event carries).
 */
export class TargetStarted extends Started {
  private bedrock: NativeBedrockUsage | undefined;
  private bedrockCounted = false;
  private bedrockComplete = false;

  /** @internal */
  constructor(target: TargetLike, request: Record<string, unknown>, stream: boolean, captured: Captured) {
    super(target.provider, TARGET_OPERATIONS[target.provider], target.model, stream, false, captured, request);
    if (target.provider === "bedrock") {
      const usage = (this.bedrock = new native.BedrockUsage("converse", target.model, stream));
      this.recorder = (latency, type, attribution, needCost, reservation) =>
        usage.finish(
          this.responded,
          this.bedrockComplete,
          latency,
          type,
          undefined,
          attribution,
          this.bedrockComplete && this.bedrockCounted ? undefined : this.request,
          needCost,
          reservation,
        );
    }
  }

  /** The target answered (non-stream) with `data`, its API's JSON: record it. */
  endWith(data: Record<string, unknown>): void {
    this.responded = true;
    if (this.bedrock) {
      if (data.usage != null) {
        this.bedrock.converse(data.usage);
        this.bedrockCounted = true;
      }
      this.bedrockComplete = true;
      this.end(undefined);
      return;
    }
    this.end(undefined, undefined, JSON.stringify(data));
  }

  /** One event of the target's stream, its API's JSON, on its way to translation. */
  observe(event: Record<string, unknown>): void {
    this.responded = true;
    if (this.bedrock) {
      const usage = (event.metadata as { usage?: unknown } | undefined)?.usage;
      if (usage != null) {
        guarded("reading a fallback stream event", () => this.bedrock?.converse(usage), undefined);
        this.bedrockCounted = true;
      }
      if (event.messageStop) this.bedrockComplete = true;
      return;
    }
    this.streamed();
    const type = this.provider === "anthropic" && typeof event.type === "string" ? `event: ${event.type}\n` : "";
    // The drop-ins' byte meter reads it; it throws only BudgetExceededError (a
    // budget with enforceStream stopping the stream), which ends the stream.
    this.feed(encoder.encode(`${type}data: ${JSON.stringify(event)}\n\n`));
  }

  /** The target's stream ended: the usage it reported stands. */
  ended(): void {
    this.bedrockComplete = true;
    if (!this.bedrock && this.provider === "openai") this.feed(encoder.encode("data: [DONE]\n\n"));
    this.end(undefined);
  }
}

/** A target attempt's call, attributed as the caller's (`captured`). @internal */
export function targetStarted(target: TargetLike, request: Record<string, unknown>, stream: boolean, captured: Captured): TargetStarted {
  return new TargetStarted(target, request, stream, captured);
}

type AnyClient = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function iterate(source: unknown, map?: (event: unknown) => Record<string, unknown>): AsyncIterator<Record<string, unknown>> {
  const inner = (source as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  if (!map) return inner as AsyncIterator<Record<string, unknown>>;
  return {
    async next() {
      const step = await inner.next();
      return step.done ? step : { done: false, value: map(step.value) };
    },
    async return(value?: unknown) {
      await inner.return?.(value);
      return { done: true, value: undefined };
    },
  };
}

/**
 * Call `target` with `request` (its API's JSON, as `native.translate` wrote
 * it). `signal` bounds the attempt (its timeout, the caller's abort).
 * Resolves when the target answered (a stream: when its events can be read);
 * rejects with the target SDK's own error.
 */
export async function callTarget(
  target: TargetLike,
  request: Record<string, unknown>,
  stream: boolean,
  signal?: AbortSignal,
): Promise<TargetAnswer> {
  const client = target.client as AnyClient;
  switch (target.provider) {
    case "openai": {
      const body = stream ? { ...request, stream: true, stream_options: { include_usage: true } } : { ...request, stream: false };
      const out = await client.chat.completions.create(body, { signal });
      return stream ? { events: iterate(out) } : { response: out };
    }
    case "anthropic": {
      const out = await client.messages.create({ ...request, stream }, { signal });
      return stream ? { events: iterate(out) } : { response: out };
    }
    case "google": {
      const { model, contents, generationConfig, stream: _stream, ...rest } = request;
      void _stream;
      // systemInstruction, tools, toolConfig: GenerateContentConfig's own fields, beside generationConfig's.
      const config = { ...((generationConfig as object) ?? {}), ...rest, abortSignal: signal };
      const params = { model, contents, config };
      if (stream) return { events: iterate(await client.models.generateContentStream(params), googleWire) };
      return { response: googleWire(await client.models.generateContent(params)) };
    }
    case "mistral": {
      const { stream: _stream, ...rest } = request;
      void _stream;
      const sdkRequest = mistralRequest(rest);
      if (stream) {
        const events = await client.chat.stream(sdkRequest, { signal });
        return { events: iterate(events, (e) => snakeKeys((e as { data?: unknown }).data ?? e) as Record<string, unknown>) };
      }
      return { response: snakeKeys(await client.chat.complete(sdkRequest, { signal })) as Record<string, unknown> };
    }
    case "bedrock": {
      const { stream: _stream, ...input } = request;
      void _stream;
      const commands = bedrockCommands();
      const Command = stream ? commands.ConverseStreamCommand : commands.ConverseCommand;
      const out = await client.send(new Command(bedrockInput(input)), { abortSignal: signal });
      if (stream) return { events: iterate(out.stream, bedrockEvent) };
      const { $metadata: _meta, ...rest } = out as Record<string, unknown>;
      void _meta;
      return { response: rest };
    }
    default:
      throw new TypeError(`fallback to ${target.provider} is not supported`);
  }
}

/** A `@google/genai` response object as the REST JSON (its fields are the REST names). */
function googleWire(obj: unknown): Record<string, unknown> {
  const { sdkHttpResponse: _http, ...rest } = obj as Record<string, unknown>;
  void _http;
  return rest;
}

let commands: { ConverseCommand: new (input: unknown) => unknown; ConverseStreamCommand: new (input: unknown) => unknown } | undefined;

function bedrockCommands() {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (commands ??= require("@aws-sdk/client-bedrock-runtime"));
}

/** The AWS SDK takes image bytes; the translation carries base64 text. */
function bedrockInput(input: Record<string, unknown>): Record<string, unknown> {
  const messages = input.messages as { content?: unknown[] }[] | undefined;
  if (!Array.isArray(messages)) return input;
  return {
    ...input,
    messages: messages.map((m) => ({
      ...m,
      content: Array.isArray(m.content)
        ? m.content.map((block) => {
            const image = (block as { image?: { source?: { bytes?: unknown } } }).image;
            if (typeof image?.source?.bytes !== "string") return block;
            return { ...(block as object), image: { ...image, source: { bytes: Buffer.from(image.source.bytes, "base64") } } };
          })
        : m.content,
    })),
  };
}

/** One event of the AWS SDK's ConverseStream output (`{ contentBlockDelta: {...} }`), without unset members. */
function bedrockEvent(event: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(event as object)) if (v !== undefined && k !== "$unknown") out[k] = v;
  return out;
}

/** Keys whose values are the caller's own JSON (schemas, arguments): never renamed. */
const OPAQUE = new Set(["parameters", "schema", "arguments", "schemaDefinition"]);

function camel(key: string): string {
  return key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** The Mistral wire request (snake_case) as the SDK's request object (camelCase; `schema` is `schemaDefinition`). */
export function mistralRequest(value: unknown, parent = ""): unknown {
  if (Array.isArray(value)) return value.map((v) => mistralRequest(v, parent));
  if (!value || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const name = parent === "json_schema" && k === "schema" ? "schemaDefinition" : camel(k);
    out[name] = OPAQUE.has(k) ? v : mistralRequest(v, k);
  }
  return out;
}

function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** A Mistral SDK object (camelCase) as the API's JSON (snake_case); undefined members left out. */
export function snakeKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(snakeKeys);
  if (!value || typeof value !== "object" || value instanceof Date) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue;
    out[snake(k)] = OPAQUE.has(k) ? v : snakeKeys(v);
  }
  return out;
}
