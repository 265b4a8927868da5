/**
 * `Costline`: an OpenAI-compatible client that routes each request, in
 * process, to the model that should serve it, over the provider clients the
 * app already has (issue 11).
 *
 *     const client = new Costline({ providers: { openai: new OpenAI(), anthropic: new Anthropic() } });
 *     const r = await client.chat.completions.create({ model: "auto", routing: { prefer: "lowest_cost" }, messages });
 *     r.choices[0].message.content; r.costline.routedTo; r.costline.costUsd;
 *
 * The decision is the core's (`routing.ts`); each attempt is translated,
 * sent and recorded by `routed-send.ts`; the answer is an OpenAI chat
 * completion whoever served it (a stream: an async iterable of chunks), with
 * the routing facts on a non-enumerable `costline` property.
 */

import { capture, Captured, NO_TAGS } from "./context";
import { native, type NativeRoutedWalk } from "./binding";
import { call, CostlineError, RoutingError } from "./errors";
import { clientCreated } from "./hook";
import { report } from "./runtime";
import { checkRouting, decide, routeInput, routingError, type CandidateSpec, type Decision, type Router, type RouterSummary, type RoutingOptions } from "./routing";
import { Attempt, failureOf, OPERATIONS, requestIdOf, send, translateRequest } from "./routed-send";
import { RoutedStream } from "./routed-stream";
import type { ChatCompletion } from "./routed-types";
import { fallbackPolicy, type RoutedFallbackOptions } from "./routed-policy";

export type { Prefer, RoutingOptions, CandidateSpec, CandidateRow, Decision, Router, RouterSummary } from "./routing";
export type { RoutedFallbackOptions } from "./routed-policy";
export type { RoutedStream } from "./routed-stream";
export type { ChatCompletion, ChatCompletionChunk, ChatCompletionMessage, ChatCompletionToolCall, CompletionUsage } from "./routed-types";

export type ProviderName = "openai" | "anthropic" | "google" | "mistral" | "bedrock";

export interface CostlineOptions {
  /** The clients to route over, by provider: costline drop-ins or the SDKs' own clients. */
  providers: Partial<Record<ProviderName, object>>;
  /** The candidate pool: model names (priced by the catalog, scored by the quality table) or candidates with your own scores. Default: the quality table's models. */
  models?: (string | CandidateSpec)[];
  /** Quality scores by model, overriding or adding to the table's (same scale: MMLU-Pro %). */
  scores?: Record<string, number>;
  /** Your own router: called with a summary of the request and the candidate rows; the model it names replaces the core's pick. */
  router?: Router;
  /** A failed call falls back to the next candidate (default true); false: one attempt; or the policy `{ retryOn, attemptTimeoutMs, deadlineMs }`. */
  fallback?: boolean | RoutedFallbackOptions;
  /** Defaults of every request's `routing`. */
  routing?: RoutingOptions;
  /** Tags on every event of this client (beneath run tags and each call's metadata). */
  tags?: Record<string, unknown>;
  /** Attribute this client's calls to this agent (a sub-agent inside a run). */
  agent?: string;
  /** The lowest quality score meeting task levels 1..4 (default [0, 50, 60, 70], the table's MMLU-Pro scale). */
  levelScores?: [number, number, number, number];
}

/** Who the call is for: event tags (customer_id, feature_id, environment, cost_center), never sent to the provider. */
export interface RoutingMetadata {
  customerId?: string;
  featureId?: string;
  environment?: string;
  costCenter?: string;
  /** Any other tag, under its own name. */
  [tag: string]: unknown;
}

/** `r.costline`: how the call was routed and what it cost. */
export interface RoutedInfo {
  /** The model that served the call. */
  routedTo: string;
  /** Its provider. */
  provider: string;
  /** What the served attempt cost (a decimal string), null when unknown; a stream's once it ended. */
  costUsd: string | null;
  /** The core's worst case for the pick (a decimal string); null for a model the caller named. */
  estimatedCostUsd: string | null;
  /** The classifier's confidence in the task's difficulty; null for a model the caller named. */
  confidence: number | null;
  /** Why this model, in one line. */
  reason: string;
  /** Attempts made, the served one included. */
  attempts: number;
  /** Links the events of this call's attempts. */
  callId: string;
  /** The decision behind the served model (pick, difficulty, candidate table); null for a model the caller named. */
  decision: Decision | null;
}

/** A request: OpenAI's chat completion body plus `routing` and `metadata`. */
export type RoutedRequest = Record<string, unknown> & {
  model?: string;
  messages: unknown[];
  stream?: boolean | null;
  routing?: RoutingOptions;
  metadata?: RoutingMetadata;
};

