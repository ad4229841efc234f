/** The tar stream of a task's folder, unpacked by GNU tar and read by Python's tarfile. */
import { describe, expect, test } from "bun:test";
import { chmodSync, lstatSync, mkdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipped, tarFolder } from "../../src/tasks/tar.ts";
import { tempDir } from "../helpers.ts";

const run = (argv: string[], cwd?: string) => {
  const p = Bun.spawnSync(argv, { cwd, stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${p.stderr.toString()}`);
  return p.stdout.toString();
};

describe("tar of a folder", () => {
  test("GNU tar unpacks it exactly: long and non-ASCII names, links as links, modes, empty files and folders", async () => {
    const src = tempDir("tar-src-");
    const deep = join(src, "a".repeat(60), "b".repeat(60));
    mkdirSync(deep, { recursive: true });
    mkdirSync(join(src, "empty"));
    const files: Record<string, Uint8Array | string> = {
      "plain.txt": "hello\n",
      "empty.txt": "",
      "block.bin": new Uint8Array(512).fill(7),
      "random.bin": crypto.getRandomValues(new Uint8Array(65536)).subarray(0, 50_001),
      "café 😀 — 中文.md": "non-ASCII name\n",
      [join("a".repeat(60), "b".repeat(60), `${"c".repeat(90)}.txt`)]: "a path of over 200 bytes\n",
    };
    // pax records whose length crosses from two digits to three (a record counts its own length).
    for (let n = 80; n <= 90; n++) files[`é${"x".repeat(n)}`] = `${n}\n`;
    for (const [name, data] of Object.entries(files)) writeFileSync(join(src, name), data);
    writeFileSync(join(src, "run.sh"), "#!/bin/sh\necho hi\n");
    chmodSync(join(src, "run.sh"), 0o755);
    symlinkSync("/etc/passwd", join(src, "outside"));
    symlinkSync(`${"../".repeat(40)}target`, join(src, "long-link"));

    const archive = join(tempDir("tar-out-"), "t.tar.gz");
    await Bun.write(archive, new Response(gzipped((await tarFolder(src, "task-1"))!)));
    const dest = tempDir("tar-dest-");
    run(["tar", "-xzf", archive, "-C", dest]);
    const out = join(dest, "task-1");
    for (const [name, data] of Object.entries(files)) expect([name, readFileSync(join(out, name))]).toEqual([name, Buffer.from(data)]);
    expect(statSync(join(out, "run.sh")).mode & 0o777).toBe(0o755);
    expect(statSync(join(out, "empty")).isDirectory()).toBe(true);
    // Links are stored as links: the archive holds no byte of what they point to.
    expect(lstatSync(join(out, "outside")).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(out, "outside"))).toBe("/etc/passwd");
    expect(readlinkSync(join(out, "long-link"))).toBe(`${"../".repeat(40)}target`);
    // Python's tarfile reads the same names (pax records for what ustar cannot hold).
    const names = run(["python3", "-c", "import sys,tarfile; print('\\n'.join(sorted(tarfile.open(sys.argv[1]).getnames())))", archive]).trim().split("\n");
    expect(names).toContain("task-1/café 😀 — 中文.md");
    expect(names).toContain(`task-1/${"a".repeat(60)}/${"b".repeat(60)}/${"c".repeat(90)}.txt`);
  });

  test("a file that shrinks while it is read keeps the size it had: the archive stays whole", async () => {
    const src = tempDir("tar-shrink-");
    writeFileSync(join(src, "a.log"), "x".repeat(10_000));
    writeFileSync(join(src, "b.txt"), "after\n");
    const chunks: Uint8Array[] = [];
    for await (const chunk of (await tarFolder(src, "t"))!) {
      chunks.push(chunk);
      // Right after a.log's header, before its bytes are read.
      if (chunks.length === 2) truncateSync(join(src, "a.log"), 100);
    }
    const tar = join(tempDir("tar-shrink-out-"), "t.tar");
    await Bun.write(tar, Buffer.concat(chunks));
    const dest = tempDir("tar-shrink-dest-");
    run(["tar", "-xf", tar, "-C", dest]);
    const a = readFileSync(join(dest, "t", "a.log"));
    expect(a.length).toBe(10_000);
    expect(a.subarray(0, 100).toString()).toBe("x".repeat(100));
    expect(readFileSync(join(dest, "t", "b.txt"), "utf8")).toBe("after\n");
  });

  test("a folder deleted once its archive has begun (a purge meanwhile) gives a whole archive of what was left; one already gone, none", async () => {
    const src = tempDir("tar-gone-");
    writeFileSync(join(src, "a.txt"), "made by an agent\n");
    const blocks = await tarFolder(src, "t");
    rmSync(src, { recursive: true }); // after the answer started, before its first block was read
    const archive = join(tempDir("tar-gone-out-"), "t.tar.gz");
    await Bun.write(archive, new Response(gzipped(blocks!)));
    expect(run(["tar", "-tzf", archive]).trim()).toBe("t/");
    expect(await tarFolder(src, "t")).toBeUndefined();
  });
});
