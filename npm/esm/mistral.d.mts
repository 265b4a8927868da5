// Types of costline/mistral (esm/mistral.mjs): the SDK's, and its Mistral with
// an optional second argument of costline options.
import * as sdk from "@mistralai/mistralai";
import type { CostlineClientOptions } from "./hook.js";

export * from "@mistralai/mistralai";
export type { CostlineClientOptions } from "./hook.js";

export declare class Mistral extends sdk.Mistral {
  constructor(options?: ConstructorParameters<typeof sdk.Mistral>[0], costline?: CostlineClientOptions);
  /** A client like this one whose calls are attributed to agent `name` (a sub-agent inside a run). */
  withAgent(name: string): this;
}

export default Mistral;
