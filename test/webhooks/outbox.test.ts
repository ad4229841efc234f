/** The webhook outbox: it survives the API's restart, catches ends recorded at start, and goes with its task. */
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../../src/config.ts";
import { TaskStore } from "../../src/tasks/task-store.ts";
import { NOT_STARTED, type TaskRecord } from "../../src/tasks/task.ts";
import { WebhookStore } from "../../src/webhooks/webhook-store.ts";
import { AUTH, tempDir, testApp, testEnv, waitFor } from "../helpers.ts";
import { webhookReceiver } from "./receiver.ts";

const FAST = { webhookPollMs: 20, webhookRetryDelaysMs: [50], webhookTimeoutMs: 5000 };
const json = { ...AUTH, "Content-Type": "application/json" };
type App = ReturnType<typeof testApp>;
const get = async (app: App, id: string) => (await app.request(`/v1/tasks/${id}`, { headers: AUTH })).json();
const start = async (app: App, body: Record<string, unknown>) =>
  (await (await app.request("/v1/tasks", { method: "POST", headers: json, body: JSON.stringify({ agent: "a", task: "x", provider: "exit0", ...body }) })).json()).taskId as string;

describe("the webhook outbox", () => {
  test("a notification under way at shutdown is sent at the next start, with the same webhook-id", async () => {
    let hang = true;
    const r = webhookReceiver(() => (hang ? "hang" : new Response(null)));
    const dir = tempDir();
    const env = { DATA_DIR: dir };
    let app = testApp(env, FAST);
    try {
      const id = await start(app, { webhookUrl: r.url() });
      await waitFor(() => r.received.length === 1);
      // /v1/status says a notification waits, unsigned.
      expect((await (await app.request("/v1/status", { headers: AUTH })).json()).webhooks).toEqual({ signed: false, pending: 1 });
      app.close();
      hang = false;
      app = testApp(env, FAST);
      const task = await waitFor(async () => ((await get(app, id)).webhook.status === "delivered" ? get(app, id) : undefined));
      expect(task.webhook.attempts).toBe(1); // the one cut short by the shutdown is not counted
      expect(r.received).toHaveLength(2);
      expect(r.received[1]!.headers["webhook-id"]).toBe(r.received[0]!.headers["webhook-id"]);
    } finally {
      app.close();
      r.stop();
    }
  });

  test("a task that ended while the API was down is notified once the next start records its end", async () => {
    const r = webhookReceiver();
    const dir = tempDir();
    const env = { DATA_DIR: dir };
    let app = testApp(env, FAST);
    try {
      const id = await start(app, { provider: "slow", task: "3", webhookUrl: r.url() }); // ~0.6 s
      app.close(); // the task runs on, and ends while no API watches it
      await Bun.sleep(1000);
      expect(r.received).toHaveLength(0);
      app = testApp(env, FAST);
      await waitFor(() => r.received.length === 1);
      expect(r.events()[0]).toMatchObject({ type: "task.completed", data: { taskId: id, status: "completed", exitCode: 0 } });
    } finally {
      app.close();
      r.stop();
    }
  });

  test("made in the same write as the end, whatever writes it; deleted with its task", () => {
    const db = new Database(":memory:", { strict: true });
    const tasks = new TaskStore(db);
    const outbox = new WebhookStore(db, [{ kind: "task", table: "tasks", id: "taskId", endTime: "exitTime" }]);
    // A second start makes the same triggers again, not a second set.
    new WebhookStore(db, [{ kind: "task", table: "tasks", id: "taskId", endTime: "exitTime" }]);
    const base: TaskRecord = { ...NOT_STARTED, taskId: "t1", agent: "a", task: "x", provider: "p", status: "running", startTime: 1, taskDir: "/d", logFile: "/l", createdBy: null, timeoutMs: null, noOutputTimeoutMs: null, model: null, continuedFrom: null, webhookUrl: "http://127.0.0.1:1/h", labels: null };
    tasks.insert(base);
    tasks.insert({ ...base, taskId: "t2", webhookUrl: null });
    tasks.insert({ ...base, taskId: "t3", status: "failed", exitTime: 5 }); // failed to start
    expect(outbox.get("task:t1")).toBeUndefined();
    expect(outbox.get("task:t3")).toMatchObject({ status: "sending", attempts: 0, nextAttemptAt: 5, url: base.webhookUrl });
    tasks.update("t1", { status: "stopped", stopRequestedAt: 2 });
    expect(outbox.get("task:t1")).toBeUndefined(); // a stop asked for is no end yet
    tasks.update("t1", { exitTime: 3, exitCode: 0 });
    tasks.update("t2", { exitTime: 3, exitCode: 0 });
    tasks.update("t1", { exitTime: 4 }); // an end is made once
    expect(outbox.due(10, 10).map((d) => [d.subject, d.nextAttemptAt])).toEqual([
      ["task:t1", 3],
      ["task:t3", 5],
    ]);
    expect(outbox.get("task:t1")!.webhookId).not.toBe(outbox.get("task:t3")!.webhookId);
    expect(outbox.get("task:t2")).toBeUndefined();
    tasks.delete("t1");
    expect(outbox.get("task:t1")).toBeUndefined();
    expect(outbox.sendingCount()).toBe(1);
  });
});

describe("WEBHOOK_SECRET", () => {
  const base = testEnv();
  test("whsec_ and base64 of 24 to 64 bytes (the prefix optional), from the variable or a file; never passed to a task", () => {
    const bytes = Buffer.from("k".repeat(32));
    for (const value of [`whsec_${bytes.toString("base64")}`, bytes.toString("base64"), ` whsec_${bytes.toString("base64")}\n`]) {
      const r = loadConfig({ ...base, WEBHOOK_SECRET: value });
      expect(r.ok && Buffer.from(r.config.webhookSecret!).equals(bytes)).toBe(true);
      if (r.ok) expect(r.config.childEnvSource.WEBHOOK_SECRET).toBeUndefined();
    }
    const file = join(tempDir(), "secret");
    writeFileSync(file, `whsec_${bytes.toString("base64")}\n`);
    const fromFile = loadConfig({ ...base, WEBHOOK_SECRET_FILE: file });
    expect(fromFile.ok && fromFile.config.webhookSecret!.length).toBe(32);
    if (fromFile.ok) expect(fromFile.config.childEnvSource.WEBHOOK_SECRET_FILE).toBeUndefined();
    expect((loadConfig(base) as { config: { webhookSecret: unknown } }).config.webhookSecret).toBeUndefined();
  });

  test("anything else is refused, saying how to make one", () => {
    for (const value of ["hunter2", `whsec_${Buffer.from("short").toString("base64")}`, `whsec_${Buffer.alloc(65).toString("base64")}`, "whsec_not*base64*at*all*here*0123456789"]) {
      const r = loadConfig({ ...base, WEBHOOK_SECRET: value });
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.errors).toEqual([`WEBHOOK_SECRET: must be "whsec_" and the base64 of 24 to 64 random bytes, e.g. "whsec_$(openssl rand -base64 32)"`]);
    }
  });
});
