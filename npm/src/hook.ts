/**
 * The drop-in mechanism shared by every provider. The OpenAI and Anthropic
 * SDKs send every request (every resource, `.withResponse()`,
 * `.asResponse()`, every stream and stream helper) through one method of the
 * client, `makeRequest()`, which resolves to the fetch `Response` before the
 * SDK reads it. costline overrides that one method: it times the call, asks
 * for a stream's usage when the caller did not (and hides it again), and
 * meters the response body as the SDK (or the caller) reads it, in bytes,
 * through the core. The Response object itself is the one fetch returned,
 * so the caller gets exactly what the plain client gives.
 */

import { capture, NO_TAGS, type Captured, type Tags } from "./context";
import { native, type NativeMeter } from "./binding";
import { guarded, installExitHooks, isDisabled, report } from "./runtime";

/** Options of one client: `new OpenAI(opts, { agent, tags, streamUsage })`. */
export interface CostlineClientOptions {
  /** Attribute this client's calls to this agent (a sub-agent inside a run). */
  agent?: string;
  /** Tags on every event of this client (beneath run tags). */
  tags?: Record<string, unknown>;
  /**
   * Ask an OpenAI chat stream for its usage chunk when the caller did not
   * (hidden from the caller again). Off: such streams are estimated. Default on.
   */
  streamUsage?: boolean;
}

const OPTION_KEYS = new Set(["agent", "tags", "streamUsage"]);

export interface ClientState {
  readonly provider: string;
  readonly agent: string | undefined;
  readonly tags: Tags;
  readonly streamUsage: boolean;
  /** Clients made by `withAgent`, per agent name (reused: building one costs). */
  agents?: Map<string, unknown>;
}

export const STATE = Symbol.for("costline.client");

export function parseOptions(provider: string, value: CostlineClientOptions | undefined): ClientState {
  if (value === undefined || value === null) return { provider, agent: undefined, tags: NO_TAGS, streamUsage: true };
  if (typeof value !== "object") throw new TypeError("costline options must be an object, e.g. { tags: {...} }");
  const unknown = Object.keys(value).filter((k) => !OPTION_KEYS.has(k));
  if (unknown.length) {
    throw new TypeError(`unknown costline option(s) ${unknown.join(", ")}; this version supports ${[...OPTION_KEYS].join(", ")}`);
  }
  if (value.agent !== undefined && typeof value.agent !== "string") throw new TypeError("costline option agent must be a string");
  const tags: Tags = {};
  for (const [k, v] of Object.entries(value.tags ?? {})) tags[k] = String(v);
  return { provider, agent: value.agent, tags: Object.keys(tags).length ? tags : NO_TAGS, streamUsage: value.streamUsage !== false };
}

/** Operation per provider and request path (the core decides; cached). */
const operations = new Map<string, Map<string, string | null>>();

function operationFor(provider: string, path: string): string | null {
  let paths = operations.get(provider);
  if (!paths) operations.set(provider, (paths = new Map()));
  let op = paths.get(path);
  if (op === undefined) {
    op = native.operationForPath(provider, path) ?? null;
    if (paths.size < 1024) paths.set(path, op);
  }
  return op;
}

/**
 * Calls started and not yet recorded, oldest first: ended at exit, so none is
 * lost. A response nobody reads to the end stays here until then, so the set
 * is bounded: past MAX_INFLIGHT, the oldest call is recorded as it stands
 * (its tokens estimated). A bound, not a FinalizationRegistry: weak cells
 * cost every garbage collection, on every call.
 */
const inflight = new Set<Started>();
const MAX_INFLIGHT = 10_000;

/** At exit: a call that got its response is recorded as it stands; one still waiting, as cut off. */
export function endInflight(): void {
  for (const s of [...inflight]) s.end(undefined, s.responded ? undefined : "ProcessExit");
}

/** Record the oldest call whose response came but was not read to the end (never one still waiting). */
function evictOldest(): void {
  let looked = 0;
  for (const s of inflight) {
    if (s.responded) {
      s.end(undefined);
      return;
    }
    if (++looked >= 64) return;
  }
}

/**
 * The body read failed because the reader was aborted: the SDK aborts its
 * request when the caller leaves a stream early (`break` out of a stream
 * helper, `abort()`), which ends the read with an AbortError. Like a `break`
 * out of a plain stream (a cancel), that is not the call failing.
 */
function readAborted(err: unknown): boolean {
  return err instanceof Error && err.name === "AbortError";
}

function errorType(err: unknown): string {
  if (err instanceof Error) return err.constructor?.name || err.name || "Error";
  return typeof err;
}

/**
 * One metered call in flight. JSON bodies the SDK reads whole are recorded
 * with one native call (`recordText`); a body read as a stream gets a native
 * `Meter` that each chunk passes through.
 */
