/**
 * One attempt of a routed call: the OpenAI-shaped request translated into
 * the candidate's API (the core's `translate`), sent through the caller's
 * client for that provider by the fallback layer's `callTarget` (openai,
 * @anthropic-ai/sdk, @google/genai, @mistralai/mistralai, Bedrock), recorded
 * once as that provider's call (`TargetStarted`: the core reads the usage
 * from the provider's own JSON; Bedrock's from its usage object), and the
 * answer translated back into OpenAI chat completion objects (a
 * `FallbackStream` for streams, chunk by chunk).
 *
 * The provider clients may be costline drop-ins or the SDKs' own clients: a
 * drop-in's own metering is off for the attempt (`unmetered`), so each
 * attempt is one event, carrying the routed call's tags, `call_id` and
 * attempt number.
 */

import { native, type NativeFallbackStream } from "./binding";
import type { Captured } from "./context";
import { fromNative, FallbackTimeoutError } from "./errors";
import { callTarget, failureOf as targetFailure, targetStarted, TARGET_OPERATIONS, type Failure, type TargetStarted } from "./fallbacktargets";
import { reserve } from "./hook";
import { isDisabled, unmetered } from "./runtime";

export type { Failure } from "./fallbacktargets";

/** The providers a routed call can be served by, and what each is recorded as. */
export const OPERATIONS: Record<string, string> = TARGET_OPERATIONS;

type Json = Record<string, unknown>;

/** (kind, status) of an SDK error, as the core's fallback policy takes them. */
export const failureOf: (err: unknown) => Failure = targetFailure;

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

/** The request translated for `provider` and `model` (throws `FallbackUnsupportedError`, naming the feature). */
export function translateRequest(provider: string, request: Json, model: string): Json {
  try {
    return native.translate("request", "openai", provider, request, { model }) as Json;
  } catch (err) {
    throw fromNative(err);
  }
}

/** One attempt of a routed call, recorded once (nothing when costline is disabled). */
export class Attempt {
  private readonly started: TargetStarted | undefined;
  /** The attempt's cost once recorded (a decimal string; null: no price, or not recorded). */
  costUsd: string | null = null;

  constructor(
    readonly provider: string,
    readonly model: string,
    readonly stream: boolean,
    readonly request: Json,
    captured: Captured,
    callId: string,
    number: number,
  ) {
    // COSTLINE_DISABLED / configure({ disabled }): route, never record.
    if (isDisabled()) return;
    this.started = targetStarted({ provider, model, client: undefined }, request, stream, captured);
    this.started.link(callId, number);
  }

  /** Reserve the attempt's worst case against budgets and run caps: `BudgetExceededError` over a hard cap (recorded as blocked). */
  reserve(): Promise<void> | undefined {
    return this.started ? reserve(this.started) : undefined;
  }

  /** The provider answered (a stream's first event came): from now on the call stands. */
  answered(): void {
    if (this.started) this.started.responded = true;
  }

  /** The attempt failed before any answer. */
  failed(err: unknown): void {
    this.started?.end(err);
  }

  /** A whole answer (its API's JSON), recorded, then translated into an OpenAI chat completion. */
  finishAnswer(body: Json, ctx: Json): Json {
    const s = this.started;
    if (s) {
      s.endWith(body);
      this.costUsd = s.cost ?? null;
    }
    return translateResponse(this.provider, body, ctx);
  }

  /** One event of the target's stream (its JSON), metered on its way. */
  event(event: Json): void {
    this.started?.observe(event);
  }

  /** The stream ended (`err`: how, when it failed; `left`: the reader left early). */
  streamEnded(err?: unknown, left = false): void {
    const s = this.started;
    if (!s) return;
    if (err !== undefined) s.end(err);
    else if (left) s.left();
    else s.ended();
    this.costUsd = s.cost ?? null;
  }
}

