/** POST /v1/tasks/{id}/webhook and /v1/comfyui/workflow/{id}/webhook: a notification sent again. */
import { afterAll, describe, expect, test } from "bun:test";
import { AUTH, testApp, waitFor } from "../helpers.ts";
import { BASIC, comfyStack } from "../comfyui/helpers.ts";
import { webhookReceiver } from "./receiver.ts";

const FAST = { webhookPollMs: 20, webhookRetryDelaysMs: [50], webhookTimeoutMs: 5000 };
const t = testApp({}, FAST);
afterAll(() => t.close());
const json = { ...AUTH, "Content-Type": "application/json" };
const start = async (body: Record<string, unknown>) =>
  (await (await t.request("/v1/tasks", { method: "POST", headers: json, body: JSON.stringify({ agent: "a", task: "x", provider: "exit0", ...body }) })).json()).taskId as string;
const get = async (id: string) => (await t.request(`/v1/tasks/${id}`, { headers: AUTH })).json();
const resend = async (id: string, body: unknown = {}) => {
  const res = await t.request(`/v1/tasks/${id}/webhook`, { method: "POST", headers: json, body: JSON.stringify(body) });
  return { res, body: await res.json() };
};
const webhookIs = (id: string, status: string) => waitFor(async () => ((await get(id)).webhook?.status === status ? get(id) : undefined));

describe("sending a task's webhook again", () => {
  test("one given up on goes again, with the same webhook-id, once its receiver is back", async () => {
    let down = true;
    const r = webhookReceiver(() => new Response(null, { status: down ? 503 : 200 }));
    try {
      const id = await start({ webhookUrl: r.url() });
      expect((await webhookIs(id, "failed")).webhook).toMatchObject({ attempts: 2, lastError: "HTTP 503" });
      down = false;
      const { res, body } = await resend(id);
      expect(res.status).toBe(202);
      expect(body).toMatchObject({ url: r.url(), status: "sending", attempts: 0, lastError: null, deliveredAt: null });
      expect((await webhookIs(id, "delivered")).webhook.attempts).toBe(1);
      expect(r.received).toHaveLength(3);
      expect(new Set(r.received.map((x) => x.headers["webhook-id"])).size).toBe(1);
      // A delivered one can go again too (say, to a receiver that lost it).
      expect((await resend(id)).res.status).toBe(202);
      await waitFor(() => r.received.length === 4);
    } finally {
      r.stop();
    }
  });

  test("to a new URL, which becomes the task's, even for a task that had none", async () => {
    const r = webhookReceiver();
    try {
      const id = await start({});
      await waitFor(async () => (await get(id)).exitTime);
      expect((await get(id)).webhook).toBeNull();
      const { res } = await resend(id, { url: r.url("/late") });
      expect(res.status).toBe(202);
      const task = await webhookIs(id, "delivered");
      expect(task.webhook.url).toBe(r.url("/late"));
      expect(r.events()[0]).toMatchObject({ type: "task.completed", data: { taskId: id } });
    } finally {
      r.stop();
    }
  });

  test("409 while it runs or its notification is being sent; 422 with no URL; 404, 400", async () => {
    const r = webhookReceiver(() => "hang");
    try {
      const running = await start({ provider: "sleeper", webhookUrl: r.url() });
      const early = await resend(running);
      expect([early.res.status, early.body.message]).toEqual([409, `Task ${running} has not ended yet: its webhook goes when it does`]);
      await t.request(`/v1/tasks/${running}`, { method: "DELETE", headers: AUTH });
      await waitFor(() => r.received.length === 1); // under way, and hanging
      const busy = await resend(running);
      expect(busy.res.status).toBe(409);
      expect(busy.body).toMatchObject({ currentStatus: "sending", message: `Task ${running}'s webhook is still being sent (0 attempts so far; its next attempt is at ${(await get(running)).webhook.nextAttemptAt})` });

      const plain = await start({});
      await waitFor(async () => (await get(plain)).exitTime);
      const none = await resend(plain);
      expect([none.res.status, none.body.message]).toEqual([422, `Task ${plain} has no webhookUrl: give one as url`]);
      expect((await resend("00000000-0000-4000-8000-000000000000")).res.status).toBe(404);
      expect((await resend(plain, { url: "ftp://x" })).body.message).toContain("body/url");
      expect((await resend(plain, { url: null })).res.status).toBe(400);
      expect((await resend(plain, { other: 1 })).res.status).toBe(400);
    } finally {
      r.stop();
    }
  });
});

describe("sending a workflow's webhook again", () => {
  test("an ended workflow's notification goes to the URL given, which becomes its own", async () => {
    const r = webhookReceiver();
    const s = await comfyStack({ server: FAST });
    try {
      const id = (await s.submit(BASIC)).body.workflowId;
      await s.until(id, ["completed"]);
      const res = await fetch(`${s.base}/v1/comfyui/workflow/${id}/webhook`, { method: "POST", headers: json, body: JSON.stringify({ url: r.url("/w") }) });
      expect(res.status).toBe(202);
      await waitFor(() => r.received.length === 1);
      expect(r.events()[0]).toMatchObject({ type: "workflow.completed", data: { workflowId: id, status: "completed" } });
      expect((await waitFor(async () => ((await s.get(id)).webhook?.status === "delivered" ? s.get(id) : undefined))).webhook.url).toBe(r.url("/w"));
      const unknown = await fetch(`${s.base}/v1/comfyui/workflow/00000000-0000-4000-8000-000000000000/webhook`, { method: "POST", headers: json, body: "{}" });
      expect(unknown.status).toBe(404);
    } finally {
      await s.close();
      r.stop();
    }
  });
});
