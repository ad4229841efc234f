/** Task routes over real fixture processes. */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, linkSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { groupMembers } from "../../src/tasks/process-group.ts";
import { spawnTask } from "../../src/tasks/spawn.ts";
import { AUTH, testApp, waitFor } from "../helpers.ts";

const t = testApp({ ANTHROPIC_API_KEY: "sk-ant-test", TASK_STOP_GRACE_MS: "800", TASK_ENV: "PIP_*,HF_TOKEN,MANAGEMENT_*", PIP_INDEX_URL: "https://pypi.corp.example/simple", HF_TOKEN: "hf_x", PIP_CACHE_DIR: "/cache/pip", CUDA_VISIBLE_DEVICES: "1", LD_LIBRARY_PATH: "/usr/local/nvidia/lib64", HF_HOME: "/models/hf", TMPDIR: "/scratch/tmp", LC_ALL: "C.UTF-8" });
afterAll(() => t.close());
const json = { ...AUTH, "Content-Type": "application/json" };

type Requester = Pick<typeof t, "request">;
async function start(provider: string, task = "do it", agent = "tester", app: Requester = t) {
  const res = await app.request("/v1/tasks", { method: "POST", headers: json, body: JSON.stringify({ agent, task, provider }) });
  return { res, body: await res.json() };
}
const get = async (id: string, app: Requester = t) => (await app.request(`/v1/tasks/${id}`, { headers: AUTH })).json();
const ended = (id: string, app: Requester = t) => waitFor(async () => {
  const b = await get(id, app);
  return b.exitTime ? b : undefined;
});
const alive = (pgid: number) => (groupMembers(pgid) ?? []).filter((m) => m.state !== "Z");