/** Per-call options passed to the provider's SDK: `headers`, `signal`, `timeout` (ms). */
export interface RoutedCallOptions {
  headers?: Record<string, string>;
  signal?: AbortSignal;
  timeout?: number;
}

/** The answer: an OpenAI chat completion (JSON), with `costline` beside its fields (not enumerable). */
export type RoutedCompletion = ChatCompletion & { readonly costline: RoutedInfo };

const METADATA_TAGS: Record<string, string> = {
  customerId: "customer_id",
  featureId: "feature_id",
  environment: "environment",
  costCenter: "cost_center",
};

/** `metadata` as event tags: the documented fields in snake_case (the wire format's), any other under its own name. */
export function metadataTags(metadata: unknown): Record<string, string> {
  if (metadata === undefined || metadata === null) return {};
  if (typeof metadata !== "object" || Array.isArray(metadata)) throw new TypeError("metadata must be an object: { customerId, featureId, environment, costCenter }");
  const tags: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata)) {
    if (v === undefined || v === null) continue;
    tags[METADATA_TAGS[k] ?? k] = String(v);
  }
  return tags;
}

interface Target {
  provider: string;
  model: string;
}

const KNOWN_OPTIONS = new Set(["providers", "models", "scores", "router", "fallback", "routing", "tags", "agent", "levelScores"]);
const ALIASES: Record<string, string> = { gemini: "google" };

function defineInfo(target: object, info: () => RoutedInfo): void {
  Object.defineProperty(target, "costline", { get: info, enumerable: false, configurable: true });
}

interface Config {
  providers: Record<string, object>;
  candidates: CandidateSpec[];
  models: string[] | undefined;
  scores: Record<string, number> | undefined;
  levelScores: number[] | undefined;
  router: Router | undefined;
  /** The core's fallback policy options; null: one attempt. */
  policy: Record<string, unknown> | null;
  defaults: RoutingOptions;
  tags: Record<string, string>;
  agent: string | undefined;
  /** The provider found for each model name the caller named (cached). */
  providerOf: Map<string, string>;
  /** The ledger's p50 latencies by model, and until when they stand. */
  latencies: { expires: number; found: Record<string, number> };
}

/** `prefer: "lowest_latency"` without `latenciesMs`: the ledger's last week, each model's newest 100 successful calls. */
const LATENCY_WINDOW_MS = 7 * 24 * 3600 * 1000;
const LATENCY_CALLS_PER_MODEL = 100;
/** Read at most this often per client: a ledger query per routed call would be on the hot path. */
const LATENCY_REFRESH_MS = 30_000;

interface LatencyNative {
  p50Latencies(windowMs: number, perModel: number, timeoutMs: number): Promise<string>;
}

/** Each model's p50 latency in the ledger (cached per client), without waiting for events still queued. */
async function ledgerLatencies(config: Config): Promise<Record<string, number>> {
  const now = performance.now();
  if (now < config.latencies.expires) return config.latencies.found;
  let found: Record<string, number> = {};
  try {
    found = JSON.parse(await (native as unknown as LatencyNative).p50Latencies(LATENCY_WINDOW_MS, LATENCY_CALLS_PER_MODEL, 0));
  } catch (err) {
    report("reading latencies from the ledger", err);
  }
  config.latencies = { expires: now + LATENCY_REFRESH_MS, found };
  return found;
}

export class Costline {
  readonly chat: {
    readonly completions: {
      create(body: RoutedRequest & { stream: true }, options?: RoutedCallOptions): Promise<RoutedStream>;
      create(body: RoutedRequest & { stream?: false | null }, options?: RoutedCallOptions): Promise<RoutedCompletion>;
      create(body: RoutedRequest, options?: RoutedCallOptions): Promise<RoutedCompletion | RoutedStream>;
    };
  };
  private readonly config: Config;

