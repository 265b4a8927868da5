// Type-checked (never run) by `make test-node`: the routed client as a
// TypeScript user writes it, against the .d.ts files the package ships.
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import {
  Costline,
  CostlineError,
  RoutingError,
  BudgetExceededError,
  type CostlineOptions,
  type RoutedInfo,
  type RoutedCompletion,
  type RoutedStream,
  type RouterSummary,
  type CandidateRow,
  type Decision,
} from "costline";

const options: CostlineOptions = {
  providers: { openai: new OpenAI(), anthropic: new Anthropic() },
  models: ["gpt-4o-mini", { model: "claude-haiku-4-5", provider: "anthropic", quality: 62, latencyMs: 600 }],
  scores: { "gpt-4o-mini": 55 },
  router: async (summary: RouterSummary, candidates: CandidateRow[]) => (summary.level > 2 ? candidates[0].model : null),
  fallback: { retryOn: ["429", "5xx"], attemptTimeoutMs: 10_000, deadlineMs: 30_000 },
  tags: { team: "support" },
};
const client = new Costline(options);
const messages = [{ role: "user", content: "Analyse this refund request." }];

async function main(): Promise<void> {
  const r: RoutedCompletion = await client.chat.completions.create({
    model: "auto",
    routing: { prefer: "lowest_cost_that_meets_quality", maxCostUsd: "0.02", minConfidence: 0.8 },
    metadata: { customerId: "acme", featureId: "support-triage", environment: "production", costCenter: "customer-success" },
    messages,
  });
  const text: string | null = r.choices[0].message.content;
  const prompt: number | undefined = r.usage?.prompt_tokens;
  void [text, prompt];
  const info: RoutedInfo = r.costline;
  const routedTo: string = info.routedTo;
  const cost: string | null = info.costUsd;
  const confidence: number | null = info.confidence;
  const reason: string = info.reason;
  const attempts: number = info.attempts;
  const callId: string = info.callId;
  void [routedTo, cost, confidence, reason, attempts, callId];
  const stream: RoutedStream = await client.chat.completions.create({ model: "auto", messages, stream: true });
  for await (const chunk of stream) void (chunk.choices[0]?.delta.content ?? "");
  const streamed: string | null = stream.costline.costUsd;
  void streamed;
  const decision: Decision = await client.route({ model: "auto", messages });
  void decision.candidates[0].why_not;
  try {
    await client.chat.completions.create({ model: "gpt-4o", messages }, { headers: { "x-trace": "1" }, timeout: 5000 });
  } catch (err) {
    if (err instanceof RoutingError) void [err.code, err.details, err.requestId];
    else if (err instanceof BudgetExceededError) void [err.limitUsd, err.details];
    else if (err instanceof CostlineError) void (err.requestId ?? "");
  }
}
void main;
