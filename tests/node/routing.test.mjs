// The routing decision through the Node binding: tests/vectors/routing/decisions.json,
// the file core/tests/routing_vectors.rs replays through routing::decide_json, replayed
// through the addon's `decide` (and the npm layer's RoutingError mapping).
import "./env.mjs";

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

import { configure, CostlineError, RoutingError } from "costline";
import { REPO } from "./support.mjs";

const require = createRequire(import.meta.url);
const { decide } = require(join(REPO, "npm", "dist", "routing.js"));

const file = JSON.parse(readFileSync(join(REPO, "tests", "vectors", "routing", "decisions.json"), "utf8"));

test("the routing vectors pick the expected model, or raise RoutingError with the expected code", () => {
  configure({ prices: file.prices });
  try {
    assert.ok(file.cases.length >= 19);
    const failures = [];
    for (const c of file.cases) {
      let got;
      try {
        got = decide(JSON.stringify(c.input));
      } catch (err) {
        got = err;
      }
      const expected = c.expected;
      if (expected.error_code) {
        if (!(got instanceof RoutingError) || got.code !== expected.error_code) failures.push(`${c.name}: expected ${expected.error_code}, got ${got?.code ?? got?.model}`);
        continue;
      }
      if (got instanceof Error) {
        failures.push(`${c.name}: ${got.message}`);
        continue;
      }
      const ok =
        got.model === expected.model &&
        ["required_level", "level_raised"].every((k) => expected[k] === undefined || got[k] === expected[k]);
      if (!ok) failures.push(`${c.name}: expected ${JSON.stringify(expected)}, got ${got.model}: ${got.reason}`);
    }
    assert.deepEqual(failures, []);
  } finally {
    configure({ prices: "" });
  }
});

test("a decision carries the pick's reason, worst case, difficulty and the whole table", () => {
  configure({ prices: file.prices });
  try {
    const d = decide(JSON.stringify(file.cases[0].input));
    assert.equal(d.model, "gpt-4.1-nano");
    assert.equal(d.provider, "openai");
    assert.match(d.reason, /^gpt-4\.1-nano \(openai\): cheapest of 5 candidates within budget/);
    assert.equal(typeof d.cost_usd, "string");
    assert.equal(d.candidates.length, 5);
    assert.ok(d.candidates.every((r) => typeof r.cost_usd === "string" && typeof r.eligible === "boolean"));
    assert.equal(typeof d.difficulty.level, "number");
  } finally {
    configure({ prices: "" });
  }
});

test("RoutingError is a CostlineError with code, details and a null requestId", () => {
  configure({ prices: file.prices });
  try {
    const over = file.cases.find((c) => c.expected.error_code === "over_max_cost");
    const err = (() => {
      try {
        decide(JSON.stringify(over.input));
      } catch (e) {
        return e;
      }
    })();
    assert.ok(err instanceof RoutingError);
    assert.ok(err instanceof CostlineError);
    assert.equal(err.name, "RoutingError");
    assert.equal(err.code, "over_max_cost");
    assert.equal(err.requestId, null);
    assert.equal(err.details.max_cost_usd, over.input.max_cost_usd);
    assert.equal(typeof err.details.cheapest_model, "string");
    assert.equal(err.details.candidates.length, 5);
  } finally {
    configure({ prices: "" });
  }
});
