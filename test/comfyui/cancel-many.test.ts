/** DELETE /v1/comfyui/workflows?status=: a batch gone wrong is cancelled in one request. */
import { describe, expect, test } from "bun:test";
import { AUTH, waitFor } from "../helpers.ts";
import { BASIC, chain, comfyStack } from "./helpers.ts";

const cancelAll = async (base: string, query: string) => {
  const res = await fetch(`${base}/v1/comfyui/workflows?${query}`, { method: "DELETE", headers: AUTH });
  return { res, body: await res.json() };
};

describe("cancelling many workflows", () => {
  test("every queued one leaves ComfyUI's queue in one request; the running one goes on; what comes after runs", async () => {
    const s = await comfyStack({ nodeMs: 150 });
    try {
      const running = (await s.submit(chain(60, "running"))).body.workflowId; // 9 s: longer than queueing the batch
      await s.until(running, ["running"]);
      const queued: string[] = [];
      for (let i = 0; i < 300; i++) queued.push((await s.submit(chain(1, `batch-${i}`))).body.workflowId);
      const deletesBefore = s.fake.received.filter((r) => r.path === "/queue").length;
      const { res, body } = await cancelAll(s.base, "status=queued");
      expect(res.status).toBe(200);
      expect(body.cancelled).toBe(300);
      expect([...body.workflowIds].sort()).toEqual([...queued].sort());
      const deletes = s.fake.received.filter((r) => r.path === "/queue").slice(deletesBefore);
      expect(deletes.map((r) => (r.body as { delete: string[] }).delete.length)).toEqual([300]);
      expect(s.fake.queue).toHaveLength(0);
      for (const id of [queued[0]!, queued[299]!]) expect((await s.get(id)).status).toBe("cancelled");
      expect((await s.get(running)).status).toBe("running");
      await fetch(`${s.base}/v1/comfyui/workflow/${running}`, { method: "DELETE", headers: AUTH });
      const after = (await s.submit(BASIC)).body.workflowId;
      expect((await s.until(after, ["completed", "cancelled", "failed"])).status).toBe("completed");
      // Nothing of the batch ever ran.
      expect(queued.some((id) => s.fake.history.has(id))).toBe(false);
    } finally {
      await s.close();
    }
  });

  test("queued,running interrupts the running one too; nothing left is counted again", async () => {
    const s = await comfyStack({ nodeMs: 150 });
    try {
      const running = (await s.submit(chain(6, "running"))).body.workflowId;
      await s.until(running, ["running"]);
      const queued = (await s.submit(chain(1, "queued"))).body.workflowId;
      const { body } = await cancelAll(s.base, "status=queued,running");
      expect(body.cancelled).toBe(2);
      expect(new Set(body.workflowIds)).toEqual(new Set([running, queued]));
      const history = await waitFor(() => s.fake.history.get(running));
      expect(history.status.messages.map(([type]) => type)).toContain("execution_interrupted");
      expect(s.fake.received.filter((r) => r.path === "/interrupt")).toHaveLength(1);
      expect((await cancelAll(s.base, "status=queued,running")).body).toEqual({ cancelled: 0, workflowIds: [] });
    } finally {
      await s.close();
    }
  });

  test("a running one whose last node ComfyUI finishes before the interrupt takes is completed, with its files, and not counted", async () => {
    const s = await comfyStack({ nodeMs: 300 });
    try {
      const running = (await s.submit(chain(1, "finishing"))).body.workflowId;
      await waitFor(async () => (await s.get(running)).currentNode === "2"); // SaveImage, the last
      const queued = (await s.submit(chain(1, "queued"))).body.workflowId;
      const { body } = await cancelAll(s.base, "status=queued,running");
      expect(body).toEqual({ cancelled: 1, workflowIds: [queued] });
      const done = await s.get(running);
      expect([done.status, done.outputs.length]).toEqual(["completed", 1]);
    } finally {
      await s.close();
    }
  });

  test("workflows waiting for an unreachable ComfyUI are cancelled here and never sent when it returns", async () => {
    const s = await comfyStack();
    try {
      s.fake.stop();
      await waitFor(() => !s.server.services.comfyui!.service.backends.get("local")!.connected);
      const waiting = [(await s.submit(BASIC)).body.workflowId, (await s.submit(chain(1))).body.workflowId];
      const { body } = await cancelAll(s.base, "status=queued");
      expect(body.cancelled).toBe(2);
      s.fake.start();
      await waitFor(() => s.server.services.comfyui!.service.backends.get("local")!.connected);
      const probe = (await s.submit(BASIC)).body.workflowId;
      await s.until(probe, ["completed"]);
      const sent = s.fake.received.filter((r) => r.path === "/prompt").map((r) => (r.body as { prompt_id: string }).prompt_id);
      expect(sent.some((id) => waiting.includes(id))).toBe(false);
    } finally {
      await s.close();
    }
  });

  test("status is required and names queued or running; gpu a configured target", async () => {
    const s = await comfyStack();
    try {
      const none = await cancelAll(s.base, "");
      expect([none.res.status, none.body.message]).toEqual([400, "query must have required property 'status'"]);
      const done = await cancelAll(s.base, "status=completed");
      expect([done.res.status, done.body.message]).toEqual([400, "query/status must be one of: queued, running; got 'completed'"]);
      const salad = await cancelAll(s.base, "status=queued&gpu=salad");
      expect([salad.res.status, salad.body.message]).toEqual([400, 'GPU target "salad" is not configured (set SALAD_COMFYUI_URL)']);
    } finally {
      await s.close();
    }
  });
});
