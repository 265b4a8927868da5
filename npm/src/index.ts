/**
 * costline: the exact cost of every LLM call, attributed and recorded
 * in-process. Drop-in clients live in `costline/openai`,
 * `costline/anthropic`, `costline/google` and `costline/mistral`; this module
 * is the rest of the API.
 */

import { call, ConfigError, fromNative, fromReport, type CostlineError } from "./errors";
import { attachState, clientCreated, DEFAULT_PROVIDER, hookClient, type CostlineClientOptions } from "./hook";
import { meterBedrock } from "./bedrockhook";
import { installGoogle } from "./gemini";
import { installMistral } from "./mistralai";
import { native } from "./binding";
import { report as reportFault, setBudgetsOn, setDisabled, setExitTimeout } from "./runtime";
import { capture } from "./context";

export { run, withAgent, currentRun, Run, type RunOptions } from "./context";
export {
  BudgetExceededError,
  CostlineError,
  RoutingError,
  PricesError,
  InvalidEventError,
  UsageError,
  ConfigError,
  LedgerError,
  ExportError,
  FallbackUnsupportedError,
  FallbackDeadlineError,
  FallbackTimeoutError,
} from "./errors";
export type { FallbackTarget, FallbackOptions, FallbackChainOption, FallbackInfo, FallbackProvider } from "./fallback";
export { report, events, status, type Report, type ReportRow, type ReportOptions, type Figures, type EventsOptions } from "./ledger";
export type { CostlineClientOptions } from "./hook";
export { Costline } from "./costline";
export type {
  CostlineOptions,
  ProviderName,
  RoutingMetadata,
  RoutedInfo,
  RoutedRequest,
  RoutedCallOptions,
  RoutedCompletion,
  RoutedStream,
  RoutedFallbackOptions,
  Prefer,
  RoutingOptions,
  CandidateSpec,
  CandidateRow,
  Decision,
  Router,
  RouterSummary,
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionMessage,
  ChatCompletionToolCall,
  CompletionUsage,
} from "./costline";

export const VERSION: string = native.version();


export interface ConfigureOptions {
  /** Path of the SQLite ledger, or "off". */
  ledger?: string;
  /** A collector to post events to (`{baseUrl}/v1/events`), and its key. */
  baseUrl?: string;
  apiKey?: string;
  otlpEndpoint?: string;
  /** A price file (path; "" for none) or an inline price table, over the catalog. */
  prices?: string | Record<string, unknown>;
  /** Process tags: the outermost layer of every event's tags. */
  tags?: Record<string, unknown>;
  /** Per-attempt timeout of an export request (ms). */
  timeoutMs?: number;
  /** Waits between export retries (ms); the last repeats. */
  backoffMs?: number[];
  maxConcurrent?: number;
  queueSize?: number;
  batchSize?: number;
  /** Deadline of the flush at process exit (ms). Default 2000. */
  exitTimeoutMs?: number;
  /** Make every drop-in a plain client. */
  disabled?: boolean;
  /** Extra CA certificates (PEM file) trusted for the collector. */
  caBundle?: string;
  /**
   * Called (on the main thread, soon after) with each error met while
   * delivering events: an `ExportError` (with `status` when the collector
   * answered) or a `LedgerError`, and the event concerned when there is one.
   * What it throws is logged once, never propagated. `null` removes it.
   */
  onError?: ((error: CostlineError, event?: Record<string, unknown>) => void) | null;
  /** Spend caps, checked before each call is sent (see `Budget`). Replaces the budgets set before. */
  budgets?: Budget[];
  /** Called once per budget period at each alert threshold (75% and 90% by default). */
  onBudgetAlert?: ((alert: BudgetAlert) => void) | null;
  /** When the budget store (Redis) is unreachable: "open" (default: allow, warn once) or "closed" (block). */
  budgetFailMode?: "open" | "closed";
  /** Where budget counters live: "memory", "ledger" (shared by the processes on this machine) or "redis". */
  budgetStore?: "memory" | "ledger" | "redis";
  /** The Redis server for a fleet's budgets (also COSTLINE_REDIS_URL). */
  redisUrl?: string;
}

