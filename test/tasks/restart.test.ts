/** Durability: SIGKILL a real API process mid-task, start it again, and check the tasks. */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { groupAlive } from "../../src/tasks/process-group.ts";
import { AUTH, testEnv, waitFor } from "../helpers.ts";
import { startApi } from "../process.ts";

const json = { ...AUTH, "Content-Type": "application/json" };

describe("restart of the API", () => {
  test("no task is lost; running tasks are re-attached, ended ones get their real exit code", async () => {
    const env = testEnv({ TASK_STOP_GRACE_MS: "500" });
    let api = await startApi(env);
    const post = async (provider: string, task: string) =>
      (await (await fetch(`${api.base}/v1/tasks`, { method: "POST", headers: json, body: JSON.stringify({ agent: "r", task, provider }) })).json()) as {
        taskId: string;
      };
    const longRunning = await post("slow", "15"); // ~3 s
    const endsWhileDown = await post("exit3", "x");
    const quick = await post("slow", "2"); // ~0.4 s
    const toStop = await post("sleeper", "x");
    const finished = await post("exit0", "x");
    const get = async (id: string) => (await fetch(`${api.base}/v1/tasks/${id}`, { headers: AUTH })).json();
    await waitFor(async () => (await get(finished.taskId)).status === "completed");
    const pgid = supervisorPid(toStop.taskId);

    api.proc.kill("SIGKILL");
    await api.proc.exited;
    await Bun.sleep(800); // `quick` and `exit3` end while nothing watches them
    expect(groupAlive(pgid)).toBe(true);

    api = await startApi(env);
    expect(await get(finished.taskId)).toMatchObject({ status: "completed", exitCode: 0 });
    expect(await get(quick.taskId)).toMatchObject({ status: "completed", exitCode: 0 });
    expect(await get(endsWhileDown.taskId)).toMatchObject({ status: "failed", exitCode: 3 });
    expect((await get(longRunning.taskId)).status).toBe("running");

    // A re-attached task can still be stopped, and nothing of it survives.
    const del = await fetch(`${api.base}/v1/tasks/${toStop.taskId}`, { method: "DELETE", headers: AUTH });
    expect(del.status).toBe(200);
    await waitFor(async () => (await get(toStop.taskId)).exitTime, 5000);
    expect((await get(toStop.taskId)).status).toBe("stopped");
    await waitFor(() => !groupAlive(pgid), 5000);

    // The re-attached running task gets its real end recorded.
    const done = await waitFor(async () => {
      const t = await get(longRunning.taskId);
      return t.exitTime ? t : undefined;
    }, 10_000);
    expect(done).toMatchObject({ status: "completed", exitCode: 0 });
    expect(done.logTail.at(-1)).toBe("slow 15");
    const all = await (await fetch(`${api.base}/v1/tasks?status=all`, { headers: AUTH })).json();
    expect(all.count).toBe(5);
    api.proc.kill("SIGTERM");
    expect(await api.proc.exited).toBe(0);
  }, 40_000);
});

/** Pid of a task's supervisor shell (its process-group leader), found through /proc. */
function supervisorPid(taskId: string): number {
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, "utf8");
      if (cmd.startsWith("/bin/sh") && cmd.includes(`${taskId}.exit`)) return Number(e);
    } catch {
      // process went away
    }
  }
  throw new Error("supervisor process not found");
}
