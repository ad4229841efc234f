/** Log streaming over a real server: backlog, live, resume, exactly-once, heartbeats, cleanup. */
import { afterAll, describe, expect, test } from "bun:test";
import { appendFileSync } from "node:fs";
import { AUTH, KEY, readSse, sseLines, silentLogger, testConfig, waitFor, type SseEvent } from "../helpers.ts";
import { createServer } from "../../src/server.ts";
import { groupAlive } from "../../src/tasks/process-group.ts";

const config = testConfig({ SSE_HEARTBEAT_MS: "300", TASK_STOP_GRACE_MS: "500" });
// Its 1 s idle timeout may close a pooled connection just as a request reuses it, which then
// fails with ECONNRESET (a POST did once in CI): those that change state take a fresh connection.
const server = await createServer(config, silentLogger, { idleTimeoutSec: 1 });
const base = `http://127.0.0.1:${server.port}`;
afterAll(() => server.shutdown());
const json = { ...AUTH, "Content-Type": "application/json" };

async function start(provider: string, task = "x") {
  const res = await fetch(`${base}/v1/tasks`, { method: "POST", keepalive: false, headers: json, body: JSON.stringify({ agent: "sse", task, provider }) });
  expect(res.status).toBe(202);
  return (await res.json()) as { taskId: string; logFile: string };
}
const stream = (id: string, headers: Record<string, string> = AUTH) => fetch(`${base}/v1/tasks/${id}/logs/stream`, { headers });
const isComplete = (ev: { event: string }[]) => ev.some((e) => e.event === "task-complete");

