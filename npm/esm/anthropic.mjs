// costline/anthropic for ES modules: the twin of src/anthropic.ts over the ES
// module build of `@anthropic-ai/sdk` (see esm/openai.mjs for why). Types:
// anthropic.d.ts.
import * as sdk from "@anthropic-ai/sdk";
import { Stream } from "@anthropic-ai/sdk/streaming";
import hook from "./hook.js";
import fallbackhttp from "./fallbackhttp.js";

export * from "@anthropic-ai/sdk";

export class Anthropic extends sdk.Anthropic {
  constructor(options, costline) {
    super(options);
    hook.attachState(this, "anthropic", costline);
  }

  withAgent(name) {
    return hook.agentClient(this, name);
  }
}

hook.hookClient(Anthropic.prototype, "anthropic");

// A stream a fallback served tells so (`stream.costline`): the ES module build's Stream class.
fallbackhttp.exposeStreamInfo(Stream);

export default Anthropic;