describe("create and complete", () => {
  test("exit 0 -> completed, with argv, cwd, log and frozen duration", async () => {
    const { res, body } = await start("exit0", "two words; $(rm -rf /)");
    expect(res.status).toBe(202);
    expect(body).toMatchObject({ status: "accepted" });
    expect(body.taskId).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.taskDir).toBe(`${t.config.workspaceDir}/tasks/${body.taskId}`);
    expect(body.logFile).toBe(`${t.config.logsDir}/tasks/${body.taskId}.log`);
    const done = await ended(body.taskId);
    expect(done).toMatchObject({ status: "completed", exitCode: 0, signal: null, error: null, agent: "tester", provider: "exit0" });
    // Each template value stays one argument; nothing goes through a shell.
    expect(done.logTail).toEqual([`args: tester two words; $(rm -rf /)`, `cwd: ${body.taskDir}`, "line 3"]);
    await Bun.sleep(150);
    expect((await get(body.taskId)).duration).toBe(done.duration);
  });

  test("non-zero exit -> failed with its code; stderr is in the log", async () => {
    const { body } = await start("exit3");
    const done = await ended(body.taskId);
    expect(done).toMatchObject({ status: "failed", exitCode: 3, signal: null, error: "Exited with code 3" });
    expect(done.logTail).toEqual(["about to fail", "error output"]);
  });

  test("a claude session that fails says why in its error, from the result event its log ends with", async () => {
    const { body } = await start("claude-login-fail");
    const done = await ended(body.taskId);
    expect(done).toMatchObject({ status: "failed", exitCode: 1, error: "Exited with code 1: Not logged in · Please run /login" });
  });

  test("a claude session's final result gives the task its answer, cost, turns, session and tokens", async () => {
    const { body } = await start("claude-stream");
    const done = await ended(body.taskId);
    const usage = { inputTokens: 12, outputTokens: 345, cacheReadInputTokens: 7890, cacheCreationInputTokens: 3456 };
    const result = { costUsd: 0.0123, turns: 3, sessionId: "f12aa619-ccef-4e0f-b56c-d59a35ae29f2", usage };
    expect(done).toMatchObject({ status: "completed", error: null, result: { text: "Done: the folder is empty.", ...result } });
    // Lists leave the answer out.
    const list = await (await t.request("/v1/tasks?status=completed&provider=claude-stream", { headers: AUTH })).json();
    expect(list.tasks.find((x: { taskId: string }) => x.taskId === body.taskId).result).toEqual(result);
    // Other agents have none.
    expect((await ended((await start("exit0")).body.taskId)).result).toBeNull();
  });

  test("a CLI that is not installed -> 500 and a failed task", async () => {
    const { res, body } = await start("missing-cli");
    expect(res.status).toBe(500);
    expect(body).toMatchObject({ error: "Internal Server Error", message: "Failed to start task", details: "spawn definitely-not-installed-cli ENOENT" });
    const rec = await get(body.taskId);
    expect(rec).toMatchObject({ status: "failed", error: "spawn definitely-not-installed-cli ENOENT", exitCode: null });
  });

  test("an unknown provider is 400 and names the choices, even one named like an Object method", async () => {
    const { res, body } = await start("nope");
    expect(res.status).toBe(400);
    expect(body.message).toMatch(/^body\/provider must be one of: .*exit0.*; got 'nope'$/);
    const before = (await (await t.request("/v1/tasks?status=all&limit=500", { headers: AUTH })).json()).count;
    for (const name of ["toString", "constructor", "__proto__", "hasOwnProperty", "valueOf"]) {
      const r = await start(name);
      expect([r.res.status, r.body.message]).toEqual([400, expect.stringContaining(`; got '${name}'`)]);
    }
    expect((await (await t.request("/v1/tasks?status=all&limit=500", { headers: AUTH })).json()).count).toBe(before);
  });

  test("a task with a NUL character is 400, and no task is recorded", async () => {
    const before = (await (await t.request("/v1/tasks?status=all&limit=500", { headers: AUTH })).json()).count;
    const { res, body } = await start("exit0", "before\u0000after");
    expect(res.status).toBe(400);
    expect(body.message).toBe("body/task: must not contain NUL characters");
    expect((await (await t.request("/v1/tasks?status=all&limit=500", { headers: AUTH })).json()).count).toBe(before);
  });

  test("the child gets a minimal environment: never the API keys, stdin closed", async () => {
    const { body } = await start("env-dump");
    await ended(body.taskId);
    const log = readFileSync(body.logFile, "utf8");
    const names = log.trim().split("\n").map((l) => l.split("=")[0]);
    expect(names).toEqual(expect.arrayContaining(["PATH", "HOME", "LANG", "TASK_ID", "TASK_DIR", "ANTHROPIC_API_KEY"]));
    // TASK_ENV: what the operator gives every task (a package mirror, a Hugging Face token).
    expect(log).toContain("PIP_INDEX_URL=https://pypi.corp.example/simple\n");
    expect(log).toContain("PIP_CACHE_DIR=/cache/pip\n");
    expect(log).toContain("HF_TOKEN=hf_x\n");
    expect(log).toContain(`TASK_ID=${body.taskId}`);
    // The GPUs the API was given are the tasks' GPUs too; CUDA's libraries are where the API's are.
    expect(log).toContain("CUDA_VISIBLE_DEVICES=1\n");
    expect(log).toContain("LD_LIBRARY_PATH=/usr/local/nvidia/lib64\n");
    // Models are fetched once for the machine, not once a task.
    expect(log).toContain("HF_HOME=/models/hf\n");
    // Temporary files go where the machine keeps them (a big disk, not a small /tmp); its locale too.
    expect(log).toContain("TMPDIR=/scratch/tmp\n");
    expect(log).toContain("LC_ALL=C.UTF-8\n");
    expect(log).not.toContain("MANAGEMENT_API_KEY");
    expect(log).not.toContain("test-key-0123456789");
    expect(names).not.toContain("DATA_DIR");
  });

  test("a provider that takes a {port} gets a free one per task: two at once never share (agentic-flow's proxy)", async () => {
    const [a, b] = await Promise.all([start("port-dump"), start("port-dump")]);
    const portOf = async (body: { taskId: string; logFile: string }) => {
      await ended(body.taskId);
      return Number(/^PROXY_PORT=(\d+)$/m.exec(readFileSync(body.logFile, "utf8"))?.[1]);
    };
    const ports = [await portOf(a.body), await portOf(b.body)];
    for (const p of ports) expect(p).toBeGreaterThan(0);
    expect(ports[0]).not.toBe(ports[1]);
    expect(ports).not.toContain(3000);
  });
});

