// costline/google: `@google/genai`'s `GoogleGenAI`, metered. A subclass
// (`instanceof` holds), built with the same options plus an optional second
// argument of costline options:
//
//     import { GoogleGenAI } from "costline/google";
//     const ai = new GoogleGenAI({ apiKey }, { agent: "summarise" });
//
// An ES module, like the SDK build it subclasses (Node >= 20.19 also loads it
// with require(); older CommonJS apps use instrument(new GoogleGenAI(...))).
// Metering itself is the CommonJS build's (gemini.js): one state per process.
import * as sdk from "@google/genai";
import agents from "./agents.js";
import gemini from "./gemini.js";
import fallbackhttp from "./fallbackhttp.js";

// Everything else the SDK exports (ApiError, types, helpers) passes through.
export * from "@google/genai";

// An answer a fallback served tells so (`response.costline`), read from the headers the SDK keeps.
fallbackhttp.exposeResponseInfo(sdk.GenerateContentResponse);

export class GoogleGenAI extends sdk.GoogleGenAI {
  constructor(options, costline) {
    super(options);
    agents.keepOptions(this, options);
    gemini.installGoogle(this, costline);
  }

  /** A client like this one whose calls are attributed to agent `name`. */
  withAgent(name) {
    return agents.rebuiltAgentClient(this, name);
  }
}

export default GoogleGenAI;
