/** What a running task's processes use, in GET /v1/tasks/{taskId}. */
import { afterAll, describe, expect, test } from "bun:test";
import { AUTH, testApp, waitFor } from "../helpers.ts";

const t = testApp({ TASK_STOP_GRACE_MS: "500", MAX_ACTIVE_TASKS: "1" });
afterAll(() => t.close());
const json = { ...AUTH, "Content-Type": "application/json" };
const start = async (provider: string, extra: Record<string, unknown> = {}) =>
  (await (await t.request("/v1/tasks", { method: "POST", headers: json, body: JSON.stringify({ agent: "a", task: "x", provider, ...extra }) })).json()).taskId as string;
const get = async (id: string) => (await t.request(`/v1/tasks/${id}`, { headers: AUTH })).json();

describe("a task's resources", () => {
  test("its processes, their memory and CPU time while it runs, those outside its group included; null once it has ended", async () => {
    const id = await start("hog");
    const queued = await start("exit0", { queue: true });
    await waitFor(async () => (await get(id)).logTail.some((l: string) => l.startsWith("holding")));
    // The child outside the group spins: its CPU time grows.
    const first = (await get(id)).resources;
    await Bun.sleep(500);
    const later = (await get(id)).resources;
    // The supervisor shell, the script, its sleep and the spinning child in a session of its own.
    expect(later.processes).toBeGreaterThanOrEqual(3);
    expect(later.memoryBytes).toBeGreaterThan(20_000_000);
    // A spinning process, even sharing a busy machine's cores: well past what the sleeps use.
    expect(later.cpuSeconds - first.cpuSeconds).toBeGreaterThanOrEqual(0.1);
    expect((await get(queued)).resources).toBeNull();
    const list = await (await t.request("/v1/tasks?status=all", { headers: AUTH })).json();
    expect(list.tasks.every((x: object) => !("resources" in x))).toBe(true);

    await t.request(`/v1/tasks/${id}`, { method: "DELETE", headers: AUTH });
    const done = await waitFor(async () => {
      const x = await get(id);
      return x.exitTime ? x : undefined;
    });
    expect(done.resources).toBeNull();
    await waitFor(async () => (await get(queued)).exitTime);
  });
});
