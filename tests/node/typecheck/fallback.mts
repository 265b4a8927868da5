// Type-checked (never run): fallback chains on the drop-ins (docs/fallback.md):
// a list of raw clients, or the targets with a policy; `costline` on answers.
import OpenAI from "costline/openai";
import Anthropic from "costline/anthropic";
import { GoogleGenAI } from "costline/google";
import RawAnthropic from "@anthropic-ai/sdk";
import RawOpenAI from "openai";
import * as genai from "@google/genai";
import { BedrockRuntimeClient } from "@aws-sdk/client-bedrock-runtime";
import {
  FallbackDeadlineError,
  FallbackTimeoutError,
  FallbackUnsupportedError,
  type FallbackInfo,
  type FallbackOptions,
  type FallbackTarget,
} from "costline";

const claude: FallbackTarget = { provider: "anthropic", client: new RawAnthropic(), model: "claude-haiku-4-5" };
const openai = new OpenAI({}, { fallback: [claude, { provider: "bedrock", client: new BedrockRuntimeClient({}), model: "m" }] });
const policy: FallbackOptions = {
  targets: [{ provider: "openai", client: new RawOpenAI(), model: "gpt-4o-mini" }],
  retryOn: ["429", "5xx", 408, "connection", "timeout"],
  attemptTimeoutMs: 10_000,
  deadlineMs: 30_000,
  onUnsupported: "skip",
};
const anthropic = new Anthropic({}, { fallback: policy });
const gemini = new GoogleGenAI({ apiKey: "k" }, { fallback: [{ provider: "google", client: new genai.GoogleGenAI({ apiKey: "k" }), model: "m" }] });

async function main(): Promise<void> {
  const reply = await openai.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] });
  const info = (reply as typeof reply & { costline?: FallbackInfo }).costline;
  const cost: string | null | undefined = info?.costUsd;
  try {
    await anthropic.messages.create({ model: "claude-haiku-4-5", max_tokens: 10, messages: [] });
  } catch (err) {
    if (err instanceof FallbackUnsupportedError) void [err.feature, err.target];
    if (err instanceof FallbackDeadlineError || err instanceof FallbackTimeoutError) void err.code;
  }
  void [cost, gemini];
}
void main;
