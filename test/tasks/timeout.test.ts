/**
 * Task time limits, kept across restarts of the API: how long a task may run (timeoutSeconds or
 * TASK_TIMEOUT), and how long it may go without output (noOutputTimeoutSeconds or
 * TASK_NO_OUTPUT_TIMEOUT), as CI systems stop a silent job: measured from the log file itself.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { groupAlive } from "../../src/tasks/process-group.ts";
import { limitBreach } from "../../src/tasks/task-limits.ts";
import { TaskStore } from "../../src/tasks/task-store.ts";
import { NOT_STARTED, type TaskRecord } from "../../src/tasks/task.ts";
import { AUTH, tempDir, testApp, waitFor } from "../helpers.ts";

const json = { ...AUTH, "Content-Type": "application/json" };
type App = ReturnType<typeof testApp>;

async function start(app: App, extra: Record<string, unknown> = {}) {
  const res = await app.request("/v1/tasks", { method: "POST", headers: json, body: JSON.stringify({ agent: "limited", task: "x", provider: "sleeper", ...extra }) });
  return { res, body: await res.json() };
}
const get = async (app: App, id: string) => (await app.request(`/v1/tasks/${id}`, { headers: AUTH })).json();
const ended = (app: App, id: string) =>
  waitFor(async () => {
    const b = await get(app, id);
    return b.exitTime ? b : undefined;
  });

/** A task started with `limit` by one API, which then goes down, is stopped by the next with `error`. */
async function stoppedAfterRestart(limit: Record<string, number>, error: string) {
  const first = testApp({ TASK_STOP_GRACE_MS: "300" });
  const { body } = await start(first, limit);
  await waitFor(async () => (await get(first, body.taskId)).lastOutputTime); // it has started and written
  first.close(); // the task runs on, as when the API goes down
  const second = testApp({ DATA_DIR: first.config.dataDir, TASK_STOP_GRACE_MS: "300" });
  try {
    expect(await ended(second, body.taskId)).toMatchObject({ status: "failed", error });
    expect(groupAlive(second.services.tasks!.get(body.taskId).pid!)).toBe(false);
  } finally {
    second.close();
  }
}

const stop = (app: App, id: string) => app.request(`/v1/tasks/${id}`, { method: "DELETE", headers: AUTH });

const t = testApp({ TASK_STOP_GRACE_MS: "300" });
afterAll(() => t.close());

