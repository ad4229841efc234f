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

describe("bulk purge: DELETE /v1/tasks?status=…&purge=true", () => {
  const startLabelled = async (provider: string, batch: string) => {
    const res = await t.request("/v1/tasks", { method: "POST", headers: json, body: JSON.stringify({ agent: "a", task: "x", provider, labels: { batch } }) });
    return (await res.json()) as { taskId: string; taskDir: string; logFile: string };
  };
  const purgeAll = (query: string) => t.request(`/v1/tasks?${query}`, { method: "DELETE", headers: AUTH });
  const ids = (xs: { taskId: string }[]) => xs.map((x) => x.taskId).sort();

  test("the ended tasks named go, files and all; a running one, another batch and other statuses stay", async () => {
    const done = [await startLabelled("writer", "b1"), await startLabelled("exit0", "b1")];
    const failed = await startLabelled("exit3", "b1");
    const other = await startLabelled("exit0", "b2");
    const running = await startLabelled("sleeper", "b1");
    for (const x of [...done, failed, other]) await ended(x.taskId);
    const res = await purgeAll("status=completed&label=batch=b1&purge=true");
    expect(res.status).toBe(200);
    const body = await res.json();
    expect({ ...body, taskIds: body.taskIds.sort() }).toEqual({ purged: 2, taskIds: ids(done), foldersKept: [] });
    for (const x of done) {
      expect((await get(x.taskId)).status).toBe(404);
      expect([existsSync(x.taskDir), existsSync(x.logFile), existsSync(exitFile(x.taskId))]).toEqual([false, false, false]);
    }
    for (const x of [failed, other, running]) expect([x.taskId, (await get(x.taskId)).status]).toEqual([x.taskId, 200]);
    expect(existsSync(other.taskDir)).toBe(true);
    // Several statuses at once; the running task is never among them.
    const rest = await (await purgeAll("status=completed,failed,stopped&label=batch=b1&purge=true")).json();
    expect(rest).toEqual({ purged: 1, taskIds: [failed.taskId], foldersKept: [] });
    expect((await get(running.taskId)).status).toBe(200);
    // Nothing left to match: an empty answer, not an error.
    expect(await (await purgeAll("status=completed,failed&label=batch=b1&purge=true")).json()).toEqual({ purged: 0, taskIds: [], foldersKept: [] });
    await purgeAll("status=running&label=batch=b1");
    await ended(running.taskId);
    expect((await (await purgeAll("status=stopped&label=batch=b1&purge=true")).json()).taskIds).toEqual([running.taskId]);
  });

  test("a session and its continuation go together, and the folder with the last of them", async () => {
    const first = await startLabelled("claude-session", "b3");
    await ended(first.taskId);
    const next = await (await t.request(`/v1/tasks/${first.taskId}/continue`, { method: "POST", headers: json, body: JSON.stringify({ task: "more" }) })).json();
    await ended(next.taskId);
    const body = await (await purgeAll("status=completed&label=batch=b3&purge=true")).json();
    expect(body.purged).toBe(2);
    // Newest first: the continuation found its folder shared, the session took it.
    expect(body.foldersKept).toEqual([next.taskId]);
    expect(existsSync(first.taskDir)).toBe(false);
  });

  test("a task whose folder cannot be deleted is kept; the others go, and a 500 lists both", async () => {
    const kept = await startLabelled("exit0", "b4");
    const gone = await startLabelled("exit0", "b4");
    for (const x of [kept, gone]) await ended(x.taskId);
    stuck = kept.taskDir;
    try {
      const res = await purgeAll("status=completed&label=batch=b4&purge=true");
      expect(res.status).toBe(500);
      const body = await res.json();
      expect(body.message).toBe("Could not delete the files of 1 of 2 tasks; their records are kept, to try again (the others are deleted)");
      expect(body.details).toEqual({
        purged: [gone.taskId],
        failed: [{ taskId: kept.taskId, message: `Could not delete the files of task ${kept.taskId} (EACCES: permission denied, rmdir '${kept.taskDir}/readonly')` }],
      });
      expect([(await get(gone.taskId)).status, (await get(kept.taskId)).status]).toEqual([404, 200]);
      expect(existsSync(kept.logFile)).toBe(true);
    } finally {
      stuck = "";
    }
    expect(await (await purgeAll("status=completed&label=batch=b4&purge=true")).json()).toEqual({ purged: 1, taskIds: [kept.taskId], foldersKept: [] });
  });

  test("statuses that do not fit the verb are a 400 that says which do; nothing is stopped or deleted", async () => {
    const running = await startLabelled("sleeper", "b5");
    const done = await startLabelled("exit0", "b5");
    await ended(done.taskId);
    const cases: [string, string][] = [
      ["status=running&label=batch=b5&purge=true", "query/status must be completed, failed or stopped (or several) with purge=true; got running: stop running and queued tasks first, without purge=true"],
      ["status=completed,queued&label=batch=b5&purge=true", "query/status must be completed, failed or stopped (or several) with purge=true; got queued: stop running and queued tasks first, without purge=true"],
      ["status=completed&label=batch=b5", "query/status must be running or queued (or both) to stop tasks; got completed: ended tasks are deleted with purge=true"],
      ["status=running,failed&label=batch=b5&purge=false", "query/status must be running or queued (or both) to stop tasks; got failed: ended tasks are deleted with purge=true"],
    ];
    for (const [query, message] of cases) {
      const res = await purgeAll(query);
      expect([query, res.status, (await res.json()).message]).toEqual([query, 400, message]);
    }
    expect((await purgeAll("label=batch=b5&purge=true")).status).toBe(400); // status is required
    expect((await (await get(running.taskId)).json()).status).toBe("running");
    expect((await get(done.taskId)).status).toBe(200);
    await purgeAll("status=running&label=batch=b5");
  });
});

