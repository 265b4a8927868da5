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
if grep -q 'package/src/' <<<"$listing"; then echo "TypeScript sources leaked into $tarball" >&2; exit 1; fi
for f in dist/index.js dist/index.mjs dist/index.d.ts dist/openai.mjs dist/anthropic.d.ts dist/native.js dist/cli.js; do
  grep -qx "package/$f" <<<"$listing" || { echo "$f missing from $tarball" >&2; exit 1; }
done

mkdir "$out/app"
cd "$out/app"
npm init -y >/dev/null
# The SDK versions the suite verifies (root package.json), from npm's cache when it has them.
openai=$(node -p "require('$root/node_modules/openai/package.json').version")
anthropic=$(node -p "require('$root/node_modules/@anthropic-ai/sdk/package.json').version")
npm install --no-audit --no-fund --prefer-offline --loglevel=error "$out/$tarball" "openai@$openai" "@anthropic-ai/sdk@$anthropic"

python3 "$root/tests/mock_provider/server.py" --port 0 >"$out/mock.txt" &
mock_pid=$!
for _ in $(seq 100); do grep -q MOCK_URL "$out/mock.txt" && break; sleep 0.1; done
export MOCK_URL=$(sed -n 's/^MOCK_URL=//p' "$out/mock.txt")
export COSTLINE_LEDGER="$out/ledger.db"

cat > smoke.mjs <<'JS'
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import OpenAI from "costline/openai";
import * as sdk from "openai";
import { run, flush, events } from "costline";
const require = createRequire(import.meta.url);
const cjs = require("costline");
assert.equal(cjs.run, run, "require and import share one module");
assert.ok(require("costline/openai").OpenAI.prototype instanceof require("openai").OpenAI);
const client = new OpenAI({ baseURL: process.env.MOCK_URL + "/v1", apiKey: "k" });
assert.ok(client instanceof sdk.OpenAI);
await run("smoke", async () => {
  await client.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] });
});
assert.ok(await flush(10000));
const [event] = await events();
assert.equal(event.agent, "smoke");
assert.equal(event.sdk.lang, "node");
assert.match(event.cost_usd, /^0\.\d+$/);
console.log("smoke ok:", event.model, event.cost_usd);
JS
node smoke.mjs
npx --no-install costline report --by agent,model
echo "npm tarball ok: $tarball ($(du -h "$out/$tarball" | cut -f1))"
