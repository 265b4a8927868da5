/**
 * `costline/bedrock`: `@aws-sdk/client-bedrock-runtime`'s `BedrockRuntimeClient`
 * and `BedrockRuntime`, metered through the SDK's middleware stack. They are
 * subclasses (`instanceof` holds), built with the same configuration plus an
 * optional second argument of costline options; every command, response,
 * event stream and exception is the SDK's own.
 *
 *     import { BedrockRuntimeClient, ConverseCommand } from "costline/bedrock";
 *     const client = new BedrockRuntimeClient({ region: "us-east-1" }, { agent: "writer" });
 */

import * as sdk from "@aws-sdk/client-bedrock-runtime";

import { bedrockAgent, meterBedrock } from "./bedrockhook";
import type { CostlineClientOptions } from "./hook";

export type { CostlineClientOptions } from "./hook";
// Everything else the SDK exports (commands, exception classes, types) passes through.
export * from "@aws-sdk/client-bedrock-runtime";

type ClientConfig = sdk.BedrockRuntimeClientConfig;

export class BedrockRuntimeClient extends sdk.BedrockRuntimeClient {
  constructor(config?: ClientConfig, costline?: CostlineClientOptions) {
    super(config ?? {});
    meterBedrock(this, costline);
  }

  /** This client, with its calls attributed to agent `name` (a sub-agent inside a run). */
  withAgent(name: string): this {
    return bedrockAgent(this, name);
  }
}

export class BedrockRuntime extends sdk.BedrockRuntime {
  constructor(config?: ClientConfig, costline?: CostlineClientOptions) {
    super(config ?? {});
    meterBedrock(this, costline);
  }

  withAgent(name: string): this {
    return bedrockAgent(this, name);
  }
}
