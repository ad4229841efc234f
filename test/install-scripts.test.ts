/**
 * `npm ci` on a fresh machine must leave a working Bun: npm 12 runs a dependency's install script
 * only when package.json's `allowScripts` approves it, and Bun's postinstall is what puts the real
 * binary in place of a placeholder that fails. Every dependency with an install script gets a
 * decision there (approved or denied), so a new one cannot silently break the README's commands.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..");

interface LockEntry { version: string; hasInstallScript?: boolean }

test("allowScripts decides on every dependency with an install script, and approves Bun's", async () => {
  const pkg = (await Bun.file(join(ROOT, "package.json")).json()) as { allowScripts?: Record<string, boolean> };
  const lock = (await Bun.file(join(ROOT, "package-lock.json")).json()) as { packages: Record<string, LockEntry> };
  const allow = pkg.allowScripts ?? {};
  const decision = (name: string, version: string) => allow[`${name}@${version}`] ?? allow[name];

  const withScripts = Object.entries(lock.packages)
    .filter(([path, entry]) => path !== "" && entry.hasInstallScript)
    .map(([path, entry]) => ({ name: path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length), version: entry.version }));
  expect(withScripts.map((p) => p.name)).toContain("bun");
  const undecided = withScripts.filter((p) => typeof decision(p.name, p.version) !== "boolean").map((p) => `${p.name}@${p.version}`);
  expect(undecided).toEqual([]);
  expect(decision("bun", withScripts.find((p) => p.name === "bun")!.version)).toBe(true);
});
