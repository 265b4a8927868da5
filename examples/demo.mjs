// costline demo, Node half: the same support bot as examples/demo.py, written
// against the Node package, appending to the same ledger (the path given, or
// .demo/ledger.db). Then `npx costline report` shows both languages' calls.
// No network: the mock provider listens on 127.0.0.1.
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const ledger = path.resolve(process.argv[2] ?? path.join(root, ".demo", "ledger.db"));
process.env.COSTLINE_LEDGER = ledger;

const { default: OpenAI } = await import("costline/openai");
const { default: Anthropic } = await import("costline/anthropic");
const { GoogleGenAI } = await import("costline/google");
const { Mistral } = await import("costline/mistral");
const { BedrockRuntimeClient, ConverseCommand } = await import("costline/bedrock");
// HTTP/1.1: the mock does not speak the HTTP/2 the Bedrock client uses by default.
const { NodeHttpHandler } = await import("@smithy/node-http-handler");
const { configure, run, flush } = await import("costline");

const mock = spawn("python3", [path.join(root, "tests/mock_provider/server.py"), "--port", "0"], {
  stdio: ["ignore", "pipe", "inherit"],
});
try {
  const [first] = await once(mock.stdout, "data");
  const url = /MOCK_URL=(\S+)/.exec(String(first))[1];
  configure({ tags: { feature: "support-bot-node" } });
  const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: "demo-key" });
  const claude = new Anthropic({ baseURL: url, apiKey: "demo-key" }, { agent: "lookup" });
  const gemini = new GoogleGenAI({ apiKey: "demo-key", httpOptions: { baseUrl: `${url}/gemini` } }, { agent: "researcher" });
  const mistral = new Mistral({ apiKey: "demo-key", serverURL: `${url}/mistral` }, { agent: "translator" });
  // An OpenAI client for an OpenAI-compatible service, recorded (and priced) as that provider.
  const groq = new OpenAI({ baseURL: `${url}/v1`, apiKey: "demo-key" }, { provider: "groq", agent: "checker" });
  const bedrock = new BedrockRuntimeClient(
    {
      region: "us-east-1",
      endpoint: `${url}/bedrock`,
      credentials: { accessKeyId: "AKIDDEMO", secretAccessKey: "demo-secret" },
      requestHandler: new NodeHttpHandler(),
    },
    { agent: "reviewer" },
  );

  for (const customer of ["acme", "globex", "initech"]) {
    await run({ agent: "triage", tags: { customer } }, async (r) => {
      await openai.chat.completions.create(
        { model: "gpt-4o", messages: [{ role: "user", content: `Classify the ticket from ${customer}.` }] },
        { headers: { "x-mock-prompt-tokens": "1200", "x-mock-cached-tokens": "400" } },
      );
      // Sub-agents fan out in parallel; attribution follows each branch.
      await Promise.all([
        (async () => {
          const stream = claude.messages.stream(
            { model: "claude-haiku-4-5", max_tokens: 200, messages: [{ role: "user", content: `Find ${customer}.` }] },
            { headers: { "x-mock-cached-tokens": "2000", "x-mock-cache-write-5m": "300" } },
          );
          for await (const _ of stream) void _;
        })(),
        openai.withAgent("writer").responses.create({ model: "gpt-4o-mini", input: "Draft the reply." }),
        gemini.models.generateContent({
          model: "gemini-2.5-flash",
          contents: `Research ${customer}'s account history.`,
          config: { httpOptions: { headers: { "x-mock-cached-tokens": "800", "x-mock-reasoning-tokens": "120" } } },
        }),
        (async () => {
          for await (const _ of await mistral.chat.stream({
            model: "mistral-small-latest",
            messages: [{ role: "user", content: "Translate the reply." }],
          })) void _;
        })(),
        groq.chat.completions.create({ model: "openai/gpt-oss-120b", messages: [{ role: "user", content: "Check the reply." }] }),
      ]);
      // A reviewer on AWS Bedrock, through a US cross-region inference profile.
      await bedrock.send(
        new ConverseCommand({
          modelId: "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
          messages: [{ role: "user", content: [{ text: "Review the draft." }] }],
        }),
      );
      for await (const _ of await openai.chat.completions.create({
        model: "gpt-4o-mini",
        messages: [{ role: "user", content: "Summarise." }],
        stream: true,
      })) void _;
      console.log(`run ${r.runId}  customer=${customer.padEnd(8)} calls=${r.calls}  cost=$${r.costUsd}`);
    });
  }
  if (!(await flush(10000))) throw new Error("events did not reach the ledger");
} finally {
  mock.kill();
}

console.log(`\n$ npx costline report --by tag:feature,agent,model   (ledger: ${path.relative(root, ledger) || ledger})`);
const report = spawnSync("npx", ["--no-install", "costline", "report", "--ledger", ledger, "--by", "tag:feature,agent,model"], {
  stdio: "inherit",
  cwd: root,
});
process.exitCode = report.status ?? 1;
