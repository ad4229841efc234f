/** TASK_MEMORY_MAX_BYTES: a task whose processes hold more memory is stopped, before the OOM killer picks one. */
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { loadConfig } from "../../src/config.ts";
import { taskProcesses } from "../../src/tasks/process-group.ts";
import { AUTH, testApp, testEnv, waitFor } from "../helpers.ts";

const t = testApp({ TASK_MEMORY_MAX_BYTES: "12000000", TASK_STOP_GRACE_MS: "500" });
afterAll(() => t.close());
const json = { ...AUTH, "Content-Type": "application/json" };
const start = async (provider: string) =>
  (await (await t.request("/v1/tasks", { method: "POST", headers: json, body: JSON.stringify({ agent: "a", task: "x", provider }) })).json()).taskId as string;
const get = async (id: string) => (await t.request(`/v1/tasks/${id}`, { headers: AUTH })).json();
const ended = (id: string) => waitFor(async () => ((await get(id)).exitTime ? get(id) : undefined));

describe("TASK_MEMORY_MAX_BYTES", () => {
  test("a task holding more is stopped as failed, its processes outside its group too, and its log says why; one within it runs on", async () => {
    const small = await start("sleeper");
    const hog = await start("hog");
    const done = await ended(hog);
    const why = /^Its processes held \d+ MiB of memory, past TASK_MEMORY_MAX_BYTES \(11 MiB\); task stopped$/;
    expect(done.status).toBe("failed");
    expect(done.error).toMatch(why);
    // The note follows what the task wrote until then (a shell may still say "Terminated" after it).
    expect(readFileSync(done.logFile, "utf8")).toContain(`[management-api] ${done.error}\n`);
    await waitFor(() => taskProcesses(hog).length === 0, 5000);
    // The small one was checked all along, and runs on.
    expect((await get(small)).status).toBe("running");
    expect(await (await t.request("/metrics")).text()).toContain('tasks_stopped_by_limit_total{limit="memory"} 1\n');
    await t.request(`/v1/tasks/${small}`, { method: "DELETE", headers: AUTH });
    expect((await ended(small)).status).toBe("stopped");
  });

  test("0 (the default) is no limit; a negative or a non-number is refused", () => {
    const none = loadConfig(testEnv());
    expect(none.ok && none.config.tasks.memoryMaxBytes).toBeUndefined();
    const zero = loadConfig(testEnv({ TASK_MEMORY_MAX_BYTES: "0" }));
    expect(zero.ok && zero.config.tasks.memoryMaxBytes).toBeUndefined();
    for (const bad of ["-1", "lots"]) {
      const r = loadConfig(testEnv({ TASK_MEMORY_MAX_BYTES: bad }));
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.errors[0]).toStartWith("TASK_MEMORY_MAX_BYTES: ");
    }
  });
});
