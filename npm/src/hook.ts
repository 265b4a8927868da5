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

import { meterBody } from "./body";
import { endInflight, Started } from "./call";
import { capture, NO_TAGS, type Tags } from "./context";
import { native, type NativeMeter } from "./binding";
import { BudgetExceededError, fromNative } from "./errors";
import { guarded, installExitHooks, isDisabled, report } from "./runtime";
import { parseChain, type Chain, type FallbackChainOption } from "./fallback";
import { fallbackProps } from "./fallbackhttp";

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
  /**
   * The provider the calls are recorded (and priced) under, e.g. "groq" for
   * an OpenAI client pointed at a host costline does not recognise. Default:
   * inferred from the client's base URL (OpenAI-compatible hosts), else the SDK's.
   */
  provider?: string;
  /**
   * A fallback chain: when a call fails with a retryable error (after the
   * SDK's own retries), these raw clients are tried in order, the request
   * translated into each one's API and the answer back into this client's
   * types. A list of `{ provider, client, model }`, or `{ targets, retryOn,
   * attemptTimeoutMs, deadlineMs, onUnsupported }` (docs/fallback.md).
   */
  fallback?: FallbackChainOption;
}

const OPTION_KEYS = new Set(["agent", "tags", "streamUsage", "provider", "fallback"]);
/** The drop-ins that can walk a fallback chain (the others refuse the option rather than ignore it). */
const FALLBACK_SOURCES = new Set(["openai", "anthropic", "google", "mistral", "bedrock"]);

export interface ClientState {
  /** The SDK's provider: how request paths and bodies are read. */
  readonly provider: string;
  /** The provider named in the costline options, recorded instead of the inferred one. */
  readonly recordAs?: string;
  readonly agent: string | undefined;
  readonly tags: Tags;
  readonly streamUsage: boolean;
  /** The fallback chain, if any. */
  readonly fallback?: Chain;
  /** Clients made by `withAgent`, per agent name (reused: building one costs). */
  agents?: Map<string, unknown>;
}

export const STATE = Symbol.for("costline.client");
/** On a drop-in's prototype: the provider recorded when neither options nor host name one ("azure"). */
export const DEFAULT_PROVIDER = Symbol.for("costline.defaultProvider");

export function parseOptions(provider: string, value: CostlineClientOptions | undefined): ClientState {
  if (value === undefined || value === null) return { provider, agent: undefined, tags: NO_TAGS, streamUsage: true };
  if (typeof value !== "object") throw new TypeError("costline options must be an object, e.g. { tags: {...} }");
  const unknown = Object.keys(value).filter((k) => !OPTION_KEYS.has(k));
  if (unknown.length) {
    throw new TypeError(`unknown costline option(s) ${unknown.join(", ")}; this version supports ${[...OPTION_KEYS].join(", ")}`);
  }
  if (value.agent !== undefined && typeof value.agent !== "string") throw new TypeError("costline option agent must be a string");
  if (value.provider !== undefined && (typeof value.provider !== "string" || !value.provider)) {
    throw new TypeError("costline option provider must be a non-empty string");
  }
  const tags: Tags = {};
  for (const [k, v] of Object.entries(value.tags ?? {})) tags[k] = String(v);
  if (value.fallback !== undefined && value.fallback !== null && !FALLBACK_SOURCES.has(provider)) {
    throw new TypeError(`costline option fallback: the ${provider} drop-in cannot fall back yet (${[...FALLBACK_SOURCES].join(", ")} can)`);
  }
  return {
    provider,
    recordAs: value.provider,
    agent: value.agent,
    tags: Object.keys(tags).length ? tags : NO_TAGS,
    streamUsage: value.streamUsage !== false,
    fallback: parseChain(value.fallback),
  };
}

/** The provider serving each base URL seen (the core decides; cached). */
const hosts = new Map<string, string | null>();

