// Type-checked (never run): the package from CommonJS TypeScript (`require`).
import OpenAI, { AzureOpenAI } from "costline/openai";
import { Anthropic } from "costline/anthropic";
import * as plain from "openai";
import { run, cost } from "costline";

const client: plain.OpenAI = new OpenAI({ apiKey: "k" }, { tags: { team: "a" } });
const claude = new Anthropic({ apiKey: "k" });
void [client, claude, AzureOpenAI];
const total: Promise<string> = run("job", async (r) => {
  await client.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] });
  return r.costUsd;
});
const price: string | null = cost({ model: "gpt-4o", inputTokens: 1, outputTokens: 1 });
void [total, price];