describe("stop", () => {
  test("DELETE /v1/tasks?status=running stops every running task, or an agent's; status is required", async () => {
    const [a1, a2, b] = [await start("sleeper", "x", "bulk-a"), await start("sleeper", "x", "bulk-a"), await start("sleeper", "x", "bulk-b")];
    const some = await t.request("/v1/tasks?status=running&agent=bulk-a", { method: "DELETE", headers: AUTH });
    expect(some.status).toBe(200);
    const body = await some.json();
    expect([body.stopped, [...body.taskIds].sort()]).toEqual([2, [a1.body.taskId, a2.body.taskId].sort()]);
    for (const id of body.taskIds) expect((await ended(id)).status).toBe("stopped");
    expect((await get(b.body.taskId)).status).toBe("running");
    for (const q of ["", "?status=completed", "?status=running,stopped"]) expect([q, (await t.request(`/v1/tasks${q}`, { method: "DELETE", headers: AUTH })).status]).toEqual([q, 400]);
    const rest = await (await t.request("/v1/tasks?status=running&agent=bulk-b", { method: "DELETE", headers: AUTH })).json();
    expect(rest).toEqual({ stopped: 1, taskIds: [b.body.taskId] });
    expect((await ended(b.body.taskId)).status).toBe("stopped");
    // Nothing left to stop: none, and no error.
    expect(await (await t.request("/v1/tasks?status=running&agent=bulk-b", { method: "DELETE", headers: AUTH })).json()).toEqual({ stopped: 0, taskIds: [] });
  });

  test("a task that ended on its own just before the stop, its end not yet noticed, keeps that end: 409, and not counted", async () => {
    // Its end noticed late, as under load: the exit status is written, the process's exit not yet seen.
    const late = testApp({}, { spawn: (req) => {
      const p = spawnTask(req);
      return { ...p, exited: p.exited.then(async (x) => (await Bun.sleep(1000), x)) };
    } });
    try {
      const exitFile = (logFile: string) => logFile.replace(/\.log$/, ".exit");
      const one = (await start("exit0", "x", "ends-first", late)).body;
      await waitFor(() => existsSync(exitFile(one.logFile)));
      const res = await late.request(`/v1/tasks/${one.taskId}`, { method: "DELETE", headers: AUTH });
      expect([res.status, await res.json()]).toEqual([409, expect.objectContaining({ message: `Task ${one.taskId} completed before it could be stopped`, currentStatus: "completed" })]);
      expect(await get(one.taskId, late)).toMatchObject({ status: "completed", exitCode: 0, signal: null });
      const two = (await start("exit0", "x", "ends-first", late)).body;
      await waitFor(() => existsSync(exitFile(two.logFile)));
      const bulk = await (await late.request("/v1/tasks?status=running&agent=ends-first", { method: "DELETE", headers: AUTH })).json();
      expect(bulk).toEqual({ stopped: 0, taskIds: [] });
      expect((await get(two.taskId, late)).status).toBe("completed");
    } finally {
      late.close();
    }
  });

  test("SIGTERM stops a task; it stays stopped after it exits; a second stop is 409", async () => {
    const { body } = await start("sleeper");
    await waitFor(() => readFileSync(body.logFile, "utf8").includes("sleeping"));
    const res = await t.request(`/v1/tasks/${body.taskId}`, { method: "DELETE", headers: AUTH });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ taskId: body.taskId, status: "stopped" });
    const done = await ended(body.taskId);
    expect(done).toMatchObject({ status: "stopped", exitCode: 0 });
    expect(done.logTail).toContain("got SIGTERM");
    const again = await t.request(`/v1/tasks/${body.taskId}`, { method: "DELETE", headers: AUTH });
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ error: "Conflict", currentStatus: "stopped" });
  });

  test("a task ignoring SIGTERM gets SIGKILL after the grace period", async () => {
    const { body } = await start("ignore-term");
    await waitFor(() => readFileSync(body.logFile, "utf8").includes("ignoring"));
    const t0 = Date.now();
    await t.request(`/v1/tasks/${body.taskId}`, { method: "DELETE", headers: AUTH });
    // Stopped at once, but its processes (and the GPU memory they hold) are not gone yet: no exitTime.
    const ending = await get(body.taskId);
    expect(ending).toMatchObject({ status: "stopped", exitTime: null });
    expect(ending.resources.processes).toBeGreaterThanOrEqual(1);
    // ?wait answers once they are.
    const done = await (await t.request(`/v1/tasks/${body.taskId}?wait=30`, { headers: AUTH })).json();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(700);
    expect(done).toMatchObject({ status: "stopped", signal: "SIGKILL", exitCode: null, resources: null });
    expect(done.exitTime).not.toBeNull();
    expect(alive(t.services.tasks!.get(body.taskId).pid!)).toEqual([]);
  });

  test("grandchildren die with the task, and none is left a zombie", async () => {
    const { body } = await start("forker");
    await waitFor(() => readFileSync(body.logFile, "utf8").includes("forked"));
    const pgid = (t.services.tasks as unknown as { get(id: string): { pid: number } }).get(body.taskId).pid;
    expect(alive(pgid).length).toBeGreaterThanOrEqual(3);
    await t.request(`/v1/tasks/${body.taskId}`, { method: "DELETE", headers: AUTH });
    await ended(body.taskId);
    await waitFor(() => (groupMembers(pgid) ?? []).length === 0, 5000);
  });

  test("descendants in a session of their own (setsid) are stopped with the task, and when it ends", async () => {
    const gone = (pid: number) => {
      try {
        process.kill(pid, 0);
        return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.startsWith("Z");
      } catch {
        return true;
      }
    };
    const escapedPid = async (logFile: string) => {
      const line = await waitFor(() => readFileSync(logFile, "utf8").match(/escaped pid (\d+)/));
      return Number(line[1]);
    };
    // Stopped by DELETE: the group signal misses it; its TASK_ID finds it.
    const stopped = (await start("escaper")).body;
    const pid = await escapedPid(stopped.logFile);
    const pgid = (t.services.tasks as unknown as { get(id: string): { pid: number } }).get(stopped.taskId).pid;
    // Once setsid has run (the background child forks first), it is out of the task's group.
    await waitFor(() => readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[2] !== String(pgid), 3000);
    await t.request(`/v1/tasks/${stopped.taskId}`, { method: "DELETE", headers: AUTH });
    await ended(stopped.taskId);
    await waitFor(() => gone(pid), 5000);
    // Left behind by a main process that exited at once: stopped too.
    const daemon = (await start("escaper", "daemon")).body;
    const left = await escapedPid(daemon.logFile);
    expect((await ended(daemon.taskId)).status).toBe("completed");
    await waitFor(() => gone(left), 5000);
  });

  test("unknown task 404, bad id 400, finished task 409", async () => {
    expect((await t.request("/v1/tasks/00000000-0000-4000-8000-000000000000", { method: "DELETE", headers: AUTH })).status).toBe(404);
    expect((await t.request("/v1/tasks/123", { method: "DELETE", headers: AUTH })).status).toBe(400);
    const { body } = await start("exit0");
    await ended(body.taskId);
    const res = await t.request(`/v1/tasks/${body.taskId}`, { method: "DELETE", headers: AUTH });
    expect(res.status).toBe(409);
    expect((await res.json()).currentStatus).toBe("completed");
    // UUIDs are case-insensitive: the same task in capitals, for its record and its log stream.
    const upper = String(body.taskId).toUpperCase();
    expect((await get(upper)).taskId).toBe(body.taskId);
    expect((await t.request(`/v1/tasks/${upper}/logs/stream`, { headers: AUTH })).status).toBe(200);
  });
});