/** A spend cap. Amounts are decimal strings. */
export interface Budget {
  limitUsd: string | number;
  /** run, hour, day, month (calendar, in `timezone`) or total. Default month. */
  period?: "run" | "hour" | "day" | "month" | "total";
  /** Only this agent's calls. */
  agent?: string;
  /** Only calls carrying all these tags. */
  tags?: Record<string, string>;
  /** block (default): refuse the call before sending. warn: let it through, alert. */
  action?: "block" | "warn";
  name?: string;
  /** "UTC" (default), a fixed offset such as "+02:00", or an IANA zone such as "Europe/Paris". */
  timezone?: string;
  /** Percentages of the limit at which `onBudgetAlert` fires. Default [75, 90]. */
  alerts?: number[];
  /**
   * Meter streams as their output arrives: a stream reserves its prompt and a
   * first step of output, and is stopped with `BudgetExceededError` before its
   * running cost passes the cap. Off: a stream reserves its worst case.
   */
  enforceStream?: boolean;
}

/** What `onBudgetAlert` receives. Amounts are decimal strings. */
export interface BudgetAlert {
  message: string;
  budgetName: string;
  scope: string;
  period: string;
  periodLabel: string;
  thresholdPercent: number;
  limitUsd: string;
  spentUsd: string;
  action: string;
  agent: string | null;
  /** A warn budget let through a call that passed its limit. */
  exceeded: boolean;
}

const BUDGET_KEYS: Record<keyof Budget, string> = {
  limitUsd: "limit_usd",
  period: "period",
  agent: "agent",
  tags: "tags",
  action: "action",
  name: "name",
  timezone: "timezone",
  alerts: "alerts",
  enforceStream: "enforce_stream",
};

function budgetJson(budgets: Budget[]): string {
  if (!Array.isArray(budgets)) throw new ConfigError("budgets must be an array of budgets", "config");
  return JSON.stringify(
    budgets.map((b, i) => {
      const out: Record<string, unknown> = {};
      for (const [name, value] of Object.entries(b ?? {})) {
        const key = BUDGET_KEYS[name as keyof Budget];
        if (!key) throw new ConfigError(`budgets[${i}]: unknown field ${name}; known: ${Object.keys(BUDGET_KEYS).join(", ")}`, "config");
        if (value !== undefined) out[key] = name === "limitUsd" ? String(value) : value;
      }
      return out;
    }),
  );
}

function configureBudgets(options: ConfigureOptions): void {
  const { budgets, onBudgetAlert, budgetFailMode, budgetStore, redisUrl } = options;
  if (onBudgetAlert !== undefined && onBudgetAlert !== null && typeof onBudgetAlert !== "function") {
    throw new TypeError("onBudgetAlert must be a function (or null to remove it)");
  }
  if (budgets !== undefined || budgetFailMode !== undefined || budgetStore !== undefined || redisUrl !== undefined) {
    call(() =>
      native.configureBudgets(budgets === undefined ? null : budgetJson(budgets), budgetFailMode ?? null, budgetStore ?? null, redisUrl ?? null),
    );
  }
  if (onBudgetAlert !== undefined) {
    if (!onBudgetAlert) native.setBudgetAlertHook(null);
    else
      native.setBudgetAlertHook((json: string) => {
        try {
          const a = JSON.parse(json);
          onBudgetAlert({
            message: a.message,
            budgetName: a.budget_name,
            scope: a.scope,
            period: a.period,
            periodLabel: a.period_label,
            thresholdPercent: a.threshold_percent,
            limitUsd: a.limit_usd,
            spentUsd: a.spent_usd,
            action: a.action,
            agent: a.agent ?? null,
            exceeded: a.exceeded,
          });
        } catch (err) {
          reportFault("onBudgetAlert", err);
        }
      });
  }
  setBudgetsOn(native.budgetsActive());
}

/** Each budget's period, limit, spent, reserved and remaining (decimal strings), as `costline budgets` shows them. */
export function budgetStatus(): Record<string, unknown>[] {
  return JSON.parse(call(() => native.budgetStatus()));
}

type BudgetOptions = "budgets" | "onBudgetAlert" | "budgetFailMode" | "budgetStore" | "redisUrl";

