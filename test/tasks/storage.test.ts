/**
 * Tasks when storage fails: a folder that cannot be made or deleted, a log that cannot be written,
 * a full disk under the workspace or the state database. A full disk needs a small file system of
 * its own: root may mount one (tmpfs); elsewhere those tests are skipped.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import { createApp } from "../../src/app.ts";
import { buildServices, type BuildOptions } from "../../src/server.ts";
import { AUTH, peer, tempDir, testApp, testConfig, waitFor } from "../helpers.ts";

const json = { ...AUTH, "Content-Type": "application/json" };
const canMount = process.getuid?.() === 0 && Bun.spawnSync(["sh", "-c", "d=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs $d && umount $d"]).exitCode === 0;

type Requester = { request: (path: string, init?: RequestInit) => Response | Promise<Response> };
async function start(provider: string, task: string, agent: string, app: Requester) {
  const res = await app.request("/v1/tasks", { method: "POST", headers: json, body: JSON.stringify({ agent, task, provider }) });
  return { res, body: await res.json() };
}
const get = async (id: string, app: Requester) => (await app.request(`/v1/tasks/${id}`, { headers: AUTH })).json();
const ended = (id: string, app: Requester) =>
  waitFor(async () => {
    const b = await get(id, app);
    return b.exitTime ? b : undefined;
  });

/** An app whose log lines are kept, for tests that look for what it said. */
function loggedApp(env: Record<string, string>, options: BuildOptions = {}) {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  const services = buildServices(testConfig(env), logger, options);
  services.lifecycle.markReady();
  const app = createApp(services);
  const r = { request: (path: string, init: RequestInit = {}) => app.request(path, init, peer("127.0.0.1")) };
  return { lines, services, r };
}

/** A fresh tmpfs with these mount options. */
function smallDisk(options: string): string {
  const dir = tempDir("small-disk-");
  expect(Bun.spawnSync(["mount", "-t", "tmpfs", "-o", options, "tmpfs", dir]).exitCode).toBe(0);
  return dir;
}
/** Fills a 1 MiB disk to the last byte. */
function fill(dir: string) {
  try {
    writeFileSync(join(dir, "filler"), Buffer.alloc(2 * 1024 * 1024));
  } catch {
    // ENOSPC once it is full: that is the point
  }
}
/** Lazily, so a test that failed with the database still open cannot leave the mount behind. */
const unmount = (dir: string) => Bun.spawnSync(["umount", "-l", dir]);

