/**
 * A routed stream: the serving provider's stream events translated, one by
 * one, into OpenAI `ChatCompletionChunk` objects (the core's
 * `FallbackStream`), each event metered on its way. `for await` it; leaving
 * early (`break`) or `abort()` ends the provider's stream and records what
 * arrived. `costline` (non-enumerable) says who served and, once the stream
 * ended, what it cost.
 */

import type { RoutedInfo } from "./costline";
import type { Attempt } from "./routed-send";
import type { ChatCompletionChunk } from "./routed-types";
import { fromNative } from "./errors";
import { streamTranslator } from "./routed-send";

type Json = Record<string, unknown>;

export class RoutedStream implements AsyncIterable<ChatCompletionChunk> {
  /** Who serves the stream; `costUsd` once it ended (non-enumerable). */
  declare readonly costline: RoutedInfo;
  private used = false;
  /** Aborts the provider's request (the SDK's stream `controller`, when it has one). */
  readonly controller: AbortController | undefined;

  /** @internal */
  constructor(
    private readonly provider: string,
    private readonly inner: AsyncIterable<Json> & { controller?: AbortController },
    private readonly attempt: Attempt,
    private readonly ctx: Json,
  ) {
    this.controller = inner.controller;
    // The provider answered: a stream nobody reads is recorded as it stands at exit, not as cut off.
    attempt.answered();
  }

  [Symbol.asyncIterator](): AsyncIterator<ChatCompletionChunk> {
    if (this.used) throw new Error("a routed stream can be iterated once");
    this.used = true;
    return this.chunks() as AsyncIterator<unknown> as AsyncIterator<ChatCompletionChunk>;
  }

  /** Stop the stream: the provider's request is aborted, what arrived is recorded. */
  abort(): void {
    this.controller?.abort();
    this.attempt.streamEnded(undefined, true);
  }

  private async *chunks(): AsyncGenerator<Json> {
    const translator = streamTranslator(this.provider, this.ctx);
    const push = (event: Json): Json[] => {
      try {
        return translator.push(event) as Json[];
      } catch (err) {
        throw fromNative(err); // a target's error event, as costline's error
      }
    };
    const hideUsage = this.ctx.include_usage !== true;
    let ended = false;
    try {
      for await (const event of this.inner) {
        this.attempt.event(event);
        for (const chunk of push(event)) {
          const shown = visible(chunk, hideUsage);
          if (shown) yield shown;
        }
      }
      if (this.controller?.signal.aborted) return; // the caller's signal stopped it: left, in `finally`
      ended = true;
      this.attempt.streamEnded();
      for (const chunk of translator.finish() as Json[]) {
        const shown = visible(chunk, hideUsage);
        if (shown) yield shown;
      }
    } catch (err) {
      ended = true;
      this.attempt.streamEnded(err);
      throw err;
    } finally {
      // The reader left early (break, return): record what arrived.
      if (!ended) this.attempt.streamEnded(undefined, true);
    }
  }
}

/**
 * A chunk as the caller sees it: costline asks OpenAI targets for a usage
 * chunk (to meter exactly); a caller who did not ask for one never sees it.
 */
function visible(chunk: Json, hideUsage: boolean): Json | undefined {
  if (!hideUsage || !("usage" in chunk)) return chunk;
  const choices = chunk.choices as unknown[] | undefined;
  if (Array.isArray(choices) && choices.length === 0) return undefined;
  const { usage: _usage, ...rest } = chunk;
  return rest;
}
