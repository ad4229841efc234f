/** DATA_DIR, WORKSPACE, LOGS_DIR and the state database: a folder the API cannot use stops the start with a message that says what to do. */
import { describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { DataFolderError, nodeFolderFs, prepareDataFolders, type FolderFs } from "../src/data-folders.ts";
import { tempDir, testEnv } from "./helpers.ts";
import { MAIN, ROOT, START } from "./process.ts";

const errno = (code: string) => Object.assign(new Error(`${code}: refused`), { code });

/** The real file system, except for the calls `overrides` replaces: every path writable, no database yet. */
function fsWith(overrides: Partial<FolderFs>): FolderFs {
  return { ...nodeFolderFs, checkWritable: () => {}, exists: () => false, ...overrides };
}

function folders(root: string) {
  return [
    { setting: "DATA_DIR", path: root },
    { setting: "WORKSPACE", path: join(root, "workspace") },
    { setting: "LOGS_DIR", path: join(root, "logs") },
  ];
}

/** What prepareDataFolders threw. */
function failure(fn: () => void): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(DataFolderError);
    return (err as Error).message;
  }
  throw new Error("expected DataFolderError");
}

const uid = process.getuid!();

describe("prepareDataFolders", () => {
  test("creates the three folders, private to the API's user", () => {
    const root = join(tempDir(), "data");
    prepareDataFolders(folders(root), join(root, "state.sqlite"), 0o700);
    for (const f of folders(root)) expect(statSync(f.path).mode & 0o777).toBe(0o700);
  });

  test("a folder the user may not write to names its setting, the user and the fix", () => {
    const root = tempDir();
    const workspace = join(root, "workspace");
    const fs = fsWith({ checkWritable: (path) => { if (path === workspace) throw errno("EACCES"); } });
    expect(failure(() => prepareDataFolders(folders(root), join(root, "state.sqlite"), 0o700, fs))).toBe(
      `WORKSPACE: uid ${uid} may not write to ${workspace}. Give it to uid ${uid} (for a bind mount, on the host: chown -R ${uid} <folder>), or set WORKSPACE to another folder.`,
    );
  });

  test("one that cannot be made (EACCES from mkdir) says the same", () => {
    const root = tempDir();
    const logs = join(root, "logs");
    const fs = fsWith({
      mkdir: (path, mode) => {
        if (path === logs) throw errno("EACCES");
        nodeFolderFs.mkdir(path, mode);
      },
    });
    expect(failure(() => prepareDataFolders(folders(root), join(root, "state.sqlite"), 0o700, fs))).toStartWith(`LOGS_DIR: uid ${uid} may not write to ${logs}.`);
  });

  test("a read-only file system and a full disk are named as such", () => {
    const root = tempDir();
    const readOnly = fsWith({ mkdir: () => { throw errno("EROFS"); } });
    expect(failure(() => prepareDataFolders(folders(root), "", 0o700, readOnly))).toBe(
      `DATA_DIR: ${root} is on a read-only file system. Mount a writable volume there, or set DATA_DIR to another folder.`,
    );
    const full = fsWith({ mkdir: () => { throw errno("ENOSPC"); } });
    expect(failure(() => prepareDataFolders(folders(root), "", 0o700, full))).toBe(`DATA_DIR: no space left on the device that holds ${root}.`);
  });

  test("a file where a folder should be, at the path or above it (the real file system)", () => {
    const file = join(tempDir(), "not-a-folder");
    writeFileSync(file, "");
    for (const path of [file, join(file, "data")]) {
      expect(failure(() => prepareDataFolders(folders(path), join(path, "state.sqlite"), 0o700))).toBe(
        `DATA_DIR: ${path} cannot be a folder: a file is in the way (at that path or above it).`,
      );
    }
  });

  test("a state database file another user made is named, not left to SQLite's 'disk I/O error'", () => {
    const root = tempDir();
    const db = join(root, "state.sqlite");
    const fs = fsWith({ exists: (path) => path === db || path === `${db}-wal`, checkWritable: (path) => { if (path === `${db}-wal`) throw errno("EACCES"); } });
    expect(failure(() => prepareDataFolders(folders(root), db, 0o700, fs))).toBe(
      `DATA_DIR: uid ${uid} may not write to ${db}-wal, a file of the state database that another user made (root, perhaps). Give it to uid ${uid} (for a bind mount, on the host: chown -R ${uid} <folder>), or set DATA_DIR to another folder.`,
    );
  });
});

/** Whether every folder above `path` lets other users through and `path` lets them read. */
function othersCanRead(path: string): boolean {
  for (let p = path; p !== dirname(p); p = dirname(p)) {
    const mode = statSync(p).mode;
    if (p === path ? !(mode & 0o004) : !(mode & 0o001)) return false;
  }
  return true;
}

/**
 * The API run as a user who may not write to DATA_DIR: this user with the folder's write bit off,
 * or, for root (whom no mode stops), uid 65534 through setpriv.
 */
function asUserWhoCannotWrite(): string[] | undefined {
  if (uid !== 0) return [];
  const setpriv = Bun.which("setpriv");
  if (!setpriv || !othersCanRead(MAIN) || !othersCanRead(process.execPath)) return undefined;
  return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"];
}

describe("the real entry point", () => {
  test("a DATA_DIR with a file in the way: one fatal line that says so, exit 1", () => {
    const file = join(tempDir(), "data");
    writeFileSync(file, "");
    const r = Bun.spawnSync(START, { cwd: ROOT, env: testEnv({ DATA_DIR: file, LOG_LEVEL: "info", LOG_FORMAT: "json" }) as Record<string, string>, stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode).toBe(1);
    const fatal = r.stdout.toString().trim().split("\n").map((l) => JSON.parse(l)).find((l) => l.level === 60);
    expect(fatal.msg).toBe(`cannot start: DATA_DIR: ${file} cannot be a folder: a file is in the way (at that path or above it).`);
  });

  const prefix = asUserWhoCannotWrite();
  test.skipIf(prefix === undefined)("a DATA_DIR the API's user may not write to (a real permission error): exit 1, and how to fix it", () => {
    const data = join(tempDir(), "data");
    mkdirSync(data, { mode: 0o755 });
    if (uid !== 0) chmodSync(data, 0o555);
    const env = { ...testEnv({ DATA_DIR: data, LOG_LEVEL: "info", LOG_FORMAT: "json" }), HOME: "/tmp" };
    const r = Bun.spawnSync([...prefix!, ...START], { cwd: ROOT, env: env as Record<string, string>, stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode).toBe(1);
    const fatal = r.stdout.toString().trim().split("\n").map((l) => JSON.parse(l)).find((l) => l.level === 60);
    const who = uid === 0 ? 65534 : uid;
    expect(fatal.msg).toStartWith(`cannot start: DATA_DIR: uid ${who} may not write to ${data}. Give it to uid ${who}`);
  });
});
