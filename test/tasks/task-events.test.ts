/** GET /v1/tasks/events over a real server: every task's changes as SSE, filtered by label, ended at shutdown. */
import { afterAll, describe, expect, test } from "bun:test";
import { AUTH, KEY, readSse, silentLogger, testConfig, waitFor, type SseEvent } from "../helpers.ts";
import { createServer } from "../../src/server.ts";

const server = await createServer(testConfig({ MAX_ACTIVE_TASKS: "1", TASK_STOP_GRACE_MS: "300", SSE_HEARTBEAT_MS: "200" }), silentLogger);
const base = `http://127.0.0.1:${server.port}`;
afterAll(() => server.shutdown());
const json = { ...AUTH, "Content-Type": "application/json" };

async function start(provider: string, extra: Record<string, unknown> = {}, url = base) {
  const res = await fetch(`${url}/v1/tasks`, { method: "POST", headers: json, body: JSON.stringify({ agent: "watched", task: "x", provider, ...extra }) });
  expect(res.status).toBe(202);
  return ((await res.json()) as { taskId: string }).taskId;
}
const changes = (events: SseEvent[]) =>
  events.filter((e) => e.event.startsWith("task.")).map((e) => {
    const body = JSON.parse(e.data) as { type: string; timestamp: string; data: { taskId: string; status: string; exitTime: string | null } };
    expect(body.type).toBe(e.event);
    return [e.event, body.data.taskId] as const;
  });
const stop = (id: string) => fetch(`${base}/v1/tasks/${id}`, { method: "DELETE", headers: AUTH });

describe("task events", () => {
  test("queued, running, stopping and each end, in order, as they happen; a heartbeat meanwhile", async () => {
    const res = await fetch(`${base}/v1/tasks/events`, { headers: AUTH });
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toStartWith("text/event-stream");
    const read = readSse(res, (ev) => changes(ev).filter(([type]) => type === "task.stopped" || type === "task.completed").length === 2);
    const first = await start("sleeper");
    const second = await start("exit0", { queue: true }); // waits for the one slot
    await Bun.sleep(300);
    await stop(first);
    const events = await read;
    expect(changes(events)).toEqual([
      ["task.running", first],
      ["task.queued", second],
      ["task.stopping", first],
      ["task.stopped", first],
      ["task.running", second],
      ["task.completed", second],
    ]);
    expect(events.some((e) => e.comment.includes("heartbeat"))).toBe(true);
    const done = JSON.parse(events.find((e) => e.event === "task.completed")!.data);
    expect(done.data).toMatchObject({ taskId: second, agent: "watched", provider: "exit0", status: "completed", exitCode: 0 });
  });

  test("?label= keeps to the tasks carrying them; ?token= stands in for the header", async () => {
    const res = await fetch(`${base}/v1/tasks/events?label=job=7&token=${KEY}`);
    expect(res.status).toBe(200);
    const read = readSse(res, (ev) => changes(ev).some(([type]) => type === "task.completed"));
    await waitFor(async () => (await (await fetch(`${base}/v1/status`, { headers: AUTH })).json()).tasks.active === 0);
    const other = await start("exit0", { labels: { job: "8" } });
    await waitFor(async () => (await (await fetch(`${base}/v1/tasks/${other}`, { headers: AUTH })).json()).exitTime);
    const mine = await start("exit0", { labels: { job: "7", stage: "lint" } });
    expect(changes(await read)).toEqual([
      ["task.running", mine],
      ["task.completed", mine],
    ]);
  });

  test("a purged task, alone or in bulk, is task.deleted with the task as lists showed it last; label filters apply", async () => {
    const ended = (id: string) => waitFor(async () => (await (await fetch(`${base}/v1/tasks/${id}`, { headers: AUTH })).json()).exitTime);
    await waitFor(async () => (await (await fetch(`${base}/v1/status`, { headers: AUTH })).json()).tasks.active === 0);
    const hook = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("ok") });
    try {
      const one = await start("exit0", { labels: { lot: "d1" }, webhookUrl: `http://127.0.0.1:${hook.port}/hook` });
      await ended(one);
      // Its notification delivered first, so the event can show it so.
      await waitFor(async () => (await (await fetch(`${base}/v1/tasks/${one}`, { headers: AUTH })).json()).webhook.status === "delivered");
      const batch = [await start("exit3", { labels: { lot: "d2" } })];
      await ended(batch[0]!);
      batch.push(await start("exit0", { labels: { lot: "d2" } }));
      await ended(batch[1]!);
      const all = await fetch(`${base}/v1/tasks/events`, { headers: AUTH });
      const d2 = await fetch(`${base}/v1/tasks/events?label=lot=d2`, { headers: AUTH });
      const readAll = readSse(all, (ev) => changes(ev).length === 3);
      const readD2 = readSse(d2, (ev) => changes(ev).length === 2);
      await Bun.sleep(100);
      expect((await fetch(`${base}/v1/tasks/${one}?purge=true`, { method: "DELETE", headers: AUTH })).status).toBe(200);
      expect((await (await fetch(`${base}/v1/tasks?status=completed,failed&label=lot=d2&purge=true`, { method: "DELETE", headers: AUTH })).json()).purged).toBe(2);
      const events = await readAll;
      expect(changes(events)).toEqual([["task.deleted", one], ["task.deleted", batch[1]!], ["task.deleted", batch[0]!]]);
      expect(changes(await readD2)).toEqual([["task.deleted", batch[1]!], ["task.deleted", batch[0]!]]);
      const first = JSON.parse(events.find((e) => e.event === "task.deleted")!.data);
      expect(first.data).toMatchObject({ taskId: one, status: "completed", labels: { lot: "d1" }, webhook: { status: "delivered" } });
    } finally {
      hook.stop(true);
    }
  });

  test("a task past TASK_RETENTION is task.deleted too, when the sweep deletes it", async () => {
    const own = await createServer(testConfig({ TASK_RETENTION: "1s" }), silentLogger);
    const url = `http://127.0.0.1:${own.port}`;
    try {
      const id = await start("exit0", {}, url);
      await waitFor(async () => (await (await fetch(`${url}/v1/tasks/${id}`, { headers: AUTH })).json()).exitTime);
      await Bun.sleep(1100);
      const read = readSse(await fetch(`${url}/v1/tasks/events`, { headers: AUTH }), (ev) => changes(ev).length === 1);
      await Bun.sleep(100);
      expect(await own.services.tasks!.prune()).toBe(1);
      expect(changes(await read)).toEqual([["task.deleted", id]]);
    } finally {
      await own.shutdown();
    }
  });

  test("a bad label filter is a 400; without a key, a 401", async () => {
    expect((await fetch(`${base}/v1/tasks/events?label=nope`, { headers: AUTH })).status).toBe(400);
    expect((await fetch(`${base}/v1/tasks/events`)).status).toBe(401);
  });

  test("shutdown sends event: shutdown and ends the stream", async () => {
    const own = await createServer(testConfig({ SHUTDOWN_GRACE_MS: "2000" }), silentLogger);
    const res = await fetch(`http://127.0.0.1:${own.port}/v1/tasks/events`, { headers: AUTH });
    const read = readSse(res);
    await Bun.sleep(100);
    await own.shutdown();
    const events = await read;
    expect(events.at(-1)).toMatchObject({ event: "shutdown" });
  });
});
