/**
 * costline's errors. Instrumentation never throws into an app's provider
 * calls; these come only from costline's own API (`configure`, `track`,
 * `cost`, `report`, ...), and say what was wrong.
 */

export class CostlineError extends Error {
  /**
   * The kind of error: prices, invalid_event, config, ledger, export, usage,
   * cli, internal, budget_exceeded, or a routing code (over_max_cost, ...).
   */
  readonly code: string;
  /** What the caller needs to act on it (a routing error's candidates and costs...); `{}` when nothing more. */
  readonly details: Record<string, unknown>;
  /** The provider's request id, when a provider answered; else null. */
  readonly requestId: string | null;
  constructor(message: string, code = "internal", details: Record<string, unknown> = {}, requestId: string | null = null) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
    this.requestId = requestId;
  }
}

/**
 * The routed client (`Costline`) could not route a request; nothing was
 * sent. `code`: invalid_input, no_candidates, no_priced_candidate,
 * over_max_cost (details: max_cost_usd, cheapest_model, cheapest_cost_usd,
 * candidates), no_client (no client for the provider of the model asked
 * for), router (the user's router failed or answered a model outside the
 * candidates).
 */
export class RoutingError extends CostlineError {}

/** A price file or inline price table could not be read or is malformed. */
export class PricesError extends CostlineError {}
/** A `track()` call or an event failed validation (bad numbers, bad status). */
export class InvalidEventError extends CostlineError {}
/** A usage payload had an unexpected shape. */
export class UsageError extends CostlineError {}
/** A bad setting (`configure` or a `COSTLINE_*` variable). */
export class ConfigError extends CostlineError {}
/** The ledger could not be opened, read or written. */
export class LedgerError extends CostlineError {}
/** Events could not be delivered to the collector (given to `onError`, never thrown). */
export class ExportError extends CostlineError {}

function withoutMessage(details: Record<string, string | null>): Record<string, unknown> {
  const { message: _message, ...rest } = details;
  return rest;
}

/**
 * A call would pass a budget's hard cap: nothing was sent (the call is
 * recorded with `status: "blocked"`). Amounts are decimal strings.
 */
export class BudgetExceededError extends CostlineError {
  /** global, agent, run or tags. */
  readonly scope: string;
  /** run, hour, day, month or total. */
  readonly period: string;
  readonly limitUsd: string;
  readonly spentUsd: string;
  /** Held by calls in flight. */
  readonly reservedUsd: string;
  /** This call's worst case. */
  readonly attemptedUsd: string;
  readonly agent: string | null;
  readonly budgetName: string;
  /** Set when the budget store was unreachable and `budgetFailMode` is closed. */
  readonly storeError: string | null;
  /** A fallback chain whose targets budgets skipped: each one, "provider/model", and why. */
  skipped?: { target: string; reason: string }[];

  /** @internal */
  constructor(details: Record<string, string | null>) {
    super(details.message ?? "budget exceeded", "budget_exceeded", withoutMessage(details));
    this.scope = details.scope ?? "";
    this.period = details.period ?? "";
    this.limitUsd = details.limit_usd ?? "";
    this.spentUsd = details.spent_usd ?? "";
    this.reservedUsd = details.reserved_usd ?? "";
    this.attemptedUsd = details.attempted_usd ?? "";
    this.agent = details.agent ?? null;
    this.budgetName = details.budget_name ?? "";
    this.storeError = details.store_error ?? null;
  }
}

/**
 * A fallback target cannot express a feature of the request (`feature`, e.g.
 * "logprobs"; `target`, the provider). Never silent: raised, or the target
 * skipped with `onUnsupported: "skip"`.
 */
export class FallbackUnsupportedError extends CostlineError {
  readonly feature: string;
  readonly target: string;

  /** @internal */
  constructor(details: Record<string, string | null>) {
    super(details.message ?? "fallback target cannot express the request", "fallback_unsupported");
    this.feature = details.feature ?? "";
    this.target = details.target ?? "";
  }
}

/** A fallback chain's total deadline passed before another attempt could start; `cause` is the last failure. */
export class FallbackDeadlineError extends CostlineError {}

/** A fallback attempt did not answer within its timeout (`attemptTimeoutMs`, cut to what the deadline left). */
export class FallbackTimeoutError extends CostlineError {}

const CLASSES: Record<string, typeof CostlineError> = {
  prices: PricesError,
  invalid_event: InvalidEventError,
  usage: UsageError,
  config: ConfigError,
  ledger: LedgerError,
  export: ExportError,
  fallback_deadline: FallbackDeadlineError,
};

const PREFIX = /^costline:([a-z_]+): /;

/** The addon's error (its message starts `costline:<code>: `) as costline's class. @internal */
export function fromNative(err: unknown): Error {
  if (!(err instanceof Error)) return new CostlineError(String(err));
  const match = PREFIX.exec(err.message);
  if (!match) return err;
  const code = match[1];
  const message = err.message.slice(match[0].length);
  if (code === "budget_exceeded") {
    try {
      return new BudgetExceededError(JSON.parse(message));
    } catch {
      return new BudgetExceededError({ message });
    }
  }
  if (code === "fallback_unsupported") {
    try {
      return new FallbackUnsupportedError(JSON.parse(message));
    } catch {
      return new FallbackUnsupportedError({ message });
    }
  }
  const Class = CLASSES[code] ?? CostlineError;
  return new Class(message, code);
}

/** An error the core reported as `{ code, message, status }` (the `onError` hook). @internal */
export function fromReport(report: { code: string; message: string; status?: number | null }): CostlineError {
  const Class = CLASSES[report.code] ?? CostlineError;
  const err = new Class(report.message, report.code);
  if (report.status !== undefined && report.status !== null) (err as CostlineError & { status?: number }).status = report.status;
  return err;
}

/** Run a native call, mapping its error to costline's classes. @internal */
export function call<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw fromNative(err);
  }
}