/**
 * The provider a client's calls are recorded under: the one its options name,
 * else the one serving its base URL (an OpenAI client pointed at Groq records
 * "groq", priced under `groq/...`), else `fallback` (the SDK's, or "azure" for
 * `AzureOpenAI`). Read per call: `withOptions` copies may change the URL.
 */
export function recordedProvider(state: ClientState, baseURL: unknown, fallback: string): string {
  if (state.recordAs) return state.recordAs;
  if (typeof baseURL !== "string") return fallback;
  let host = hosts.get(baseURL);
  if (host === undefined) {
    host = native.providerForBaseUrl(baseURL) ?? null;
    if (hosts.size < 256) hosts.set(baseURL, host);
  }
  return host ?? fallback;
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

type Send<P> = (options: unknown) => Promise<P>;

interface RequestOptions {
  path?: string;
  body?: unknown;
  stream?: boolean;
}

function start(
  state: ClientState,
  options: RequestOptions,
  recorded: string,
): { started: Started; options: RequestOptions } | undefined {
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
      meter = guarded("reading a response", () => native.meterOpen(recorded, operation, model, stream, true), undefined);
    }
    if (meter !== undefined) {
      hide = true;
      options = { ...options, body: { ...json, stream_options: { ...(so ?? {}), include_usage: true } } };
    }
  }
  const captured = capture(state.agent, state.tags);
  return { started: new Started(recorded, operation, model, stream, hide, captured, json, meter), options };
}

type Reserving = { reserve(): Promise<void> | undefined; blocked(): void };

/**
 * Reserve a call's worst case against the budgets before it is sent. Over a
 * hard cap it throws `BudgetExceededError`: nothing is sent, and the core
 * recorded the call as blocked. Any other failure is reported, never thrown.
 * With a store that may wait (ledger, Redis) it returns a promise to await
 * (rejected in the same cases); in memory, undefined: no extra await.
 */
export function reserve(started: Reserving): Promise<void> | undefined {
  let pending: Promise<void> | undefined;
  try {
    pending = started.reserve();
  } catch (err) {
    refused(started, err);
  }
  return pending?.catch((err: unknown) => refused(started, err));
}

function refused(started: Reserving, err: unknown): void {
  const mapped = fromNative(err);
  if (mapped instanceof BudgetExceededError) {
    started.blocked();
    throw mapped;
  }
  report("reserving a budget", err);
}

/**
 * The metered `makeRequest`: `send` is the SDK's own. Retries (the SDK calls
 * `makeRequest` again with a retry id) pass straight through: one logical
 * call, one event, timed from the first attempt.
 */
export async function meteredRequest<P extends { response: Response }>(
  client: { [STATE]?: ClientState; baseURL?: unknown; [DEFAULT_PROVIDER]?: string },
  optionsInput: unknown,
  retryOf: unknown,
  send: Send<P>,
): Promise<P> {
  const state = client[STATE];
  if (retryOf !== undefined || state === undefined || isDisabled()) return send(optionsInput);
  const options = (await optionsInput) as RequestOptions;
  const fallback = client[DEFAULT_PROVIDER] ?? state.provider;
  // Only OpenAI's SDK speaks to other services' hosts.
  const baseURL = state.provider === "openai" ? client.baseURL : undefined;
  const recorded = guarded("reading the base URL", () => recordedProvider(state, baseURL, fallback), fallback);
  const begun = guarded("starting a metered call", () => start(state, options, recorded), undefined);
  if (!begun) return send(options);
  const { started } = begun;
  const reserving = reserve(started);
  if (reserving) await reserving;
  let props: P;
  try {
    props = await send(begun.options);
  } catch (err) {
    // A chain walks on from here (it records this failure as attempt 1).
    if (state.fallback) return (await fallbackProps(state.fallback, state.provider, started, options, err)) as P;
    started.end(err);
    throw err;
  }
  started.responded = true;
  guarded("metering a response", () => meterBody(props.response, started), undefined);
  return props;
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
