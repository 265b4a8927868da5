// Shared by the Node test files: the mock provider (one per test file), a
// fresh ledger per test, events read back through costline's own reader, and
// child processes (Node scripts and the Python package) against one ledger.
import { SESSION_DIR } from "./env.mjs";

import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { mkdtempSync, existsSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";

import { configure, flush, events } from "costline";

export const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const PYTHON = join(REPO, ".venv", "bin", "python");
export const MESSAGES = [{ role: "user", content: "Say hello to the mock." }];
export const SECRET_KEY = "sk-test-SECRET-do-not-log-4242";

const require = createRequire(import.meta.url);
/**
 * The addon itself (previewEvent, testPanic...), through the package's own
 * loader: the very object the drop-ins use (the package's exports map hides
 * dist/binding.js, so it is required by path; the symlink resolves to it).
 */
export const native = require(join(REPO, "npm", "dist", "binding.js")).native;

/** Start the mock provider (`python3 tests/mock_provider/server.py --port 0`). */
export function startMock() {
  const child = spawn("python3", [join(REPO, "tests", "mock_provider", "server.py"), "--port", "0"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error("the mock provider did not start within 30 s")), 30_000);
    child.on("exit", (code) => reject(new Error(`the mock provider exited (${code}) before it was ready`)));
    child.stdout.on("data", (data) => {
      out += data;
      const match = /MOCK_URL=(\S+)/.exec(out);
      if (!match) return;
      clearTimeout(timer);
      child.removeAllListeners("exit");
      const url = match[1];
      resolve({
        url,
        openaiBaseURL: url + "/v1",
        anthropicBaseURL: url,
        geminiBaseURL: url + "/gemini",
        mistralServerURL: url + "/mistral",
        async requests(path) {
          const all = (await (await fetch(url + "/_mock/requests")).json()).requests;
          return path ? all.filter((r) => r.path.endsWith(path)) : all;
        },
        async reset() {
          await fetch(url + "/_mock/reset", { method: "POST" });
        },
        stop() {
          child.kill("SIGTERM");
        },
      });
    });
  });
}

/**
 * One mock provider for the test file that calls this (started before its
 * tests, stopped after), reset and given a fresh ledger before each test.
 * Returns a handle whose fields are filled in by `before`.
 */
export function useMock() {
  const handle = {};
  before(async () => {
    Object.assign(handle, await startMock());
  });
  after(() => handle.stop?.());
  beforeEach(async () => {
    await handle.reset();
    handle.ledger = await freshLedger();
  });
  return handle;
}

let ledgers = 0;

/** A fresh, empty ledger for this process; no collector; no process tags. */
export async function freshLedger() {
  await flush(10_000); // whatever an earlier test recorded lands in its own ledger
  const path = join(mkdtempSync(join(SESSION_DIR, "t-")), `ledger-${++ledgers}.db`);
  configure({ ledger: path, baseUrl: "", queueSize: 10_000, tags: {} });
  return path;
}

/** Flush, then the events of this process's ledger (wire format), oldest first. */
export async function recorded() {
  assert.equal(await flush(10_000), true, "flush did not complete");
  return events({ timeoutMs: 10_000 });
}

/** Exactly one event was recorded: return it. */
export async function oneEvent() {
  const all = await recorded();
  assert.equal(all.length, 1, `expected exactly one event, got ${JSON.stringify(all, null, 1)}`);
  return all[0];
}

/** An SDK response object without the fields a server varies per request. */
export function stripVolatile(value) {
  if (Array.isArray(value)) return value.map(stripVolatile);
  if (value && typeof value === "object") {
    const out = {};
    for (const [k, v] of Object.entries(value)) {
      if (["id", "item_id", "created", "created_at", "completed_at", "_request_id"].includes(k)) continue;
      out[k] = stripVolatile(v);
    }
    return out;
  }
  return value;
}

/**
 * Run a process to its end: { code, signal, stdout, stderr, ms } (ms: from
 * spawn to exit). `timeoutMs` only catches hangs.
 */
export function runProcess(command, args, { env = {}, timeoutMs = 60_000, cwd = REPO } = {}) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${command} ${args.join(" ")} still running after ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      child.stdout.on("end", () => {});
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started, exitedAt: Date.now() });
    });
  });
}

/** Run an ES module script (source text) with node, from the repo (so `costline` resolves). */
export function runNode(source, options = {}) {
  return runProcess(process.execPath, ["--input-type=module", "-e", source], options);
}

/** Run Python code with the project's venv (the costline Python package, `tests/` importable). */
export function runPython(source, { env = {}, ...options } = {}) {
  assert.ok(existsSync(PYTHON), `${PYTHON} is missing: run \`make build\` first`);
  return runProcess(PYTHON, ["-c", source], {
    ...options,
    env: { PYTHONPATH: join(REPO, "tests"), ...env },
  });
}

/**
 * The ledger's events as another process sees them: a fresh Node process
 * reading `ledger` through costline's own `events()` (wire format, oldest first).
 */
export async function exported(ledger) {
  const out = await runNode(
    `import { configure, events } from "costline";
configure({ ledger: process.env.READ_LEDGER });
process.stdout.write(JSON.stringify(await events()));`,
    { env: { READ_LEDGER: ledger, COSTLINE_LEDGER: "off" } },
  );
  assert.equal(out.code, 0, out.stderr);
  return JSON.parse(out.stdout);
}