class Started {
  private done = false;
  private meter: NativeMeter | undefined;
  private readonly t0 = performance.now();
  responded = false;

  constructor(
    private readonly provider: string,
    private readonly operation: string,
    private readonly model: string,
    private readonly stream: boolean,
    /** costline asked for a usage chunk the caller must not see. */
    readonly hide: boolean,
    private readonly captured: Captured,
    private readonly request: unknown,
    meter?: NativeMeter,
  ) {
    this.meter = meter;
    inflight.add(this);
    if (inflight.size > MAX_INFLIGHT) evictOldest();
  }

  /** The body is about to be read as a stream. */
  streamed(): void {
    if (this.done || this.meter) return;
    this.meter = guarded(
      "reading a response",
      () => new native.Meter(this.provider, this.operation, this.model, this.stream, this.hide),
      undefined,
    );
  }

  feed(chunk: Uint8Array): Uint8Array | undefined {
    const meter = this.meter;
    if (!meter) return undefined;
    try {
      return meter.feed(chunk) ?? undefined;
    } catch (err) {
      report("reading a response", err);
      return undefined;
    }
  }

  tail(): Uint8Array | undefined {
    return guarded("reading a response", () => this.meter?.tail() ?? undefined, undefined);
  }

  /**
   * A whole body (read with `text()`, `arrayBuffer()`...) through the meter,
   * as a streamed one would pass: without the usage chunk costline asked for.
   * Undefined: give the body as it is.
   */
  filterWhole(body: Uint8Array): Uint8Array | undefined {
    this.streamed();
    const out = this.feed(body);
    const rest = this.tail();
    if (out === undefined && !rest?.length) return undefined;
    const head = out ?? body;
    if (!rest?.length) return head;
    const joined = new Uint8Array(head.length + rest.length);
    joined.set(head);
    joined.set(rest, head.length);
    return joined;
  }

  /**
   * Record the call, once. `err`: what it ended with (none: it ended well);
   * `text`: the whole body, when it was read as text; a call that got a
   * response whose body was never read is estimated from its request.
   */
  end(err: unknown, typeName?: string, text?: string): void {
    if (this.done) return;
    this.done = true;
    inflight.delete(this);
    const type = typeName ?? (err === undefined ? undefined : errorType(err));
    const captured = this.captured;
    const latency = Math.max(0, Math.round(performance.now() - this.t0));
    const needCost = captured.frames.length > 0;
    const attribution = captured.attribution;
    try {
      const meter = this.meter;
      this.meter = undefined;
      const cost = meter
        ? meter.finish(latency, type, attribution, this.request, needCost)
        : native.recordText(
            this.provider,
            this.operation,
            this.model,
            this.stream,
            latency,
            type,
            text ?? (this.responded ? "" : undefined),
            attribution,
            this.request,
            needCost,
          );
      if (needCost) captured.settle(cost);
    } catch (err) {
      report("recording a call", err);
    }
  }
}

type Send<P> = (options: unknown) => Promise<P>;

interface RequestOptions {
  path?: string;
  body?: unknown;
  stream?: boolean;
}

function start(state: ClientState, options: RequestOptions): { started: Started; options: RequestOptions } | undefined {
  const operation = typeof options.path === "string" ? operationFor(state.provider, options.path) : null;
  if (!operation) return undefined;
  const body = options.body;
  const json = body !== null && typeof body === "object" && !ArrayBuffer.isView(body) ? (body as Record<string, unknown>) : undefined;
  const model = typeof json?.model === "string" && json.model ? json.model : "unknown";
  const stream = options.stream === true;
  let hide = false;
  let meter: NativeMeter | undefined;
  if (stream && json && state.provider === "openai" && operation === "chat" && state.streamUsage) {
    const so = json.stream_options as Record<string, unknown> | undefined | null;
    // The request asks for a usage chunk only when a meter exists to hide it
    // again: without one the caller would see a chunk it never asked for.
    if (!so || so.include_usage !== true) {
      meter = guarded("reading a response", () => new native.Meter(state.provider, operation, model, stream, true), undefined);
    }
    if (meter) {
      hide = true;
      options = { ...options, body: { ...json, stream_options: { ...(so ?? {}), include_usage: true } } };
    }
  }
  const captured = capture(state.agent, state.tags);
  return { started: new Started(state.provider, operation, model, stream, hide, captured, json, meter), options };
}

/**
 * The metered `makeRequest`: `send` is the SDK's own. Retries (the SDK calls
 * `makeRequest` again with a retry id) pass straight through: one logical
 * call, one event, timed from the first attempt.
 */