describe("storage failures", () => {
  test("a task folder that cannot be made is a 500 that says why, and nothing is recorded", async () => {
    const broken = testApp();
    // The workspace's tasks folder turned into a file: mkdir fails (ENOTDIR or EEXIST).
    rmSync(join(broken.config.workspaceDir, "tasks"), { recursive: true, force: true });
    writeFileSync(join(broken.config.workspaceDir, "tasks"), "");
    const { res, body } = await start("exit0", "x", "a", broken);
    expect(res.status).toBe(500);
    expect(body.message).toMatch(/^Cannot prepare the task's folder and log: (ENOTDIR|EEXIST)/);
    expect((await (await broken.request("/v1/tasks?status=all", { headers: AUTH })).json()).count).toBe(0);
    broken.close();
  });

  test("the task and log folders, removed while the API runs (a clean-up, systemd-tmpfiles), are made again, private", async () => {
    const app = testApp();
    const { workspaceDir, logsDir } = app.config;
    rmSync(join(workspaceDir, "tasks"), { recursive: true });
    rmSync(logsDir, { recursive: true });
    const { res, body } = await start("exit0", "x", "a", app);
    expect(res.status).toBe(202);
    const done = await ended(body.taskId, app);
    expect(done.status).toBe("completed");
    expect(done.logTail).toContain("args: a x");
    for (const dir of [join(workspaceDir, "tasks"), logsDir, join(logsDir, "tasks")]) expect(statSync(dir).mode & 0o777).toBe(0o700);
    app.close();
  });

  test.skipIf(!canMount)("a full disk is a 507 that says so, not an unexpected error", async () => {
    const mnt = smallDisk("size=64k,nr_inodes=16");
    const full = testApp({ WORKSPACE: mnt });
    try {
      for (let i = 0; ; i++) {
        try {
          writeFileSync(join(mnt, `filler-${i}`), "");
        } catch {
          break; // out of inodes: no folder can be made either
        }
      }
      const { res, body } = await start("exit0", "x", "a", full);
      expect([res.status, body.error]).toEqual([507, "Insufficient Storage"]);
      expect(body.message).toStartWith("Cannot prepare the task's folder and log: ENOSPC");
    } finally {
      full.close();
      unmount(mnt);
    }
  });

  test.skipIf(!canMount)("a full disk under the state database is a 507, and the task it could not record does not run on", async () => {
    const mnt = smallDisk("size=1m");
    const logs = tempDir("logs-");
    const workspace = tempDir("ws-");
    const full = testApp({ DATA_DIR: mnt, WORKSPACE: workspace, LOGS_DIR: logs });
    try {
      fill(mnt);
      const { res, body } = await start("sleeper", "x", "a", full);
      expect([res.status, body.message]).toEqual([507, "The server's disk is full; nothing was changed"]);
      // Neither its files nor its process are left (what it ran has TASK_DIR, in this workspace, in its environment).
      expect(readdirSync(join(workspace, "tasks"))).toEqual([]);
      expect(readdirSync(join(logs, "tasks")).filter((f) => f.endsWith(".log"))).toEqual([]);
      const running = () =>
        readdirSync("/proc").filter((p) => {
          try {
            return /^\d+$/.test(p) && readFileSync(`/proc/${p}/environ`, "latin1").includes(`TASK_DIR=${workspace}/`);
          } catch {
            return false;
          }
        });
      await waitFor(() => running().length === 0, 3000);
    } finally {
      full.close(); // lets go of the database, so the mount can go
      unmount(mnt);
    }
  });

  test.skipIf(!canMount)("a task that ends while the disk is full is recorded once there is room again, and the server lives", async () => {
    const mnt = smallDisk("size=1m");
    const { lines, services, r } = loggedApp({ DATA_DIR: mnt, WORKSPACE: tempDir("ws-"), LOGS_DIR: tempDir("logs-") });
    try {
      const { body } = await start("slow", "4", "a", r); // ends after about 0.8 s
      fill(mnt);
      await waitFor(() => lines.some((l) => l.msg === "recording a task's end failed; trying again at the next check"), 5000);
      await Bun.sleep(1200); // a few checks: said once, not twice a second
      expect(lines.filter((l) => l.taskId === body.taskId && l.level === 50)).toHaveLength(1);
      rmSync(join(mnt, "filler"));
      const done = await ended(body.taskId, r);
      expect([done.status, done.exitCode]).toEqual(["completed", 0]);
    } finally {
      services.close();
      unmount(mnt);
    }
  });

  test.skipIf(!canMount)("a task that ends while the disk under its exit file is full keeps its real exit status", async () => {
    const mnt = smallDisk("size=1m");
    // LOGS_DIR under DATA_DIR, as by default: the exit file is on the full disk too.
    const providers = join(tempDir(), "providers.json");
    writeFileSync(providers, JSON.stringify({ late3: { command: ["sh", "-c", "sleep 0.8; exit 3"] } }));
    const { lines, services, r } = loggedApp({ DATA_DIR: mnt, WORKSPACE: tempDir("ws-"), PROVIDERS_FILE: providers });
    try {
      const { body } = await start("late3", "x", "a", r);
      fill(mnt);
      await waitFor(() => lines.some((l) => l.msg === "recording a task's end failed; trying again at the next check"), 5000);
      // The supervisor shell could not write it: only the API, its parent, heard the status.
      const exitFile = body.logFile.replace(/\.log$/, ".exit");
      expect(existsSync(exitFile) && readFileSync(exitFile, "utf8")).toBeOneOf([false, ""]);
      rmSync(join(mnt, "filler"));
      const done = await ended(body.taskId, r);
      expect([done.status, done.exitCode, done.error]).toEqual(["failed", 3, "Exited with code 3"]);
    } finally {
      services.close();
      unmount(mnt);
    }
  });

  test.skipIf(!canMount)("the API starts on a full disk: a task that ended meanwhile is recorded once there is room", async () => {
    const mnt = smallDisk("size=1m");
    const env = { DATA_DIR: mnt, WORKSPACE: tempDir("ws-"), LOGS_DIR: tempDir("logs-") };
    const first = testApp(env);
    const { body } = await start("slow", "2", "a", first);
    first.close(); // the API goes; the task runs on and ends
    await waitFor(() => existsSync(body.logFile.replace(/\.log$/, ".exit")), 5000);
    fill(mnt);
    let again: ReturnType<typeof testApp> | undefined;
    try {
      again = testApp(env); // used to throw SQLITE_FULL from recovery: no server at all
      expect((await again.request("/health")).status).toBe(200);
      expect((await get(body.taskId, again)).status).toBe("running");
      rmSync(join(mnt, "filler"));
      expect((await ended(body.taskId, again)).status).toBe("completed");
    } finally {
      again?.close();
      unmount(mnt);
    }
  });

  test("a task directory that cannot be deleted keeps its record and is retried; the sweep neither stops nor throws", async () => {
    let stuck = "";
    const removePath = (path: string) => {
      if (path === stuck) throw Object.assign(new Error(`EACCES: permission denied, rmdir '${path}/readonly'`), { code: "EACCES" });
      rmSync(path, { recursive: true, force: true });
    };
    const { lines, services, r } = loggedApp({ TASK_RETENTION: "50ms" }, { removePath });
    const a = (await start("exit0", "x", "a", r)).body;
    const b = (await start("exit0", "x", "b", r)).body;
    await ended(a.taskId, r);
    await ended(b.taskId, r);
    await Bun.sleep(100);
    stuck = a.taskDir;
    expect(await services.tasks!.prune()).toBe(1);
    // The other task went; this one is whole: record, log and directory.
    expect((await r.request(`/v1/tasks/${b.taskId}`, { headers: AUTH })).status).toBe(404);
    expect((await r.request(`/v1/tasks/${a.taskId}`, { headers: AUTH })).status).toBe(200);
    expect(existsSync(a.logFile) && existsSync(a.taskDir)).toBe(true);
    expect(lines.find((l) => l.taskId === a.taskId && l.level === 40)).toMatchObject({
      taskDir: a.taskDir,
      err: expect.stringContaining("EACCES"),
      msg: "could not delete a finished task's files; keeping its record and trying again next sweep",
    });
    stuck = "";
    expect(await services.tasks!.prune()).toBe(1);
    expect(existsSync(a.logFile) || existsSync(a.taskDir)).toBe(false);
    services.close();
  });

  test("a log cap note that cannot be written (a full disk) is logged; the task is still stopped and the server lives", async () => {
    const { lines, services, r } = loggedApp({ TASK_LOG_MAX_BYTES: "1024", TASK_STOP_GRACE_MS: "300" });
    const { body } = await start("sleeper", "x", "a", r);
    await waitFor(() => existsSync(body.logFile) && readFileSync(body.logFile, "utf8").includes("sleeping"));
    // The task keeps its open log; the path now names a folder over the cap, where no line can be appended.
    rmSync(body.logFile);
    mkdirSync(body.logFile);
    for (let i = 0; i < 64; i++) writeFileSync(join(body.logFile, `entry-${"x".repeat(60)}-${i}`), "");
    // (The record is read from the service: the task's view would try to read the folder as its log.)
    const done = await waitFor(() => {
      const t = services.tasks!.get(body.taskId);
      return t.exitTime ? t : undefined;
    });
    expect([done.status, done.error]).toEqual(["failed", "Log exceeded TASK_LOG_MAX_BYTES (1024 bytes); task stopped"]);
    expect(lines.find((l) => l.msg === "could not note why the task was stopped in its log")).toMatchObject({ taskId: body.taskId, err: expect.stringContaining("EISDIR") });
    services.close();
  });
});
