// costline/openai for ES modules. An ESM app's `import OpenAI from "openai"`
// is the ES module build of `openai`, a different class from its CommonJS
// build: this twin of src/openai.ts subclasses the ES module build, so
// `instanceof` holds here too. Metering itself is the CommonJS build's
// (hook.js), so both faces share one state per process. Types: openai.d.ts.
import * as sdk from "openai";
import { Stream } from "openai/streaming";
import hook from "./hook.js";
import fallbackhttp from "./fallbackhttp.js";

export * from "openai";

export class OpenAI extends sdk.OpenAI {
  constructor(options, costline) {
    super(options);
    hook.attachState(this, "openai", costline);
  }

  withAgent(name) {
    return hook.agentClient(this, name);
  }
}

export class AzureOpenAI extends sdk.AzureOpenAI {
  constructor(options, costline) {
    super(options);
    hook.attachState(this, "openai", costline);
  }

  withAgent(name) {
    return hook.agentClient(this, name);
  }
}

hook.hookClient(OpenAI.prototype, "openai");
hook.hookClient(AzureOpenAI.prototype, "openai");
Object.defineProperty(AzureOpenAI.prototype, hook.DEFAULT_PROVIDER, { value: "azure", configurable: true });

// A stream a fallback served tells so (`stream.costline`): the ES module build's Stream class.
fallbackhttp.exposeStreamInfo(Stream);

export default OpenAI;
