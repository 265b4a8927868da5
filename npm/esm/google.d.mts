// Types of costline/google (esm/google.mjs): the SDK's, and its GoogleGenAI
// with an optional second argument of costline options.
import * as sdk from "@google/genai";
import type { CostlineClientOptions } from "./hook.js";

export * from "@google/genai";
export type { CostlineClientOptions } from "./hook.js";

export declare class GoogleGenAI extends sdk.GoogleGenAI {
  constructor(options: ConstructorParameters<typeof sdk.GoogleGenAI>[0], costline?: CostlineClientOptions);
  /** A client like this one whose calls are attributed to agent `name` (a sub-agent inside a run). */
  withAgent(name: string): this;
}

export default GoogleGenAI;
