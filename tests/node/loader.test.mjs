// The package's loader: on a platform with no addon, importing costline
// fails with one error that says what is missing and what to do.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";

test("a missing native addon is a clear error naming the platform and the remedy", () => {
  const child = spawnSync(process.execPath, ["-e", 'require("costline")'], {
    env: { ...process.env, NAPI_RS_NATIVE_LIBRARY_PATH: "/nonexistent/costline.node" },
    encoding: "utf8",
  });
  assert.notEqual(child.status, 0);
  assert.match(child.stderr, new RegExp(`no native addon loads on ${process.platform}-${process.arch}`));
  assert.match(child.stderr, /make build-node/);
  assert.match(child.stderr, /costline-<platform>/);
});

test("the addon loads from beside the loader, from require and from import alike", async () => {
  const { createRequire } = await import("node:module");
  const cjs = createRequire(import.meta.url)("costline");
  const esm = await import("costline");
  assert.equal(esm.configure, cjs.configure);
  assert.match(cjs.VERSION, /^\d+\.\d+\.\d+/);
});
