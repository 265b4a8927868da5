/**
 * The routing decision for the routed client (`Costline`): the options in
 * camelCase turned into the core's routing input (snake_case JSON), the one
 * native call `decide`, the user's own router, and the order of the
 * candidates a failed call falls back to. The decision itself (pool, worst
 * cases, difficulty, pick, reason) is the core's (`core/src/routing/`).
 */

import { native } from "./binding";
import { CostlineError, RoutingError } from "./errors";

/** How to choose among the candidates that fit `maxCostUsd`. */
export type Prefer = "lowest_cost" | "lowest_cost_that_meets_quality" | "highest_quality" | "lowest_latency";

/** Per request: `create({ model: "auto", routing: { ... } })`. */
export interface RoutingOptions {
  /** Default `lowest_cost_that_meets_quality`. */
  prefer?: Prefer;
  /** No candidate whose worst case costs more (a decimal string; a number is read as its decimal text). */
  maxCostUsd?: string | number;
  /** 0..1: below it the classifier's level goes one up. Default 0 (never). */
  minConfidence?: number;
  /** Pin the pool to these models for this request. */
  models?: string[];
  /** Observed p50 latencies by model (ms), for `prefer: "lowest_latency"`. */
  latenciesMs?: Record<string, number>;
}

/** One candidate model of the pool, with what the caller knows of it. */
export interface CandidateSpec {
  model: string;
  /** The provider it is called through (a key of `providers`); inferred from the quality table or the catalog when absent. */
  provider?: string;
  /** Quality score on the table's scale (MMLU-Pro %), overriding the table's. */
  quality?: number;
  /** Observed p50 latency, for `prefer: "lowest_latency"`. */
  latencyMs?: number;
}

/** One row of the decision's table (the core's, snake_case as `costline route --explain --json` prints it). */
export interface CandidateRow {
  model: string;
  provider: string;
  price_key: string | null;
  prompt_tokens: number;
  max_output_tokens: number;
  /** Worst case, a decimal string; null without a price. */
  cost_usd: string | null;
  quality: number | null;
  quality_source: "user" | "table" | null;
  latency_ms: number | null;
  eligible: boolean;
  why_not: string | null;
}

/** The core's decision (snake_case, as the core serialises it). */
export interface Decision {
  model: string;
  provider: string;
  reason: string;
  prefer: Prefer;
  /** The pick's worst case, a decimal string. */
  cost_usd: string;
  difficulty: { level: number; confidence: number; signals: string[] };
  required_level: number;
  required_score: number;
  level_raised: boolean;
  confidence: number;
  candidates: CandidateRow[];
}

/** What a user's router is told about a request (never its content). */
export interface RouterSummary {
  prefer: Prefer;
  /** The classifier's level (1 basic .. 4 expert) and the level the pick must meet. */
  level: number;
  requiredLevel: number;
  confidence: number;
  signals: string[];
  promptTokens: number | null;
  maxTokens: number | null;
  /** How many messages. */
  messages: number;
  tools: boolean;
  responseFormat: string | null;
  stream: boolean;
  maxCostUsd: string | null;
  /** The call's tags (the client's, the run's, its metadata). */
  tags: Record<string, string>;
  /** The core's pick. */
  pick: string;
}

/**
 * A user's own router: given the request's summary and the candidate rows
 * not tried yet (the core's table), the model to call, or null/undefined to
 * keep the core's pick. May be async. Called again, over the candidates
 * left, when an attempt fails and the call falls back.
 */
export type Router = (summary: RouterSummary, candidates: CandidateRow[]) => string | null | undefined | Promise<string | null | undefined>;

interface RoutingNative {
  decide(inputJson: string): string;
}

const PREFERS = new Set<string>(["lowest_cost", "lowest_cost_that_meets_quality", "highest_quality", "lowest_latency"]);

/** The routing fields a request may carry, checked (a typo is an error, never ignored). */
export function checkRouting(value: unknown): RoutingOptions {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) throw new TypeError("routing must be an object: { prefer, maxCostUsd, minConfidence, models }");
  const known = new Set(["prefer", "maxCostUsd", "minConfidence", "models", "latenciesMs"]);
  const unknown = Object.keys(value).filter((k) => !known.has(k));
  if (unknown.length) throw new TypeError(`unknown routing option(s) ${unknown.join(", ")}; known: ${[...known].join(", ")}`);
  const r = value as RoutingOptions;
  if (r.prefer !== undefined && !PREFERS.has(r.prefer)) {
    throw new TypeError(`routing.prefer must be one of ${[...PREFERS].join(", ")}, not ${JSON.stringify(r.prefer)}`);
  }
  if (r.models !== undefined && (!Array.isArray(r.models) || !r.models.every((m) => typeof m === "string" && m))) {
    throw new TypeError("routing.models must be a list of model names");
  }
  return r;
}

/** The core's routing input (snake_case JSON text). */
export function routeInput(
  request: Record<string, unknown>,
  routing: RoutingOptions,
  pool: { candidates: CandidateSpec[]; models?: string[]; scores?: Record<string, number>; levelScores?: number[]; providers: string[] },
): string {
  const input: Record<string, unknown> = { request, providers: pool.providers };
  if (routing.prefer !== undefined) input.prefer = routing.prefer;
  if (routing.maxCostUsd !== undefined && routing.maxCostUsd !== null) input.max_cost_usd = String(routing.maxCostUsd).trim();
  if (routing.minConfidence !== undefined) input.min_confidence = routing.minConfidence;
  if (pool.candidates.length) {
    input.candidates = pool.candidates.map((c) => {
      const out: Record<string, unknown> = { model: c.model };
      if (c.provider !== undefined) out.provider = c.provider;
      if (c.quality !== undefined) out.quality = c.quality;
      if (c.latencyMs !== undefined) out.latency_ms = c.latencyMs;
      return out;
    });
  }
  const models = routing.models ?? pool.models;
  if (models) input.models = models;
  if (pool.scores && Object.keys(pool.scores).length) input.scores = pool.scores;
  if (pool.levelScores) input.level_scores = pool.levelScores;
  if (routing.latenciesMs && Object.keys(routing.latenciesMs).length) input.latencies_ms = routing.latenciesMs;
  return JSON.stringify(input);
}

/** The addon's routing error (`costline:routing: {code, message, details}`) as a `RoutingError`. */
export function routingError(err: unknown): Error {
  const message = err instanceof Error ? err.message : String(err);
  const match = /^costline:([a-z_]+): ([\s\S]*)$/.exec(message);
  const text = match ? match[2] : message;
  try {
    const parsed = JSON.parse(text) as { code?: string; message?: string; details?: Record<string, unknown> };
    if (parsed && typeof parsed.code === "string") {
      return new RoutingError(parsed.message ?? parsed.code, parsed.code, parsed.details ?? {});
    }
  } catch {
    // not the core's JSON: below
  }
  return err instanceof CostlineError ? err : new RoutingError(text, match?.[1] ?? "internal");
}

/** The core's decision for this input; a `RoutingError` when nothing can be routed (nothing was sent). */
export function decide(inputJson: string): Decision {
  let out: string;
  try {
    out = (native as unknown as RoutingNative).decide(inputJson);
  } catch (err) {
    throw routingError(err);
  }
  return JSON.parse(out) as Decision;
}
