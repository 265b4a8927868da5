/**
 * Reading the ledger from inside the app: `report()`, `events()`, `status()`.
 * They read through the core's own SQLite (the one that writes the ledger),
 * first waiting (bounded) for calls recorded so far to reach it. Figures are
 * snake_case as in the wire format; costs are decimal strings.
 */

import { call, fromNative } from "./errors";
import { native } from "./binding";

export interface Figures {
  calls: number;
  errors: number;
  input_tokens: number;
  cached_input_tokens: number;
  output_tokens: number;
  /** Exact decimal string; null when no call of the group had a price. */
  cost_usd: string | null;
  unpriced_calls: number;
}

/** One row: the group's keys (`agent`, `model`, `tag:customer`...; null where a call had none) and its figures. */
export type ReportRow = Figures & Record<string, string | number | null>;

export interface Report {
  by: string[];
  since: string | null;
  rows: ReportRow[];
  totals: Figures;
}

export interface ReportOptions {
  /** Group by any of agent, model, provider, run, operation, day, tag:KEY. Default: model. */
  by?: string | string[];
  /** Calls since a duration back ("24h", "7d"), a date or a time (a Date or an RFC 3339 string). */
  since?: string | Date;
  /** Most time to wait for recorded calls to reach the ledger (ms). Default 5000. */
  timeoutMs?: number;
}

function sinceText(since: string | Date | undefined): string | null {
  if (since === undefined || since === null) return null;
  if (since instanceof Date) return since.toISOString();
  if (typeof since === "string") return since;
  throw new TypeError(`since must be a string or a Date, not ${typeof since}`);
}

function timeout(ms: number | undefined): number {
  return Math.max(0, Math.min(2 ** 31, Math.floor(ms ?? 5000)));
}

/** Spend in this process's ledger, grouped. */
export async function report(options: ReportOptions = {}): Promise<Report> {
  const by = options.by ?? ["model"];
  const keys = (typeof by === "string" ? by.split(",") : by).map((k) => k.trim()).filter(Boolean);
  const raw = await native.readReport(keys, sinceText(options.since), timeout(options.timeoutMs)).catch((e) => {
    throw fromNative(e);
  });
  const parsed = JSON.parse(raw) as { by: string[]; since: string | null; rows: Array<{ group: Record<string, string | null> } & Figures>; totals: Figures };
  return {
    by: parsed.by,
    since: parsed.since,
    rows: parsed.rows.map(({ group, ...figures }) => ({ ...group, ...figures })),
    totals: parsed.totals,
  };
}

export interface EventsOptions {
  since?: string | Date;
  limit?: number;
  timeoutMs?: number;
}

/** The ledger's events (wire format, `cost_usd` a decimal string or null), oldest first. */
export async function events(options: EventsOptions = {}): Promise<Record<string, unknown>[]> {
  if (options.limit !== undefined && (!Number.isInteger(options.limit) || options.limit < 0)) {
    throw new RangeError("limit must be an integer, 0 or more");
  }
  const raw = await native
    .readEvents(sinceText(options.since), options.limit ?? null, timeout(options.timeoutMs))
    .catch((e) => {
      throw fromNative(e);
    });
  return JSON.parse(raw);
}

/** Where this process's events go and what its pipeline has done. */
export function status(): Record<string, unknown> {
  return JSON.parse(call(() => native.status()));
}