  constructor(options: CostlineOptions) {
    if (!options || typeof options !== "object") throw new TypeError("new Costline({ providers: { openai: new OpenAI(), ... } })");
    const unknown = Object.keys(options).filter((k) => !KNOWN_OPTIONS.has(k));
    if (unknown.length) throw new TypeError(`unknown Costline option(s) ${unknown.join(", ")}; known: ${[...KNOWN_OPTIONS].join(", ")}`);
    const given = options.providers;
    if (!given || typeof given !== "object" || !Object.keys(given).length) {
      throw new TypeError("Costline needs providers: { openai: new OpenAI(), anthropic: new Anthropic(), ... }");
    }
    const providers: Record<string, object> = {};
    for (const [name, client] of Object.entries(given)) {
      const key = ALIASES[name] ?? name;
      if (!(key in OPERATIONS)) throw new TypeError(`unknown provider ${name}: one of ${Object.keys(OPERATIONS).join(", ")} (or gemini)`);
      if (!client || typeof client !== "object") throw new TypeError(`providers.${name} needs the provider's client`);
      providers[key] = client;
    }
    // `models`: names pin the pool; objects ({ model, provider, quality, latencyMs }) are candidates.
    const candidates: CandidateSpec[] = [];
    let models: string[] | undefined;
    for (const m of options.models ?? []) {
      if (typeof m === "string" && m) models = [...(models ?? []), m];
      else if (m && typeof m === "object" && typeof m.model === "string" && m.model) {
        candidates.push(m.provider ? { ...m, provider: ALIASES[m.provider] ?? m.provider } : m);
      } else throw new TypeError("models takes model names or { model, provider, quality, latencyMs }");
    }
    if (options.router !== undefined && typeof options.router !== "function") throw new TypeError("router must be a function (summary, candidates) => model name or null");
    if (options.agent !== undefined && typeof options.agent !== "string") throw new TypeError("agent must be a string");
    const tags: Record<string, string> = {};
    for (const [k, v] of Object.entries(options.tags ?? {})) tags[k] = String(v);
    const fallback = options.fallback;
    this.config = {
      providers,
      candidates,
      models,
      scores: options.scores,
      levelScores: options.levelScores,
      router: options.router,
      policy: fallbackPolicy(fallback),
      defaults: checkRouting(options.routing),
      tags,
      agent: options.agent,
      providerOf: new Map(),
      latencies: { expires: 0, found: {} },
    };
    const create = (body: RoutedRequest, callOptions?: RoutedCallOptions) => this.create(body, callOptions);
    this.chat = { completions: { create } } as Costline["chat"];
    clientCreated();
  }

  /** The core's decision for a request (`model: "auto"`), without sending anything. */
  async route(body: RoutedRequest): Promise<Decision> {
    const plan = new Plan(this.config, { ...body, model: "auto" });
    await plan.start();
    return plan.decision as Decision;
  }

  private async create(body: RoutedRequest, callOptions: RoutedCallOptions = {}): Promise<RoutedCompletion | RoutedStream> {
    const plan = new Plan(this.config, body);
    await plan.start();
    for (;;) {
      const step = await plan.nextAttempt();
      if (!step) throw plan.failure();
      const { target, request, attempt } = step;
      const timeoutMs = step.timeoutMs ?? callOptions.timeout;
      let out: Record<string, unknown> | AsyncIterable<Record<string, unknown>>;
      try {
        out = await send(target.provider, this.config.providers[target.provider], request, plan.stream, { timeoutMs, headers: callOptions.headers, signal: callOptions.signal });
      } catch (err) {
        plan.failed(attempt, err);
        continue;
      }
      const info = plan.info(target, attempt);
      const ctx = { model: target.model, include_usage: plan.includeUsage };
      if (plan.stream) {
        const routed = new RoutedStream(target.provider, out as AsyncIterable<Record<string, unknown>>, attempt, ctx);
        defineInfo(routed, info);
        return routed;
      }
      const answer = attempt.finishAnswer(out as Record<string, unknown>, ctx);
      defineInfo(answer, info);
      return answer as unknown as RoutedCompletion;
    }
  }
}

/** A pick of the core's walk: who serves the next attempt, and the decision behind it (null: the model the caller named). */
interface Pick {
  provider: string;
  model: string;
  decision: Decision | null;
}

/**
 * One call through the routed client. The walk over candidates (the next one
 * after a failure, a router's pick checked, attempt numbers, the deadline,
 * `r.costline`'s reason) is the core's (`native.RoutedWalk`); this class
 * translates, meters and calls the user's router.
 */
class Plan {
  readonly body: Record<string, unknown>;
  routing: RoutingOptions;
  readonly stream: boolean;
  readonly includeUsage: boolean;
  readonly routed: boolean;
  readonly captured: Captured;
  decision: Decision | null = null;
  private walk!: NativeRoutedWalk;
  private last: unknown;
  /** The decision behind the current attempt. */
  private current: Decision | null = null;