describe("task time limits", () => {
  test("a task past its timeoutSeconds is stopped and failed, and its log says why", async () => {
    const { res, body } = await start(t, { timeoutSeconds: 1 });
    expect(res.status).toBe(202);
    expect((await get(t, body.taskId)).timeoutSeconds).toBe(1);
    const done = await ended(t, body.taskId);
    expect(done).toMatchObject({ status: "failed", error: "Timed out after 1 s; task stopped", timeoutSeconds: 1 });
    expect(done.duration).toBeGreaterThanOrEqual(1);
    expect(done.duration).toBeLessThan(5);
    expect(readFileSync(body.logFile, "utf8")).toContain("[management-api] Timed out after 1 s; task stopped");
    expect(groupAlive(t.services.tasks!.get(body.taskId).pid!)).toBe(false);
    const metrics = await (await t.request("/metrics")).text();
    expect(metrics).toContain('completed_tasks_total{status="failed"} 1');
    // Counted once, though the task took a while to end after the stop.
    expect(metrics).toContain('tasks_stopped_by_limit_total{limit="time"} 1\n');
  });

  test("without a limit a task runs on; timeoutSeconds is null", async () => {
    const { body } = await start(t);
    await Bun.sleep(1500);
    expect(await get(t, body.taskId)).toMatchObject({ status: "running", timeoutSeconds: null });
    await t.request(`/v1/tasks/${body.taskId}`, { method: "DELETE", headers: AUTH });
  });

  test("TASK_TIMEOUT applies to requests that set none; timeoutSeconds 0 asks for no limit", async () => {
    const limited = testApp({ TASK_TIMEOUT: "1s", TASK_STOP_GRACE_MS: "300" });
    try {
      const byDefault = await start(limited);
      const unlimited = await start(limited, { timeoutSeconds: 0 });
      expect((await ended(limited, byDefault.body.taskId)).error).toBe("Timed out after 1 s; task stopped");
      expect(await get(limited, unlimited.body.taskId)).toMatchObject({ status: "running", timeoutSeconds: null });
      await limited.request(`/v1/tasks/${unlimited.body.taskId}`, { method: "DELETE", headers: AUTH });
    } finally {
      limited.close();
    }
  });

  test("a limit that is not a whole number of seconds from 0 to 30 days is 400, and nothing starts", async () => {
    for (const bad of [-1, 1.5, "60", 30 * 86_400 + 1, null]) {
      const { res, body } = await start(t, { timeoutSeconds: bad });
      expect(res.status).toBe(400);
      expect(body.message).toContain("body/timeoutSeconds");
    }
    expect((await (await t.request("/v1/tasks", { headers: AUTH })).json()).count).toBe(0);
  });

  test("the limit holds across a restart of the API", () => stoppedAfterRestart({ timeoutSeconds: 2 }, "Timed out after 2 s; task stopped"));

  test("a database from before time limits gains the column; its tasks have none", () => {
    const db = new Database(join(tempDir(), "old.sqlite"));
    db.exec(`CREATE TABLE tasks (
      taskId TEXT PRIMARY KEY, agent TEXT NOT NULL, task TEXT NOT NULL, provider TEXT NOT NULL,
      status TEXT NOT NULL, startTime INTEGER NOT NULL, exitTime INTEGER, exitCode INTEGER,
      signal TEXT, error TEXT, taskDir TEXT NOT NULL, logFile TEXT NOT NULL, pid INTEGER,
      stopRequestedAt INTEGER, createdBy TEXT)`);
    db.exec("INSERT INTO tasks VALUES ('00000000-0000-4000-8000-000000000000', 'a', 't', 'demo', 'completed', 1, 2, 0, NULL, NULL, '/d', '/l', NULL, NULL, NULL)");
    const store = new TaskStore(db);
    expect(store.get("00000000-0000-4000-8000-000000000000")).toMatchObject({ status: "completed", timeoutMs: null });
    db.close();
  });
});

