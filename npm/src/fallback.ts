/**
 * Fallback chains (issue 10): when a drop-in's call fails with a retryable
 * error (after the SDK's own retries), try the chain's targets in order, each
 * a raw provider client. The core translates the request into the target's
 * API and the answer back into the caller's (`native.translate`,
 * `native.FallbackStream`); the policy (which failures fall back, timeouts,
 * the deadline, `callId` and attempt numbers) is the core's too
 * (`native.FallbackWalk`). Every attempt is its own event, linked by `callId`.
 * The options and the events are Python's (`python/costline/_fallback.py`).
 *
 * This module walks a chain; `fallbacktargets.ts` calls one target;
 * `fallbackhttp.ts` and the drop-ins turn the answer into the caller's SDK types.
 */

import { native, type NativeFallbackWalk } from "./binding";
import { fromNative, FallbackDeadlineError, FallbackTimeoutError, FallbackUnsupportedError } from "./errors";
import {
  callTarget,
  failureOf,
  isMetered,
  targetStarted,
  TARGET_OPERATIONS,
  type TargetAnswer,
  type TargetStarted,
} from "./fallbacktargets";
import { type Started } from "./call";
import { reserve } from "./hook";
import { BudgetExceededError } from "./errors";

/** The providers a chain can fall back to (the events' names; "gemini" is accepted for "google"). */
export type FallbackProvider = "openai" | "anthropic" | "google" | "gemini" | "mistral" | "bedrock";

/** One target of a chain: the provider SDK's own client (never a costline drop-in) and the model to ask. */
export interface FallbackTarget {
  provider: FallbackProvider;
  /** `new OpenAI()`, `new Anthropic()`, `new GoogleGenAI()`, `new Mistral()`, a `BedrockRuntimeClient`. */
  client: unknown;
  model: string;
}

/** A chain with its policy; every field but `targets` is optional. */
export interface FallbackOptions {
  targets: FallbackTarget[];
  /**
   * The failures that fall back (default `["429", "5xx", "connection", "timeout"]`):
   * statuses, "5xx", "connection", "timeout". 400, 401 and 404 never fall back.
   */
  retryOn?: (string | number)[];
  /** Longest one fallback attempt may take (ms); default: the target SDK's own timeout. */
  attemptTimeoutMs?: number;
  /** Longest the fallbacks may take in all (ms); no attempt starts after it. */
  deadlineMs?: number;
  /** A target that cannot express the request: "raise" (default) `FallbackUnsupportedError`, or "skip" it. */
  onUnsupported?: "raise" | "skip";
}

/** `new OpenAI(opts, { fallback })`: a list of targets, or the targets with a policy. */
export type FallbackChainOption = FallbackTarget[] | FallbackOptions;

/** `response.costline` of an answer a fallback served (non-enumerable). */
export interface FallbackInfo {
  /** "provider/model" of the target that answered. */
  servedBy: string;
  /** Attempts made, the primary's included. */
  attempts: number;
  /** The served attempt's cost, a decimal string (a stream's: once it ended); null when unpriced. */
  costUsd: string | null;
  /** Shared by the events of every attempt of this call. */
  callId: string;
}

export interface Target {
  readonly provider: string;
  readonly client: unknown;
  readonly model: string;
}

/** A parsed chain: targets, and the policy in the core's option names. */
export interface Chain {
  readonly targets: readonly Target[];
  readonly policy: Record<string, unknown>;
}

const POLICY_KEYS = ["retryOn", "attemptTimeoutMs", "deadlineMs", "onUnsupported"] as const;

function positiveMs(name: string, value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new TypeError(`fallback option ${name} must be a positive number of milliseconds`);
  }
  return value / 1000;
}