describe("log download", () => {
  test("the whole log as text; a Range gets what was written since; past the end 416; unknown task 404", async () => {
    const { body } = await start("exit0", "download me");
    await ended(body.taskId);
    const text = readFileSync(body.logFile, "utf8");
    const whole = await t.request(`/v1/tasks/${body.taskId}/logs`, { headers: AUTH });
    expect([whole.status, whole.headers.get("Content-Type"), whole.headers.get("Accept-Ranges")]).toEqual([200, "text/plain; charset=utf-8", "bytes"]);
    expect(await whole.text()).toBe(text);
    const since = await t.request(`/v1/tasks/${body.taskId}/logs`, { headers: { ...AUTH, Range: "bytes=5-" } });
    expect([since.status, since.headers.get("Content-Range"), await since.text()]).toEqual([206, `bytes 5-${text.length - 1}/${text.length}`, text.slice(5)]);
    const past = await t.request(`/v1/tasks/${body.taskId}/logs`, { headers: { ...AUTH, Range: `bytes=${text.length}-` } });
    expect([past.status, past.headers.get("Content-Range"), (await past.json()).statusCode]).toEqual([416, `bytes */${text.length}`, 416]);
    expect((await t.request(`/v1/tasks/${crypto.randomUUID()}/logs`, { headers: AUTH })).status).toBe(404);
  });
});

