/**
 * Metering of `@mistralai/mistralai` clients, shared by `costline/mistral`
 * and `instrument()` (it imports nothing from the SDK). The SDK (Speakeasy)
 * builds each resource (`chat`, `embeddings`, `fim`...) as its own client
 * object from the root client's options, and every one of them sends through
 * two methods of their common base class: `_createRequest` (which has the
 * request body as JSON text) and `_do` (which sends it, with the SDK's own
 * retries, and resolves to a result holding the fetch `Response` before the
 * SDK reads it). costline wraps those two on the base class, once; a client
 * is metered when its options carry its costline state, which each resource
 * copies from the root client's options when it is built. The body is metered
 * through the core as the SDK reads it (`body.ts`). Responses, event streams
 * and errors are the SDK's own.
 *
 * A fallback's answer reaches the SDK as a `Response`, which it parses into
 * objects of its own (zod rebuilds them): `costline` cannot ride on the JSON.
 * So the chat resource's methods (the only calls that fall back) run in a
 * slot that `_do` fills with the fallback's info, and put it on the object
 * they resolve to (a `ChatCompletionResponse`, an `EventStream`).
 */

import { AsyncLocalStorage } from "node:async_hooks";

import { meterBody } from "./body";
import { Started } from "./call";
import { capture } from "./context";
import { native } from "./binding";
import { attachState, reserve, STATE, type ClientState, type CostlineClientOptions } from "./hook";
import { guarded, isDisabled } from "./runtime";
import { answerResponse, fallbackServed, StatusFailure } from "./fallbackhttp";
import { attachInfo, type FallbackInfo } from "./fallback";

const PROVIDER = "mistral";

/** In a client's `_options`, enumerable: the resource clients built from them copy it. */
const HOLDER = Symbol.for("costline.mistral.client");
const HOOKED = Symbol.for("costline.mistral.hooked");
/** On a resource class's prototype whose methods put a fallback's info on their answers. */
const ANSWERS = Symbol.for("costline.mistral.answers");

/** A metered chat method's call in flight: `_do` leaves the fallback's info here. */
const answerSlot = new AsyncLocalStorage<{ info?: FallbackInfo }>();

/** A fallback served this call: its method puts `costline` on what it resolves to. */
function markServed(info: FallbackInfo): void {
  const slot = answerSlot.getStore();
  if (slot) slot.info = info;
}

interface Holder {
  client: { [STATE]?: ClientState };
}
type Result = { ok: boolean; value?: unknown; error?: unknown };
type AnyFn = (this: unknown, ...args: unknown[]) => unknown;
interface SdkObject {
  _options?: Record<PropertyKey, unknown>;
}

/** Each request's JSON body, from `_createRequest` to `_do` (the Request's own is a stream). */
const bodies = new WeakMap<object, string>();

/** The SDK's error class for an HTTP error status (its `M.fail("4XX")`, `M.jsonErr(422, ...)`). */
function sdkErrorFor(status: number): string {
  return status === 422 ? "HTTPValidationError" : "SDKError";
}

function start(state: ClientState, request: { url?: unknown }): Started | undefined {
  if (typeof request?.url !== "string") return undefined;
  const operation = native.operationForPath(PROVIDER, request.url);
  if (!operation) return undefined;
  let json: Record<string, unknown> | undefined;
  const text = bodies.get(request);
  if (text !== undefined) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) json = parsed as Record<string, unknown>;
    } catch {
      json = undefined;
    }
  }
  const model = typeof json?.model === "string" && json.model ? json.model : "unknown";
  const stream = json?.stream === true;
  return new Started(state.recordAs ?? PROVIDER, operation, model, stream, false, capture(state.agent, state.tags), json);
}

function answer(s: NonNullable<Awaited<ReturnType<typeof fallbackServed>>>): Response {
  markServed(s.info);
  return answerResponse(PROVIDER, s);
}

async function meteredDo(sdkObject: SdkObject, request: object, send: () => Promise<Result>): Promise<Result> {
  const holder = sdkObject._options?.[HOLDER] as Holder | undefined;
  const state = holder?.client[STATE];
  if (state === undefined || isDisabled()) return send();
  const started = guarded("starting a metered call", () => start(state, request as { url?: unknown }), undefined);
  if (!started) return send();
  const reserving = reserve(started);
  if (reserving) await reserving;
  let result: Result;
  try {
    result = await send();
  } catch (err) {
    started.end(err);
    throw err;
  }
  const chain = state.fallback;
  if (!result || !result.ok) {
    const err = result?.error ?? new Error("request failed");
    if (chain) {
      const served = await fallbackServed(chain, PROVIDER, started, started.request as Record<string, unknown>, started.stream, err);
      if (served) return { ok: true, value: answer(served) };
    }
    // Aborted, timed out, no connection: the SDK returns (and then throws) this error.
    started.end(err);
    return result;
  }
  const response = result.value as Response;
  if (typeof response?.status !== "number" || response.status >= 400) {
    const type = sdkErrorFor(response?.status ?? 0);
    if (chain && typeof response?.status === "number") {
      const failure = new StatusFailure(response.status);
      const served = await fallbackServed(chain, PROVIDER, started, started.request as Record<string, unknown>, started.stream, failure, type);
      if (served) return { ok: true, value: answer(served) };
    }
    started.end(undefined, type);
    return result;
  }
  started.responded = true;
  guarded("metering a response", () => meterBody(response, started), undefined);
  return result;
}

