#!/usr/bin/env bash
# Pack npm/ into the tarball users install, and prove it works in a clean
# project with no Rust toolchain involved: one prebuilt addon inside, loaded
# from beside the loader; `require` and `import` both work and share one
# state; a drop-in call against the mock provider lands in the ledger; the
# `costline` bin reads it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$(mktemp -d)
mock_pid=
trap '[ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null; rm -rf "$out"' EXIT

tarball=$(cd npm && npm pack --silent --pack-destination "$out")
listing=$(tar -tzf "$out/$tarball")
nodes=$(grep -c '\.node$' <<<"$listing" || true)
[ "$nodes" = 1 ] || { echo "expected one prebuilt .node in $tarball, found $nodes" >&2; exit 1; }
# The addon loads on glibc 2.17 (built with zig, as the wheel is) and carries no symbols.
tar -xzf "$out/$tarball" -C "$out" --wildcards 'package/dist/*.node'
bash scripts/elf_portability.sh "$out"/package/dist/*.node 2.17
if grep -q 'package/src/' <<<"$listing"; then echo "TypeScript sources leaked into $tarball" >&2; exit 1; fi
for f in dist/index.js dist/index.mjs dist/index.d.ts dist/openai.mjs dist/anthropic.d.ts dist/bedrock.mjs dist/bedrock.d.mts dist/google.mjs dist/google.d.mts dist/mistral.mjs dist/mistral.d.mts dist/gemini.js dist/mistralai.js dist/native.js dist/cli.js bin/costline.js; do
  grep -qx "package/$f" <<<"$listing" || { echo "$f missing from $tarball" >&2; exit 1; }
done

python3 "$root/tests/mock_provider/server.py" --port 0 >"$out/mock.txt" &
mock_pid=$!
for _ in $(seq 100); do grep -q MOCK_URL "$out/mock.txt" && break; sleep 0.1; done
export MOCK_URL=$(sed -n 's/^MOCK_URL=//p' "$out/mock.txt")

cat > "$out/smoke.mjs" <<'JS'
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import OpenAI from "costline/openai";
import Anthropic from "costline/anthropic";
import { GoogleGenAI } from "costline/google";
import { Mistral } from "costline/mistral";
import { BedrockRuntimeClient, ConverseCommand, ConverseStreamCommand } from "costline/bedrock";
import * as bedrockSdk from "@aws-sdk/client-bedrock-runtime";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import * as sdk from "openai";
import * as genai from "@google/genai";
import * as mistralai from "@mistralai/mistralai";
import { run, flush, events, Costline, RoutingError, CostlineError } from "costline";
const require = createRequire(import.meta.url);
const cjs = require("costline");
assert.equal(cjs.run, run, "require and import share one module");
assert.ok(require("costline/openai").OpenAI.prototype instanceof require("openai").OpenAI);
assert.ok(require("costline/bedrock").BedrockRuntimeClient.prototype instanceof require("@aws-sdk/client-bedrock-runtime").BedrockRuntimeClient);
const client = new OpenAI({ baseURL: process.env.MOCK_URL + "/v1", apiKey: "k" });
assert.ok(client instanceof sdk.OpenAI);
const claude = new Anthropic({ baseURL: process.env.MOCK_URL, apiKey: "k" });
const gemini = new GoogleGenAI({ apiKey: "k", httpOptions: { baseUrl: process.env.MOCK_URL + "/gemini" } });
assert.ok(gemini instanceof genai.GoogleGenAI);
const mistral = new Mistral({ apiKey: "k", serverURL: process.env.MOCK_URL + "/mistral" });
assert.ok(mistral instanceof mistralai.Mistral);
const messages = [{ role: "user", content: "hi" }];
// HTTP/1.1 (the Bedrock client's default handler speaks HTTP/2; the mock does not) and fake credentials.
const bedrock = new BedrockRuntimeClient({
  region: "us-east-1",
  endpoint: process.env.MOCK_URL + "/bedrock",
  credentials: { accessKeyId: "AKID", secretAccessKey: "k" },
  requestHandler: new NodeHttpHandler(),
});
assert.ok(bedrock instanceof bedrockSdk.BedrockRuntimeClient);
const converse = { modelId: "us.anthropic.claude-sonnet-4-5-20250929-v1:0", messages: [{ role: "user", content: [{ text: "hi" }] }] };
await run("smoke", async () => {
  await gemini.models.generateContent({ model: "gemini-2.5-flash", contents: "hi" });
  for await (const _ of await gemini.models.generateContentStream({ model: "gemini-2.5-flash", contents: "hi" })) void _;
  await mistral.chat.complete({ model: "mistral-small-latest", messages });
  for await (const _ of await mistral.chat.stream({ model: "mistral-small-latest", messages })) void _;
  await client.chat.completions.create({ model: "gpt-4o", messages });
  for await (const _ of await client.chat.completions.create({ model: "gpt-4o", messages, stream: true })) void _;
  await claude.messages.create({ model: "claude-haiku-4-5", max_tokens: 64, messages });
  for await (const _ of claude.messages.stream({ model: "claude-haiku-4-5", max_tokens: 64, messages })) void _;
  await bedrock.send(new ConverseCommand(converse));
  for await (const _ of (await bedrock.send(new ConverseStreamCommand(converse))).stream) void _;
  // The routed client (costline's root export) over the raw SDK clients: a routed call and a routed stream.
  const routed = new Costline({ providers: { openai: new sdk.OpenAI({ baseURL: process.env.MOCK_URL + "/v1", apiKey: "k" }), anthropic: new (require("@anthropic-ai/sdk").Anthropic)({ baseURL: process.env.MOCK_URL, apiKey: "k" }) }, models: [{ model: "gpt-4o-mini", provider: "openai", quality: 55 }, { model: "claude-haiku-4-5", provider: "anthropic", quality: 62 }] });
  const answer = await routed.chat.completions.create({ model: "auto", routing: { prefer: "highest_quality" }, max_tokens: 64, messages });
  assert.equal(answer.object, "chat.completion");
  assert.equal(answer.costline.routedTo, "claude-haiku-4-5");
  for await (const chunk of await routed.chat.completions.create({ model: "auto", routing: { prefer: "lowest_cost" }, max_tokens: 64, messages, stream: true })) assert.equal(chunk.object, "chat.completion.chunk");
  assert.ok(new RoutingError("x", "over_max_cost") instanceof CostlineError);
});
assert.ok(await flush(10000));
const seen = await events();
assert.equal(seen.length, 12, JSON.stringify(seen));
for (const event of seen) {
  assert.equal(event.agent, "smoke");
  assert.equal(event.sdk.lang, "node");
  assert.equal(event.usage_source, "provider");
  assert.match(event.cost_usd, /^0\.\d+$/);
}
console.log("smoke ok:", seen.map((e) => `${e.model} ${e.cost_usd}`).join(", "));
JS

# The SDK versions the suite verifies (root package.json), then the floors of
# the peer ranges, each in a clean project, from npm's cache when it has them.
newest_openai=$(node -p "require('$root/node_modules/openai/package.json').version")
newest_anthropic=$(node -p "require('$root/node_modules/@anthropic-ai/sdk/package.json').version")
newest_bedrock=$(node -p "require('$root/node_modules/@aws-sdk/client-bedrock-runtime/package.json').version")
newest_genai=$(node -p "require('$root/node_modules/@google/genai/package.json').version")
newest_mistral=$(node -p "require('$root/node_modules/@mistralai/mistralai/package.json').version")
sdk_sets=${CHECK_SDKS:-"openai@$newest_openai @anthropic-ai/sdk@$newest_anthropic @aws-sdk/client-bedrock-runtime@$newest_bedrock @google/genai@$newest_genai @mistralai/mistralai@$newest_mistral
openai@5.0.0 @anthropic-ai/sdk@0.60.0 @aws-sdk/client-bedrock-runtime@3.588.0 @google/genai@1.30.0 @mistralai/mistralai@2.0.0"}
while IFS= read -r sdks; do
  app=$(mktemp -d "$out/app.XXXX")
  (
    cd "$app"
    npm init -y >/dev/null
    # shellcheck disable=SC2086
    npm install --no-audit --no-fund --prefer-offline --loglevel=error ${NPM_INSTALL_FLAGS:-} "$out/$tarball" $sdks
    cp "$out/smoke.mjs" .
    COSTLINE_LEDGER="$app/ledger.db" node smoke.mjs
    COSTLINE_LEDGER="$app/ledger.db" npx --no-install costline report --by agent,model
  )
  echo "ok with $sdks"
done <<<"$sdk_sets"
echo "npm tarball ok: $tarball ($(du -h "$out/$tarball" | cut -f1))"
