/**
 * The addon (bindings-node/, built by napi-rs). `native.js` is napi-rs's
 * loader: it loads the `.node` file beside it, else the per-platform package
 * (`costline-linux-x64-gnu`, ...), and says what is missing otherwise.
 */

export interface Attribution {
  runId?: string;
  agent?: string;
  agentPath?: string[];
  tags?: Record<string, string>;
  baseTags?: Record<string, string>;
  /** A fallback chain's shared id, and this attempt's number (1: the primary). */
  callId?: string;
  attempt?: number;
}

/** A body meter's handle: the addon keeps the meter until `meterFinish` or `meterClose` (bindings-node/src/meter.rs). */
export type NativeMeter = number;

/** One Bedrock call's usage, handed over as the AWS SDK parsed it (bindings-node/src/bedrock.rs). */
export interface NativeBedrockUsage {
  converse(usage: unknown): void;
  invoke(body: Uint8Array, headers?: Record<string, string>): boolean;
  invokeChunk(bytes: Uint8Array): boolean;
  finish(
    responded: boolean,
    complete: boolean,
    latencyMs: number,
    errorType: string | undefined,
    outputText: string | undefined,
    attribution: Attribution | undefined,
    request: unknown,
    needCost: boolean,
    reservation?: NativeReservation,
  ): string | null | undefined;
}

/** What a reservation is asked for: the call, and the run caps in force. */
export type ReserveArgs = [
  provider: string,
  operation: string,
  model: string,
  request: unknown,
  stream: boolean,
  attribution: Attribution | undefined,
  caps: { id: string; limitUsd: string }[],
  /** The request as JSON text, in place of `request` (far cheaper to pass). */
  requestJson?: string,
];

/** A reservation's handle: the addon keeps the reservation until the call settles or releases it. */
export type NativeReservation = number;

/** Translates one target stream into the source's chunks (bindings-node/src/translate.rs). */
export interface NativeFallbackStream {
  push(event: unknown): unknown[];
  finish(): unknown[];
}

/** A drop-in's fallback chain, walked by the core (`fallback::ChainWalk`). */
export interface NativeFallbackWalk {
  readonly callId: string;
  readonly attempts: number;
  /** true: the primary is attempt 1 of the chain; false: throw its error as it is. */
  primaryFailed(kind: string, status: number | undefined | null): boolean;
  /** The next target, or null; throws `costline:fallback_deadline: ...` once the deadline passed. */
  nextStep(): { index: number; number: number; timeoutMs?: number | null } | null;
  unsupported(): boolean;
  budgetSkipped(reason: string): void;
  failed(kind: string, status: number | undefined | null): void;
  served(): { served_by: string; attempts: number; call_id: string };
  exhausted(lastType?: string | null): { message: string; skipped: { target: string; reason: string }[] } | null;
}

/** One call through the routed client: the core's walk over candidates (`routing::Walk`). */
export interface NativeRoutedWalk {
  /** The first decision as JSON text ("auto"); null for a model the caller named. */
  readonly decision: string | null;
  readonly callId: string;
  readonly attempts: number;
  readonly tried: string[];
  /** The next pick as JSON text `{ provider, model, decision }`; null when none is left. */
  next(): string | null;
  routerRows(): string;
  /** Throws `costline:routing: {code: "invalid_router_pick", ...}`. */
  choose(model: string): string;
  unsupported(): boolean;
  beginAttempt(): { number: number; timeoutMs?: number | null };
  failed(kind: string, status: number | undefined | null): void;
  info(): Record<string, unknown>;
  failure(errorType: string, message: string, status: number | undefined | null): { message: string; details: Record<string, unknown> };
}