describe("no-output limit", () => {
  test("a task silent for noOutputTimeoutSeconds is stopped and failed, and its log says why", async () => {
    // The sleeper prints one line, then nothing until it is stopped.
    const { res, body } = await start(t, { noOutputTimeoutSeconds: 1 });
    expect(res.status).toBe(202);
    const running = await waitFor(async () => {
      const b = await get(t, body.taskId);
      return b.lastOutputTime ? b : undefined;
    });
    expect(running).toMatchObject({ status: "running", noOutputTimeoutSeconds: 1, timeoutSeconds: null });
    const done = await ended(t, body.taskId);
    expect(done).toMatchObject({ status: "failed", error: "No output for 1 s; task stopped", noOutputTimeoutSeconds: 1 });
    expect(done.duration).toBeGreaterThanOrEqual(1);
    expect(done.duration).toBeLessThan(5);
    const log = readFileSync(body.logFile, "utf8");
    expect(log.startsWith("sleeping\n")).toBe(true);
    expect(log).toContain("[management-api] No output for 1 s; task stopped");
    expect(groupAlive(t.services.tasks!.get(body.taskId).pid!)).toBe(false);
    expect(await (await t.request("/metrics")).text()).toContain('tasks_stopped_by_limit_total{limit="no_output"} 1\n');
  });

  test("output keeps a task going past the limit: only silence counts", async () => {
    // One line every 200 ms for 2.4 s, against a 1 s limit.
    const { body } = await start(t, { provider: "slow", task: "12", noOutputTimeoutSeconds: 1 });
    const done = await ended(t, body.taskId);
    expect(done).toMatchObject({ status: "completed", exitCode: 0, error: null });
    expect(done.duration).toBeGreaterThan(2);
  });

  test("lastOutputTime: when the log last grew; null before a task's first output", async () => {
    const { body } = await start(t);
    const seen = await waitFor(async () => (await get(t, body.taskId)).lastOutputTime);
    const wrote = (await Bun.file(body.logFile).stat()).mtime.getTime();
    expect(Math.abs(Date.parse(seen) - wrote)).toBeLessThan(2);
    await stop(t, body.taskId);

    const one = testApp({ MAX_ACTIVE_TASKS: "1", TASK_STOP_GRACE_MS: "300" });
    try {
      const first = await start(one);
      const queued = await start(one, { queue: true });
      expect(await get(one, queued.body.taskId)).toMatchObject({ status: "queued", lastOutputTime: null });
      // Lists give it for running tasks only: a look at each of their logs, and no more.
      await waitFor(async () => (await get(one, first.body.taskId)).lastOutputTime);
      const listed = async () => new Map((await (await one.request("/v1/tasks?status=all", { headers: AUTH })).json()).tasks.map((x: { taskId: string }) => [x.taskId, x]));
      const list = await listed();
      expect((list.get(first.body.taskId) as { lastOutputTime: string }).lastOutputTime).toBe((await get(one, first.body.taskId)).lastOutputTime);
      expect(list.get(queued.body.taskId)).not.toHaveProperty("lastOutputTime");
      await stop(one, queued.body.taskId);
      await stop(one, first.body.taskId);
      await waitFor(async () => (await get(one, first.body.taskId)).exitTime);
      expect((await listed()).get(first.body.taskId)).not.toHaveProperty("lastOutputTime");
    } finally {
      one.close();
    }
  });

  test("TASK_NO_OUTPUT_TIMEOUT applies to requests that set none; noOutputTimeoutSeconds 0 asks for no limit", async () => {
    const limited = testApp({ TASK_NO_OUTPUT_TIMEOUT: "1s", TASK_STOP_GRACE_MS: "300" });
    try {
      const byDefault = await start(limited);
      const unlimited = await start(limited, { noOutputTimeoutSeconds: 0 });
      expect((await ended(limited, byDefault.body.taskId)).error).toBe("No output for 1 s; task stopped");
      expect(await get(limited, unlimited.body.taskId)).toMatchObject({ status: "running", noOutputTimeoutSeconds: null });
      await stop(limited, unlimited.body.taskId);
    } finally {
      limited.close();
    }
    const plain = await start(t);
    expect((await get(t, plain.body.taskId)).noOutputTimeoutSeconds).toBeNull();
    await stop(t, plain.body.taskId);
  });

  test("a limit that is not a whole number of seconds from 0 to 30 days is 400, and nothing starts", async () => {
    const fresh = testApp();
    try {
      for (const bad of [-1, 0.5, "60", 30 * 86_400 + 1, null]) {
        const { res, body } = await start(fresh, { noOutputTimeoutSeconds: bad });
        expect(res.status).toBe(400);
        expect(body.message).toContain("body/noOutputTimeoutSeconds");
      }
      expect((await (await fresh.request("/v1/tasks?status=all", { headers: AUTH })).json()).count).toBe(0);
    } finally {
      fresh.close();
    }
  });

  test("the limit holds across a restart of the API, counted from the log's last write", () =>
    stoppedAfterRestart({ noOutputTimeoutSeconds: 2 }, "No output for 2 s; task stopped"));

  test("silence is counted from the later of the start and the log's last write", () => {
    const log = join(tempDir(), "task.log");
    writeFileSync(log, "a line\n");
    const now = Date.now();
    const task = (startTime: number, noOutputTimeoutMs: number | null): TaskRecord => ({
      ...NOT_STARTED,
      taskId: "t",
      agent: "a",
      task: "x",
      provider: "p",
      status: "running",
      startTime,
      taskDir: "/d",
      logFile: log,
      createdBy: null,
      timeoutMs: null,
      noOutputTimeoutMs,
      model: null,
      continuedFrom: null,
      webhookUrl: null,
      labels: null,
    });
    const limits = { logMaxBytes: 1 << 20 };
    utimesSync(log, new Date(now - 5000), new Date(now - 5000));
    expect(limitBreach(task(now - 10_000, 2000), limits, {}, now)?.error).toBe("No output for 2 s; task stopped");
    expect(limitBreach(task(now - 10_000, 6000), limits, {}, now)).toBeUndefined();
    expect(limitBreach(task(now - 10_000, null), limits, {}, now)).toBeUndefined();
    // Started a second ago (its log was made when it was queued): not silent for 2 s yet.
    expect(limitBreach(task(now - 1000, 2000), limits, {}, now)).toBeUndefined();
    utimesSync(log, new Date(now), new Date(now));
    expect(limitBreach(task(now - 10_000, 2000), limits, {}, now)).toBeUndefined();
  });
});
