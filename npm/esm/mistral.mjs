// costline/mistral: `@mistralai/mistralai`'s `Mistral`, metered. A subclass
// (`instanceof` holds), built with the same options plus an optional second
// argument of costline options. The SDK ships only as an ES module, so this
// face is one too (Node >= 20.19 also loads it with require()). Metering
// itself is the CommonJS build's (mistralai.js): one state per process.
import * as sdk from "@mistralai/mistralai";
import agents from "./agents.js";
import metering from "./mistralai.js";

export * from "@mistralai/mistralai";

export class Mistral extends sdk.Mistral {
  constructor(options, costline) {
    super(options);
    agents.keepOptions(this, options);
    metering.installMistral(this, costline);
  }

  /** A client like this one whose calls are attributed to agent `name`. */
  withAgent(name) {
    return agents.rebuiltAgentClient(this, name);
  }
}

export default Mistral;
