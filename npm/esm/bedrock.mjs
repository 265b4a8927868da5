// costline/bedrock for ES modules: the twin of src/bedrock.ts over the ES
// module build of `@aws-sdk/client-bedrock-runtime` (see esm/openai.mjs for
// why). Types: bedrock.d.ts.
import * as sdk from "@aws-sdk/client-bedrock-runtime";
import hook from "./bedrockhook.js";

export * from "@aws-sdk/client-bedrock-runtime";

export class BedrockRuntimeClient extends sdk.BedrockRuntimeClient {
  constructor(config, costline) {
    super(config ?? {});
    hook.meterBedrock(this, costline);
  }

  withAgent(name) {
    return hook.bedrockAgent(this, name);
  }
}

export class BedrockRuntime extends sdk.BedrockRuntime {
  constructor(config, costline) {
    super(config ?? {});
    hook.meterBedrock(this, costline);
  }

  withAgent(name) {
    return hook.bedrockAgent(this, name);
  }
}
