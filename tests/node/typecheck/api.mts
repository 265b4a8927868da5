// Type-checked (never run) by `make test-node`: the public API as a
// TypeScript user writes it, against the .d.ts files the package ships.
import OpenAI, { AzureOpenAI, RateLimitError } from "costline/openai";
import Anthropic from "costline/anthropic";
import * as plain from "openai";
import {
  configure,
  run,
  withAgent,
  flush,
  shutdown,
  cost,
  countTokens,
  track,
  instrument,
  report,
  events,
  status,
  settings,
  CostlineError,
  InvalidEventError,
  BudgetExceededError,
  budgetStatus,
  type Run,
  type Report,
} from "costline";

configure({ tags: { feature: "support-bot" }, ledger: "/tmp/ledger.db", exitTimeoutMs: 1000 });
configure({
  budgets: [{ limitUsd: "5", period: "day", agent: "researcher" }, { limitUsd: 20, tags: { customer: "acme" }, action: "warn" }],
  onBudgetAlert: (alert) => void alert.thresholdPercent,
  budgetFailMode: "closed",
});
const rows: Record<string, unknown>[] = budgetStatus();
void rows;
const openai = new OpenAI();
const azure = new AzureOpenAI({ apiVersion: "2024-10-21", endpoint: "https://example.invalid" }, { agent: "az" });
const claude = new Anthropic({}, { agent: "lookup", tags: { team: "search" } });
const base: plain.OpenAI = openai; // a drop-in is the SDK's client
void azure;

async function main(): Promise<void> {
  const total: string = await run({ agent: "triage", tags: { customer: "acme" } }, async (r: Run) => {
    const completion = await openai.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] });
    const text: string | null = completion.choices[0].message.content;
    void text;
    await openai.withAgent("summarizer").responses.create({ model: "gpt-4o-mini", input: "..." });
    for await (const ev of await claude.messages.create({
      model: "claude-haiku-4-5",
      max_tokens: 256,
      messages: [{ role: "user", content: "hi" }],
      stream: true,
    })) {
      void ev.type;
    }
    const { data, response } = await base.embeddings.create({ model: "text-embedding-3-small", input: "x" }).withResponse();
    void data.data;
    void response.status;
    return r.costUsd;
  });
  await run("research", async () => undefined);
  await run({ agent: "researcher", maxCostUsd: "0.50" }, async () => undefined);
  await run("synthesize", { tags: { phase: "draft" } }, async () => undefined);
  withAgent("writer", () => undefined);
  const price: string | null = cost({ model: "gpt-4o", inputTokens: 1000, outputTokens: 200 });
  const n: number = countTokens("hello world", "gpt-4o");
  const tracked: { eventId: string; costUsd: string | null } = track({ provider: "openai", model: "gpt-4o", inputTokens: 1, outputTokens: 2 });
  const same: plain.OpenAI = instrument(new plain.OpenAI());
  const rep: Report = await report({ by: ["agent", "model"], since: "7d" });
  const rows: (string | number | null)[] = rep.rows.map((row) => row.cost_usd);
  const evs = await events({ limit: 10 });
  const done: boolean = await flush(2000);
  await shutdown();
  void [total, price, n, tracked, same, rows, evs, done, status(), settings()];
  try {
    await openai.chat.completions.create({ model: "gpt-4o", messages: [] });
  } catch (err) {
    if (err instanceof RateLimitError) void err.status;
    if (err instanceof InvalidEventError || err instanceof CostlineError) void err.code;
    if (err instanceof BudgetExceededError) void [err.limitUsd, err.spentUsd, err.scope, err.budgetName];
  }
}
void main;
