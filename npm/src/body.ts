/**
 * Metering a response's body however it is read: the SDK's `json()`/`text()`
 * (one native call with the whole text), `arrayBuffer()`/`bytes()`/`blob()`,
 * or `body` as a stream whose chunks pass through the core on their way (event
 * streams, and callers reading `asResponse().body`). The Response is the one
 * fetch returned; it only gets a prototype that meters.
 */

import { readAborted, type Started } from "./call";
import { guarded } from "./runtime";

const STARTED = Symbol("costline.started");
const WRAPPED = Symbol("costline.body");
const READING = Symbol("costline.reading");

type Metered = Response & {
  [STARTED]?: Started;
  [WRAPPED]?: ReadableStream<Uint8Array> | null;
  /** Inside the class's own text()/arrayBuffer(), which may read `body` itself. */
  [READING]?: boolean;
};

/** The metered face of each Response class seen (fetch's, or a custom fetch's). */
const meteredPrototypes = new WeakMap<object, object>();

/**
 * A prototype over `proto` (a Response class's) whose body readers meter:
 * `text()`/`json()` (what the SDKs call: one native call with the whole
 * text), `arrayBuffer()`/`bytes()`/`blob()`, and `body`, a stream each chunk
 * of which passes through the core (event streams, and callers reading
 * `asResponse().body`). Built once per class: per call, the response only
 * gets this prototype and its `Started`.
 */
function meteredPrototype(proto: Response): object | undefined {
  let metered = meteredPrototypes.get(proto);
  if (metered) return metered;
  const ownText = proto.text;
  const ownArrayBuffer = proto.arrayBuffer;
  const bodyGetter = Object.getOwnPropertyDescriptor(proto, "body")?.get;
  if (typeof ownText !== "function" || typeof ownArrayBuffer !== "function" || !bodyGetter) return undefined;
  async function whole<T>(
    response: Metered,
    read: () => Promise<T>,
    asText: (value: T) => string,
    filter: (value: T, started: Started) => T,
  ): Promise<T> {
    const started = response[STARTED];
    let value: T;
    response[READING] = true;
    try {
      value = await read();
    } catch (err) {
      started?.end(readAborted(err) ? undefined : err);
      throw err;
    } finally {
      response[READING] = false;
    }
    if (started?.hide) {
      // A stream read whole, whose usage chunk costline asked for: the
      // caller gets it without that chunk, and the meter records it.
      value = guarded("reading a response", () => filter(value, started), value);
      started.end(undefined);
    } else if (started) {
      started.end(undefined, undefined, guarded("reading a response", () => asText(value), ""));
    }
    return value;
  }
  const text = function (this: Metered) {
    return whole(
      this,
      () => ownText.call(this),
      (t) => t,
      (t, started) => {
        const out = started.filterWhole(new TextEncoder().encode(t));
        return out === undefined ? t : new TextDecoder().decode(out);
      },
    );
  };
  const arrayBuffer = function (this: Metered) {
    return whole(
      this,
      () => ownArrayBuffer.call(this),
      (b) => new TextDecoder().decode(b),
      (b, started) => {
        const out = started.filterWhole(new Uint8Array(b));
        return out === undefined ? b : (out.slice().buffer as ArrayBuffer);
      },
    );
  };
  metered = Object.create(proto, {
    text: { value: text, configurable: true, writable: true },
    json: {
      value: function (this: Metered) {
        return text.call(this).then((t) => JSON.parse(t));
      },
      configurable: true,
      writable: true,
    },
    arrayBuffer: { value: arrayBuffer, configurable: true, writable: true },
    bytes: {
      value: function (this: Metered) {
        return arrayBuffer.call(this).then((b) => new Uint8Array(b));
      },
      configurable: true,
      writable: true,
    },
    blob: {
      value: function (this: Metered) {
        return arrayBuffer.call(this).then((b) => new Blob([b], { type: this.headers.get("content-type") ?? "" }));
      },
      configurable: true,
      writable: true,
    },
    body: {
      configurable: true,
      get(this: Metered) {
        if (this[READING]) return bodyGetter.call(this);
        if (this[WRAPPED] === undefined) {
          const source = bodyGetter.call(this) as ReadableStream<Uint8Array> | null;
          const started = this[STARTED];
          // Not a web stream (a custom fetch's Node stream): passed as it is,
          // the call is then recorded when the body is read whole, or at exit.
          if (!started || (source && typeof source.getReader !== "function")) return source;
          if (source) started.streamed();
          else started.end(undefined);
          this[WRAPPED] = source ? meteredStream(source, started) : source;
        }
        return this[WRAPPED];
      },
    },
  }) as object;
  meteredPrototypes.set(proto, metered);
  return metered;
}

