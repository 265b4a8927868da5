// Type-checked (never run): `costline/bedrock` as a TypeScript user writes it.
// The drop-ins are the SDK's clients; commands, outputs and exceptions are the SDK's.
import {
  BedrockRuntimeClient,
  BedrockRuntime,
  ConverseCommand,
  ConverseStreamCommand,
  InvokeModelCommand,
  ThrottlingException,
  type ConverseCommandOutput,
} from "costline/bedrock";
import * as plain from "@aws-sdk/client-bedrock-runtime";
import { instrument, run } from "costline";

const client: plain.BedrockRuntimeClient = new BedrockRuntimeClient({ region: "us-east-1" }, { agent: "writer", tags: { team: "a" } });
const aggregated: plain.BedrockRuntime = new BedrockRuntime({ region: "us-east-1" });
const bare = new BedrockRuntimeClient();
const writer: BedrockRuntimeClient = bare.withAgent("writer");
const same: plain.BedrockRuntimeClient = instrument(new plain.BedrockRuntimeClient({}), { tags: { team: "b" } });
const messages = [{ role: "user" as const, content: [{ text: "hi" }] }];

async function main(): Promise<void> {
  const total: string = await run("job", async (r) => {
    const out: ConverseCommandOutput = await client.send(new ConverseCommand({ modelId: "us.anthropic.claude-sonnet-4-5-20250929-v1:0", messages }));
    void out.usage?.cacheReadInputTokens;
    const streamed = await writer.send(new ConverseStreamCommand({ modelId: "anthropic.claude-3-5-haiku-20241022-v1:0", messages }));
    for await (const event of streamed.stream ?? []) void event.metadata?.usage;
    const invoked = await same.send(new InvokeModelCommand({ modelId: "meta.llama3-8b-instruct-v1:0", body: JSON.stringify({ prompt: "hi" }) }));
    void invoked.body.transformToString();
    void (await aggregated.converse({ modelId: "amazon.nova-lite-v1:0", messages })).output;
    return r.costUsd;
  });
  void total;
  try {
    await client.send(new ConverseCommand({ modelId: "x", messages }));
  } catch (err) {
    if (err instanceof ThrottlingException) void err.$metadata.httpStatusCode;
  }
}
void main;