export interface NativeBinding {
  version(): string;
  meterOpen(provider: string, operation: string, model: string, stream: boolean, hideUsage: boolean): NativeMeter;
  meterEnforce(meter: NativeMeter, reservation: NativeReservation): boolean;
  meterFeed(meter: NativeMeter, chunk: Uint8Array): Uint8Array | null | undefined;
  meterTail(meter: NativeMeter): Uint8Array | null | undefined;
  /** The reader left before the body's end. */
  meterAbandon(meter: NativeMeter): void;
  meterFinish(
    meter: NativeMeter,
    latencyMs: number,
    errorType: string | undefined,
    attribution: Attribution | undefined,
    request: unknown,
    needCost: boolean,
    reservation?: NativeReservation,
  ): string | null | undefined;
  /** Drop a meter without recording (its call was refused before sending). */
  meterClose(meter: NativeMeter): void;
  /** Meters held: what tests read to see that calls leave none behind. */
  metersOpen(): number;
  recordText(
    provider: string,
    operation: string,
    model: string,
    stream: boolean,
    latencyMs: number,
    errorType: string | undefined,
    text: string | undefined,
    attribution: Attribution | undefined,
    request: unknown,
    needCost: boolean,
    reservation?: NativeReservation,
  ): string | null | undefined;
  /** `total + cost`, exact decimal strings; null when `cost` is not a decimal. */
  decimalSum(total: string, cost: string): string | null | undefined;
  track(input: Record<string, unknown>, attribution?: Attribution): { eventId: string; costUsd?: string | null };
  previewEvent(provider: string, operation: string, model: string, resolvedModel: string | null, partsJson: string): string;
  previewBodyEvent(provider: string, operation: string, model: string, stream: boolean, body: string): string;
  mergeTags(layers: Record<string, string>[]): Record<string, string>;
  cost(
    model: string,
    inputTokens: number,
    outputTokens: number,
    cachedInputTokens?: number,
    cacheWriteInputTokens?: number,
    reasoningTokens?: number,
    provider?: string,
  ): string | null | undefined;
  countTokens(text: string, model: string): number;
  operationForPath(provider: string, path: string): string | null | undefined;
  providerForBaseUrl(baseUrl: string): string | null | undefined;
  modelForPath(provider: string, path: string): string | null | undefined;
  bedrockRoute(path: string): { operation: string; model: string; stream: boolean } | null | undefined;
  BedrockUsage: new (operation: string, model: string, stream: boolean) => NativeBedrockUsage;
  priceKey(provider: string, model: string): string | null | undefined;
  catalogVersion(): string;
  prewarm(): void;
  newId(): string;
  configure(settingsJson: string): void;
  configureBudgets(budgetsJson: string | null, failMode: string | null, store: string | null, redisUrl: string | null): void;
  budgetsActive(): boolean;
  budgetReserve(...args: ReserveArgs): NativeReservation | null | undefined;
  /** `budgetReserve` on the libuv thread pool, for a store that may wait (ledger, Redis). */
  budgetReserveAsync(...args: ReserveArgs): Promise<NativeReservation | null | undefined>;
  budgetStoreWaits(): boolean;
  /** The store may wait long now (slow or failing, or not heard from yet): reserve off the event loop. */
  budgetReserveMayWait(): boolean;
  budgetRelease(reservation: NativeReservation): void;
  /** What a reservation holds, in USD (null once settled or released). */
  budgetReservedUsd(reservation: NativeReservation): string | null | undefined;
  budgetForgetRun(runId: string, caps: string[]): void;
  budgetStatus(): string;
  setBudgetAlertHook(dispatch: ((alertJson: string) => void) | null): void;
  setErrorHook(dispatch: ((args: unknown, more?: unknown) => void) | null | undefined): void;
  settings(): string;
  disabledFromEnv(): boolean;
  readReport(by: string[], since: string | null, timeoutMs: number): Promise<string>;
  readEvents(since: string | null, limit: number | null, timeoutMs: number): Promise<string>;
  status(): string;
  flush(timeoutMs: number): Promise<boolean>;
  shutdown(timeoutMs: number): Promise<boolean>;
  exitFlush(timeoutMs: number): boolean;
  stats(): Record<string, number>;
  cliMain(args: string[]): number;
  testPanic(): void;
  /** kind "request" | "response" | "stream"; throws `costline:fallback_unsupported: {json}`. */
  translate(kind: string, source: string, target: string, input: unknown, options?: unknown): unknown;
  FallbackStream: new (source: string, target: string, options?: unknown) => NativeFallbackStream;
  /** `targets`: "provider/model" of each; `elapsedMs`: how long ago the primary started. */
  FallbackWalk: new (options: unknown, targets: string[], elapsedMs?: number) => NativeFallbackWalk;
  checkFallbackOptions(options: unknown): void;
  /** The routing decision as JSON text; throws `costline:routing: {code, message, details}`. */
  decide(inputJson: string): string;
  /** Throws `costline:routing: {code, message, details}` when "auto" cannot be routed. */
  RoutedWalk: new (inputJson: string, policy: unknown, provider?: string | null, model?: string | null) => NativeRoutedWalk;
}

/** The targets `npm/package.json` lists under napi.targets, by Node's names. */
const PREBUILT = "linux-x64-gnu, linux-arm64-gnu, linux-x64-musl, linux-arm64-musl, darwin-x64, darwin-arm64, win32-x64-msvc";

function load(): NativeBinding {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require("./native.js");
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new Error(
      `costline: no native addon loads on ${process.platform}-${process.arch} (Node ${process.versions.node}). ` +
        `It looks for costline.<platform>.node beside dist/native.js, then the package costline-<platform>; ` +
        `addons are built for ${PREBUILT}. On another platform, build it from the repository ` +
        `(make build-node, with a Rust toolchain). The loader said: ${detail}`,
      { cause: err },
    );
  }
}

export const native: NativeBinding = load();
