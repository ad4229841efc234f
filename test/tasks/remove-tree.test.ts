/**
 * removeTree on folders an agent left read-only. Such folders stop a delete only for their owner,
 * never for root, so when the suite runs as root the check runs as `nobody` (through setpriv).
 */
import { describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const SRC = join(import.meta.dir, "../../src/tasks/remove-tree.ts");

// Builds a task folder as a Go module cache leaves it (read-only folders, a nested one included),
// shows that a plain recursive delete is refused, then deletes it with removeTree.
const SCRIPT = `
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { removeTree } from ${JSON.stringify(SRC)};
const dir = process.argv[2] + "/task";
mkdirSync(dir + "/pkg/mod/example.com/lib@v1/internal", { recursive: true });
writeFileSync(dir + "/pkg/mod/example.com/lib@v1/internal/x.go", "package x");
writeFileSync(dir + "/pkg/mod/example.com/lib@v1/go.mod", "module lib");
for (const d of ["/pkg/mod/example.com/lib@v1/internal", "/pkg/mod/example.com/lib@v1", "/pkg/mod/example.com"]) chmodSync(dir + d, 0o555);
let plain = "deleted";
try { rmSync(dir, { recursive: true, force: true }); } catch (e) { plain = e.code; }
await removeTree(dir);
console.log(JSON.stringify({ plain, gone: !existsSync(dir) }));
`;

const AS_OWNER = process.getuid?.() === 0 ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : [];
// Root without the right to change user (a restricted container) cannot see the refusal at all.
const canSeeRefusal = AS_OWNER.length === 0 || Bun.spawnSync([...AS_OWNER, "true"]).exitCode === 0;

describe("removeTree", () => {
  test.skipIf(!canSeeRefusal)("deletes a tree with read-only folders that a plain recursive delete cannot", async () => {
    const root = mkdtempSync(join(tmpdir(), "remove-tree-"));
    chmodSync(root, 0o777);
    const script = join(root, "check.ts");
    await Bun.write(script, SCRIPT);
    const run = Bun.spawnSync([...AS_OWNER, process.execPath, script, root], { stderr: "pipe" });
    expect(run.stderr.toString()).toBe("");
    expect(JSON.parse(run.stdout.toString())).toEqual({ plain: "EACCES", gone: true });
  });
});
