/** Task time limits: per request (timeoutSeconds) or TASK_TIMEOUT, kept across restarts of the API. */
import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { groupAlive } from "../../src/tasks/process-group.ts";
import { TaskStore } from "../../src/tasks/task-store.ts";
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

  test("the limit holds across a restart of the API", async () => {
    const first = testApp({ TASK_STOP_GRACE_MS: "300" });
    const { body } = await start(first, { timeoutSeconds: 2 });
    first.close(); // the task runs on, as when the API goes down
    const second = testApp({ DATA_DIR: first.config.dataDir, TASK_STOP_GRACE_MS: "300" });
    try {
      const done = await ended(second, body.taskId);
      expect(done).toMatchObject({ status: "failed", error: "Timed out after 2 s; task stopped" });
      expect(groupAlive(second.services.tasks!.get(body.taskId).pid!)).toBe(false);
    } finally {
      second.close();
    }
  });

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