export async function meteredRequest<P extends { response: Response }>(
  client: { [STATE]?: ClientState },
  optionsInput: unknown,
  retryOf: unknown,
  send: Send<P>,
): Promise<P> {
  const state = client[STATE];
  if (retryOf !== undefined || state === undefined || isDisabled()) return send(optionsInput);
  const options = (await optionsInput) as RequestOptions;
  const begun = guarded("starting a metered call", () => start(state, options), undefined);
  if (!begun) return send(options);
  const { started } = begun;
  let props: P;
  try {
    props = await send(begun.options);
  } catch (err) {
    started.end(err);
    throw err;
  }
  started.responded = true;
  guarded("metering a response", () => meterBody(props.response, started), undefined);
  return props;
}

const STARTED = Symbol("costline.started");
const WRAPPED = Symbol("costline.body");
const READING = Symbol("costline.reading");

type Metered = Response & {
  [STARTED]?: Started;
  [WRAPPED]?: ReadableStream<Uint8Array> | null;
  /** Inside the class's own text()/arrayBuffer(), which may read `body` itself. */
  [READING]?: boolean;
};

/** The metered face of each Response class seen (fetch's, or a custom fetch's). */
const meteredPrototypes = new WeakMap<object, object>();

/**
 * A prototype over `proto` (a Response class's) whose body readers meter:
 * `text()`/`json()` (what the SDKs call: one native call with the whole
 * text), `arrayBuffer()`/`bytes()`/`blob()`, and `body`, a stream each chunk
 * of which passes through the core (event streams, and callers reading
 * `asResponse().body`). Built once per class: per call, the response only
 * gets this prototype and its `Started`.
 */
function meteredPrototype(proto: Response): object | undefined {
  let metered = meteredPrototypes.get(proto);
  if (metered) return metered;
  const ownText = proto.text;
  const ownArrayBuffer = proto.arrayBuffer;
  const bodyGetter = Object.getOwnPropertyDescriptor(proto, "body")?.get;
  if (typeof ownText !== "function" || typeof ownArrayBuffer !== "function" || !bodyGetter) return undefined;
  async function whole<T>(
    response: Metered,
    read: () => Promise<T>,
    asText: (value: T) => string,
    filter: (value: T, started: Started) => T,
  ): Promise<T> {
    const started = response[STARTED];
    let value: T;
    response[READING] = true;
    try {
      value = await read();
    } catch (err) {
      started?.end(readAborted(err) ? undefined : err);
      throw err;
    } finally {
      response[READING] = false;
    }
    if (started?.hide) {
      // A stream read whole, whose usage chunk costline asked for: the
      // caller gets it without that chunk, and the meter records it.
      value = guarded("reading a response", () => filter(value, started), value);
      started.end(undefined);
    } else if (started) {
      started.end(undefined, undefined, guarded("reading a response", () => asText(value), ""));
    }
    return value;
  }
  const text = function (this: Metered) {
    return whole(
      this,
      () => ownText.call(this),
      (t) => t,
      (t, started) => {
        const out = started.filterWhole(new TextEncoder().encode(t));
        return out === undefined ? t : new TextDecoder().decode(out);
      },
    );
  };
  const arrayBuffer = function (this: Metered) {
    return whole(
      this,
      () => ownArrayBuffer.call(this),
      (b) => new TextDecoder().decode(b),
      (b, started) => {
        const out = started.filterWhole(new Uint8Array(b));
        return out === undefined ? b : (out.slice().buffer as ArrayBuffer);
      },
    );
  };
  metered = Object.create(proto, {
    text: { value: text, configurable: true, writable: true },
    json: {
      value: function (this: Metered) {
        return text.call(this).then((t) => JSON.parse(t));
      },
      configurable: true,
      writable: true,
    },
    arrayBuffer: { value: arrayBuffer, configurable: true, writable: true },
    bytes: {
      value: function (this: Metered) {
        return arrayBuffer.call(this).then((b) => new Uint8Array(b));
      },
      configurable: true,
      writable: true,
    },
    blob: {
      value: function (this: Metered) {
        return arrayBuffer.call(this).then((b) => new Blob([b], { type: this.headers.get("content-type") ?? "" }));
      },
      configurable: true,
      writable: true,
    },
    body: {
      configurable: true,
      get(this: Metered) {
        if (this[READING]) return bodyGetter.call(this);
        if (this[WRAPPED] === undefined) {
          const source = bodyGetter.call(this) as ReadableStream<Uint8Array> | null;
          const started = this[STARTED];
          // Not a web stream (a custom fetch's Node stream): passed as it is,
          // the call is then recorded when the body is read whole, or at exit.
          if (!started || (source && typeof source.getReader !== "function")) return source;
          if (source) started.streamed();
          else started.end(undefined);
          this[WRAPPED] = source ? meteredStream(source, started) : source;
        }
        return this[WRAPPED];
      },
    },
  }) as object;
  meteredPrototypes.set(proto, metered);
  return metered;
}

