/**
 * Attribution: `run(...)` frames and `withAgent(...)`, carried by
 * AsyncLocalStorage so they follow awaits, timers, `Promise.all` fan-out and
 * the listeners of emitters that fire inside the run.
 *
 * Nested runs share the outermost run's `runId` and extend `agentPath`; tags
 * merge outer to inner, inner wins (merged by the core, once per frame). Each
 * run keeps a running total of the calls made inside it, nested ones included.
 */

import { AsyncLocalStorage } from "node:async_hooks";

import type { Attribution as NativeAttribution } from "./binding";
import { native } from "./binding";

export type Tags = Record<string, string>;

export interface RunOptions {
  /** The agent doing the work; nested runs extend the path. */
  agent?: string;
  /** Use this run id instead of a new one (when nested, instead of the outer run's; as in Python). */
  runId?: string;
  tags?: Record<string, unknown>;
  /**
   * A hard cap on this run alone (a decimal string, e.g. "0.50"): a call whose
   * worst case would pass it throws `BudgetExceededError` before it is sent.
   */
  maxCostUsd?: string | number;
}

interface Frame {
  readonly run: Run;
  readonly runId: string;
  readonly path: readonly string[];
  readonly tags: Tags;
  /** Set when the run has `maxCostUsd`: its cap's counter in the core. */
  readonly cap?: { readonly id: string; readonly limitUsd: string };
}

const storage = new AsyncLocalStorage<readonly Frame[]>();
const NO_FRAMES: readonly Frame[] = [];
/** The tags of a client that has none (compared by identity on the hot path). */
export const NO_TAGS: Tags = Object.freeze({}) as Tags;

function stringTags(tags: Record<string, unknown> | undefined): Tags {
  const out: Tags = {};
  if (tags) for (const [k, v] of Object.entries(tags)) out[k] = String(v);
  return out;
}

/** A unit of work whose calls are attributed together. */
export class Run {
  readonly agent: string | undefined;
  readonly runId: string;
  readonly agentPath: readonly string[];
  readonly tags: Tags;
  // The running total: an exact decimal string (summed by the addon), and its counts.
  private total = "0";
  private counted = 0;
  private unpriced = 0;

  /** @internal */
  constructor(agent: string | undefined, runId: string, path: readonly string[], tags: Tags) {
    this.agent = agent;
    this.runId = runId;
    this.agentPath = path;
    this.tags = tags;
  }

  /** Running total of the priced calls made inside this run, a decimal string. */
  get costUsd(): string {
    return this.total;
  }

  /** Calls recorded inside this run. */
  get calls(): number {
    return this.counted;
  }

  /** Calls whose model had no price (not included in `costUsd`). */
  get unpricedCalls(): number {
    return this.unpriced;
  }

  /** @internal */
  add(cost: string | null | undefined): void {
    this.counted += 1;
    const sum = typeof cost === "string" ? native.decimalSum(this.total, cost) : undefined;
    if (typeof sum === "string") this.total = sum;
    else this.unpriced += 1;
  }
}

function enter(options: RunOptions): Frame[] {
  if (options.agent !== undefined && typeof options.agent !== "string") {
    throw new TypeError(`agent must be a string, not ${typeof options.agent}`);
  }
  const parent = storage.getStore() ?? NO_FRAMES;
  const own = stringTags(options.tags);
  const outer = parent[parent.length - 1];
  const runId = options.runId ?? outer?.runId ?? native.newId();
  const path = outer ? [...outer.path] : [];
  if (options.agent) path.push(options.agent);
  const tags = outer ? (Object.keys(own).length ? native.mergeTags([outer.tags, own]) : outer.tags) : own;
  const run = new Run(options.agent, runId, Object.freeze(path), tags);
  let cap: Frame["cap"];
  if (options.maxCostUsd !== undefined && options.maxCostUsd !== null) {
    const limitUsd = String(options.maxCostUsd).trim();
    if (!/^\d+(\.\d+)?$/.test(limitUsd)) {
      throw new TypeError(`maxCostUsd must be a non-negative decimal amount such as "0.50", not ${JSON.stringify(options.maxCostUsd)}`);
    }
    cap = { id: native.newId(), limitUsd };
  }
  return [...parent, { run, runId, path, tags, cap }];
}