  constructor(
    private readonly config: Config,
    input: RoutedRequest,
  ) {
    if (!input || typeof input !== "object" || !Array.isArray(input.messages)) throw new TypeError("create() takes an OpenAI chat request: { model, messages, ... }");
    const { routing, metadata, ...body } = input;
    this.routing = { ...config.defaults, ...checkRouting(routing) };
    const model = body.model;
    if (typeof model !== "string" || !model) throw new TypeError('create() needs model: "auto" or a model name');
    this.body = body;
    this.stream = body.stream === true;
    this.includeUsage = this.stream && (body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
    this.routed = model === "auto";
    this.captured = attributed(config.agent, config.tags, metadataTags(metadata));
    if (!this.routed) {
      const provider = this.providerOf(model); // may strip a "provider/" prefix
      this.walk = newWalk(this.input(), config.policy, provider, this.body.model as string);
    }
  }

  /**
   * The decision and the first pick: a `RoutingError` before anything is
   * sent (every candidate over `maxCostUsd`...). Async: the ledger's
   * latencies may be.
   */
  async start(): Promise<void> {
    if (!this.routed) return;
    if (this.routing.latenciesMs === undefined && (this.routing.prefer ?? "lowest_cost_that_meets_quality") === "lowest_latency") {
      // Observed latencies fill in the candidates given without one (a latency the caller gave wins).
      const given = new Set(this.config.candidates.filter((c) => c.latencyMs !== undefined).map((c) => c.model));
      const found = Object.fromEntries(Object.entries(await ledgerLatencies(this.config)).filter(([model]) => !given.has(model)));
      if (Object.keys(found).length) this.routing = { ...this.routing, latenciesMs: found };
    }
    this.walk = newWalk(this.input(), this.config.policy);
    this.decision = JSON.parse(this.walk.decision as string) as Decision;
  }

  /** The core's routing input for this request (JSON text). */
  private input(): string {
    const c = this.config;
    const request: Record<string, unknown> = { ...this.body };
    delete request.stream_options;
    return routeInput(request, this.routing, {
      candidates: c.candidates,
      models: c.models,
      scores: c.scores,
      levelScores: c.levelScores,
      providers: Object.keys(c.providers),
    });
  }

  /** The user's router's pick for a fresh decision; the core checks it (a priced candidate not tried yet, within maxCostUsd). */
  private async byRouter(router: Router, decision: Decision): Promise<Pick> {
    const rows = JSON.parse(this.walk.routerRows()) as Decision["candidates"];
    const chosen = await router(this.summary(decision), rows);
    if (chosen === undefined || chosen === null) return { provider: decision.provider, model: decision.model, decision };
    try {
      return JSON.parse(this.walk.choose(chosen)) as Pick;
    } catch (err) {
      throw routingError(err);
    }
  }

  /** What a user's router is told about the request (never its content). */
  private summary(decision: Decision): RouterSummary {
    const body = this.body;
    const attribution = this.captured.attribution;
    return {
      prefer: decision.prefer,
      level: decision.difficulty.level,
      requiredLevel: decision.required_level,
      confidence: decision.confidence,
      signals: decision.difficulty.signals,
      promptTokens: decision.candidates[0]?.prompt_tokens ?? null,
      maxTokens: ((body.max_completion_tokens ?? body.max_tokens) as number | undefined) ?? null,
      messages: (body.messages as unknown[]).length,
      tools: Boolean(body.tools || body.functions),
      responseFormat: ((body.response_format as { type?: string } | undefined)?.type as string | undefined) ?? null,
      stream: this.stream,
      maxCostUsd: this.routing.maxCostUsd === undefined ? null : String(this.routing.maxCostUsd),
      tags: { ...(attribution?.baseTags ?? {}), ...(attribution?.tags ?? {}) },
      pick: decision.model,
    };
  }

  /**
   * The provider whose client serves a model the caller named: a "provider/"
   * prefix, the caller's candidates, the quality table's or the catalog's
   * provider (as the core's pool infers it), else the only client given.
   */
  private providerOf(model: string): string {
    const providers = this.config.providers;
    const slash = model.indexOf("/");
    if (slash > 0) {
      const head = ALIASES[model.slice(0, slash)] ?? model.slice(0, slash);
      if (head in providers) {
        this.body.model = model.slice(slash + 1);
        return head;
      }
    }
    const spec = this.config.candidates.find((c) => c.model === model && c.provider !== undefined && c.provider in providers);
    if (spec?.provider) return spec.provider;
    const known = this.config.providerOf.get(model);
    if (known) return known;
    try {
      const found = decide(JSON.stringify({ request: { messages: [] }, models: [model], providers: Object.keys(providers), prefer: "lowest_cost" }));
      // The quality table's or the catalog's provider of a name: asked once per client and model.
      if (this.config.providerOf.size < 1024) this.config.providerOf.set(model, found.provider);
      return found.provider;
    } catch (err) {
      if (!(err instanceof RoutingError)) throw err;
    }
    const names = Object.keys(providers);
    if (names.length === 1) return names[0];
    throw new RoutingError(`no provider client given serves ${JSON.stringify(model)}; name it as "provider/${model}"`, "unknown_model", { model, providers: names });
  }

  /** The next attempt: its target, translated request and metered attempt; null when no candidate is left. */
  async nextAttempt(): Promise<{ target: Target; request: Record<string, unknown>; attempt: Attempt; timeoutMs: number | undefined } | null> {
    const walk = this.walk;
    for (;;) {
      const next = walk.next();
      if (next === null) return null;
      let pick = JSON.parse(next) as Pick;
      if (pick.decision && this.config.router) pick = await this.byRouter(this.config.router, pick.decision);
      const target = { provider: pick.provider, model: pick.model };
      this.current = pick.decision;
      let request: Record<string, unknown>;
      try {
        request = translateRequest(target.provider, this.body, target.model);
      } catch (err) {
        // This candidate cannot express the request; another may.
        this.last = err;
        if (!walk.unsupported()) throw err;
        continue;
      }
      let begun: { number: number; timeoutMs?: number | null };
      try {
        // The core's policy: no attempt starts once the call's deadline passed.
        begun = call(() => walk.beginAttempt());
      } catch (err) {
        (err as Error & { cause?: unknown }).cause = this.last;
        throw err;
      }
      const attempt = new Attempt(target.provider, target.model, this.stream, request, this.captured, walk.callId, begun.number);
      const reserving = attempt.reserve(); // BudgetExceededError (recorded as blocked): nothing is sent
      if (reserving) await reserving;
      return { target, request, attempt, timeoutMs: begun.timeoutMs ?? undefined };
    }
  }

  failed(attempt: Attempt, err: unknown): void {
    attempt.failed(err);
    this.last = err;
    const f = failureOf(err);
    this.walk.failed(f.kind, f.status ?? null);
  }

  /**
   * What to throw when no attempt served: a call naming its model throws the
   * provider's own error; a routed call a `CostlineError` with the
   * provider's status and request id (its `cause` is the provider's error).
   */
  failure(): unknown {
    const last = this.last;
    if (last === undefined) return new RoutingError("no candidate model to route to", "no_candidates", {});
    if (!this.routed || last instanceof CostlineError) return last;
    const f = failureOf(last);
    const name = last instanceof Error ? last.constructor?.name || last.name : typeof last;
    const message = last instanceof Error ? last.message : String(last);
    const failed = this.walk.failure(name, message, f.status ?? null);
    const err = new CostlineError(failed.message, "provider_error", failed.details, requestIdOf(last));
    (err as Error & { cause?: unknown }).cause = last;
    return err;
  }

  /** `r.costline` (read when asked: a stream's cost arrives at its end). */
  info(target: Target, attempt: Attempt): () => RoutedInfo {
    const decision = this.current;
    const fields = this.walk.info() as { reason: string; attempts: number; call_id: string; estimated_cost_usd: string | null; confidence: number | null };
    const { reason, attempts, call_id: callId } = fields;
    return () => ({
      routedTo: target.model,
      provider: target.provider,
      costUsd: attempt.costUsd,
      estimatedCostUsd: fields.estimated_cost_usd ?? null,
      confidence: fields.confidence ?? null,
      reason,
      attempts,
      callId,
      decision,
    });
  }
}

/** The core's walk for one call; "auto" is decided now (a `RoutingError` before anything is sent). */
function newWalk(input: string, policy: Record<string, unknown> | null, provider?: string, model?: string): NativeRoutedWalk {
  try {
    return new native.RoutedWalk(input, policy, provider ?? null, model ?? null);
  } catch (err) {
    throw routingError(err);
  }
}

/**
 * Attribution of a routed call: the runs in force and the client's agent and
 * tags; `metadata` is the call's own, so it wins over the run's tags.
 */
function attributed(agent: string | undefined, clientTags: Record<string, string>, metadata: Record<string, string>): Captured {
  const captured = capture(agent, Object.keys(clientTags).length ? clientTags : NO_TAGS);
  if (!Object.keys(metadata).length) return captured;
  const base = captured.attribution ?? {};
  const merged = base.tags && Object.keys(base.tags).length ? native.mergeTags([base.tags, metadata]) : metadata;
  return new Captured({ ...base, tags: merged }, captured.frames);
}
