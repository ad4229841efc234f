/** `queue`: a task asked for while every MAX_ACTIVE_TASKS slot is busy waits for one, first come first served. */
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { AUTH, testApp, waitFor } from "../helpers.ts";

const t = testApp({ MAX_ACTIVE_TASKS: "1", TASK_STOP_GRACE_MS: "300" });
afterAll(() => t.close());
const json = { ...AUTH, "Content-Type": "application/json" };

type App = Pick<typeof t, "request">;
async function start(provider: string, task = "x", extra: Record<string, unknown> = {}, app: App = t) {
  const res = await app.request("/v1/tasks", { method: "POST", headers: json, body: JSON.stringify({ agent: "q", task, provider, ...extra }) });
  return { res, body: await res.json() };
}
const get = async (id: string, app: App = t) => (await app.request(`/v1/tasks/${id}`, { headers: AUTH })).json();
const stop = (id: string, app: App = t) => app.request(`/v1/tasks/${id}`, { method: "DELETE", headers: AUTH });
const ended = (id: string, app: App = t) => waitFor(async () => ((await get(id, app)).exitTime ? get(id, app) : undefined));

describe("the task queue", () => {
  test("with every slot busy, a task asks to queue and waits; it starts when the slot frees, in the order they came", async () => {
    const busy = (await start("sleeper")).body.taskId;
    // Without `queue`, busy is a 503 as before.
    const refused = await start("exit0");
    expect([refused.res.status, refused.res.headers.get("Retry-After")]).toEqual([503, "10"]);

    const first = await start("slow", "2", { queue: true });
    const second = await start("slow", "1", { queue: true });
    expect([first.res.status, first.body.status, first.body.message]).toEqual([202, "accepted", expect.stringContaining("Task queued")]);
    expect(await get(first.body.taskId)).toMatchObject({ status: "queued", queuePosition: 1, duration: 0, exitTime: null, logTail: [] });
    expect((await get(second.body.taskId)).queuePosition).toBe(2);
    const list = await (await t.request("/v1/tasks?status=queued,running", { headers: AUTH })).json();
    const places = Object.fromEntries(list.tasks.map((x: { taskId: string; queuePosition: number | null }) => [x.taskId, x.queuePosition]));
    expect(places).toEqual({ [busy]: null, [first.body.taskId]: 1, [second.body.taskId]: 2 });
    expect(await (await t.request("/metrics")).text()).toMatch(/^queued_tasks 2$/m);

    await stop(busy);
    // The first queued runs first, and alone: the second starts when it ends.
    const a = await ended(first.body.taskId);
    const b = await ended(second.body.taskId);
    expect([a.status, b.status, a.queuePosition]).toEqual(["completed", "completed", null]);
    expect(Date.parse(b.startTime)).toBeGreaterThanOrEqual(Date.parse(a.exitTime));
    expect(a.logTail).toEqual(["slow 1", "slow 2"]);
    // Its duration counts from its start, not from when it was queued.
    expect(a.duration).toBeLessThan(2);
    expect(await (await t.request("/metrics")).text()).toMatch(/^queued_tasks 0$/m);
  });

  test("a queued task can be stopped: it leaves the queue without running; ?wait and a log stream see it end", async () => {
    const busy = (await start("sleeper")).body.taskId;
    const queued = (await start("exit0", "x", { queue: true })).body.taskId;
    const waiting = t.request(`/v1/tasks/${queued}?wait=30`, { headers: AUTH });
    const res = await stop(queued);
    expect(await res.json()).toMatchObject({ taskId: queued, status: "stopped", message: "Task removed from the queue; it never ran" });
    const done = await (await waiting).json();
    expect(done).toMatchObject({ status: "stopped", exitCode: null, duration: 0 });
    expect(readFileSync(done.logFile, "utf8")).toBe("");
    expect((await stop(queued)).status).toBe(409);
    await stop(busy);
    await ended(busy);
  });

  test("bulk stop takes the queued ones too; a continuation may queue", async () => {
    const busy = (await start("sleeper")).body.taskId;
    const q1 = (await start("exit0", "x", { queue: true })).body.taskId;
    const onlyRunning = await (await t.request("/v1/tasks?status=running", { method: "DELETE", headers: AUTH })).json();
    expect(onlyRunning.taskIds).toEqual([busy]);
    // The slot it freed goes to the queued one.
    expect((await ended(q1)).status).toBe("completed");

    const session = await ended((await start("claude-session", "one")).body.taskId);
    const blocker = (await start("sleeper")).body.taskId;
    const follow = await t.request(`/v1/tasks/${session.taskId}/continue`, { method: "POST", headers: json, body: JSON.stringify({ task: "two", queue: true }) });
    const next = (await follow.json()).taskId;
    expect((await get(next)).status).toBe("queued");
    // While it waits, the folder is taken: another continuation is a 409.
    const again = await t.request(`/v1/tasks/${session.taskId}/continue`, { method: "POST", headers: json, body: JSON.stringify({ task: "three" }) });
    expect([again.status, (await again.json()).message]).toEqual([409, `Task ${next} is still queued in this task's folder; continue once it has ended`]);
    const all = await (await t.request("/v1/tasks?status=running,queued", { method: "DELETE", headers: AUTH })).json();
    expect(all.taskIds.sort()).toEqual([blocker, next].sort());
    expect((await ended(next)).status).toBe("stopped");
  });

  test("a queued task that cannot start fails, and those waiting for it hear so; the next one starts", async () => {
    const busy = (await start("sleeper")).body.taskId;
    const broken = (await start("missing-cli", "x", { queue: true })).body.taskId;
    const next = (await start("exit0", "x", { queue: true })).body.taskId;
    const waiting = t.request(`/v1/tasks/${broken}?wait=30`, { headers: AUTH });
    await stop(busy);
    expect(await (await waiting).json()).toMatchObject({ status: "failed", error: "spawn definitely-not-installed-cli ENOENT" });
    expect((await ended(next)).status).toBe("completed");
  });

  test("after a restart the queue fills only the slots left once every running task is re-attached", async () => {
    const first = testApp({ MAX_ACTIVE_TASKS: "2" });
    // Whichever order the restart meets them in, the queue must not take the slot of one still running.
    const stillRunning = (await start("sleeper", "x", {}, first)).body.taskId;
    const endsWhileDown = (await start("slow", "3", {}, first)).body.taskId; // about 0.6 s
    const queued = [(await start("sleeper", "x", { queue: true }, first)).body.taskId, (await start("sleeper", "x", { queue: true }, first)).body.taskId];
    first.close();
    await Bun.sleep(1000);
    const again = testApp({ MAX_ACTIVE_TASKS: "2", DATA_DIR: first.config.dataDir });
    try {
      expect((await get(endsWhileDown, again)).status).toBe("completed");
      const running = (await (await again.request("/v1/tasks?status=running", { headers: AUTH })).json()).tasks.map((x: { taskId: string }) => x.taskId);
      expect(running.sort()).toEqual([stillRunning, queued[0]].sort());
      expect((await get(queued[1], again)).queuePosition).toBe(1);
    } finally {
      await again.request("/v1/tasks?status=running,queued", { method: "DELETE", headers: AUTH });
      await ended(stillRunning, again);
      again.close();
    }
  });

  test("the queue survives a restart of the API, and drains after it", async () => {
    const first = testApp({ MAX_ACTIVE_TASKS: "1" });
    const busy = (await start("sleeper", "x", {}, first)).body.taskId;
    const queued = (await start("exit0", "x", { queue: true }, first)).body.taskId;
    first.close();
    // The same DATA_DIR, and the running task stopped while the API was away.
    const again = testApp({ MAX_ACTIVE_TASKS: "1", DATA_DIR: first.config.dataDir });
    try {
      expect((await get(queued, again)).status).toBe("queued");
      await stop(busy, again);
      expect((await ended(queued, again)).status).toBe("completed");
    } finally {
      again.close();
    }
  });
});