describe("SSE log stream", () => {
  test("follows a slow task live: every line once, in order, then task-complete", async () => {
    const { taskId } = await start("slow", "6");
    const res = await stream(taskId);
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toStartWith("text/event-stream");
    expect(res.headers.get("X-Accel-Buffering")).toBe("no");
    expect(res.headers.get("Cache-Control")).toContain("no-cache");
    const events = await readSse(res);
    expect(sseLines(events)).toEqual(["slow 1", "slow 2", "slow 3", "slow 4", "slow 5", "slow 6"]);
    const ids = events.filter((e) => e.id).map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    const done = events.find((e) => e.event === "task-complete")!;
    expect(JSON.parse(done.data)).toMatchObject({ status: "completed", exitCode: 0 });
    expect(events[events.length - 1]!.event).toBe("task-complete");
    const line = JSON.parse(events.find((e) => e.event === "message" && e.data)!.data);
    expect(Object.keys(line).sort()).toEqual(["line", "timestamp"]);
  });

  test("100k lines written as fast as possible arrive exactly once, in order, unsplit", async () => {
    const { taskId } = await start("chatty", "100000");
    const events = await readSse(await stream(taskId), isComplete, 60_000);
    const lines = sseLines(events);
    expect(lines.length).toBe(100_000);
    for (let i = 0; i < lines.length; i++) if (lines[i] !== `line ${i + 1} of 100000`) throw new Error(`line ${i}: ${lines[i]}`);
  });

  test("reconnecting with Last-Event-ID continues right after the last line received", async () => {
    const { taskId } = await start("slow", "8");
    const first = await readSse(await stream(taskId), (ev) => sseLines(ev).length >= 3);
    const got = sseLines(first).slice(0, 3);
    const lastId = first.filter((e) => e.id)[2]!.id!;
    const rest = await readSse(await stream(taskId, { ...AUTH, "Last-Event-ID": lastId }));
    expect([...got, ...sseLines(rest)]).toEqual(Array.from({ length: 8 }, (_, i) => `slow ${i + 1}`));
    expect(isComplete(rest)).toBe(true);
  });

  test("a progress bar arrives redraw by redraw while the task runs, each ending in the CR that says the next replaces it", async () => {
    const { taskId } = await start("progress");
    let runningThen: Promise<boolean> | undefined;
    const events = await readSse(await stream(taskId), (ev) => {
      // The first redraw comes once the second begins: a second before the bar's newline.
      if (!runningThen && sseLines(ev).includes("dl 10%\r")) runningThen = fetch(`${base}/v1/tasks/${taskId}`, { headers: AUTH }).then(async (r) => (await r.json()).exitTime === null);
      return isComplete(ev);
    });
    expect(sseLines(events)).toEqual(["downloading", "\r", "dl 10%\r", "dl 20%\r", "dl 30%\r", "dl 100%", "done"]);
    expect(await runningThen).toBe(true);
    // A task's record shows the bar as a terminal does: its last redraw.
    const task = await (await fetch(`${base}/v1/tasks/${taskId}`, { headers: AUTH })).json();
    expect(task.logTail).toEqual(["downloading", "dl 100%", "done"]);
    // ?tail counts the stream's lines: the last redraws of an hours-long bar, not all of it.
    const tailed = await readSse(await fetch(`${base}/v1/tasks/${taskId}/logs/stream?tail=3`, { headers: AUTH }));
    expect(sseLines(tailed)).toEqual(["dl 30%\r", "dl 100%", "done"]);
  });

  test("a finished task replays its log, flushes a last line without newline, and completes", async () => {
    const { taskId } = await start("partial");
    await waitFor(async () => (await (await fetch(`${base}/v1/tasks/${taskId}`, { headers: AUTH })).json()).exitTime);
    const events = await readSse(await stream(taskId));
    expect(sseLines(events)).toEqual(["first", "second", "no newline at end"]);
    expect(JSON.parse(events.at(-1)!.data)).toMatchObject({ status: "completed", exitCode: 0, signal: null, error: null });
    const bad = await stream(taskId, { ...AUTH, "Last-Event-ID": "999999" });
    expect(bad.status).toBe(400);
    const junk = await stream(taskId, { ...AUTH, "Last-Event-ID": "abc" });
    expect(junk.status).toBe(400);
  });

  test("task-complete says why a task failed, as its record does", async () => {
    const { taskId } = await start("exit3");
    const events = await readSse(await stream(taskId));
    expect(JSON.parse(events.at(-1)!.data)).toMatchObject({ status: "failed", exitCode: 3, signal: null, error: "Exited with code 3", result: null });
    // A claude session's answer and cost come with it, as in its record.
    const claude = await start("claude-stream");
    const done = JSON.parse((await readSse(await stream(claude.taskId))).at(-1)!.data);
    expect(done).toMatchObject({ status: "completed", result: { text: "Done: the folder is empty.", costUsd: 0.0123, turns: 3 } });
  });

  test("?tail=N starts with the last N lines; Last-Event-ID still resumes exactly", async () => {
    const { taskId } = await start("chatty", "5000");
    await waitFor(async () => (await (await fetch(`${base}/v1/tasks/${taskId}`, { headers: AUTH })).json()).exitTime);
    const tail = (n: number, headers: Record<string, string> = AUTH) => fetch(`${base}/v1/tasks/${taskId}/logs/stream?tail=${n}`, { headers });
    expect(sseLines(await readSse(await tail(3)))).toEqual(["line 4998 of 5000", "line 4999 of 5000", "line 5000 of 5000"]);
    expect(sseLines(await readSse(await tail(100_000)))).toHaveLength(5000);
    const first = await readSse(await tail(10));
    const resumeAt = first.filter((e) => e.id)[4]!.id!;
    expect(sseLines(await readSse(await tail(1, { ...AUTH, "Last-Event-ID": resumeAt })))).toEqual(sseLines(first).slice(5));
    for (const bad of ["0", "-1", "x", "100001"]) expect((await fetch(`${base}/v1/tasks/${taskId}/logs/stream?tail=${bad}`, { headers: AUTH })).status).toBe(400);
  });

  test("?tail=N on a log still growing fast starts near its end and follows it to the last line", async () => {
    const { taskId, logFile } = await start("chatty", "300000");
    await waitFor(async () => (await Bun.file(logFile).stat()).size > 100_000);
    const res = await fetch(`${base}/v1/tasks/${taskId}/logs/stream?tail=10`, { headers: AUTH });
    expect(res.status).toBe(200);
    const lines = sseLines(await readSse(res, isComplete, 60_000));
    expect(lines[0]).not.toBe("line 1 of 300000");
    expect(lines.at(-1)).toBe("line 300000 of 300000");
  });

  test("a browser EventSource-style client authenticates with ?token=", async () => {
    const { taskId } = await start("exit0");
    const res = await fetch(`${base}/v1/tasks/${taskId}/logs/stream?token=${KEY}`, { headers: { Accept: "text/event-stream" } });
    expect(res.status).toBe(200);
    expect(isComplete(await readSse(res))).toBe(true);
    expect((await fetch(`${base}/v1/tasks/${taskId}/logs/stream?token=wrong`)).status).toBe(403);
  });

  test("heartbeats keep a quiet stream open past the server's idle timeout", async () => {
    const { taskId } = await start("sleeper");
    const t0 = Date.now();
    const events = await readSse(await stream(taskId), (ev) => Date.now() - t0 > 2500);
    expect(Date.now() - t0).toBeGreaterThan(2000);
    expect(events.filter((e) => e.comment.includes("heartbeat")).length).toBeGreaterThanOrEqual(3);
    await fetch(`${base}/v1/tasks/${taskId}`, { method: "DELETE", keepalive: false, headers: AUTH });
  });

  test("clients that go away free what they held", async () => {
    const { taskId } = await start("sleeper");
    const tasks = server.services.tasks!;
    const readers = await Promise.all(Array.from({ length: 20 }, () => stream(taskId)));
    await waitFor(() => tasks.openStreams() === 20);
    await Promise.all(readers.map((r) => r.body!.cancel()));
    await waitFor(() => tasks.openStreams() === 0);
    await fetch(`${base}/v1/tasks/${taskId}`, { method: "DELETE", keepalive: false, headers: AUTH });
  });

  test("HEAD answers the stream's headers and holds nothing open", async () => {
    const { taskId } = await start("sleeper");
    const tasks = server.services.tasks!;
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${base}/v1/tasks/${taskId}/logs/stream`, { method: "HEAD", headers: AUTH });
      expect(res.status).toBe(200);
      expect(res.headers.get("Content-Type")).toStartWith("text/event-stream");
      expect(await res.text()).toBe("");
    }
    // A GET stream opened afterwards is the only subscriber.
    const reader = await stream(taskId);
    await waitFor(() => tasks.openStreams() >= 1);
    await Bun.sleep(100);
    expect(tasks.openStreams()).toBe(1);
    await reader.body!.cancel();
    await waitFor(() => tasks.openStreams() === 0);
    await fetch(`${base}/v1/tasks/${taskId}`, { method: "DELETE", keepalive: false, headers: AUTH });
  });

  test("lines appended while a client catches up on a large backlog are neither lost nor repeated", async () => {
    const { taskId, logFile } = await start("sleeper");
    await waitFor(async () => (await Bun.file(logFile).text()).includes("sleeping"));
    // The fixture's own line plus a backlog written around it: a stand-in for a busy agent.
    const backlog = Array.from({ length: 50_000 }, (_, i) => `backlog ${i}`).join("\n") + "\n";
    appendFileSync(logFile, backlog);
    const reading = readSse(await stream(taskId), (ev) => sseLines(ev).includes("live 999"), 30_000);
    for (let i = 0; i < 1000; i++) appendFileSync(logFile, `live ${i}\n`);
    const lines = sseLines(await reading);
    expect(lines.length).toBe(1 + 50_000 + 1000);
    expect(new Set(lines).size).toBe(lines.length);
    expect(lines.slice(-1000)).toEqual(Array.from({ length: 1000 }, (_, i) => `live ${i}`));
    await fetch(`${base}/v1/tasks/${taskId}`, { method: "DELETE", keepalive: false, headers: AUTH });
  });

  test("a line over 1 MiB arrives cut into 1 MiB pieces, the same live as from the backlog", async () => {
    const { taskId, logFile } = await start("sleeper");
    await waitFor(async () => (await Bun.file(logFile).text()).includes("sleeping"));
    const MiB = 1024 * 1024;
    const long = "a".repeat(MiB) + "b".repeat(MiB) + "c".repeat(MiB / 2);
    const seenAfter = (ev: SseEvent[]) => sseLines(ev).includes("after");
    const live = readSse(await stream(taskId), seenAfter, 30_000);
    appendFileSync(logFile, `before\n${long}\nafter\n`);
    const liveEvents = await live;
    const backlog = await readSse(await stream(taskId), seenAfter, 30_000);
    const pieces = ["sleeping", "before", "a".repeat(MiB), "b".repeat(MiB), "c".repeat(MiB / 2), "after"];
    const summary = (ev: Awaited<typeof live>) => ev.filter((e) => e.id).map((e) => `${e.id} ${JSON.parse(e.data).line.length}`);
    // Compared by length and first letter: a failing toEqual would print megabytes.
    const shape = (lines: string[]) => lines.map((l) => `${l[0]}${l.length}`);
    expect(shape(sseLines(backlog))).toEqual(shape(pieces));
    expect(sseLines(backlog)).toEqual(pieces);
    expect(summary(liveEvents)).toEqual(summary(backlog));
    await fetch(`${base}/v1/tasks/${taskId}`, { method: "DELETE", keepalive: false, headers: AUTH });
  });
});

describe("shutdown", () => {
  test("open streams get a final message and close; /ready turns 503 first", async () => {
    const cfg = testConfig({ SHUTDOWN_GRACE_MS: "2000" });
    const s = await createServer(cfg, silentLogger);
    const b = `http://127.0.0.1:${s.port}`;
    const res = await fetch(`${b}/v1/tasks`, { method: "POST", keepalive: false, headers: json, body: JSON.stringify({ agent: "a", task: "x", provider: "sleeper" }) });
    const { taskId } = await res.json();
    const reading = readSse(await fetch(`${b}/v1/tasks/${taskId}/logs/stream`, { headers: AUTH }));
    await waitFor(() => s.services.tasks!.openStreams() === 1);
    const pgid = s.services.tasks!.get(taskId).pid!;
    const t0 = Date.now();
    await s.shutdown();
    const events = await reading;
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(events.at(-1)!.event).toBe("shutdown");
    expect(s.services.lifecycle.state).toBe("stopping");
    // The task itself outlives the API (the next start re-attaches to it).
    expect(groupAlive(pgid)).toBe(true);
    process.kill(-pgid, "SIGKILL");
  });
});
