/** DELETE /v1/tasks/{taskId}?purge=true: an ended task deleted now, as TASK_RETENTION would later. */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { AUTH, testApp, waitFor } from "../helpers.ts";

const json = { ...AUTH, "Content-Type": "application/json" };
type App = ReturnType<typeof testApp>;

let stuck = "";
const t = testApp({ TASK_STOP_GRACE_MS: "300" }, {
  removePath: (path) => {
    if (path === stuck) throw Object.assign(new Error(`EACCES: permission denied, rmdir '${path}/readonly'`), { code: "EACCES" });
    rmSync(path, { recursive: true, force: true });
  },
});
afterAll(() => t.close());

async function start(provider: string, task = "x", app: App = t) {
  const res = await app.request("/v1/tasks", { method: "POST", headers: json, body: JSON.stringify({ agent: "a", task, provider }) });
  return (await res.json()) as { taskId: string; taskDir: string; logFile: string };
}
const get = (id: string) => t.request(`/v1/tasks/${id}`, { headers: AUTH });
const ended = (id: string) => waitFor(async () => ((await (await get(id)).json()).exitTime ? (await get(id)).json() : undefined));
const purge = (id: string, query = "?purge=true") => t.request(`/v1/tasks/${id}${query}`, { method: "DELETE", headers: AUTH });
const exitFile = (id: string) => join(t.config.logsDir, "tasks", `${id}.exit`);

describe("purge", () => {
  test("an ended task goes at once: its record, log, exit file and folder", async () => {
    const task = await start("writer");
    await ended(task.taskId);
    expect(existsSync(exitFile(task.taskId))).toBe(true);
    const res = await purge(task.taskId);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ taskId: task.taskId, deleted: true, folderDeleted: true, message: "Task deleted: its record, log and folder" });
    expect((await get(task.taskId)).status).toBe(404);
    expect([existsSync(task.taskDir), existsSync(task.logFile), existsSync(exitFile(task.taskId))]).toEqual([false, false, false]);
    const list = await (await t.request("/v1/tasks?status=all", { headers: AUTH })).json();
    expect(list.tasks.map((x: { taskId: string }) => x.taskId)).not.toContain(task.taskId);
    // Gone: a second purge finds nothing.
    expect((await purge(task.taskId)).status).toBe(404);
  });

  test("a running task is a 409 that says to stop it first; nothing is deleted", async () => {
    const task = await start("sleeper");
    const res = await purge(task.taskId);
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ message: `Task ${task.taskId} is running: stop it, and purge it once it has ended`, currentStatus: "running" });
    expect(existsSync(task.taskDir) && existsSync(task.logFile)).toBe(true);
    expect((await purge(task.taskId, "")).status).toBe(200); // a plain DELETE stops it
    await ended(task.taskId);
    expect((await purge(task.taskId)).status).toBe(200);
  });

  test("a folder a continuation works in stays until the last of its tasks goes", async () => {
    const first = await start("claude-session", "write hello.py");
    await ended(first.taskId);
    const next = await (await t.request(`/v1/tasks/${first.taskId}/continue`, { method: "POST", headers: json, body: JSON.stringify({ task: "more" }) })).json();
    await ended(next.taskId);
    expect(await (await purge(first.taskId)).json()).toMatchObject({ deleted: true, folderDeleted: false, message: "Task deleted: its record and log; its folder stays, as another task works or worked in it" });
    expect(existsSync(first.taskDir)).toBe(true);
    expect(existsSync(first.logFile)).toBe(false);
    expect(await (await purge(next.taskId)).json()).toMatchObject({ folderDeleted: true });
    expect(existsSync(first.taskDir)).toBe(false);
  });

  test("a folder that cannot be deleted: a 500 that says so, and the task is kept whole to try again", async () => {
    const task = await start("exit0");
    await ended(task.taskId);
    stuck = task.taskDir;
    try {
      const res = await purge(task.taskId);
      expect(res.status).toBe(500);
      expect((await res.json()).message).toBe(`Could not delete the files of task ${task.taskId} (EACCES: permission denied, rmdir '${task.taskDir}/readonly'); its record is kept, to try again`);
      expect((await get(task.taskId)).status).toBe(200);
      expect(existsSync(task.logFile)).toBe(true);
    } finally {
      stuck = "";
    }
    expect((await purge(task.taskId)).status).toBe(200);
  });

  test("purge=false, or no purge, is a stop: an ended task is a 409 and stays", async () => {
    const task = await start("exit0");
    await ended(task.taskId);
    for (const q of ["", "?purge=false"]) expect((await purge(task.taskId, q)).status).toBe(409);
    expect((await purge(task.taskId, "?purge=yes")).status).toBe(400);
    expect((await get(task.taskId)).status).toBe(200);
  });
});
