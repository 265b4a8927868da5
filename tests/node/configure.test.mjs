// configure(): bad settings are clear errors that change nothing, and
// onError hears about events that could not be delivered, without keeping
// the process alive.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";

import { ConfigError, CostlineError, PricesError, configure, settings } from "costline";

test("a bad setting throws ConfigError naming it and leaves the settings as they were", () => {
  configure({ queueSize: 1234, ledger: "off" });
  assert.throws(() => configure({ queueSize: 0 }), (err) => err instanceof ConfigError && /queue_size/.test(err.message));
  assert.throws(() => configure({ backoffMs: [-1] }), (err) => err instanceof ConfigError && /backoff_s/.test(err.message));
  assert.throws(() => configure({ ledgr: "x" }), (err) => err instanceof ConfigError && /ledgr/.test(err.message));
  assert.throws(() => configure({ onError: "not a function" }), TypeError);
  assert.equal(settings().queue_size, 1234);
});

test("a malformed inline price table is a PricesError, a CostlineError", () => {
  assert.throws(
    () => configure({ prices: { "my-model": { input_cost_per_token: "not a number" } } }),
    (err) => err instanceof PricesError && err instanceof CostlineError && /my-model/.test(err.message),
  );
});

test("settings() masks the API key and credentials in the collector URL", () => {
  configure({ apiKey: "sk-secret-123", baseUrl: "http://user:hunter2@127.0.0.1:9/" });
  const shown = JSON.stringify(settings());
  assert.ok(!shown.includes("sk-secret-123") && !shown.includes("hunter2"), shown);
  configure({ baseUrl: "", apiKey: "" });
});

test("onError receives an ExportError for an unreachable collector, and the process still exits", () => {
  const script = `
    import { configure, track, flush } from "costline";
    const seen = [];
    configure({ ledger: "off", baseUrl: "http://127.0.0.1:9", backoffMs: [50], timeoutMs: 200,
                onError: (err, event) => seen.push({ name: err.name, code: err.code, event: event?.model ?? null }) });
    track({ provider: "openai", model: "gpt-4o", inputTokens: 1, outputTokens: 1 });
    await flush(1500);
    await new Promise((r) => setTimeout(r, 300));
    console.log(JSON.stringify(seen));
  `;
  const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    encoding: "utf8",
    timeout: 30_000,
  });
  assert.equal(child.status, 0, child.stderr);
  const seen = JSON.parse(child.stdout.trim().split("\n").pop());
  assert.ok(seen.length >= 1, child.stdout);
  assert.equal(seen[0].name, "ExportError");
  assert.equal(seen[0].code, "export");
});
