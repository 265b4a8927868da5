/**
 * `costline/anthropic`: `@anthropic-ai/sdk`'s `Anthropic`, metered. A
 * subclass (`instanceof` holds), built with the same options plus an
 * optional second argument of costline options.
 *
 *     import Anthropic from "costline/anthropic";
 *     const claude = new Anthropic({}, { agent: "lookup" });
 */

import * as sdk from "@anthropic-ai/sdk";

import { Stream } from "@anthropic-ai/sdk/streaming";

import { exposeStreamInfo } from "./fallbackhttp";
import { agentClient, attachState, hookClient, type CostlineClientOptions } from "./hook";

export type { CostlineClientOptions } from "./hook";
export type { FallbackTarget, FallbackOptions, FallbackChainOption, FallbackInfo } from "./fallback";
// Everything else the SDK exports (error classes, types) passes through.
export * from "@anthropic-ai/sdk";

type AnthropicOptions = ConstructorParameters<typeof sdk.Anthropic>[0];

export class Anthropic extends sdk.Anthropic {
  constructor(options?: AnthropicOptions, costline?: CostlineClientOptions) {
    super(options);
    attachState(this, "anthropic", costline);
  }

  /** This client, with its calls attributed to agent `name` (a sub-agent inside a run). */
  withAgent(name: string): this {
    return agentClient(this, name);
  }
}

hookClient(Anthropic.prototype, "anthropic");

// A stream a fallback served tells so (`stream.costline`), like a response does.
exposeStreamInfo(Stream);

export default Anthropic;