interface SendOptions {
  timeoutMs?: number;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

type AnyClient = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A copy of an OpenAI or Anthropic client sending `headers` too (the routed call's own). */
function withHeaders(provider: string, client: AnyClient, headers: Record<string, string> | undefined): AnyClient {
  if (!headers || !Object.keys(headers).length || (provider !== "openai" && provider !== "anthropic") || typeof client.withOptions !== "function") return client;
  const own = (client._options?.defaultHeaders ?? {}) as Record<string, string>;
  return client.withOptions({ defaultHeaders: { ...own, ...headers } });
}

/**
 * Send the translated request through `client`. Non-stream: the answer's
 * JSON. Stream: an async iterable of the target's events (JSON), once its
 * first event arrived: a failure before it (an error status, a dropped
 * connection) is the attempt failing, which can fall back; the caller has
 * seen nothing yet. `timeoutMs` bounds getting an answer (a
 * `FallbackTimeoutError`, which falls back as a timeout).
 */
export async function send(provider: string, client: object, request: Json, stream: boolean, opts: SendOptions): Promise<Json | AsyncIterable<Json>> {
  const controller = new AbortController();
  let timedOut = false;
  const outer = opts.signal;
  const onOuter = () => controller.abort(outer?.reason);
  if (outer) {
    if (outer.aborted) controller.abort(outer.reason);
    else outer.addEventListener("abort", onOuter, { once: true });
  }
  const timer =
    opts.timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          controller.abort(new FallbackTimeoutError(`routed attempt timed out after ${Math.round(opts.timeoutMs ?? 0)} ms`, "fallback_timeout"));
        }, Math.max(1, Math.ceil(opts.timeoutMs)));
  const target = { provider, model: String(request.model ?? request.modelId ?? ""), client: withHeaders(provider, client as AnyClient, opts.headers) };
  // A stream that answered keeps following the caller's signal until it ends.
  let following = false;
  const unfollow = () => outer?.removeEventListener("abort", onOuter);
  try {
    const answer = await unmetered(() => callTarget(target, request, stream, controller.signal));
    if (!stream) return answer.response as Json;
    const events = await firstEvent(answer.events as AsyncIterator<Json>, controller, unfollow);
    following = true;
    return events;
  } catch (err) {
    if (timedOut) {
      const e = new FallbackTimeoutError(`routed attempt timed out after ${Math.round(opts.timeoutMs ?? 0)} ms`, "fallback_timeout");
      (e as Error & { cause?: unknown }).cause = err;
      throw e;
    }
    throw err;
  } finally {
    // The clock bounds getting an answer: a stream that answered is read to its end.
    if (timer) clearTimeout(timer);
    if (!following) unfollow();
  }
}

/**
 * The stream's first event (a failure before it is the attempt failing),
 * then the stream. `controller` aborts the provider's request; `unfollow`
 * detaches the caller's signal from it once the stream is over.
 */
async function firstEvent(
  it: AsyncIterator<Json>,
  controller: AbortController,
  unfollow: () => void,
): Promise<AsyncIterable<Json> & { controller: AbortController }> {
  const first = await it.next();
  async function* rest(): AsyncGenerator<Json> {
    let done = first.done === true;
    try {
      if (!done) yield first.value;
      while (!done) {
        const next = await it.next();
        done = next.done === true;
        if (!done) yield next.value;
      }
    } finally {
      unfollow();
      if (!done) await it.return?.();
    }
  }
  // `controller` aborts the provider's request (RoutedStream.abort()).
  return { controller, [Symbol.asyncIterator]: rest };
}

/** The translated answer: an OpenAI chat completion (JSON). */
export function translateResponse(provider: string, body: Json, ctx: Json): Json {
  try {
    return native.translate("response", "openai", provider, body, ctx) as Json;
  } catch (err) {
    throw fromNative(err);
  }
}

/** A translator of the target's stream events into OpenAI chunks. */
export function streamTranslator(provider: string, ctx: Json): NativeFallbackStream {
  return new native.FallbackStream("openai", provider, ctx);
}