describe("limits, listing, retention and metrics", () => {
  test("more than MAX_ACTIVE_TASKS -> 503 with Retry-After", async () => {
    const small = testApp({ MAX_ACTIVE_TASKS: "2", TASK_STOP_GRACE_MS: "500" });
    const a = await start("sleeper", "x", "a", small);
    const b = await start("sleeper", "x", "b", small);
    const c = await start("sleeper", "x", "c", small);
    expect([a.res.status, b.res.status]).toEqual([202, 202]);
    expect(c.res.status).toBe(503);
    expect(c.res.headers.get("Retry-After")).toBe("10");
    expect((await (await small.request("/ready")).json()).activeTasks).toBe(2);
    for (const x of [a, b]) await small.request(`/v1/tasks/${x.body.taskId}`, { method: "DELETE", headers: AUTH });
    await ended(a.body.taskId, small);
    await ended(b.body.taskId, small);
    expect((await start("exit0", "x", "d", small)).res.status).toBe(202);
    small.close();
  });

  test("list: running by default, any status or several, paging with a cursor", async () => {
    const l = testApp();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await start("exit0", "x", `a${i}`, l)).body.taskId);
    const run = await start("sleeper", "x", "runner", l);
    for (const id of ids) await ended(id, l);
    const def = await (await l.request("/v1/tasks", { headers: AUTH })).json();
    expect(def.activeTasks.map((x: { taskId: string }) => x.taskId)).toEqual([run.body.taskId]);
    expect(def.count).toBe(1);
    expect(Object.keys(def.activeTasks[0]).sort()).toEqual(["agent", "duration", "startTime", "taskId"]);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await (await l.request(`/v1/tasks?status=all&limit=2${cursor ? `&cursor=${cursor}` : ""}`, { headers: AUTH })).json();
      expect(page.tasks.length).toBeLessThanOrEqual(2);
      seen.push(...page.tasks.map((x: { taskId: string }) => x.taskId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen.sort()).toEqual([...ids, run.body.taskId].sort());
    const completed = await (await l.request("/v1/tasks?status=completed", { headers: AUTH })).json();
    expect(completed.count).toBe(3);
    // Several statuses: comma-separated, or the parameter repeated.
    const either = await (await l.request("/v1/tasks?status=running,completed&limit=3", { headers: AUTH })).json();
    const more = await (await l.request(`/v1/tasks?status=running,completed&cursor=${either.nextCursor}`, { headers: AUTH })).json();
    expect([...either.tasks, ...more.tasks].map((x: { taskId: string }) => x.taskId).sort()).toEqual([...ids, run.body.taskId].sort());
    expect((await (await l.request("/v1/tasks?status=running&status=stopped", { headers: AUTH })).json()).tasks.map((x: { taskId: string }) => x.taskId)).toEqual([run.body.taskId]);
    expect((await (await l.request("/v1/tasks?status=failed,stopped", { headers: AUTH })).json()).count).toBe(0);
    expect((await (await l.request("/v1/tasks?status=all,failed", { headers: AUTH })).json()).count).toBe(4);
    // By agent or provider, with the status filter and paging as before.
    const byAgent = await (await l.request("/v1/tasks?status=all&agent=a1", { headers: AUTH })).json();
    expect(byAgent.tasks.map((x: { taskId: string }) => x.taskId)).toEqual([ids[1]]);
    const byProvider = await (await l.request("/v1/tasks?status=all&provider=exit0&limit=2", { headers: AUTH })).json();
    expect([byProvider.count, byProvider.nextCursor !== null]).toEqual([2, true]);
    const rest = await (await l.request(`/v1/tasks?status=all&provider=exit0&cursor=${byProvider.nextCursor}`, { headers: AUTH })).json();
    expect([...byProvider.tasks, ...rest.tasks].map((x: { taskId: string }) => x.taskId).sort()).toEqual([...ids].sort());
    expect((await (await l.request("/v1/tasks?status=all&provider=sleeper&agent=a1", { headers: AUTH })).json()).count).toBe(0);
    expect((await l.request("/v1/tasks?cursor=garbage", { headers: AUTH })).status).toBe(400);
    expect((await l.request("/v1/tasks?status=weird", { headers: AUTH })).status).toBe(400);
    await l.request(`/v1/tasks/${run.body.taskId}`, { method: "DELETE", headers: AUTH });
    await ended(run.body.taskId, l);
    l.close();
  });

  test("finished tasks past TASK_RETENTION are pruned with their logs and directories", async () => {
    const r = testApp({ TASK_RETENTION: "50ms" });
    const { body } = await start("exit0", "x", "a", r);
    await ended(body.taskId, r);
    expect(existsSync(body.logFile) && existsSync(body.taskDir)).toBe(true);
    await Bun.sleep(100);
    expect(await r.services.tasks!.prune()).toBe(1);
    expect(existsSync(body.logFile) || existsSync(body.taskDir)).toBe(false);
    expect((await r.request(`/v1/tasks/${body.taskId}`, { headers: AUTH })).status).toBe(404);
    r.close();
    // 0 keeps them: "off", as most tools read it, not "delete at once".
    const kept = testApp({ TASK_RETENTION: "0" });
    const k = (await start("exit0", "x", "a", kept)).body;
    await ended(k.taskId, kept);
    await Bun.sleep(20);
    expect(await kept.services.tasks!.prune()).toBe(0);
    expect((await kept.request(`/v1/tasks/${k.taskId}`, { headers: AUTH })).status).toBe(200);
    kept.close();
  });

  test("deleting a big task directory (a node_modules) leaves the server answering meanwhile", async () => {
    const r = testApp({ TASK_RETENTION: "50ms" });
    const { body } = await start("exit0", "x", "a", r);
    await ended(body.taskId, r);
    // 40,000 entries in 2,000 folders, as an npm install leaves them (links to one file: quick to make).
    writeFileSync(`${body.taskDir}/index.js`, "module.exports = 1;\n");
    for (let p = 0; p < 2000; p++) {
      const dir = `${body.taskDir}/node_modules/pkg${p}/lib`;
      mkdirSync(dir, { recursive: true });
      for (let f = 0; f < 20; f++) linkSync(`${body.taskDir}/index.js`, `${dir}/f${f}.js`);
    }
    await Bun.sleep(100);
    // The longest the event loop went without running a 5 ms timer, while the sweep ran.
    let longest = 0;
    let last = performance.now();
    const tick = setInterval(() => {
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
    }, 5);
    const began = performance.now();
    expect(await r.services.tasks!.prune()).toBe(1);
    const took = performance.now() - began;
    clearInterval(tick);
    longest = Math.max(longest, performance.now() - last);
    expect(existsSync(body.taskDir)).toBe(false);
    // All in one synchronous call, the delete held the loop for its whole duration.
    expect(longest).toBeLessThan(took / 4);
    r.close();
  }, 30_000);

  test("a log over TASK_LOG_MAX_BYTES stops the task and says so", async () => {
    const capped = testApp({ TASK_LOG_MAX_BYTES: "4096", TASK_STOP_GRACE_MS: "300" });
    const { body } = await start("chatty", "50000000", "a", capped);
    const done = await ended(body.taskId, capped);
    expect(done.status).toBe("failed");
    expect(done.error).toContain("TASK_LOG_MAX_BYTES");
    expect(readFileSync(body.logFile, "utf8")).toContain("[management-api] Log exceeded TASK_LOG_MAX_BYTES");
    expect(await (await capped.request("/metrics")).text()).toContain('tasks_stopped_by_limit_total{limit="log_size"} 1\n');
    capped.close();
  });

  test("task metrics move with real tasks", async () => {
    const m = testApp();
    const { body } = await start("exit3", "x", "a", m);
    await ended(body.taskId, m);
    const s = await start("sleeper", "x", "b", m);
    const text = await (await m.request("/metrics")).text();
    expect(text).toContain('completed_tasks_total{status="failed"} 1');
    expect(text).toContain('task_duration_seconds_count{task_type="exit3",status="failed"} 1');
    expect(text).toMatch(/^active_tasks_total 1$/m);
    await m.request(`/v1/tasks/${s.body.taskId}`, { method: "DELETE", headers: AUTH });
    await ended(s.body.taskId, m);
    expect(await (await m.request("/metrics")).text()).toMatch(/^active_tasks_total 0$/m);
    // What claude sessions report they used adds up per provider, across tasks.
    for (let i = 0; i < 2; i++) await ended((await start("claude-stream", "x", "c", m)).body.taskId, m);
    const usage = await (await m.request("/metrics")).text();
    expect(usage).toContain('agent_cost_usd_total{task_type="claude-stream"} 0.0246');
    expect(usage).toContain('agent_tokens_total{task_type="claude-stream",kind="output"} 690');
    expect(usage).toContain('agent_tokens_total{task_type="claude-stream",kind="cache_read"} 15780');
    expect(usage).not.toContain('agent_cost_usd_total{task_type="exit3"}');
    m.close();
  });
});
