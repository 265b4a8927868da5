/**
 * Metering AWS Bedrock clients (`@aws-sdk/client-bedrock-runtime`) through
 * the SDK's own middleware stack. This module does not import the SDK: the
 * drop-in classes (bedrock.ts) and `instrument()` both use it.
 *
 * One middleware at the `build` step: after the request is serialized (its
 * path names the operation and model, its body is the request JSON) and
 * before the retry, signing and sending steps, so that one logical call is
 * one event however often the SDK retries it, timed from the first attempt.
 * It sees what the SDK parsed, never changes it, and hands the core the parts
 * with counts (Converse's `usage`, the stream's `metadata` event, `InvokeModel`
 * bodies and headers, invoke-stream chunks): the usage rules are the core's.
 * A stream's events are observed through its own async iterator (the object
 * the caller gets is the SDK's), and the call is recorded once when the
 * stream ends, fails, or is left early.
 */

import { Started } from "./call";
import { capsOf, capture } from "./context";
import { native, type NativeBedrockUsage } from "./binding";
import { attachState, reserve, STATE, type ClientState, type CostlineClientOptions } from "./hook";
import { budgetsOn, guarded, isDisabled, report } from "./runtime";
import { attachInfo } from "./fallback";
import { fallbackServed } from "./fallbackhttp";

const PROVIDER = "bedrock";
const MIDDLEWARE = "costlineMeter";
const METERED = Symbol.for("costline.bedrock.metered");

interface HttpRequestLike {
  path?: unknown;
  body?: unknown;
}

interface Stack {
  add(middleware: unknown, options: Record<string, unknown>): void;
  remove(name: string): boolean;
  clone(): Stack;
}

/** A client of the Bedrock Runtime SDK, as far as costline needs it. */
export interface BedrockLike {
  middlewareStack: Stack;
  [STATE]?: ClientState;
}

type Next = (args: { request?: unknown }) => Promise<{ output?: unknown; response?: unknown }>;