/** Meter `response`'s body however it is read (see `meteredPrototype`). */
function meterBody(response: Response, started: Started): void {
  const metered = meteredPrototype(Object.getPrototypeOf(response) as Response);
  if (!metered) {
    started.end(undefined);
    return;
  }
  (response as Metered)[STARTED] = started;
  Object.setPrototypeOf(response, metered);
}

/** `source`, chunk for chunk, through the meter (which may hide a usage chunk). */
function meteredStream(source: ReadableStream<Uint8Array>, started: Started): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        for (;;) {
          let chunk: ReadableStreamReadResult<Uint8Array>;
          try {
            chunk = await reader.read();
          } catch (err) {
            started.end(readAborted(err) ? undefined : err);
            throw err;
          }
          if (chunk.done) {
            const rest = started.tail();
            if (rest && rest.length) controller.enqueue(rest);
            controller.close();
            started.end(undefined);
            return;
          }
          const out = started.feed(chunk.value);
          if (out === undefined) {
            controller.enqueue(chunk.value);
            return;
          }
          if (out.length) {
            controller.enqueue(out);
            return;
          }
        }
      },
      cancel(reason) {
        // The reader stopped early (a `break` out of the stream): not an error.
        started.end(undefined);
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

let exitHooksInstalled = false;

/** Called when a metered client is built: exit hooks, catalog prewarm. */
export function clientCreated(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  guarded("installing exit hooks", () => installExitHooks(endInflight), undefined);
  guarded("prewarming the catalog", () => native.prewarm(), undefined);
}

type AnyFn = (this: unknown, ...args: unknown[]) => unknown;
type Hooked = { [STATE]?: ClientState; makeRequest?: AnyFn; withOptions?: AnyFn };

const HOOKED = Symbol.for("costline.hooked");

/**
 * Meter every client built from `target` (a drop-in's prototype) or `target`
 * alone (an instance given to `instrument`): its `makeRequest` is metered,
 * and `withOptions` copies keep the costline options (and stay metered).
 */
export function hookClient(target: object, provider: string): void {
  const t = target as Hooked & { [HOOKED]?: boolean };
  if (t[HOOKED]) return;
  const makeRequest = t.makeRequest;
  const withOptions = t.withOptions;
  if (typeof makeRequest !== "function") {
    throw new TypeError(`this ${provider} SDK version has no makeRequest(): costline cannot meter it`);
  }
  Object.defineProperty(target, HOOKED, { value: true, configurable: true });
  Object.defineProperty(target, "makeRequest", {
    configurable: true,
    writable: true,
    value: function (this: Hooked, options: unknown, retries: unknown, retryOf: unknown, ...rest: unknown[]) {
      return meteredRequest(this as { [STATE]?: ClientState }, options, retryOf, (opts) =>
        makeRequest.call(this, opts, retries, retryOf, ...rest) as Promise<{ response: Response }>,
      );
    },
  });
  if (typeof withOptions === "function") {
    Object.defineProperty(target, "withOptions", {
      configurable: true,
      writable: true,
      value: function (this: Hooked, ...args: unknown[]) {
        const copy = withOptions.apply(this, args) as Hooked;
        const state = this[STATE];
        if (state && copy && typeof copy === "object") {
          if (!(copy as { [HOOKED]?: boolean })[HOOKED]) hookClient(copy, provider);
          copy[STATE] = { ...state, agents: undefined };
        }
        return copy;
      },
    });
  }
}

const MAX_AGENT_CLIENTS = 256;

/** A copy of `client` whose calls are attributed to agent `name` (cached per name). */
export function agentClient<C extends object>(client: C, name: string): C {
  if (typeof name !== "string" || !name) throw new TypeError("withAgent() needs a non-empty agent name");
  const hooked = client as C & Hooked;
  const state = hooked[STATE];
  if (!state || typeof hooked.withOptions !== "function") return client;
  const agents = (state.agents ??= new Map());
  let copy = agents.get(name) as (C & Hooked) | undefined;
  if (!copy) {
    copy = hooked.withOptions({}) as C & Hooked;
    copy[STATE] = { ...state, agent: name, agents: undefined };
    if (agents.size < MAX_AGENT_CLIENTS) agents.set(name, copy);
  }
  return copy;
}

/** Give a client its costline state (drop-in constructors and `instrument`). */
export function attachState(client: object, provider: string, options: CostlineClientOptions | undefined): void {
  Object.defineProperty(client, STATE, {
    value: parseOptions(provider, options),
    writable: true,
    configurable: true,
    enumerable: false,
  });
  clientCreated();
}
