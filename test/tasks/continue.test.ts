/** POST /v1/tasks/{taskId}/continue: a follow-up for a finished agent session, in the same folder. */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { AUTH, testApp, waitFor } from "../helpers.ts";

const t = testApp();
afterAll(() => t.close());
const json = { ...AUTH, "Content-Type": "application/json" };

type App = Pick<typeof t, "request">;
async function start(provider: string, task: string, app: App = t) {
  const res = await app.request("/v1/tasks", { method: "POST", headers: json, body: JSON.stringify({ agent: "coder", task, provider }) });
  return (await res.json()).taskId as string;
}
async function follow(taskId: string, body: Record<string, unknown>, headers: Record<string, string> = {}, app: App = t) {
  const res = await app.request(`/v1/tasks/${taskId}/continue`, { method: "POST", headers: { ...json, ...headers }, body: JSON.stringify(body) });
  return { res, body: await res.json() };
}
const get = async (id: string, app: App = t) => (await app.request(`/v1/tasks/${id}`, { headers: AUTH })).json();
const ended = (id: string, app: App = t) => waitFor(async () => ((await get(id, app)).exitTime ? get(id, app) : undefined));

describe("continuing a task", () => {
  test("the agent resumes its session in the same folder, and remembers; a continuation can be continued", async () => {
    const first = await ended(await start("claude-session", "write hello.py"));
    expect(first.result.text).toBe("I remember: write hello.py");
    expect(first.result.sessionId).toMatch(/^session-\d+$/);
    expect(first.continuedFrom).toBeNull();

    const { res, body } = await follow(first.taskId, { task: "now add tests" });
    expect(res.status).toBe(202);
    expect(body).toMatchObject({ status: "accepted", taskDir: first.taskDir, message: `Task started with provider claude-session, continuing task ${first.taskId}` });
    expect(body.taskId).not.toBe(first.taskId);
    const second = await ended(body.taskId);
    expect(second).toMatchObject({ status: "completed", agent: "coder", provider: "claude-session", continuedFrom: first.taskId, taskDir: first.taskDir });
    expect(second.result).toMatchObject({ text: "I remember: write hello.py|now add tests", sessionId: first.result.sessionId });
    // The session went in as the provider's resume arguments; the log is the continuation's own.
    expect(second.logTail[0]).toBe(`resuming ${first.result.sessionId}`);
    expect(readFileSync(first.logFile, "utf8")).not.toContain("resuming");

    const third = await ended((await follow(second.taskId, { task: "and a README" })).body.taskId);
    expect(third.result.text).toBe("I remember: write hello.py|now add tests|and a README");
    // Each task's follow-ups, listed.
    const followUps = async (id: string) => (await (await t.request(`/v1/tasks?status=all&continuedFrom=${id}`, { headers: AUTH })).json()).tasks.map((x: { taskId: string }) => x.taskId);
    expect([await followUps(first.taskId), await followUps(second.taskId), await followUps(third.taskId)]).toEqual([[second.taskId], [third.taskId], []]);
    expect((await t.request("/v1/tasks?continuedFrom=nope", { headers: AUTH })).status).toBe(400);
  });

  test("422 without a session, or for a provider that cannot resume one; 404 for an unknown task", async () => {
    // Stopped before its agent reported anything.
    const stopped = await start("claude-session", "wait");
    await t.request(`/v1/tasks/${stopped}`, { method: "DELETE", headers: AUTH });
    await ended(stopped);
    const none = await follow(stopped, { task: "more" });
    expect([none.res.status, none.body.message]).toEqual([422, `Task ${stopped} left no session to continue: its agent reported none (a claude session reports one when it ends)`]);
    // claude-stream reports a session, but its provider has no resume arguments.
    const stream = await ended(await start("claude-stream", "x"));
    const cannot = await follow(stream.taskId, { task: "more" });
    expect([cannot.res.status, cannot.body.message]).toEqual([422, `Task ${stream.taskId} ran with provider 'claude-stream', which cannot continue a session (a provider needs "resume" arguments, as claude-flow has)`]);
    const plain = await ended(await start("exit0", "x"));
    const unknown = await follow("00000000-0000-4000-8000-000000000000", { task: "more" });
    expect(unknown.res.status).toBe(404);
    const bad = await follow(plain.taskId, { task: "" });
    expect([bad.res.status, bad.body.message]).toEqual([400, expect.stringContaining("body/task")]);
  });

  test("409 while a task runs in that folder: the task itself, or a continuation of it", async () => {
    const first = await start("claude-session", "wait");
    const early = await follow(first, { task: "more" });
    expect([early.res.status, early.body.currentStatus]).toEqual([409, "running"]);
    await ended(first);
    const next = (await follow(first, { task: "wait" })).body.taskId;
    const again = await follow(first, { task: "more" });
    expect([again.res.status, again.body.message]).toEqual([409, `Task ${next} is still running in this task's folder; continue once it has ended`]);
    await ended(next);
  });

  test("the earlier task's time limits hold unless the request sets them", async () => {
    const body = { agent: "a", task: "x", provider: "claude-session", timeoutSeconds: 600, noOutputTimeoutSeconds: 300 };
    const limited = await t.request("/v1/tasks", { method: "POST", headers: json, body: JSON.stringify(body) });
    const first = await ended((await limited.json()).taskId);
    expect(await ended((await follow(first.taskId, { task: "y" })).body.taskId)).toMatchObject({ timeoutSeconds: 600, noOutputTimeoutSeconds: 300 });
    const second = await ended((await follow(first.taskId, { task: "z", timeoutSeconds: 0, noOutputTimeoutSeconds: 0 })).body.taskId);
    expect(second).toMatchObject({ timeoutSeconds: null, noOutputTimeoutSeconds: null });
    const third = await ended((await follow(first.taskId, { task: "w", noOutputTimeoutSeconds: 60 })).body.taskId);
    expect(third).toMatchObject({ timeoutSeconds: 600, noOutputTimeoutSeconds: 60 });
  });

  test("Idempotency-Key: a retried continuation starts one task; the same key for another task is a 422", async () => {
    const a = await ended(await start("claude-session", "one"));
    const b = await ended(await start("claude-session", "two"));
    const key = { "Idempotency-Key": `continue-${crypto.randomUUID()}` };
    const once = await follow(a.taskId, { task: "again" }, key);
    const twice = await follow(a.taskId, { task: "again" }, key);
    expect(twice.res.headers.get("Idempotent-Replayed")).toBe("true");
    expect(twice.body.taskId).toBe(once.body.taskId);
    const other = await follow(b.taskId, { task: "again" }, key);
    expect(other.res.status).toBe(422);
    await ended(once.body.taskId);
  });

  test("retention keeps a shared folder until the last task in it goes", async () => {
    const r = testApp({ TASK_RETENTION: "300ms" });
    const first = await ended(await start("claude-session", "one", r), r);
    await Bun.sleep(350);
    const second = await ended((await follow(first.taskId, { task: "two" }, {}, r)).body.taskId, r);
    // The first is past its retention, the second is not: the first's record and log go, the folder stays.
    expect(await r.services.tasks!.prune()).toBe(1);
    expect([existsSync(first.logFile), existsSync(first.taskDir), existsSync(second.logFile)]).toEqual([false, true, true]);
    await Bun.sleep(350);
    expect(await r.services.tasks!.prune()).toBe(1);
    expect([existsSync(second.logFile), existsSync(first.taskDir)]).toEqual([false, false]);
    r.close();
  });
});
