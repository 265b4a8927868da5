// The shared translation vectors (tests/vectors/translate/; the Rust and
// Python suites replay the same files): requests, responses, streams and the
// refusals, through the addon's `translate(kind, source, target, input, options)`.
import "./env.mjs";

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { FallbackUnsupportedError } from "costline";
import { REPO, native } from "./support.mjs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
// The package's own error mapping (its exports map hides dist/errors.js; required by path).
const { fromNative } = require(join(REPO, "npm", "dist", "errors.js"));

const VECTORS = join(REPO, "tests", "vectors", "translate");

function cases(name) {
  const data = JSON.parse(readFileSync(join(VECTORS, name), "utf8"));
  assert.ok(Array.isArray(data.cases) && data.cases.length > 0, `${name}: expected a non-empty list of cases`);
  return data.cases;
}

for (const file of ["requests.json", "responses.json", "streams.json"]) {
  test(`the ${file} translation vectors replay through the Node binding`, () => {
    for (const c of cases(file)) {
      const out = native.translate(c.kind, c.source, c.target, c.input, c.options);
      assert.deepStrictEqual(out, c.expected, c.name);
    }
  });
}

test("the unsupported.json vectors raise FallbackUnsupportedError naming the feature and target", () => {
  for (const c of cases("unsupported.json")) {
    let caught;
    try {
      native.translate(c.kind, c.source, c.target, c.input, c.options);
    } catch (err) {
      caught = fromNative(err);
    }
    assert.ok(caught instanceof FallbackUnsupportedError, `${c.name}: expected FallbackUnsupportedError, got ${caught}`);
    assert.equal(caught.code, "fallback_unsupported", c.name);
    assert.deepStrictEqual({ feature: caught.feature, target: caught.target }, { feature: c.error.feature, target: c.error.target }, c.name);
  }
});

test("all 20 directional pairs are covered by the request and stream vectors", () => {
  const providers = ["openai", "anthropic", "google", "mistral", "bedrock"];
  for (const file of ["requests.json", "streams.json"]) {
    const pairs = new Set(cases(file).map((c) => `${c.source}->${c.target}`));
    for (const s of providers) for (const t of providers) if (s !== t) assert.ok(pairs.has(`${s}->${t}`), `${file}: ${s}->${t}`);
  }
});
