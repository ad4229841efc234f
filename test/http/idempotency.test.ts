/** Idempotency-Key on the POSTs that start work: a retried request starts nothing more. */
import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { IDEMPOTENCY_TTL_MS, IdempotencyStore } from "../../src/http/idempotency.ts";
import { AUTH, KEY, tempDir, testApp, waitFor } from "../helpers.ts";
import { comfyStack, json } from "../comfyui/helpers.ts";

const OTHER_KEY = "another-key-0123456789";
const t = testApp({ MANAGEMENT_API_KEYS: `${KEY},${OTHER_KEY}`, MAX_ACTIVE_TASKS: "3", TASK_STOP_GRACE_MS: "300" });
afterAll(() => t.close());

function startTask(idempotencyKey: string | undefined, body: Record<string, unknown> = { agent: "retry", task: "once", provider: "sleeper" }, key = KEY) {
  const headers: Record<string, string> = { Authorization: `Bearer ${key}`, "Content-Type": "application/json" };
  if (idempotencyKey !== undefined) headers["Idempotency-Key"] = idempotencyKey;
  return t.request("/v1/tasks", { method: "POST", headers, body: JSON.stringify(body) });
}
const running = async () => (await (await t.request("/v1/tasks", { headers: AUTH })).json()).tasks.map((x: { taskId: string }) => x.taskId);
const stopAll = async () => {
  for (const id of await running()) await t.request(`/v1/tasks/${id}`, { method: "DELETE", headers: AUTH });
  await waitFor(() => t.services.tasks!.activeCount() === 0); // stopped, and their processes gone
};

describe("Idempotency-Key on POST /v1/tasks", () => {
  test("a retry with the same key and body gets the first answer and starts nothing; another body is a 422", async () => {
    const first = await startTask("retry-1");
    const again = await startTask("retry-1");
    expect([first.status, again.status, first.headers.get("Idempotent-Replayed"), again.headers.get("Idempotent-Replayed")]).toEqual([202, 202, null, "true"]);
    const body = await first.json();
    expect(await again.json()).toEqual(body);
    expect(await running()).toEqual([body.taskId]);
    const other = await startTask("retry-1", { agent: "retry", task: "something else", provider: "sleeper" });
    expect([other.status, (await other.json()).message]).toEqual([422, expect.stringContaining("different request")]);
    await stopAll();
  });

  test("keys are per API key: the same Idempotency-Key from another key starts its own task", async () => {
    const mine = await (await startTask("shared")).json();
    const theirs = await (await startTask("shared", undefined, OTHER_KEY)).json();
    expect(mine.taskId).not.toBe(theirs.taskId);
    await stopAll();
  });

  test("a refused request is not remembered: once a slot is free, the same key starts the task", async () => {
    for (let i = 0; i < 3; i++) expect((await startTask(undefined)).status).toBe(202);
    const busy = await startTask("when-free");
    expect(busy.status).toBe(503);
    await stopAll();
    const later = await startTask("when-free");
    expect([later.status, later.headers.get("Idempotent-Replayed")]).toEqual([202, null]);
    await stopAll();
  });

  test("a key that is empty, too long or not visible ASCII is a 400 naming the header", async () => {
    for (const bad of ["", "x".repeat(256), "two words", "clé"]) {
      const res = await startTask(bad);
      expect([res.status, (await res.json()).message]).toEqual([400, expect.stringContaining("idempotency-key")]);
    }
    expect(await running()).toEqual([]);
  });

  test("answers outlive a restart of the API", async () => {
    const first = testApp({ TASK_STOP_GRACE_MS: "300" });
    const headers = { ...json, "Idempotency-Key": "across-restart" };
    const body = JSON.stringify({ agent: "retry", task: "once", provider: "exit0" });
    const answer = await (await first.request("/v1/tasks", { method: "POST", headers, body })).json();
    first.close();
    const second = testApp({ DATA_DIR: first.config.dataDir });
    try {
      const replay = await second.request("/v1/tasks", { method: "POST", headers, body });
      expect([replay.headers.get("Idempotent-Replayed"), await replay.json()]).toEqual(["true", answer]);
    } finally {
      second.close();
    }
  });
});

describe("Idempotency-Key on POST /v1/comfyui/workflow", () => {
  test("a retry while the first is still being sent is a 409; after, it replays; ComfyUI got one prompt", async () => {
    const s = await comfyStack();
    try {
      s.fake.promptAnswerDelayMs = 300;
      const post = () =>
        fetch(`${s.base}/v1/comfyui/workflow`, { method: "POST", headers: { ...json, "Idempotency-Key": "wf-1" }, body: JSON.stringify({ workflow: { "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color: 0 } }, "2": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "idem" } } } }) });
      const [a, b] = await Promise.all([post(), (async () => (await Bun.sleep(50), post()))()]);
      expect([a.status, b.status, b.headers.get("Retry-After")]).toEqual([202, 409, "1"]);
      const first = await a.json();
      const replay = await post();
      expect([replay.status, replay.headers.get("Idempotent-Replayed"), (await replay.json()).workflowId]).toEqual([202, "true", first.workflowId]);
      expect(s.fake.received.filter((r) => r.path === "/prompt")).toHaveLength(1);
    } finally {
      await s.close();
    }
  });
});

describe("IdempotencyStore", () => {
  test("answers expire after a day; a claim left by a crash stops blocking after a minute", () => {
    let now = 1_000_000;
    const store = new IdempotencyStore(new Database(join(tempDir(), "idem.sqlite")), () => now);
    expect(store.claim("s", "k", "f")).toEqual({ state: "new" });
    expect(store.claim("s", "k", "f")).toEqual({ state: "busy" });
    now += 61_000;
    expect(store.claim("s", "k", "f")).toEqual({ state: "new" });
    store.complete("s", "k", 202, '{"ok":true}');
    now += IDEMPOTENCY_TTL_MS - 1;
    expect(store.claim("s", "k", "f")).toEqual({ state: "done", status: 202, body: '{"ok":true}' });
    expect(store.claim("s", "k", "other")).toEqual({ state: "mismatch" });
    now += 2;
    expect(store.claim("s", "k", "other")).toEqual({ state: "new" });
  });
});
