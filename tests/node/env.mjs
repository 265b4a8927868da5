// Imported before costline (ESM evaluates imports in order): the suite never
// writes to the user's ledger nor posts to a collector the environment names.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const SESSION_DIR = mkdtempSync(join(tmpdir(), "costline-node-tests-"));
process.env.COSTLINE_LEDGER = join(SESSION_DIR, "default.db");
for (const name of ["COSTLINE_BASE_URL", "COSTLINE_API_KEY", "COSTLINE_PRICES", "COSTLINE_DISABLED", "COSTLINE_OTLP_ENDPOINT", "COSTLINE_BUDGETS", "COSTLINE_REDIS_URL"]) {
  delete process.env[name];
}