/** The request body as JSON (for a budget reservation or an estimate), or undefined. */
function requestJson(body: unknown): unknown {
  let text: string | undefined;
  if (typeof body === "string" || body instanceof String) text = String(body);
  else if (body instanceof Uint8Array) text = new TextDecoder().decode(body);
  if (text === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** What one call's response has yielded so far. */
class Tally {
  complete = false;
  counted = false;
  readonly texts: string[] = [];
  private parsed: unknown;
  private parsedOnce = false;

  constructor(
    readonly usage: NativeBedrockUsage,
    /** The response is an event stream (ConverseStream, InvokeModelWithResponseStream). */
    readonly stream: boolean,
    private readonly body: unknown,
  ) {}

  request(): unknown {
    if (!this.parsedOnce) {
      this.parsedOnce = true;
      this.parsed = requestJson(this.body);
    }
    return this.parsed;
  }
}

function start(state: ClientState, request: HttpRequestLike): { started: Started; tally: Tally } | undefined {
  if (typeof request.path !== "string") return undefined;
  const route = native.bedrockRoute(request.path);
  if (!route) return undefined;
  const captured = capture(state.agent, state.tags);
  const tally = new Tally(new native.BedrockUsage(route.operation, route.model, route.stream), route.stream, request.body);
  // The request JSON is parsed only when a budget may reserve against it, or
  // for an estimate when no counts come.
  const needRequest = capsOf(captured.frames).length > 0 || budgetsOn();
  // `stream: false` for the reservation: a budget with enforceStream reserves
  // a stream's first step only and grows it as a byte meter reads the output,
  // and no byte meter reads a Bedrock stream. So it reserves the worst case.
  // (The event's own `stream` is BedrockUsage's.)
  const started = new Started(
    state.provider,
    route.operation,
    route.model,
    false,
    false,
    captured,
    needRequest ? tally.request() : undefined,
  );
  started.recorder = (latency, type, attribution, needCost, reservation) =>
    tally.usage.finish(
      started.responded,
      tally.complete,
      latency,
      type,
      tally.texts.length ? tally.texts.join("") : undefined,
      attribution,
      tally.complete && tally.counted ? undefined : tally.request(),
      needCost,
      reservation,
    );
  return { started, tally };
}

type Observe = (tally: Tally, event: Record<string, unknown>) => void;

function converseEvent(tally: Tally, event: Record<string, unknown>): void {
  const metadata = event.metadata as { usage?: unknown } | undefined;
  if (metadata && metadata.usage != null) {
    tally.usage.converse(metadata.usage);
    tally.counted = true;
    return;
  }
  const delta = (event.contentBlockDelta as { delta?: { text?: unknown } } | undefined)?.delta;
  if (typeof delta?.text === "string") tally.texts.push(delta.text);
}

function invokeChunk(tally: Tally, event: Record<string, unknown>): void {
  const bytes = (event.chunk as { bytes?: unknown } | undefined)?.bytes;
  if (bytes instanceof Uint8Array && tally.usage.invokeChunk(bytes)) tally.counted = true;
}

/**
 * Observe the SDK's event stream object in place: its async iterator yields
 * the SDK's events, unchanged, through `observe`; the call is recorded when
 * the iteration ends, throws, or is left (`break`, `return()`).
 */
function watchStream(stream: object, started: Started, tally: Tally, observe: Observe): void {
  const source = stream as { [Symbol.asyncIterator]?: () => AsyncIterator<unknown> };
  const iterate = source[Symbol.asyncIterator];
  if (typeof iterate !== "function") {
    tally.complete = true;
    started.end(undefined);
    return;
  }
  Object.defineProperty(stream, Symbol.asyncIterator, {
    configurable: true,
    writable: true,
    value: function (this: unknown) {
      return watched(iterate.call(this), started, tally, observe);
    },
  });
}

async function* watched(events: AsyncIterator<unknown>, started: Started, tally: Tally, observe: Observe): AsyncGenerator<unknown> {
  let error: unknown;
  try {
    for await (const event of { [Symbol.asyncIterator]: () => events }) {
      if (event !== null && typeof event === "object") {
        try {
          observe(tally, event as Record<string, unknown>);
        } catch (err) {
          report("reading a stream event", err);
        }
      }
      yield event;
    }
    tally.complete = true;
  } catch (err) {
    error = err;
    throw err;
  } finally {
    started.end(error);
  }
}

function finishResponse(result: { output?: unknown; response?: unknown }, started: Started, tally: Tally): void {
  const output = result.output as Record<string, unknown> | undefined;
  if (output && output.usage !== undefined && output.usage !== null) {
    // Converse.
    tally.usage.converse(output.usage);
    tally.counted = true;
    tally.complete = true;
    started.end(undefined);
  } else if (tally.stream && output && output.stream && typeof output.stream === "object") {
    watchStream(output.stream, started, tally, converseEvent);
  } else if (tally.stream && output && output.body && typeof output.body === "object") {
    watchStream(output.body, started, tally, invokeChunk);
  } else if (output && output.body instanceof Uint8Array) {
    // InvokeModel: the SDK has read the whole body already.
    tally.counted = tally.usage.invoke(output.body, stringHeaders(result.response));
    tally.complete = true;
    started.end(undefined);
  } else {
    tally.complete = true;
    started.end(undefined);
  }
}

/** The response's headers with string values (what the addon takes). */
function stringHeaders(response: unknown): Record<string, string> | undefined {
  const headers = (response as { headers?: unknown } | undefined)?.headers;
  if (headers === null || typeof headers !== "object") return undefined;
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (typeof value === "string") out[name] = value;
  return out;
}

/** The middleware for the client (or agent view) `holder`: its options are read per call. */
function meterMiddleware(holder: BedrockLike) {
  return (next: Next) =>
    async (args: { request?: unknown }) => {
      const state = holder[STATE];
      if (state === undefined || isDisabled() || args.request === null || typeof args.request !== "object") {
        return next(args);
      }
      const begun = guarded("starting a metered call", () => start(state, args.request as HttpRequestLike), undefined);
      if (!begun) return next(args);
      const { started, tally } = begun;
      // Over a hard cap: BudgetExceededError, nothing is sent (the core recorded the call as blocked).
      const reserving = reserve(started);
      if (reserving) await reserving;
      let result: Awaited<ReturnType<Next>>;
      try {
        result = await next(args);
      } catch (err) {
        if (state.fallback) {
          const request = tally.request() as Record<string, unknown> | undefined;
          const body = request && { ...request, modelId: started.model };
          const served = await fallbackServed(state.fallback, PROVIDER, started, body, tally.stream, err);
          if (served) return fallbackOutput(served);
        }
        started.end(err);
        throw err;
      }
      started.responded = true;
      try {
        finishResponse(result, started, tally);
      } catch (err) {
        report("metering a response", err);
        started.end(undefined);
      }
      return result;
    };
}

/** A fallback's answer as the command's output: Converse's, or ConverseStream's event stream. */
function fallbackOutput(served: NonNullable<Awaited<ReturnType<typeof fallbackServed>>>): Awaited<ReturnType<Next>> {
  const $metadata = { httpStatusCode: 200, attempts: served.info.attempts };
  const response = { statusCode: 200, headers: {} };
  if (served.response) return { output: Object.assign(served.response, { $metadata }), response };
  const chunks = served.chunks as AsyncGenerator<Record<string, unknown>>;
  const output = { stream: { [Symbol.asyncIterator]: () => chunks }, $metadata };
  attachInfo(output, served.info);
  return { output, response };
}

const OPTIONS = { step: "build", name: MIDDLEWARE, tags: ["COSTLINE"], override: true };

/**
 * Meter `client` (a drop-in being built, or a client given to `instrument`):
 * idempotent; new options replace the old.
 */
export function meterBedrock<C extends object>(client: C, options: CostlineClientOptions | undefined): C {
  const c = client as C & BedrockLike & { [METERED]?: boolean };
  if (!c.middlewareStack || typeof c.middlewareStack.add !== "function") {
    throw new TypeError("this Bedrock client has no middlewareStack: costline cannot meter it");
  }
  attachState(c, PROVIDER, options);
  if (!c[METERED]) {
    c.middlewareStack.add(meterMiddleware(c), OPTIONS);
    Object.defineProperty(c, METERED, { value: true, configurable: true });
  }
  return client;
}

const MAX_AGENT_CLIENTS = 256;
const AGENTS = Symbol.for("costline.bedrock.agents");

/**
 * A view of `client` whose calls are attributed to agent `name` (cached per
 * name): the same client (its config, connections and commands) through its
 * prototype, with its own middleware stack, a copy of the client's with this
 * view's meter. AWS SDK clients have no `withOptions()` to copy them.
 */
export function bedrockAgent<C extends object>(client: C, name: string): C {
  if (typeof name !== "string" || !name) throw new TypeError("withAgent() needs a non-empty agent name");
  const c = client as C & BedrockLike & { [AGENTS]?: Map<string, C> };
  const state = c[STATE];
  if (!state) return client;
  let agents = c[AGENTS];
  if (!agents) {
    agents = new Map();
    Object.defineProperty(c, AGENTS, { value: agents, configurable: true });
  }
  let view = agents.get(name);
  if (!view) {
    const made = Object.create(client) as C & BedrockLike & { handlers?: unknown };
    const stack = c.middlewareStack.clone();
    stack.remove(MIDDLEWARE);
    stack.add(meterMiddleware(made), OPTIONS);
    Object.defineProperty(made, "middlewareStack", { value: stack, writable: true, configurable: true, enumerable: true });
    // The SDK may cache handlers resolved from the stack: the view resolves its own.
    made.handlers = undefined;
    Object.defineProperty(made, STATE, {
      value: { ...state, agent: name, agents: undefined },
      writable: true,
      configurable: true,
      enumerable: false,
    });
    Object.defineProperty(made, AGENTS, { value: new Map(), configurable: true });
    view = made;
    if (agents.size < MAX_AGENT_CLIENTS) agents.set(name, view);
  }
  return view;
}
