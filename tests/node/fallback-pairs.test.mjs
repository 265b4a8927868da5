// Fallback chains, every directional pair (issue 10): a source drop-in whose
// provider fails is served by each other provider's raw client, plain and
// streamed, and the caller gets its own SDK's types both ways. Each served
// attempt is one event of the target, priced from the usage it reported.
import "./env.mjs";

import { test } from "node:test";
import assert from "node:assert/strict";

import { recorded, useMock } from "./support.mjs";
import { MODELS, PROVIDERS, askBoth, failingSource, streamInfo, target } from "./fallback-support.mjs";

const mock = useMock();

const SOURCES = PROVIDERS;

for (const source of SOURCES) {
  for (const provider of PROVIDERS) {
    if (provider === source) continue;
    test(`${source} caller served by ${provider}: plain and streamed, in ${source}'s SDK types`, async () => {
      const client = failingSource(mock, source, [target(mock, provider)]);
      const answers = await askBoth(source, client);
      const { reply } = answers;
      assert.equal(reply.costline.servedBy, `${provider}/${MODELS[provider]}`);
      assert.equal(streamInfo(source, answers).servedBy, `${provider}/${MODELS[provider]}`);
      const events = await recorded();
      const served = events.filter((e) => e.status === "ok").map((e) => [e.provider, e.model, e.stream, e.attempt, e.usage_source]);
      assert.deepEqual(served.sort(), [
        [provider, MODELS[provider], false, 2, "provider"],
        [provider, MODELS[provider], true, 2, "provider"],
      ]);
      for (const e of events.filter((x) => x.status === "ok")) {
        assert.ok(e.output_tokens > 0, `${provider}: output tokens`);
        assert.match(e.cost_usd, /^0\.\d+$/, `${provider}: priced`);
      }
      const primary = events.filter((e) => e.attempt === 1);
      assert.deepEqual(primary.map((e) => [e.provider, e.status]), [[source, "error"], [source, "error"]]);
      for (const e of events) assert.equal(e.call_id, events.find((x) => x.stream === e.stream && x.attempt === 1).call_id);
      assert.equal(reply.costline.costUsd, events.find((e) => e.status === "ok" && !e.stream).cost_usd);
    });
  }
}