/** `{ fallback }` of a drop-in's costline options, checked when the client is made. */
export function parseChain(value: unknown): Chain | undefined {
  if (value === undefined || value === null) return undefined;
  let list: unknown = value;
  const policy: Record<string, unknown> = {};
  if (!Array.isArray(value)) {
    if (typeof value !== "object") throw new TypeError("fallback takes a list of { provider, client, model } or { targets, ... }");
    const v = value as Record<string, unknown>;
    const unknown = Object.keys(v).filter((k) => k !== "targets" && !(POLICY_KEYS as readonly string[]).includes(k));
    if (unknown.length) throw new TypeError(`unknown fallback option(s) ${unknown.join(", ")} (targets, ${POLICY_KEYS.join(", ")})`);
    if (v.retryOn !== undefined) policy.retry_on = v.retryOn;
    const attempt = positiveMs("attemptTimeoutMs", v.attemptTimeoutMs);
    if (attempt !== undefined) policy.attempt_timeout_s = attempt;
    const deadline = positiveMs("deadlineMs", v.deadlineMs);
    if (deadline !== undefined) policy.deadline_s = deadline;
    if (v.onUnsupported !== undefined) policy.on_unsupported = v.onUnsupported;
    list = v.targets;
  }
  if (!Array.isArray(list) || !list.length) {
    throw new TypeError("fallback takes a non-empty list of { provider, client, model }");
  }
  const targets = list.map((item: unknown) => {
    const t = item as Partial<FallbackTarget> | null;
    if (!t || typeof t !== "object" || !("provider" in t) || !("client" in t) || !("model" in t)) {
      throw new TypeError("each fallback target is an object with provider, client and model");
    }
    const provider = t.provider === "gemini" ? "google" : t.provider;
    if (typeof provider !== "string" || !(provider in TARGET_OPERATIONS)) {
      throw new TypeError(`fallback provider ${JSON.stringify(t.provider)}: expected ${Object.keys(TARGET_OPERATIONS).join(", ")}`);
    }
    if (!t.client || typeof t.client !== "object") throw new TypeError(`fallback target ${provider}: client must be the provider SDK's client`);
    // Its own metering would record the attempt a second time, without callId.
    if (isMetered(t.client)) throw new TypeError("fallback targets take the provider SDK's own client, not a costline drop-in");
    if (typeof t.model !== "string" || !t.model) throw new TypeError("a fallback target's model must be a non-empty string");
    return { provider, client: t.client, model: t.model };
  });
  try {
    native.checkFallbackOptions(policy);
  } catch (err) {
    throw fromNative(err);
  }
  return { targets, policy };
}

/** The fallback's answer: the target's, translated into the caller's API. @internal */
export interface Served {
  readonly target: Target;
  /** The caller's response (non-stream), as its API's JSON; `costline` set on it. */
  readonly response?: Record<string, unknown>;
  /** The caller's chunks (stream), as its API's JSON; the target attempt is recorded when they end. */
  readonly chunks?: AsyncGenerator<Record<string, unknown>>;
  /** Updated in place when a stream's attempt is recorded. */
  readonly info: FallbackInfo;
}

/** @internal */
export interface Primary {
  /** The caller's API: openai, anthropic, google, mistral, bedrock. */
  readonly source: string;
  /** The failed call (not recorded yet): recorded here as attempt 1. */
  readonly started: Started;
  readonly error: unknown;
  /** The primary event's error type, when `error` is not the SDK's own error. */
  readonly errorType?: string;
  /** The caller's request, as its API's JSON. */
  readonly body: Record<string, unknown>;
  readonly stream: boolean;
  /** The caller's abort signal, if any: it aborts the fallback too. */
  readonly signal?: AbortSignal | null;
}

/** Define `costline` on `obj`, non-enumerable: JSON and equality stay the SDK's. @internal */
export function attachInfo(obj: object, info: FallbackInfo): void {
  Object.defineProperty(obj, "costline", { value: info, enumerable: false, configurable: true, writable: true });
}

/** An AbortSignal that fires when `ms` pass or `outer` aborts; `timedOut()` tells which. */
function attemptSignal(ms: number | undefined, outer: AbortSignal | null | undefined) {
  const controller = new AbortController();
  let timedOut = false;
  const timer =
    ms === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          controller.abort(new FallbackTimeoutError(`fallback attempt timed out after ${Math.round(ms)} ms`, "fallback_timeout"));
        }, Math.max(1, Math.ceil(ms)));
  const onOuter = () => controller.abort(outer?.reason);
  if (outer) {
    if (outer.aborted) controller.abort(outer.reason);
    else outer.addEventListener("abort", onOuter, { once: true });
  }
  return {
    signal: controller.signal,
    timedOut: () => timedOut,
    /** The caller's signal stopped the attempt. */
    abortedByCaller: () => !timedOut && controller.signal.aborted,
    /** The target answered: its stream is read without the clock (as a plain answer would be). */
    stopClock() {
      if (timer) clearTimeout(timer);
    },
    done() {
      if (timer) clearTimeout(timer);
      outer?.removeEventListener("abort", onOuter);
    },
  };
}

