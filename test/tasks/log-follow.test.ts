/** GET /v1/tasks/{taskId}/logs?follow=true and ?tail=N over a real server: the raw log, live, as `tail -f` gives it. */
import { afterAll, describe, expect, test } from "bun:test";
import { AUTH, silentLogger, testConfig, waitFor } from "../helpers.ts";
import { createServer } from "../../src/server.ts";

const config = testConfig({ TASK_STOP_GRACE_MS: "500" });
// Its 1 s idle timeout may close a pooled connection just as a request reuses it, which then
// fails with ECONNRESET (a POST did once in CI): those that change state take a fresh connection.
const server = await createServer(config, silentLogger, { idleTimeoutSec: 1 });
const base = `http://127.0.0.1:${server.port}`;
afterAll(() => server.shutdown());
const json = { ...AUTH, "Content-Type": "application/json" };

async function start(provider: string, task = "x", srv = base) {
  const res = await fetch(`${srv}/v1/tasks`, { method: "POST", keepalive: false, headers: json, body: JSON.stringify({ agent: "tail", task, provider }) });
  expect(res.status).toBe(202);
  return (await res.json()) as { taskId: string; logFile: string };
}
const logs = (id: string, query = "", headers: Record<string, string> = {}, srv = base) => fetch(`${srv}/v1/tasks/${id}/logs${query}`, { headers: { ...AUTH, ...headers } });
const ended = (id: string) => waitFor(async () => (await (await fetch(`${base}/v1/tasks/${id}`, { headers: AUTH })).json()).exitTime);

/** Reads a body to its end, noting when each chunk came. */
async function chunks(res: Response) {
  const got: { at: number; text: string }[] = [];
  const decoder = new TextDecoder();
  for await (const c of res.body!) got.push({ at: Date.now(), text: decoder.decode(c as Uint8Array, { stream: true }) });
  return got;
}

describe("follow=true", () => {
  test("sends the raw log as the task writes it, then ends with the task; the end of the body is the end of the log", async () => {
    const { taskId, logFile } = await start("slow", "6"); // a line every 200 ms
    const res = await logs(taskId, "?follow=true");
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("text/plain; charset=utf-8");
    expect(res.headers.get("Cache-Control")).toBe("no-cache, no-store, no-transform");
    const got = await chunks(res);
    const endedAt = Date.parse(await ended(taskId));
    expect(got.map((c) => c.text).join("")).toBe(await Bun.file(logFile).text());
    expect(got.map((c) => c.text).join("")).toBe("slow 1\nslow 2\nslow 3\nslow 4\nslow 5\nslow 6\n");
    // Live: the first lines came while the task still ran, not all at its end.
    expect(got.length).toBeGreaterThan(1);
    expect(got[0]!.at).toBeLessThan(endedAt - 500);
  });

  test("a task that has ended: its whole log, and the answer ends at once", async () => {
    const { taskId, logFile } = await start("exit0");
    await ended(taskId);
    const t0 = Date.now();
    const text = await (await logs(taskId, "?follow=true")).text();
    expect(text).toBe(await Bun.file(logFile).text());
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  test("quiet for longer than the idle timeout (1 s here), the answer stays open until the task ends", async () => {
    const { taskId } = await start("sleeper");
    const res = await logs(taskId, "?follow=true");
    const body = res.text();
    await Bun.sleep(2000);
    await fetch(`${base}/v1/tasks/${taskId}`, { method: "DELETE", keepalive: false, headers: AUTH });
    expect(await body).toBe("sleeping\nTerminated\ngot SIGTERM\n");
  });

  test("with Range: bytes=N- it starts at N; another Range is a 400, one past the end a 416", async () => {
    const { taskId } = await start("slow", "3");
    await ended(taskId);
    expect(await (await logs(taskId, "?follow=true", { Range: "bytes=7-" })).text()).toBe("slow 2\nslow 3\n");
    const closed = await logs(taskId, "?follow=true", { Range: "bytes=0-3" });
    expect([closed.status, (await closed.json()).message]).toEqual([400, "With follow=true, Range must be bytes=<offset>- (from an offset to whatever the task writes)"]);
    const past = await logs(taskId, "?follow=true", { Range: "bytes=999-" });
    expect(past.status).toBe(416);
    expect(past.headers.get("Content-Range")).toBe("bytes */21");
  });

  test("not compressed, though the client takes gzip: a compressor would hold lines back", async () => {
    const { taskId } = await start("chatty", "2000");
    await ended(taskId);
    const res = await logs(taskId, "?follow=true", { "Accept-Encoding": "gzip, br" });
    expect(res.headers.get("Content-Encoding")).toBeNull();
    expect((await res.text()).split("\n").length).toBe(2001);
  });

  test("HEAD answers at once, with no body to follow", async () => {
    const { taskId } = await start("sleeper");
    const res = await fetch(`${base}/v1/tasks/${taskId}/logs?follow=true`, { method: "HEAD", headers: AUTH });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("");
    await fetch(`${base}/v1/tasks/${taskId}`, { method: "DELETE", keepalive: false, headers: AUTH });
  });

  test("shutdown ends a followed log that is still going", async () => {
    const own = await createServer(testConfig({ TASK_STOP_GRACE_MS: "500", SHUTDOWN_GRACE_MS: "3000" }), silentLogger);
    const url = `http://127.0.0.1:${own.port}`;
    const { taskId } = await start("sleeper", "x", url);
    const pid = own.services.tasks!.get(taskId).pid!;
    const body = (await logs(taskId, "?follow=true", {}, url)).text();
    await Bun.sleep(300);
    const t0 = Date.now();
    await own.shutdown();
    expect(await body).toBe("sleeping\n");
    expect(Date.now() - t0).toBeLessThan(2500);
    // The task outlives the API, as always; stop it through the process group.
    process.kill(-pid, "SIGKILL");
  });
});

describe("tail=N", () => {
  test("the last N lines; with follow=true, from there on live", async () => {
    const { taskId } = await start("slow", "5");
    const followed = await (await logs(taskId, "?follow=true&tail=2")).text();
    await ended(taskId);
    expect(await (await logs(taskId, "?tail=2")).text()).toBe("slow 4\nslow 5\n");
    // Asked for while slow 1 was the only line, or after a few more: the last two then, and all after.
    expect("slow 1\nslow 2\nslow 3\nslow 4\nslow 5\n".endsWith(followed)).toBe(true);
    expect(followed.split("\n").length).toBeGreaterThanOrEqual(5);
    expect(await (await logs(taskId, "?tail=100")).text()).toBe("slow 1\nslow 2\nslow 3\nslow 4\nslow 5\n");
  });

  test("with a Range header, or not a whole number from 1 to 100000, it is a 400", async () => {
    const { taskId } = await start("exit0");
    const both = await logs(taskId, "?tail=2", { Range: "bytes=0-" });
    expect([both.status, (await both.json()).message]).toEqual([400, "query/tail cannot be combined with a Range header: the range already says where to start"]);
    for (const bad of ["0", "-1", "1.5", "x", "100001"]) expect((await logs(taskId, `?tail=${bad}`)).status).toBe(400);
    expect((await logs(taskId, "?follow=yes")).status).toBe(400);
  });
});
