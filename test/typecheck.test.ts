/** The whole project type-checks (src, test, bench): bun runs TypeScript without checking its types. */
import { expect, test } from "bun:test";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..");

test("tsc --noEmit reports no errors", () => {
  const run = Bun.spawnSync([join(ROOT, "node_modules/.bin/tsc"), "--noEmit", "-p", join(ROOT, "tsconfig.json")], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const output = run.stdout.toString() + run.stderr.toString();
  if (run.exitCode !== 0) console.error(output);
  expect(run.exitCode).toBe(0);
}, 60_000);