/**
 * The primary attempt failed with `primary.error`: walk `chain`. Resolves to
 * the first target's answer in the caller's shape; throws the primary's error
 * when it does not fall back, the last failure when every target failed,
 * `FallbackDeadlineError` (its `cause` the last failure) once the deadline
 * passed, `FallbackUnsupportedError` for a target that cannot express the
 * request (unless skipped), `BudgetExceededError` when every target left was
 * over a hard cap.
 * @internal
 */
export async function walkChain(primary: Primary, chain: Chain): Promise<Served> {
  const primaryError = primary.errorType ? undefined : primary.error;
  let last: unknown = primary.error;
  // The sequencing (next target, retry-on, attempt numbers and timeouts, the
  // deadline, budget skips, the served summary) is the core's, as in Python.
  let walk: NativeFallbackWalk;
  try {
    // The deadline counts from the primary's start, as in Python.
    const labels = chain.targets.map((t) => `${t.provider}/${t.model}`);
    walk = new native.FallbackWalk(chain.policy, labels, primary.started.elapsedMs());
  } catch (err) {
    primary.started.end(primaryError, primary.errorType);
    throw fromNative(err);
  }
  const failure = failureOf(last);
  if (!walk.primaryFailed(failure.kind, failure.status ?? null)) {
    // The caller's own error (a 400...): raised as it is, one event without call_id.
    primary.started.end(primaryError, primary.errorType);
    throw last;
  }
  const callId = walk.callId;
  primary.started.link(callId, 1);
  primary.started.end(primaryError, primary.errorType);
  // The first budget refusal: its figures go on the error when no target served.
  let firstSkip: BudgetExceededError | undefined;
  const includeUsage = includesUsage(primary.body);
  for (;;) {
    let step;
    try {
      step = walk.nextStep();
    } catch (err) {
      const mapped = fromNative(err);
      if (mapped instanceof FallbackDeadlineError) (mapped as Error & { cause?: unknown }).cause = last;
      throw mapped;
    }
    if (!step) break;
    const target = chain.targets[step.index];
    let request: Record<string, unknown>;
    try {
      request = native.translate("request", primary.source, target.provider, primary.body, { model: target.model }) as Record<
        string,
        unknown
      >;
    } catch (err) {
      const mapped = fromNative(err);
      if (mapped instanceof FallbackUnsupportedError && walk.unsupported()) continue;
      throw mapped;
    }
    const started = targetStarted(target, request, primary.stream, primary.started.captured);
    started.link(callId, step.number);
    try {
      // Budget-aware: the target's worst case is reserved before it is sent;
      // over a hard cap it is skipped (recorded as blocked), and the error says so.
      const reserving = reserve(started);
      if (reserving) await reserving;
    } catch (err) {
      if (err instanceof BudgetExceededError) {
        // This target's refusal, not the call's: the next one may fit, and
        // whether to go on is still decided by the last provider failure.
        walk.budgetSkipped(err.message);
        firstSkip ??= err;
        continue;
      }
      throw err;
    }
    const timer = attemptSignal(step.timeoutMs ?? undefined, primary.signal);
    let answer: TargetAnswer;
    try {
      answer = await callTarget(target, request, primary.stream, timer.signal);
    } catch (err) {
      const thrown = timer.timedOut() ? timeoutError(err, step.timeoutMs) : err;
      timer.done();
      started.end(thrown);
      last = thrown;
      const failed = timer.timedOut() ? { kind: "timeout", status: undefined } : failureOf(thrown);
      walk.failed(failed.kind, failed.status ?? null);
      if (primary.signal?.aborted) throw thrown;
      continue;
    }
    const served = walk.served();
    const info: FallbackInfo = { servedBy: served.served_by, attempts: served.attempts, costUsd: null, callId };
    const ctx = { model: target.model, include_usage: includeUsage };
    if (answer.events) {
      // Like Python's: the attempt's timeout bounds getting an answer; a stream
      // that started is read to its end (one that fails part-way does not fall back).
      timer.stopClock();
      const chunks = translateStream(primary.source, target, answer, started, info, ctx, timer);
      return { target, chunks, info };
    }
    timer.done();
    const data = answer.response as Record<string, unknown>;
    started.endWith(data);
    info.costUsd = started.cost ?? null;
    let response: Record<string, unknown>;
    try {
      response = native.translate("response", primary.source, target.provider, data, ctx) as Record<string, unknown>;
    } catch (err) {
      throw fromNative(err);
    }
    attachInfo(response, info);
    return { target, response, info };
  }
  const lastType = last instanceof Error ? last.constructor?.name || last.name : undefined;
  const skips = walk.exhausted(lastType ?? null);
  throw skips && firstSkip ? budgetSkipped(skips, firstSkip, last) : last;
}