const KEYS: Record<Exclude<keyof ConfigureOptions, "onError" | BudgetOptions>, string> = {
  ledger: "ledger",
  baseUrl: "base_url",
  apiKey: "api_key",
  otlpEndpoint: "otlp_endpoint",
  prices: "prices",
  tags: "tags",
  timeoutMs: "timeout_s",
  backoffMs: "backoff_s",
  maxConcurrent: "max_concurrent",
  queueSize: "queue_size",
  batchSize: "batch_size",
  exitTimeoutMs: "exit_timeout_s",
  disabled: "disabled",
  caBundle: "ca_bundle",
};

const seconds = (ms: unknown) => (typeof ms === "number" ? ms / 1000 : ms);

/**
 * Settings in code, over the `COSTLINE_*` environment (code wins; a later
 * call keeps what an earlier one set). A bad value throws `ConfigError` (or
 * `PricesError`) and changes nothing.
 */
export function configure(options: ConfigureOptions = {}): void {
  const { onError, budgets, onBudgetAlert, budgetFailMode, budgetStore, redisUrl, ...settings } = options;
  if (onError !== undefined && onError !== null && typeof onError !== "function") {
    throw new TypeError("onError must be a function (or null to remove it)");
  }
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(settings)) {
    if (value === undefined) continue;
    const key = KEYS[name as keyof typeof KEYS];
    if (!key) throw new ConfigError(`unknown setting ${name}; known: ${Object.keys(KEYS).join(", ")}, onError`, "config");
    if (name === "tags") {
      const tags: Record<string, string> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) tags[k] = String(v);
      out[key] = tags;
    } else if (name === "timeoutMs" || name === "exitTimeoutMs") {
      out[key] = seconds(value);
    } else if (name === "backoffMs") {
      out[key] = Array.isArray(value) ? value.map(seconds) : value;
    } else {
      out[key] = value;
    }
  }
  call(() => native.configure(JSON.stringify(out)));
  if (onError !== undefined) setErrorHook(onError);
  configureBudgets({ budgets, onBudgetAlert, budgetFailMode, budgetStore, redisUrl });
  if (options.disabled !== undefined) setDisabled(options.disabled);
  if (typeof options.exitTimeoutMs === "number") setExitTimeout(options.exitTimeoutMs);
}

function setErrorHook(handler: ConfigureOptions["onError"]): void {
  if (!handler) {
    native.setErrorHook(null);
    return;
  }
  // The addon passes [errorJson, eventJson] as one array.
  native.setErrorHook((first: unknown, second?: unknown) => {
    const [errorJson, eventJson] = (Array.isArray(first) ? first : [first, second]) as [string, string | null];
    try {
      handler(fromReport(JSON.parse(errorJson)), eventJson ? JSON.parse(eventJson) : undefined);
    } catch (err) {
      reportFault("onError", err);
    }
  });
}

/** The settings in force (secrets masked). */
export function settings(): Record<string, unknown> {
  return JSON.parse(call(() => native.settings()));
}

/** Wait until everything recorded so far is handled (ledger, collector), at most `timeoutMs`. Never blocks the event loop. */
export function flush(timeoutMs = 5000): Promise<boolean> {
  return native.flush(Math.max(0, Math.floor(timeoutMs))).catch((e) => {
    throw fromNative(e);
  });
}

/** Flush, then stop the background threads. Idempotent; later events start them again. */
export function shutdown(timeoutMs = 5000): Promise<boolean> {
  return native.shutdown(Math.max(0, Math.floor(timeoutMs))).catch((e) => {
    throw fromNative(e);
  });
}

/** Counters of this process's pipeline: enqueued, written, exported, dropped, failedBatches, pendingExport. */
export function stats(): Record<string, number> {
  return native.stats();
}

export interface CostInput {
  model: string;
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens?: number;
  cacheWriteInputTokens?: number;
  reasoningTokens?: number;
  provider?: string;
}

/** The exact cost of a call as a decimal string, or null when the model has no price. */
export function cost(input: CostInput): string | null {
  if (input === null || typeof input !== "object") throw new TypeError("cost() takes { model, inputTokens, outputTokens, ... }");
  const { model, inputTokens, outputTokens, cachedInputTokens, cacheWriteInputTokens, reasoningTokens, provider } = input;
  return (
    call(() =>
      native.cost(model, inputTokens, outputTokens, cachedInputTokens, cacheWriteInputTokens, reasoningTokens, provider),
    ) ?? null
  );
}

