/**
 * One attempt of a routed call: the OpenAI-shaped request translated into
 * the candidate's API (the core's `translate`), sent through the caller's
 * client for that provider, recorded once (the core reads the usage from the
 * provider's own JSON), and the answer translated back into OpenAI chat
 * completion objects (a `FallbackStream` for streams, chunk by chunk).
 *
 * The provider clients may be costline drop-ins or the SDKs' own clients: a
 * drop-in's own metering is off for the attempt (`unmetered`), so each
 * attempt is one event, carrying the routed call's tags, `call_id` and
 * attempt number.
 */

import { native, type Attribution, type NativeFallbackStream, type NativeMeter, type NativeReservation } from "./binding";
import { capsOf, type Captured } from "./context";
import { BudgetExceededError, CostlineError, fromNative } from "./errors";
import { budgetsOn, guarded, isDisabled, report, unmetered } from "./runtime";

/** The providers a routed call can be served by, and what each is recorded as. */
export const OPERATIONS: Record<string, string> = {
  openai: "chat",
  anthropic: "messages",
  google: "generate_content",
  mistral: "chat",
  bedrock: "converse",
};

type Json = Record<string, unknown>;

/** How an attempt failed, as the core's fallback policy reads it. */
export interface Failure {
  kind: "status" | "connection" | "timeout" | "other";
  status?: number;
}

export function failureOf(err: unknown): Failure {
  const e = err as { name?: string; status?: unknown; code?: unknown; $metadata?: { httpStatusCode?: unknown }; constructor?: { name?: string } };
  const name = `${e?.constructor?.name ?? ""} ${e?.name ?? ""}`;
  if (/Timeout/i.test(name)) return { kind: "timeout" };
  for (const status of [e?.status, e?.$metadata?.httpStatusCode, e?.code]) {
    if (typeof status === "number" && Number.isInteger(status) && status >= 100) return { kind: "status", status };
  }
  if (/Connection|Connect|ECONNRESET|ECONNREFUSED|fetch failed/i.test(name + " " + String((err as Error)?.message ?? ""))) return { kind: "connection" };
  return { kind: "other" };
}

/** The provider's request id on an SDK error or response, when it has one. */
export function requestIdOf(value: unknown): string | null {
  const v = value as { request_id?: unknown; requestID?: unknown; _request_id?: unknown; $metadata?: { requestId?: unknown }; headers?: unknown };
  for (const id of [v?.requestID, v?.request_id, v?._request_id, v?.$metadata?.requestId]) {
    if (typeof id === "string" && id) return id;
  }
  const headers = v?.headers as { get?: (name: string) => string | null } | Record<string, string> | undefined;
  if (headers && typeof (headers as { get?: unknown }).get === "function") {
    const h = headers as { get: (name: string) => string | null };
    return h.get("x-request-id") ?? h.get("request-id") ?? null;
  }
  if (headers && typeof headers === "object") {
    const h = headers as Record<string, string>;
    return h["x-request-id"] ?? h["request-id"] ?? null;
  }
  return null;
}

/** The request translated for `provider` and `model` (throws the core's FallbackUnsupported error). */
export function translateRequest(provider: string, request: Json, model: string): Json {
  try {
    return native.translate("request", "openai", provider, request, { model }) as Json;
  } catch (err) {
    const mapped = fromNative(err);
    if (mapped instanceof CostlineError && mapped.code === "fallback_unsupported" && !(mapped.details as Json).feature) {
      // The addon sends { message, feature, target } as JSON after the code.
      try {
        const d = JSON.parse(mapped.message) as { message: string; feature: string; target: string };
        throw new CostlineError(d.message, "fallback_unsupported", { feature: d.feature, target: d.target });
      } catch (parsed) {
        if (parsed instanceof CostlineError) throw parsed;
      }
    }
    throw mapped;
  }
}

/** What one attempt records: who, what, and its reservation. */
export class Attempt {
  private readonly t0 = performance.now();
  private reservation: NativeReservation | undefined;
  private done = false;
  /** The attempt's cost once recorded (a decimal string; null: no price). */
  costUsd: string | null = null;

  constructor(
    readonly provider: string,
    readonly model: string,
    readonly stream: boolean,
    readonly request: Json,
    private readonly captured: Captured,
    readonly callId: string,
    readonly number: number,
  ) {
    // COSTLINE_DISABLED / configure({ disabled }): route, never record.
    this.done = isDisabled();
  }

  /**
   * Who made the call, and which attempt of which logical call this is
   * (`call_id`, `attempt` on the event: the addon reads them from the
   * attribution once it carries them; it ignores them before).
   */
  private attribution(): Attribution {
    return { ...this.captured.attribution, callId: this.callId, attempt: this.number } as Attribution;
  }

  get operation(): string {
    return OPERATIONS[this.provider];
  }

  /** Reserve the attempt's worst case against budgets and run caps; `BudgetExceededError` over a hard cap (recorded as blocked). */
  reserve(): void {
    if (this.done) return;
    const caps = capsOf(this.captured.frames);
    if (!caps.length && !budgetsOn()) return;
    try {
      this.reservation =
        native.budgetReserve(this.provider, this.operation, this.model, this.request, this.stream, this.attribution(), caps) ?? undefined;
    } catch (err) {
      const mapped = fromNative(err);
      if (mapped instanceof BudgetExceededError) {
        this.done = true;
        throw mapped;
      }
      report("reserving a budget", err);
    }
  }

