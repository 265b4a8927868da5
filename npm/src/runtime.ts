/**
 * The process-wide state of the npm layer: whether costline is on, the one
 * place instrumentation faults are reported (logged once per kind, never
 * thrown into the app), and the exit hooks that flush what was recorded.
 */

import { AsyncLocalStorage } from "node:async_hooks";

import { native } from "./binding";

let disabled: boolean | undefined;

/**
 * Calls a drop-in makes inside `unmetered(fn)` are not recorded by it: the
 * routed client (`Costline`) records each of its attempts itself, once,
 * whether its provider clients are drop-ins or raw SDK clients. The store is
 * read only once a routed client has used it, so the drop-ins' hot path is
 * unchanged otherwise.
 */
const quiet = new AsyncLocalStorage<boolean>();
let quietUsed = false;

export function unmetered<T>(fn: () => T): T {
  quietUsed = true;
  return quiet.run(true, fn);
}

export function isDisabled(): boolean {
  if (disabled === undefined) {
    try {
      disabled = native.disabledFromEnv();
    } catch {
      disabled = false;
    }
  }
  return disabled || (quietUsed && quiet.getStore() === true);
}

export function setDisabled(value: boolean): void {
  disabled = value;
}

/** Whether any budget is configured (calls outside capped runs skip the reservation otherwise). */
let budgets = false;

export function budgetsOn(): boolean {
  return budgets;
}

/** Whether a reservation may wait for its store (ledger, Redis): it then runs off the event loop. */
let storeWaits = false;

export function budgetStoreWaits(): boolean {
  return storeWaits;
}

/** After the budgets change: whether any is configured, and whether their store may wait. */
export function setBudgetsOn(value: boolean): void {
  budgets = value;
  storeWaits = value && native.budgetStoreWaits();
}

const reported = new Set<string>();

/** A fault inside costline's instrumentation: logged once per `what`, never thrown. */
export function report(what: string, err: unknown): void {
  if (reported.has(what) || reported.size > 64) return;
  reported.add(what);
  const detail = err instanceof Error ? err.message : String(err);
  try {
    process.stderr.write(`costline: ${what} failed (the call itself is unaffected): ${detail}\n`);
  } catch {
    // stderr gone: nothing more to do
  }
}

/** Run `fn`; a fault is reported and `fallback` returned. */
export function guarded<T>(what: string, fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch (err) {
    report(what, err);
    return fallback;
  }
}

/** How long the exit flush may take (ms); `configure({ exitTimeoutMs })` sets it. */
let exitTimeoutMs = 2000;

export function setExitTimeout(ms: number): void {
  exitTimeoutMs = ms;
}

let hooked = false;
let flushedBeforeExit = false;

/**
 * Flush at exit, within the deadline. `beforeExit` (the loop ran dry) flushes
 * asynchronously once; `exit` (also reached through `process.exit()`) flushes
 * synchronously, the only thing possible there. Neither keeps the process
 * alive beyond the deadline, and no handle is held in between.
 */
export function installExitHooks(endInflight: () => void): void {
  if (hooked) return;
  hooked = true;
  process.on("beforeExit", () => {
    if (flushedBeforeExit) return;
    flushedBeforeExit = true;
    native.flush(exitTimeoutMs).catch((err) => report("the exit flush", err));
  });
  process.on("exit", () => {
    try {
      // Calls whose response was never read to the end: recorded now.
      endInflight();
      native.exitFlush(exitTimeoutMs);
    } catch (err) {
      report("the exit flush", err);
    }
  });
}

// Operators' budgets (COSTLINE_BUDGETS) apply from the start, whichever entry
// point loads first; a bad file is logged by the core (naming the line) and
// never breaks loading the app.
if (process.env.COSTLINE_BUDGETS) {
  guarded(
    "loading COSTLINE_BUDGETS",
    () => {
      native.configureBudgets(null, null, null, null);
      setBudgetsOn(native.budgetsActive());
    },
    undefined,
  );
}