/**
 * No target served and budgets skipped some: a `BudgetExceededError` naming
 * them (`skipped`, the core's message), with the first skip's figures and the
 * last provider failure as its `cause` (Python's `_Walk.exhausted`).
 */
function budgetSkipped(
  skips: { message: string; skipped: { target: string; reason: string }[] },
  first: BudgetExceededError,
  last: unknown,
): BudgetExceededError {
  const err = new BudgetExceededError({
    message: skips.message,
    scope: first.scope,
    period: first.period,
    limit_usd: first.limitUsd,
    spent_usd: first.spentUsd,
    reserved_usd: first.reservedUsd,
    attempted_usd: first.attemptedUsd,
    agent: first.agent,
    budget_name: first.budgetName,
    store_error: first.storeError,
  });
  err.skipped = skips.skipped;
  (err as Error & { cause?: unknown }).cause = last;
  return err;
}

function includesUsage(body: Record<string, unknown>): boolean {
  const so = body.stream_options as { include_usage?: unknown } | undefined | null;
  return !!so && so.include_usage === true;
}

function timeoutError(cause: unknown, ms: number | null | undefined): FallbackTimeoutError {
  const err = new FallbackTimeoutError(`fallback attempt timed out after ${Math.round(ms ?? 0)} ms`, "fallback_timeout");
  (err as Error & { cause?: unknown }).cause = cause;
  return err;
}

/**
 * The target's events, translated into the caller's chunks as they come; the
 * attempt is recorded when they end, fail, or the caller leaves (`return()`).
 */
async function* translateStream(
  source: string,
  target: Target,
  answer: TargetAnswer,
  started: TargetStarted,
  info: FallbackInfo,
  ctx: Record<string, unknown>,
  timer: { done(): void; timedOut(): boolean; abortedByCaller(): boolean },
): AsyncGenerator<Record<string, unknown>> {
  const translator = new native.FallbackStream(source, target.provider, ctx);
  const events = answer.events as AsyncIterator<Record<string, unknown>>;
  let error: unknown;
  let ended = false;
  try {
    for (;;) {
      const next = await events.next();
      // The caller's signal stopped it (its SDK ends the stream quietly): left, in `finally`.
      if (next.done && timer.abortedByCaller()) return;
      if (next.done) break;
      started.observe(next.value);
      let out: Record<string, unknown>[];
      try {
        out = translator.push(next.value) as Record<string, unknown>[];
      } catch (err) {
        throw fromNative(err);
      }
      for (const chunk of out) yield chunk;
    }
    ended = true;
    started.ended();
    info.costUsd = started.cost ?? null;
    let rest: Record<string, unknown>[];
    try {
      rest = translator.finish() as Record<string, unknown>[];
    } catch (err) {
      throw fromNative(err);
    }
    for (const chunk of rest) yield chunk;
  } catch (err) {
    // The caller's signal stopped it (the read failed with an AbortError): the
    // caller's SDK sees that error, the attempt is left (in `finally`), not failed.
    if (timer.abortedByCaller()) throw err;
    error = timer.timedOut() ? timeoutError(err, undefined) : err;
    throw error;
  } finally {
    timer.done();
    if (!ended) {
      if (error === undefined) {
        // The caller left before the end: not an error; close the target's stream.
        started.left();
        await events.return?.().catch(() => undefined);
      } else {
        started.end(error);
      }
      info.costUsd = started.cost ?? null;
    }
  }
}