/** The run caps in force in `frames` (for a budget reservation). @internal */
export function capsOf(frames: readonly Frame[]): { id: string; limitUsd: string }[] {
  const caps = [];
  for (const f of frames) if (f.cap) caps.push(f.cap);
  return caps;
}

type Body<T> = (run: Run) => T;

/**
 * Run `fn` inside a run (or a nested sub-run) and return what it returns:
 * `run(fn)`, `run("research", fn)`, `run("synthesize", { tags }, fn)`,
 * `run({ agent, runId, tags }, fn)`.
 */
export function run<T>(fn: Body<T>): T;
export function run<T>(agent: string, fn: Body<T>): T;
export function run<T>(agent: string, options: Omit<RunOptions, "agent">, fn: Body<T>): T;
export function run<T>(options: RunOptions, fn: Body<T>): T;
export function run<T>(a: unknown, b?: unknown, c?: unknown): T {
  let options: RunOptions;
  let fn: unknown;
  if (typeof a === "function") {
    options = {};
    fn = a;
  } else if (typeof a === "string") {
    options = typeof b === "function" ? { agent: a } : { ...(b as RunOptions), agent: a };
    fn = typeof b === "function" ? b : c;
  } else {
    options = (a ?? {}) as RunOptions;
    fn = b;
  }
  if (typeof fn !== "function") throw new TypeError("run() needs a function to run");
  const frames = enter(options);
  const frame = frames[frames.length - 1];
  const result = storage.run(frames, fn as Body<T>, frame.run);
  const cap = frame.cap;
  if (!cap) return result;
  // The run's cap counter goes when the run ends (its promise settles).
  const forget = () => native.budgetForgetRun(frame.runId, [cap.id]);
  if (result && typeof (result as { then?: unknown }).then === "function") {
    return (result as unknown as Promise<unknown>).finally(forget) as T;
  }
  forget();
  return result;
}

/** Run `fn` as agent `name`: outside any run a run of its own, inside one a sub-agent. */
export function withAgent<T>(name: string, fn: Body<T>): T {
  if (typeof name !== "string" || !name) throw new TypeError("withAgent() needs a non-empty agent name");
  return run({ agent: name }, fn);
}

/** The innermost run in force here, if any. */
export function currentRun(): Run | undefined {
  const frames = storage.getStore();
  return frames?.[frames.length - 1]?.run;
}

/** What one call is attributed to, captured when it starts. @internal */
export class Captured {
  constructor(
    readonly attribution: NativeAttribution | undefined,
    readonly frames: readonly Frame[],
  ) {}

  /** Add a recorded call's cost to every enclosing run's total. */
  settle(cost: string | null | undefined): void {
    for (const frame of this.frames) frame.run.add(cost);
  }
}

/** Attribution for a call made now by a client with these options. @internal */
export function capture(clientAgent: string | undefined, clientTags: Tags): Captured {
  const frames = storage.getStore() ?? NO_FRAMES;
  const inner = frames[frames.length - 1];
  if (inner) {
    const path = clientAgent ? [...inner.path, clientAgent] : (inner.path as string[]);
    return new Captured(
      { runId: inner.runId, agent: path[path.length - 1], agentPath: path, tags: inner.tags, baseTags: clientTags },
      frames,
    );
  }
  if (clientAgent) {
    // A per-client agent outside any run is a run of its own.
    return new Captured(
      { runId: native.newId(), agent: clientAgent, agentPath: [clientAgent], tags: NO_TAGS, baseTags: clientTags },
      NO_FRAMES,
    );
  }
  return new Captured(clientTags === NO_TAGS ? undefined : { baseTags: clientTags }, NO_FRAMES);
}
