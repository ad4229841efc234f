/** The generated OpenAPI document passes `redocly lint` (recommended rules) with no errors or warnings. */
import { afterAll, expect, test } from "bun:test";
import { join, resolve } from "node:path";
import { tempDir, testApp } from "../helpers.ts";

const t = testApp();
afterAll(() => t.close());
const ROOT = resolve(import.meta.dir, "../..");

test("redocly lint: no errors, no warnings", async () => {
  const file = join(tempDir(), "openapi.json");
  await Bun.write(file, await (await t.request("/docs/json")).text());
  const run = Bun.spawnSync([join(ROOT, "node_modules/.bin/redocly"), "lint", "--config", join(import.meta.dir, "redocly.yaml"), "--format", "json", file], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: tempDir(), REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" } as Record<string, string>,
    stdout: "pipe",
    stderr: "pipe",
  });
  const out = run.stdout.toString();
  // redocly is a Node program: without node on PATH it prints no report, only why.
  if (!out.includes("{")) throw new Error(`redocly printed no report (exit ${run.exitCode}): ${run.stderr.toString().slice(-1000)}`);
  const report = JSON.parse(out.slice(out.indexOf("{")));
  const problems = (report.problems ?? []).map((p: { ruleId: string; message: string; location?: { pointer: string }[] }) => `${p.ruleId}: ${p.message} at ${p.location?.[0]?.pointer}`);
  expect(problems).toEqual([]);
  expect(run.exitCode).toBe(0);
}, 60_000);