/** Meter `response`'s body however it is read (see `meteredPrototype`). */
export function meterBody(response: Response, started: Started): void {
  const metered = meteredPrototype(Object.getPrototypeOf(response) as Response);
  if (!metered) {
    started.end(undefined);
    return;
  }
  (response as Metered)[STARTED] = started;
  Object.setPrototypeOf(response, metered);
}

type Read = ReadableStreamReadResult<Uint8Array>;

/**
 * `read`, through the meter: each chunk is fed to the core on its way, a
 * chunk the meter hides is skipped, bytes it held come out before the end;
 * the call is recorded when the body ends, fails, or the reader cancels (a
 * `break` out of a stream, which is not an error).
 */
function meteredReads(read: () => Promise<Read>, started: Started, cancel: (reason: unknown) => Promise<void>): () => Promise<Read> {
  let finished = false;
  return async function next(): Promise<Read> {
    for (;;) {
      if (finished) return { done: true, value: undefined };
      let chunk: Read;
      try {
        chunk = await read();
      } catch (err) {
        if (readAborted(err)) started.left();
        else started.end(err);
        throw err;
      }
      let out: Uint8Array | undefined;
      try {
        out = chunk.done ? started.tail() : started.feed(chunk.value);
      } catch (err) {
        // A budget stopped the stream: the call ends with that error, the
        // connection closes, and the reader (the SDK's iterator) fails with it.
        finished = true;
        started.end(err);
        if (!chunk.done) await cancel(err).catch(() => undefined);
        throw err;
      }
      if (chunk.done) {
        finished = true;
        started.end(undefined);
        if (out && out.length) return { done: false, value: out };
        return chunk;
      }
      if (out === undefined) return chunk;
      if (out.length) return { done: false, value: out };
    }
  };
}

/**
 * `source` itself, metered as it is read: its own `getReader()` and async
 * iteration (what the SDKs and most callers use) go through the meter. No
 * second stream is stacked on it (measured: a ReadableStream stage per chunk
 * cost more than the metering). `pipeTo`, `tee` and BYOB readers read it
 * unmetered; such a call is recorded at exit, estimated.
 */
function meteredStream(source: ReadableStream<Uint8Array>, started: Started): ReadableStream<Uint8Array> {
  const ownGetReader = source.getReader;
  const getReader = function (this: ReadableStream<Uint8Array>, options?: { mode?: string }) {
    const reader = ownGetReader.call(source, options as undefined) as ReadableStreamDefaultReader<Uint8Array>;
    if (options?.mode === "byob") return reader;
    const read = meteredReads(() => reader.read(), started, (reason) => reader.cancel(reason));
    return {
      read,
      // Releasing the reader is leaving the stream: `@google/genai`'s chunk
      // iterator only releases it when the caller breaks out (no cancel). After
      // the body's end the call is recorded already, and this does nothing.
      releaseLock: () => {
        started.left();
        reader.releaseLock();
      },
      cancel: (reason?: unknown) => {
        started.left();
        return reader.cancel(reason);
      },
      get closed() {
        return reader.closed;
      },
    };
  };
  const iterate = function (options?: { preventCancel?: boolean }) {
    const reader = getReader.call(source) as ReadableStreamDefaultReader<Uint8Array>;
    return {
      next: () => reader.read(),
      async return(value?: unknown) {
        if (!options?.preventCancel) await reader.cancel(value);
        else started.left();
        reader.releaseLock();
        return { done: true as const, value };
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  };
  Object.defineProperties(source, {
    getReader: { value: getReader, configurable: true, writable: true },
    values: { value: iterate, configurable: true, writable: true },
    [Symbol.asyncIterator]: { value: iterate, configurable: true, writable: true },
  });
  return source;
}
