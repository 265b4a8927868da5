/**
 * Metering of `@google/genai` clients, shared by the CommonJS and ES module
 * faces of `costline/google` and by `instrument()` (it imports nothing from
 * the SDK). Every REST call of a `GoogleGenAI` client (each module: `models`,
 * `caches`, `batches`..., unary and streamed) goes through one method of its
 * one API client, `apiClient.apiCall(url, init, ...)`, which resolves to the
 * fetch `Response` (after the SDK's own retries) before the SDK reads it.
 * costline wraps that method on the client's API client: it reads the
 * operation and the model from the URL (the core decides; `countTokens` and
 * other unbilled paths pass through), reserves budgets, and meters the body
 * through the core as the SDK reads it (`body.ts`). Responses, chunks and
 * errors are the SDK's own.
 */

import { meterBody } from "./body";
import { Started } from "./call";
import { capture } from "./context";
import { native } from "./binding";
import { attachState, reserve, STATE, type ClientState, type CostlineClientOptions } from "./hook";
import { guarded, isDisabled } from "./runtime";
import { answerResponse, fallbackServed, StatusFailure } from "./fallbackhttp";

const PROVIDER = "google";

/** The SDK raises this class for every HTTP status >= 400 (`throwErrorIfNotOK`). */
const SDK_ERROR = "ApiError";

type ApiCall = (this: unknown, url: unknown, init: unknown, ...rest: unknown[]) => Promise<Response>;
interface ApiClient {
  apiCall?: ApiCall;
  [METERED]?: { client: object };
}
type Metered = { [STATE]?: ClientState; apiClient?: ApiClient };

const METERED = Symbol.for("costline.google.apiCall");

/** Operation and model per request URL (the core decides; cached). */
interface Target {
  operation: string;
  model: string;
}
const targets = new Map<string, Target | null>();

function targetOf(url: string): Target | null {
  let target = targets.get(url);
  if (target === undefined) {
    const path = url.split("?")[0];
    const operation = native.operationForPath(PROVIDER, path);
    target = operation ? { operation, model: native.modelForPath(PROVIDER, path) ?? "unknown" } : null;
    if (targets.size < 1024) targets.set(url, target);
  }
  return target;
}

function start(state: ClientState, url: string, init: unknown): Started | undefined {
  const target = targetOf(url);
  if (!target) return undefined;
  const body = (init as { body?: unknown } | undefined)?.body;
  let request: unknown;
  if (typeof body === "string") {
    try {
      request = JSON.parse(body);
    } catch {
      request = undefined;
    }
  }
  const stream = isStream(url);
  const captured = capture(state.agent, state.tags);
  return new Started(state.recordAs ?? PROVIDER, target.operation, target.model, stream, false, captured, request);
}

const isStream = (url: string) => url.includes(":streamGenerateContent");

/** The REST body with its model (the URL names it), as the core's translation reads a Gemini request. */
function fallbackBody(started: Started, init: unknown): Record<string, unknown> | undefined {
  const body = (init as { body?: unknown } | undefined)?.body;
  if (typeof body !== "string") return undefined;
  try {
    const parsed = JSON.parse(body) as Record<string, unknown>;
    return parsed && typeof parsed === "object" ? { ...parsed, model: started.model } : undefined;
  } catch {
    return undefined;
  }
}

async function meteredApiCall(client: Metered, url: unknown, init: unknown, send: () => Promise<Response>): Promise<Response> {
  const state = client[STATE];
  if (state === undefined || isDisabled() || typeof url !== "string") return send();
  const started = guarded("starting a metered call", () => start(state, url, init), undefined);
  if (!started) return send();
  const reserving = reserve(started);
  if (reserving) await reserving;
  let response: Response;
  try {
    response = await send();
  } catch (err) {
    if (state.fallback) {
      const served = await fallbackServed(state.fallback, PROVIDER, started, fallbackBody(started, init), isStream(url), err);
      if (served) return answerResponse(PROVIDER, served);
    }
    started.end(err);
    throw err;
  }
  if (!response.ok) {
    if (state.fallback) {
      const failure = new StatusFailure(response.status);
      const body = fallbackBody(started, init);
      const served = await fallbackServed(state.fallback, PROVIDER, started, body, isStream(url), failure, SDK_ERROR);
      if (served) return answerResponse(PROVIDER, served);
    }
    // The SDK turns this response into its ApiError; the call failed.
    started.end(undefined, SDK_ERROR);
    return response;
  }
  started.responded = true;
  guarded("metering a response", () => meterBody(response, started), undefined);
  return response;
}

/**
 * Meter `client` (a `GoogleGenAI`): its API client's `apiCall` goes through
 * costline, with `costline`'s options. Called again (`instrument` twice), it
 * only replaces the options.
 */
export function installGoogle(client: object, costline: CostlineClientOptions | undefined): void {
  const api = (client as Metered).apiClient;
  if (!api || typeof api.apiCall !== "function") {
    throw new TypeError("this @google/genai version has no apiClient.apiCall(): costline cannot meter it");
  }
  attachState(client, PROVIDER, costline);
  const metered = api[METERED];
  if (metered) {
    metered.client = client;
    return;
  }
  const own = api.apiCall;
  const holder = { client };
  Object.defineProperty(api, METERED, { value: holder, configurable: true });
  Object.defineProperty(api, "apiCall", {
    configurable: true,
    writable: true,
    value: function (this: unknown, url: unknown, init: unknown, ...rest: unknown[]) {
      return meteredApiCall(holder.client as Metered, url, init, () => own.call(this, url, init, ...rest));
    },
  });
}
