/**
 * The fallback options of the routed client, in camelCase and ms, as the
 * core's policy takes them (`retry_on`, `attempt_timeout_s`, `deadline_s`:
 * the names of a drop-in's fallback chain in Python). The policy itself
 * (which failures fall back, the per-attempt timeout cut to the deadline,
 * `call_id` and attempt numbers) is the core's (`RoutedWalk`).
 */

import { native } from "./binding";
import { call } from "./errors";

export interface RoutedFallbackOptions {
  /** What falls back: statuses ("429", 503...), "5xx", "connection", "timeout". Default all of 429, 5xx, connection, timeout. 400, 401 and 404 never do. */
  retryOn?: (string | number)[];
  /** Longest one attempt may take (ms). Default: the SDK's own timeout. */
  attemptTimeoutMs?: number;
  /** Longest the whole call may take across attempts (ms); no attempt starts after it. */
  deadlineMs?: number;
}

const KEYS: Record<keyof RoutedFallbackOptions, string> = {
  retryOn: "retry_on",
  attemptTimeoutMs: "attempt_timeout_s",
  deadlineMs: "deadline_s",
};

/** `fallback` as the core's policy options (checked: a bad value throws `ConfigError`); null: one attempt. */
export function fallbackPolicy(value: boolean | RoutedFallbackOptions | null | undefined): Record<string, unknown> | null {
  if (value === false || value === null) return null;
  if (value === true || value === undefined) return {};
  if (typeof value !== "object" || Array.isArray(value)) throw new TypeError("fallback takes true, false or { retryOn, attemptTimeoutMs, deadlineMs }");
  const out: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(value)) {
    const key = KEYS[name as keyof RoutedFallbackOptions];
    if (!key) throw new TypeError(`unknown fallback option(s) ${name}; known: ${Object.keys(KEYS).join(", ")}`);
    if (v === undefined) continue;
    if (name === "retryOn") out[key] = Array.isArray(v) ? v.map((x) => (typeof x === "number" ? String(x) : x)) : v;
    else out[key] = typeof v === "number" ? v / 1000 : v;
  }
  call(() => native.checkFallbackOptions(out));
  return out;
}