/** The prototype that owns `_do` and `_createRequest` (the SDK's `ClientSDK`). */
function baseOf(client: object): (Record<string, unknown> & { [HOOKED]?: boolean }) | undefined {
  for (let proto = Object.getPrototypeOf(client); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    if (Object.prototype.hasOwnProperty.call(proto, "_do") && Object.prototype.hasOwnProperty.call(proto, "_createRequest")) {
      return proto as Record<string, unknown>;
    }
  }
  return undefined;
}

function hookBase(base: Record<string, unknown> & { [HOOKED]?: boolean }): void {
  if (base[HOOKED]) return;
  const createRequest = base._createRequest as AnyFn;
  const doRequest = base._do as AnyFn;
  Object.defineProperty(base, HOOKED, { value: true, configurable: true });
  Object.defineProperty(base, "_createRequest", {
    configurable: true,
    writable: true,
    value: function (this: SdkObject, context: unknown, conf: { body?: unknown }, ...rest: unknown[]) {
      const result = createRequest.call(this, context, conf, ...rest) as Result;
      if (this._options?.[HOLDER] && result?.ok && result.value && typeof conf?.body === "string") {
        bodies.set(result.value as object, conf.body);
      }
      return result;
    },
  });
  Object.defineProperty(base, "_do", {
    configurable: true,
    writable: true,
    value: function (this: SdkObject, request: object, ...rest: unknown[]) {
      return meteredDo(this, request, () => doRequest.call(this, request, ...rest) as Promise<Result>);
    },
  });
}

/**
 * Wrap the methods of `resource`'s class (the SDK's `Chat`: `complete`,
 * `stream`, `parse`...) so that an answer a fallback served carries
 * `costline` (non-enumerable), like the other drop-ins' answers. A client
 * costline does not meter calls them unchanged.
 */
function hookAnswers(resource: unknown): void {
  const proto = resource && typeof resource === "object" ? (Object.getPrototypeOf(resource) as Record<PropertyKey, unknown>) : undefined;
  if (!proto || proto === Object.prototype || Object.prototype.hasOwnProperty.call(proto, ANSWERS)) return;
  Object.defineProperty(proto, ANSWERS, { value: true, configurable: true });
  for (const name of Object.getOwnPropertyNames(proto)) {
    const desc = Object.getOwnPropertyDescriptor(proto, name);
    if (name === "constructor" || !desc || typeof desc.value !== "function") continue;
    const method = desc.value as AnyFn;
    Object.defineProperty(proto, name, {
      ...desc,
      value: function (this: SdkObject, ...args: unknown[]) {
        if (!this?._options?.[HOLDER]) return method.apply(this, args);
        const slot: { info?: FallbackInfo } = {};
        const result = answerSlot.run(slot, () => method.apply(this, args));
        if (!(result instanceof Promise)) return result;
        return result.then((value: unknown) => {
          const info = slot.info;
          if (info && value && typeof value === "object") guarded("marking a fallback's answer", () => attachInfo(value, info), undefined);
          return value;
        });
      },
    });
  }
}

/** Give `target` and the resource clients it already built the holder (they copied its options earlier). */
function spread(target: SdkObject, holder: Holder, depth: number): void {
  const options = target._options;
  if (!options || typeof options !== "object" || options[HOLDER] === holder) return;
  Object.defineProperty(options, HOLDER, { value: holder, enumerable: true, configurable: true, writable: true });
  if (depth > 3) return;
  for (const value of Object.values(target)) {
    if (value && typeof value === "object" && "_options" in value) spread(value as SdkObject, holder, depth + 1);
  }
}

/**
 * Meter `client` (a `Mistral`): its calls, and its resource clients', go
 * through costline with `costline`'s options. Called again (`instrument`
 * twice), it only replaces the options.
 */
export function installMistral(client: object, costline: CostlineClientOptions | undefined): void {
  const base = baseOf(client);
  if (!base || typeof (client as SdkObject)._options !== "object") {
    throw new TypeError("this @mistralai/mistralai version has no _do()/_createRequest(): costline cannot meter it");
  }
  attachState(client, PROVIDER, costline);
  hookBase(base);
  guarded("hooking the chat methods", () => hookAnswers((client as { chat?: unknown }).chat), undefined);
  spread(client as SdkObject, { client: client as Holder["client"] }, 0);
}
