/**
 * `costline/openai`: the `openai` package's `OpenAI` and `AzureOpenAI`,
 * metered. They are subclasses (`instanceof` holds), built with the same
 * options plus an optional second argument of costline options.
 *
 *     import OpenAI from "costline/openai";
 *     const client = new OpenAI({}, { agent: "triage", tags: { team: "search" } });
 */

import * as sdk from "openai";

import { Stream } from "openai/streaming";

import { exposeStreamInfo } from "./fallbackhttp";
import { agentClient, attachState, DEFAULT_PROVIDER, hookClient, type CostlineClientOptions } from "./hook";

export type { CostlineClientOptions } from "./hook";
export type { FallbackTarget, FallbackOptions, FallbackChainOption, FallbackInfo } from "./fallback";
// Everything else the SDK exports (error classes, types) passes through.
export * from "openai";

type OpenAIOptions = ConstructorParameters<typeof sdk.OpenAI>[0];
type AzureOptions = ConstructorParameters<typeof sdk.AzureOpenAI>[0];

export class OpenAI extends sdk.OpenAI {
  constructor(options?: OpenAIOptions, costline?: CostlineClientOptions) {
    super(options);
    attachState(this, "openai", costline);
  }

  /** This client, with its calls attributed to agent `name` (a sub-agent inside a run). */
  withAgent(name: string): this {
    return agentClient(this, name);
  }
}

export class AzureOpenAI extends sdk.AzureOpenAI {
  constructor(options?: AzureOptions, costline?: CostlineClientOptions) {
    super(options);
    attachState(this, "openai", costline);
  }

  withAgent(name: string): this {
    return agentClient(this, name);
  }
}

hookClient(OpenAI.prototype, "openai");
hookClient(AzureOpenAI.prototype, "openai");
// Azure OpenAI bills under the catalog's `azure/...` entries, whatever its endpoint's host.
Object.defineProperty(AzureOpenAI.prototype, DEFAULT_PROVIDER, { value: "azure", configurable: true });

// A stream a fallback served tells so (`stream.costline`), like a response does.
exposeStreamInfo(Stream);

export default OpenAI;