/** Tokens in `text` for `model` (exact for OpenAI models; an estimate for others). */
export function countTokens(text: string, model = "gpt-4o"): number {
  if (typeof text !== "string") throw new TypeError("countTokens() takes a string");
  return call(() => native.countTokens(text, model));
}

export interface TrackInput {
  provider: string;
  model: string;
  operation?: string;
  inputTokens?: number;
  outputTokens?: number;
  cachedInputTokens?: number;
  cacheWriteInputTokens?: number;
  reasoningTokens?: number;
  latencyMs?: number;
  stream?: boolean;
  status?: "ok" | "error" | "blocked";
  errorType?: string;
  resolvedModel?: string;
  /** Per-call agent (a sub-agent inside a run). */
  agent?: string;
  tags?: Record<string, unknown>;
}

/**
 * Record a call no drop-in made (another SDK, a raw HTTP call). Attributed
 * like a drop-in's call. Bad numbers throw `InvalidEventError`.
 */
export function track(input: TrackInput): { eventId: string; costUsd: string | null } {
  const { agent, tags, ...rest } = input;
  const own: Record<string, string> = {};
  for (const [k, v] of Object.entries(tags ?? {})) own[k] = String(v);
  const captured = capture(agent, {});
  const base = captured.attribution ?? {};
  const attribution = {
    ...base,
    tags: Object.keys(own).length ? native.mergeTags([base.tags ?? {}, own]) : base.tags,
  };
  clientCreated();
  const tracked = call(() => native.track(rest as Record<string, unknown>, attribution));
  const costUsd = tracked.costUsd ?? null;
  captured.settle(costUsd);
  return { eventId: tracked.eventId, costUsd };
}

/**
 * Meter a client built elsewhere, in place: an `openai` `OpenAI`/`AzureOpenAI`,
 * an `@anthropic-ai/sdk` `Anthropic`, a `@google/genai` `GoogleGenAI`, a
 * `@mistralai/mistralai` `Mistral`, or an `@aws-sdk/client-bedrock-runtime`
 * `BedrockRuntimeClient`/`BedrockRuntime`. Returns the same client. `provider`
 * names the provider its calls are recorded (and priced) under, as in a
 * drop-in's costline options (an OpenAI client pointed at a compatible
 * service); for a client of another class it names the SDK whose requests it sends.
 */
export function instrument<C extends object>(client: C, options?: CostlineClientOptions): C {
  const sdk = sdkOf(client) ?? (options?.provider === "bedrock" ? "bedrock" : undefined);
  if (sdk === undefined && !options?.provider) {
    throw new TypeError(
      "instrument() takes an OpenAI, AzureOpenAI, Anthropic, GoogleGenAI, Mistral, BedrockRuntimeClient or BedrockRuntime client (or pass { provider })",
    );
  }
  if (sdk === "bedrock") {
    // AWS SDK clients are metered through their middleware stack, not makeRequest().
    const { provider: _given, ...rest } = options ?? {};
    return meterBedrock(client, rest);
  } else if (sdk === "google") {
    installGoogle(client, options);
  } else if (sdk === "mistral") {
    installMistral(client, options);
  } else if (sdk === undefined) {
    const { provider, ...rest } = options ?? {};
    hookClient(client, provider as string);
    attachState(client, provider as string, rest);
  } else {
    hookClient(client, sdk);
    attachState(client, sdk, options);
    if (isAzure(client)) Object.defineProperty(client, DEFAULT_PROVIDER, { value: "azure", configurable: true });
  }
  return client;
}

function classNames(client: object): string[] {
  const names: string[] = [];
  for (let proto = Object.getPrototypeOf(client); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    const name = (proto.constructor as { name?: string } | undefined)?.name;
    if (name) names.push(name);
  }
  return names;
}

function isAzure(client: object): boolean {
  return classNames(client).includes("AzureOpenAI");
}

/**
 * The SDK of a client, from its class chain (works for the CommonJS and the
 * ES module builds of each SDK alike), or undefined.
 */
function sdkOf(client: object): string | undefined {
  for (const name of classNames(client)) {
    if (name === "OpenAI" || name === "AzureOpenAI") return "openai";
    if (name === "Anthropic") return "anthropic";
    if (name === "GoogleGenAI") return "google";
    if (name === "Mistral") return "mistral";
    if (name === "BedrockRuntimeClient" || name === "BedrockRuntime") return "bedrock";
  }
  return undefined;
}