describe("deletions side by side", () => {
  // Slow deletions, as of a big folder, so that a purge and a retention sweep overlap.
  const slow = testApp({ TASK_RETENTION: "1s" }, { removePath: async (path) => { await Bun.sleep(40); rmSync(path, { recursive: true, force: true }); } });
  afterAll(() => slow.close());
  const getIn = async (id: string) => (await slow.request(`/v1/tasks/${id}`, { headers: AUTH })).json();
  const endedIn = (id: string) => waitFor(async () => (await getIn(id)).exitTime);

  test("a session and its continuation deleted by a purge and a sweep at once: each once, and their folder with the last", async () => {
    const first = await start("claude-session", "write hello.py", slow);
    await endedIn(first.taskId);
    const next = await (await slow.request(`/v1/tasks/${first.taskId}/continue`, { method: "POST", headers: json, body: JSON.stringify({ task: "more" }) })).json();
    await endedIn(next.taskId);
    await Bun.sleep(1100); // both past TASK_RETENTION
    const purging = (async () => (await slow.request(`/v1/tasks?status=completed&provider=claude-session&purge=true`, { method: "DELETE", headers: AUTH })).json())();
    const [purged, pruned] = await Promise.all([purging, slow.services.tasks!.prune()]);
    expect(purged.purged + pruned).toBe(2);
    expect(existsSync(first.taskDir)).toBe(false);
    expect((await (await slow.request(`/v1/tasks?status=all`, { headers: AUTH })).json()).tasks).toEqual([]);
  });

  test("a purge that waited for a sweep to delete its task: gone, a 404 as for a second purge", async () => {
    const one = await start("exit0", "x", slow);
    await endedIn(one.taskId);
    await Bun.sleep(1100);
    const sweep = slow.services.tasks!.prune();
    const res = await slow.request(`/v1/tasks/${one.taskId}?purge=true`, { method: "DELETE", headers: AUTH });
    expect([res.status, (await res.json()).message, await sweep]).toEqual([404, `Task ${one.taskId} not found`, 1]);
    expect(existsSync(one.taskDir)).toBe(false);
  });

  test("a session being deleted cannot be continued: its folder may be going with it", async () => {
    const session = await start("claude-session", "write hello.py", slow);
    await endedIn(session.taskId);
    const deleting = slow.request(`/v1/tasks/${session.taskId}?purge=true`, { method: "DELETE", headers: AUTH });
    const follow = () => slow.request(`/v1/tasks/${session.taskId}/continue`, { method: "POST", headers: json, body: JSON.stringify({ task: "more" }) });
    const during = await follow();
    expect([during.status, (await during.json()).message]).toEqual([409, `Task ${session.taskId} is being deleted: its folder cannot be continued in`]);
    expect((await deleting).status).toBe(200);
    expect((await follow()).status).toBe(404);
    expect(existsSync(session.taskDir)).toBe(false);
  });
});
