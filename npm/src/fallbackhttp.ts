/**
 * A fallback's answer handed to the caller's SDK as the HTTP response its own
 * provider would have sent: a JSON body, or an event stream of the translated
 * chunks. The SDK then builds its own types from it exactly as it does for a
 * real answer: `ChatCompletion`, a `Stream` that `for await` reads, Anthropic's
 * `Message` and stream helpers, `.withResponse()`, Gemini's and Mistral's
 * parsed objects. Used by the drop-ins whose hook returns a fetch `Response`
 * (OpenAI and Anthropic `makeRequest`, Gemini `apiCall`, Mistral `_do`).
 */

import { attachInfo, walkChain, type Chain, type FallbackInfo, type Primary } from "./fallback";
import { type Started } from "./call";

const encoder = new TextEncoder();

/** Each source's stream framing: one chunk as an SSE event, and the stream's end. */
function frame(source: string, chunk: Record<string, unknown>): string {
  const event = source === "anthropic" && typeof chunk.type === "string" ? `event: ${chunk.type}\n` : "";
  return `${event}data: ${JSON.stringify(chunk)}\n\n`;
}

const END: Record<string, string> = { openai: "data: [DONE]\n\n", mistral: "data: [DONE]\n\n" };

/** Fallback info of the streams costline answered, by their SDK stream's abort controller. */
const streamInfo = new WeakMap<object, FallbackInfo>();

/**
 * Give an SDK's `Stream` class a non-enumerable `costline` getter: the
 * fallback info of a stream a fallback served (undefined for any other).
 * Called by the drop-in modules with their SDK's class.
 */
export function exposeStreamInfo(streamClass: unknown): void {
  const proto = (streamClass as { prototype?: object } | undefined)?.prototype;
  if (!proto || Object.prototype.hasOwnProperty.call(proto, "costline")) return;
  Object.defineProperty(proto, "costline", {
    configurable: true,
    enumerable: false,
    get(this: { controller?: object }) {
      return this.controller ? streamInfo.get(this.controller) : undefined;
    },
  });
}

/**
 * Fallback info by call id, for SDKs that rebuild the objects they parse but
 * keep the response's headers on them (`@google/genai`'s `sdkHttpResponse`):
 * the synthetic response names its call in `x-costline-call-id`. Bounded: the
 * oldest entries go first.
 */
const infoByCallId = new Map<string, FallbackInfo>();
const MAX_INFO = 1024;
const CALL_ID_HEADER = "x-costline-call-id";

function remember(info: FallbackInfo): void {
  infoByCallId.set(info.callId, info);
  if (infoByCallId.size > MAX_INFO) infoByCallId.delete(infoByCallId.keys().next().value as string);
}

/**
 * Give an SDK's response class a non-enumerable `costline` getter, read from
 * the headers it keeps (`sdkHttpResponse.headers`): the fallback info of a
 * response (or stream chunk) a fallback served, undefined for any other.
 */
export function exposeResponseInfo(responseClass: unknown): void {
  const proto = (responseClass as { prototype?: object } | undefined)?.prototype;
  if (!proto || Object.prototype.hasOwnProperty.call(proto, "costline")) return;
  Object.defineProperty(proto, "costline", {
    configurable: true,
    enumerable: false,
    get(this: { sdkHttpResponse?: { headers?: Record<string, string> } }) {
      const id = this.sdkHttpResponse?.headers?.[CALL_ID_HEADER];
      return id ? infoByCallId.get(id) : undefined;
    },
  });
}

/**
 * The served answer as a `Response` of the caller's API: JSON (its `json()`
 * resolves to the translated object, `costline` on it), or an event stream
 * of the translated chunks (cancelling it closes the target's stream).
 */
