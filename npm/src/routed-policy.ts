/**
 * The fallback policy of a routed call: which failures move it on to the
 * next candidate, the per-attempt timeout and the total deadline. The same
 * options as a drop-in's fallback chain (Python's `retry_on`,
 * `attempt_timeout_s`, `deadline_s`, `on_unsupported`, in camelCase and ms).
 */

import type { Failure } from "./routed-send";

export interface FallbackOptions {
  /** What falls back: statuses ("429", 503...), "5xx", "connection", "timeout". Default all four kinds. 400, 401 and 404 never do. */
  retryOn?: (string | number)[];
  /** Longest one attempt may take (ms). Default: the SDK's own timeout. */
  attemptTimeoutMs?: number;
  /** Longest the whole call may take across attempts (ms); no attempt starts after it. */
  deadlineMs?: number;
}

const NEVER = new Set([400, 401, 404]);
const KNOWN = new Set(["retryOn", "attemptTimeoutMs", "deadlineMs"]);

function positive(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) throw new TypeError(`fallback.${name} must be a positive number of ms`);
  return value;
}

export class FallbackRules {
  private readonly statuses = new Set<number>();
  private any5xx = false;
  private connection = false;
  private timeout = false;
  readonly attemptTimeoutMs: number | undefined;
  readonly deadlineMs: number | undefined;

  constructor(options: FallbackOptions) {
    if (!options || typeof options !== "object") throw new TypeError("fallback takes true, false or { retryOn, attemptTimeoutMs, deadlineMs }");
    const unknown = Object.keys(options).filter((k) => !KNOWN.has(k));
    if (unknown.length) throw new TypeError(`unknown fallback option(s) ${unknown.join(", ")}; known: ${[...KNOWN].join(", ")}`);
    for (const item of options.retryOn ?? ["429", "5xx", "connection", "timeout"]) {
      const text = String(item);
      if (text === "5xx") this.any5xx = true;
      else if (text === "connection") this.connection = true;
      else if (text === "timeout") this.timeout = true;
      else if (/^\d{3}$/.test(text)) {
        const status = Number(text);
        if (NEVER.has(status)) throw new TypeError(`fallback.retryOn: ${status} is the caller's error and never falls back`);
        this.statuses.add(status);
      } else throw new TypeError(`fallback.retryOn: ${JSON.stringify(item)} is not a status, "5xx", "connection" or "timeout"`);
    }
    this.attemptTimeoutMs = positive("attemptTimeoutMs", options.attemptTimeoutMs);
    this.deadlineMs = positive("deadlineMs", options.deadlineMs);
  }

  fallsBack(failure: Failure): boolean {
    switch (failure.kind) {
      case "status": {
        const s = failure.status ?? 0;
        if (NEVER.has(s)) return false;
        return this.statuses.has(s) || (this.any5xx && s >= 500 && s < 600);
      }
      case "connection":
        return this.connection;
      case "timeout":
        return this.timeout;
      default:
        return false;
    }
  }

  /** The next attempt's timeout: its own, cut to what the deadline leaves. */
  attemptTimeout(deadline: number | undefined): number | undefined {
    const left = deadline === undefined ? undefined : Math.max(1, Math.round(deadline - performance.now()));
    if (left === undefined) return this.attemptTimeoutMs;
    return this.attemptTimeoutMs === undefined ? left : Math.min(left, this.attemptTimeoutMs);
  }
}
