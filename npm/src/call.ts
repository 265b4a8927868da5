/**
 * One metered call in flight (`Started`), and the calls still in flight:
 * recorded at exit, bounded in number. A JSON body the SDK reads whole is
 * recorded with one native call (`recordText`); a body read as a stream goes
 * through a native `Meter`, chunk by chunk.
 */

import { capsOf, type Captured } from "./context";
import { native, type NativeMeter, type NativeReservation } from "./binding";
import { BudgetExceededError, fromNative } from "./errors";
import { budgetStoreWaits, budgetsOn, guarded, report } from "./runtime";

/**
 * Calls started and not yet recorded, oldest first: ended at exit, so none is
 * lost. A response nobody reads to the end stays here until then, so the set
 * is bounded: past MAX_INFLIGHT, the oldest call is recorded as it stands
 * (its tokens estimated). A bound, not a FinalizationRegistry: weak cells
 * cost every garbage collection, on every call.
 */
const inflight = new Set<Started>();
const MAX_INFLIGHT = 10_000;

/** At exit: a call that got its response is recorded as it stands; one still waiting, as cut off. */
export function endInflight(): void {
  for (const s of [...inflight]) s.end(undefined, s.responded ? undefined : "ProcessExit");
}

/** Record the oldest call whose response came but was not read to the end (never one still waiting). */
function evictOldest(): void {
  let looked = 0;
  for (const s of inflight) {
    if (s.responded) {
      s.end(undefined);
      return;
    }
    if (++looked >= 64) return;
  }
}

/**
 * The body read failed because the reader was aborted: the SDK aborts its
 * request when the caller leaves a stream early (`break` out of a stream
 * helper, `abort()`), which ends the read with an AbortError. Like a `break`
 * out of a plain stream (a cancel), that is not the call failing.
 */
export function readAborted(err: unknown): boolean {
  return err instanceof Error && err.name === "AbortError";
}

function errorType(err: unknown): string {
  if (err instanceof Error) return err.constructor?.name || err.name || "Error";
  return typeof err;
}

/** A request object as JSON text; undefined when it has none (cycles, BigInt...). */
function requestText(request: unknown): string | undefined {
  if (request === undefined || request === null || typeof request !== "object") return undefined;
  try {
    return JSON.stringify(request);
  } catch {
    return undefined;
  }
}

export type CallRecorder = (
  latencyMs: number,
  errorType: string | undefined,
  attribution: Captured["attribution"],
  needCost: boolean,
  reservation: NativeReservation | undefined,
) => string | null | undefined;

/**
 * One metered call in flight. JSON bodies the SDK reads whole are recorded
 * with one native call (`recordText`); a body read as a stream gets a native
 * `Meter` that each chunk passes through.
 */
export class Started {
  private done = false;
  private meter: NativeMeter | undefined;
  /** The call's budget reservation, settled when it is recorded. */
  reservation: NativeReservation | undefined;
  private readonly t0 = performance.now();
  responded = false;
  /**
   * Records the call in place of the byte meter, for a provider whose SDK
   * parses the response before costline sees it (Bedrock: the core is handed
   * what the SDK parsed). Returns the cost when `needCost`.
   */
  recorder: CallRecorder | undefined;
  /** A fallback chain's attempt: its `callId` and number, on its event. */
  private linked: { callId: string; attempt: number } | undefined;
  /** Price the call when it is recorded, run or not (a fallback reports its cost). */
  wantCost = false;
  /** The recorded cost (with `wantCost` or inside a run): a decimal string, null when unpriced. */
  cost: string | null | undefined;

  constructor(
    readonly provider: string,
    readonly operation: string,
    readonly model: string,
    readonly stream: boolean,
    /** costline asked for a usage chunk the caller must not see. */
    readonly hide: boolean,
    /** @internal */
    readonly captured: Captured,
    readonly request: unknown,
    meter?: NativeMeter,
  ) {
    this.meter = meter;
    inflight.add(this);
    if (inflight.size > MAX_INFLIGHT) evictOldest();
  }

  /**
   * Reserve this call's worst case against the budgets and run caps it
   * matches, before it is sent. Throws the addon's budget error when a cap
   * would pass (the core records the call as blocked). With a store that may
   * wait long (the ledger or Redis, when slow, failing or not heard from yet)
   * the reservation runs on the libuv thread pool and this returns its
   * promise (rejected with that error): the event loop never waits for it.
   * In memory, or while the store answers within its quick window (250 µs,
   * less than the hop to a worker and back), it is done here.
   */
  reserve(): Promise<void> | undefined {
    const caps = capsOf(this.captured.frames);
    if (!caps.length && !budgetsOn()) return undefined;
    // The request crosses as JSON text: JSON.stringify is one fast native
    // pass, where the addon would walk the object with an N-API call per value.
    const text = requestText(this.request);
    const object = text === undefined ? this.request : undefined;
    const attribution = this.attribution();
    if (budgetStoreWaits() && native.budgetReserveMayWait()) {
      return native
        .budgetReserveAsync(this.provider, this.operation, this.model, object, this.stream, attribution, caps, text)
        .then((held) => this.held(held));
    }
    this.held(native.budgetReserve(this.provider, this.operation, this.model, object, this.stream, attribution, caps, text));
    return undefined;
  }