  private latency(): number {
    return Math.max(0, Math.round(performance.now() - this.t0));
  }

  private settle(cost: string | null | undefined): void {
    this.costUsd = cost ?? null;
    this.captured.settle(cost);
  }

  /** The attempt failed before any answer. */
  failed(err: unknown): void {
    if (this.done) return;
    this.done = true;
    const type = err instanceof Error ? err.constructor?.name || err.name : typeof err;
    record(() =>
      native.recordText(this.provider, this.operation, this.model, this.stream, this.latency(), type, undefined, this.attribution(), this.request, true, this.reservation),
    );
  }

  /** A whole answer: its JSON, as the provider sent it. */
  answered(body: Json): void {
    if (this.done) return;
    this.done = true;
    const cost = record(() =>
      native.recordText(this.provider, this.operation, this.model, false, this.latency(), undefined, JSON.stringify(body), this.attribution(), this.request, true, this.reservation),
    );
    this.settle(cost);
  }

  /** A whole answer, recorded, then translated into an OpenAI chat completion. */
  finishAnswer(body: Json, ctx: Json): Json {
    this.answered(body);
    return translateResponse(this.provider, body, ctx);
  }

  private meter: NativeMeter | undefined;

  /** One event of the target's stream (its JSON), through the core's byte meter. */
  event(event: Json): void {
    if (this.done) return;
    if (!this.meter) this.meter = guarded("reading a stream", () => new native.Meter(this.provider, this.operation, this.model, true, false), undefined);
    const meter = this.meter;
    if (meter) guarded("reading a stream", () => meter.feed(encoder.encode(sse(this.provider, event))), undefined);
  }

  /** The stream ended (`err`: how, when it failed; `left`: the reader left early). */
  streamEnded(err?: unknown, left = false): void {
    if (this.done) return;
    this.done = true;
    const type = err === undefined ? undefined : err instanceof Error ? err.constructor?.name || err.name : typeof err;
    const cost = record(() => {
      const meter = this.meter ?? new native.Meter(this.provider, this.operation, this.model, true, false);
      this.meter = undefined;
      if (left) meter.abandon();
      return meter.finish(this.latency(), type, this.attribution(), this.request, true, this.reservation);
    });
    this.settle(cost);
  }
}

const encoder = new TextEncoder();

function record(fn: () => string | null | undefined): string | null {
  try {
    return fn() ?? null;
  } catch (err) {
    report("recording a routed call", err);
    return null;
  }
}

/** One stream event as the provider's own server-sent event text (what the core's byte meter reads). */
function sse(provider: string, event: Json): string {
  if (provider === "anthropic" && typeof event.type === "string") return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
  return `data: ${JSON.stringify(event)}\n\n`;
}

interface SendOptions {
  timeoutMs?: number;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** A target SDK's answer (or stream event) as its API's JSON. */
function wire(value: unknown): Json {
  return JSON.parse(JSON.stringify(value)) as Json;
}

type AnyClient = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * Send the translated request through `client`. Non-stream: the answer's
 * JSON. Stream: an async iterator of the target's events (JSON), once the
 * provider answered (a failure before the first event throws here, so the
 * call can fall back).
 */
export async function send(provider: string, client: AnyClient, request: Json, stream: boolean, opts: SendOptions): Promise<Json | AsyncIterable<Json>> {
  const requestOptions: Record<string, unknown> = {};
  if (opts.timeoutMs !== undefined) requestOptions.timeout = opts.timeoutMs;
  if (opts.headers) requestOptions.headers = opts.headers;
  if (opts.signal) requestOptions.signal = opts.signal;
  return unmetered(async () => {
    if (provider === "openai") {
      const body = stream ? { ...request, stream: true, stream_options: { ...((request.stream_options as Json) ?? {}), include_usage: true } } : request;
      const out = await client.chat.completions.create(body, requestOptions);
      return stream ? await events(out) : wire(out);
    }
    if (provider === "anthropic") {
      const out = await client.messages.create(stream ? { ...request, stream: true } : request, requestOptions);
      return stream ? await events(out) : wire(out);
    }
    throw new TypeError(`routing to ${provider} is not supported yet in Node (openai, anthropic)`);
  });
}

/**
 * The target's stream as JSON events, once its first event arrived: a
 * failure before it (an error status, a dropped connection) is the attempt
 * failing, which can fall back; the caller has seen nothing yet.
 */
async function events(stream: AsyncIterable<unknown> & { controller?: AbortController }): Promise<AsyncIterable<Json> & { controller?: AbortController }> {
  const it = stream[Symbol.asyncIterator]();
  const first = await it.next();
  async function* rest(): AsyncGenerator<Json> {
    let done = first.done === true;
    try {
      if (!done) yield wire(first.value);
      while (!done) {
        const next = await it.next();
        done = next.done === true;
        if (!done) yield wire(next.value);
      }
    } finally {
      if (!done) await it.return?.();
    }
  }
  return { controller: stream.controller, [Symbol.asyncIterator]: rest };
}

/** The translated answer: an OpenAI chat completion (JSON). */
export function translateResponse(provider: string, body: Json, ctx: Json): Json {
  return native.translate("response", "openai", provider, body, ctx) as Json;
}

/** A translator of the target's stream events into OpenAI chunks. */
export function streamTranslator(provider: string, ctx: Json): NativeFallbackStream {
  return new native.FallbackStream("openai", provider, ctx);
}