export function answerResponse(source: string, served: Awaited<ReturnType<typeof walkChain>>, controller?: AbortController): Response {
  remember(served.info);
  const callId = served.info.callId;
  if (served.response) {
    const body = served.response;
    const headers = { "content-type": "application/json", [CALL_ID_HEADER]: callId };
    const response = new Response(JSON.stringify(body), { status: 200, headers });
    // The SDK reads `json()`: it gets the object with `costline` on it (text() readers get the plain JSON).
    Object.defineProperty(response, "json", { value: async () => body, configurable: true, writable: true });
    return response;
  }
  const chunks = served.chunks as AsyncGenerator<Record<string, unknown>>;
  if (controller) {
    streamInfo.set(controller, served.info);
    // The SDK's stream aborts its controller when the caller leaves it.
    controller.signal.addEventListener("abort", () => void chunks.return(undefined).catch(() => undefined), { once: true });
  }
  let closed = false;
  const stream = new ReadableStream<Uint8Array>({
    async pull(out) {
      if (closed) return;
      try {
        const next = await chunks.next();
        if (next.done) {
          closed = true;
          const end = END[source];
          if (end) out.enqueue(encoder.encode(end));
          out.close();
          return;
        }
        out.enqueue(encoder.encode(frame(source, next.value)));
      } catch (err) {
        closed = true;
        out.error(err);
      }
    },
    async cancel() {
      closed = true;
      await chunks.return(undefined).catch(() => undefined);
    },
  });
  leaveOnRelease(stream, () => {
    if (closed) return;
    closed = true;
    void chunks.return(undefined).catch(() => undefined);
  });
  const response = new Response(stream, { status: 200, headers: { "content-type": "text/event-stream", [CALL_ID_HEADER]: callId } });
  attachInfo(response, served.info);
  return response;
}

/**
 * `@google/genai`'s chunk iterator leaves a stream by releasing its reader (no
 * cancel, see body.ts): a reader of `stream` released before the end closes
 * the target's stream too (`leave`).
 */
function leaveOnRelease(stream: ReadableStream<Uint8Array>, leave: () => void): void {
  const ownGetReader = stream.getReader;
  Object.defineProperty(stream, "getReader", {
    configurable: true,
    writable: true,
    value: function (this: ReadableStream<Uint8Array>, options?: { mode?: "byob" }) {
      const reader = ownGetReader.call(this, options as undefined) as ReadableStreamDefaultReader<Uint8Array>;
      const release = reader.releaseLock;
      reader.releaseLock = function (this: ReadableStreamDefaultReader<Uint8Array>) {
        leave();
        release.call(this);
      };
      return reader;
    },
  });
}

/** The operation each source translates; its other endpoints never fall back. */
const SOURCE_OPERATIONS: Record<string, string> = {
  openai: "chat",
  anthropic: "messages",
  google: "generate_content",
  mistral: "chat",
  bedrock: "converse",
};

/** Can this call fall back? (Its API's chat operation; other endpoints never do.) */
export function translatable(source: string, operation: string): boolean {
  return SOURCE_OPERATIONS[source] === operation;
}

interface MakeRequestOptions {
  body?: unknown;
  stream?: boolean;
  signal?: AbortSignal | null;
}

/**
 * OpenAI / Anthropic: `makeRequest` failed with `err` for a call that can
 * fall back. Returns what `makeRequest` returns (the props its `APIPromise`
 * parses), with the served answer as the response; throws when no target served.
 */
export async function fallbackProps(
  chain: Chain,
  source: string,
  started: Started,
  options: MakeRequestOptions,
  err: unknown,
): Promise<{ response: Response }> {
  const body = options.body;
  if (!translatable(source, started.operation) || !body || typeof body !== "object" || ArrayBuffer.isView(body)) {
    started.end(err);
    throw err;
  }
  const stream = options.stream === true;
  const primary: Primary = { source, started, error: err, body: body as Record<string, unknown>, stream, signal: options.signal };
  const served = await walkChain(primary, chain);
  const controller = new AbortController();
  const response = answerResponse(source, served, controller);
  return { response, options, controller, requestLogID: "costline-fallback", retryOfRequestLogID: undefined, startTime: Date.now() } as {
    response: Response;
  };
}

/**
 * A primary that answered with an error status its SDK turns into its own
 * error (Gemini's `ApiError`, Mistral's `SDKError`) once it reads the body.
 */
export class StatusFailure extends Error {
  constructor(readonly status: number) {
    super(`the provider answered ${status}`);
  }
}

/**
 * Gemini / Mistral / Bedrock: the call failed with `err` (thrown, or a
 * `StatusFailure` for an error response the SDK has yet to read). Resolves to
 * the served answer; or to undefined when this failure does not fall back
 * (the caller lets its SDK fail as it would have). `errorType`: the primary
 * event's error type when `err` is a `StatusFailure` (the SDK's class).
 */
export async function fallbackServed(
  chain: Chain,
  source: string,
  started: Started,
  body: Record<string, unknown> | undefined,
  stream: boolean,
  err: unknown,
  errorType?: string,
  signal?: AbortSignal | null,
): Promise<Awaited<ReturnType<typeof walkChain>> | undefined> {
  if (!body || !translatable(source, started.operation)) return undefined;
  try {
    return await walkChain({ source, started, error: err, errorType, body, stream, signal }, chain);
  } catch (thrown) {
    if (thrown === err && err instanceof StatusFailure) return undefined;
    throw thrown;
  }
}
