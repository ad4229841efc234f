/** Webhooks on a ComfyUI workflow's end, against the fake ComfyUI. */
import { describe, expect, test } from "bun:test";
import { AUTH, waitFor } from "../helpers.ts";
import { BASIC, chain, comfyStack, json } from "../comfyui/helpers.ts";
import { webhookReceiver } from "./receiver.ts";

const FAST = { webhookPollMs: 20, webhookRetryDelaysMs: [50], webhookTimeoutMs: 2000 };

describe("a workflow's webhook", () => {
  test("goes at the workflow's end, not at the next look at the outbox", async () => {
    const r = webhookReceiver();
    const s = await comfyStack({ nodeMs: 20, server: { webhookPollMs: 60_000, webhookRetryDelaysMs: [50], webhookTimeoutMs: 2000 } });
    try {
      await Bun.sleep(50); // past the first look, at start
      const id = (await s.submit(BASIC, { webhookUrl: r.url("/soon") })).body.workflowId;
      await s.until(id, ["completed"]);
      await waitFor(() => r.received.length === 1, 3000);
      expect(r.events()[0]).toMatchObject({ type: "workflow.completed", data: { workflowId: id } });
    } finally {
      await s.close();
      r.stop();
    }
  });


  test("completed, with its outputs; cancelled; a retry keeps the URL unless told otherwise", async () => {
    const r = webhookReceiver();
    const s = await comfyStack({ nodeMs: 80, server: FAST });
    try {
      const done = (await s.submit(BASIC, { webhookUrl: r.url("/comfy") })).body;
      expect(done.webhook).toMatchObject({ url: r.url("/comfy"), status: "waiting", attempts: 0 });
      await waitFor(() => r.received.length === 1);
      const [event] = r.events();
      const shown = await s.get(done.workflowId);
      expect(event).toMatchObject({ type: "workflow.completed", timestamp: shown.completionTime, data: { workflowId: done.workflowId, status: "completed", progress: 100 } });
      expect(event!.data.outputs).toEqual(shown.outputs);
      expect(event!.data.outputs.length).toBeGreaterThan(0);
      expect(r.received[0]!.headers["webhook-signature"]).toBeUndefined(); // no WEBHOOK_SECRET here
      expect((await waitFor(async () => ((await s.get(done.workflowId)).webhook.status === "delivered" ? s.get(done.workflowId) : undefined))).webhook.attempts).toBe(1);

      // A queued one, cancelled behind a running one.
      const running = (await s.submit(chain(4, "long"))).body.workflowId;
      await s.until(running, ["running"]);
      const victim = (await s.submit(chain(1, "victim"), { webhookUrl: r.url("/victim") })).body.workflowId;
      expect((await fetch(`${s.base}/v1/comfyui/workflow/${victim}`, { method: "DELETE", headers: AUTH })).status).toBe(200);
      await waitFor(() => r.received.length === 2);
      expect(r.events()[1]).toMatchObject({ type: "workflow.cancelled", data: { workflowId: victim, status: "cancelled" } });

      const retry = async (body: unknown) => (await (await fetch(`${s.base}/v1/comfyui/workflow/${done.workflowId}/retry`, { method: "POST", headers: json, body: JSON.stringify(body) })).json()).workflowId as string;
      const again = await retry({});
      const elsewhere = await retry({ webhookUrl: r.url("/elsewhere") });
      const silent = await retry({ webhookUrl: null });
      for (const id of [again, elsewhere, silent]) await s.until(id, ["completed"]);
      await waitFor(() => r.received.length === 4);
      await Bun.sleep(150);
      expect(r.received.slice(0, 2).map((x) => x.path)).toEqual(["/comfy", "/victim"]);
      expect(r.received.slice(2).map((x) => x.path).sort()).toEqual(["/comfy", "/elsewhere"]);
      expect((await s.get(silent)).webhook).toBeNull();
      const list = await (await fetch(`${s.base}/v1/comfyui/workflows?status=completed`, { headers: AUTH })).json();
      expect(list.workflows.find((w: { workflowId: string }) => w.workflowId === elsewhere).webhook).toMatchObject({ url: r.url("/elsewhere") });
    } finally {
      await s.close();
      r.stop();
    }
  });
});