  private held(reservation: NativeReservation | null | undefined): void {
    this.reservation = reservation ?? undefined;
    this.enforceBudget();
  }

  /** Milliseconds since this call started. */
  elapsedMs(): number {
    return performance.now() - this.t0;
  }

  /** Make this call attempt `attempt` of the fallback chain `callId`. */
  link(callId: string, attempt: number): void {
    this.linked = { callId, attempt };
    this.wantCost = true;
  }

  private attribution(): Captured["attribution"] {
    const own = this.captured.attribution;
    return this.linked ? { ...own, ...this.linked } : own;
  }

  /** Refused by a budget before sending: recorded as blocked by the core; nothing more. */
  blocked(): void {
    this.done = true;
    inflight.delete(this);
    const meter = this.meter;
    this.meter = undefined;
    if (meter !== undefined) guarded("reading a response", () => native.meterClose(meter), undefined);
  }

  /** The body is about to be read as a stream. */
  streamed(): void {
    if (this.done || this.meter !== undefined) return;
    this.meter = guarded(
      "reading a response",
      () => native.meterOpen(this.provider, this.operation, this.model, this.stream, this.hide),
      undefined,
    );
    this.enforceBudget();
  }

  /**
   * The reader left the body before its end (a `break`, a cancel): not an
   * error. Recorded now, from what arrived; the core decides whether that
   * usage stands (a Gemini stream's running counts lack the output to come,
   * so such a call is estimated).
   */
  left(): void {
    if (this.done) return;
    const meter = this.meter;
    if (meter !== undefined) guarded("reading a response", () => native.meterAbandon(meter), undefined);
    this.end(undefined);
  }

  /** Budgets with enforceStream: the stream's meter grows the reservation as output arrives. */
  private enforceBudget(): void {
    const { meter, reservation } = this;
    if (meter !== undefined && reservation !== undefined && this.stream) {
      guarded("metering a stream against a budget", () => native.meterEnforce(meter, reservation), false);
    }
  }

  /**
   * `chunk` through the meter: the bytes to pass on instead, or undefined.
   * Throws `BudgetExceededError` when a stream metered against its budgets
   * would pass a cap (the caller's read fails with it and the stream closes).
   */
  feed(chunk: Uint8Array): Uint8Array | undefined {
    const meter = this.meter;
    if (meter === undefined) return undefined;
    try {
      return native.meterFeed(meter, chunk) ?? undefined;
    } catch (err) {
      const mapped = fromNative(err);
      if (mapped instanceof BudgetExceededError) throw mapped;
      report("reading a response", err);
      return undefined;
    }
  }

  /** Bytes the meter held until the end; throws like `feed` when a budget stopped the stream. */
  tail(): Uint8Array | undefined {
    const meter = this.meter;
    if (meter === undefined) return undefined;
    try {
      return native.meterTail(meter) ?? undefined;
    } catch (err) {
      const mapped = fromNative(err);
      if (mapped instanceof BudgetExceededError) throw mapped;
      report("reading a response", err);
      return undefined;
    }
  }

  /**
   * A whole body (read with `text()`, `arrayBuffer()`...) through the meter,
   * as a streamed one would pass: without the usage chunk costline asked for.
   * Undefined: give the body as it is.
   */
  filterWhole(body: Uint8Array): Uint8Array | undefined {
    this.streamed();
    const out = this.feed(body);
    const rest = this.tail();
    if (out === undefined && !rest?.length) return undefined;
    const head = out ?? body;
    if (!rest?.length) return head;
    const joined = new Uint8Array(head.length + rest.length);
    joined.set(head);
    joined.set(rest, head.length);
    return joined;
  }

  /**
   * Record the call, once. `err`: what it ended with (none: it ended well);
   * `text`: the whole body, when it was read as text; a call that got a
   * response whose body was never read is estimated from its request.
   */
  end(err: unknown, typeName?: string, text?: string): void {
    if (this.done) return;
    this.done = true;
    inflight.delete(this);
    const type = typeName ?? (err === undefined ? undefined : errorType(err));
    const captured = this.captured;
    const latency = Math.max(0, Math.round(performance.now() - this.t0));
    const needCost = this.wantCost || captured.frames.length > 0;
    const attribution = this.attribution();
    const meter = this.meter;
    this.meter = undefined;
    try {
      if (this.recorder && meter !== undefined) native.meterClose(meter);
      const cost = this.recorder
        ? this.recorder(latency, type, attribution, needCost, this.reservation)
        : meter !== undefined
        ? native.meterFinish(meter, latency, type, attribution, this.request, needCost, this.reservation)
        : native.recordText(
            this.provider,
            this.operation,
            this.model,
            this.stream,
            latency,
            type,
            text ?? (this.responded ? "" : undefined),
            attribution,
            this.request,
            needCost,
            this.reservation,
          );
      this.cost = cost;
      if (captured.frames.length > 0) captured.settle(cost);
    } catch (err) {
      report("recording a call", err);
      const reservation = this.reservation;
      if (reservation !== undefined) guarded("releasing a budget reservation", () => native.budgetRelease(reservation), undefined);
      // A meter whose finish failed still gives its handle back (a no-op if it was taken).
      if (meter !== undefined) guarded("reading a response", () => native.meterClose(meter), undefined);
    }
  }
}

