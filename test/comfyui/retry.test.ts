/** POST /v1/comfyui/workflow/{id}/retry: a finished workflow queued again without sending it again. */
import { describe, expect, test } from "bun:test";
import { AUTH, FIXTURES } from "../helpers.ts";
import { BASIC, chain, comfyStack, json } from "./helpers.ts";

const ui = await Bun.file(`${FIXTURES}/comfyui-workflows/basic_ui.json`).json();

const retry = async (base: string, id: string, body: unknown = {}, headers: Record<string, string> = {}) => {
  const res = await fetch(`${base}/v1/comfyui/workflow/${id}/retry`, { method: "POST", headers: { ...json, ...headers }, body: JSON.stringify(body) });
  return { res, body: await res.json() };
};
const sent = (fake: { received: { path: string; body: unknown }[] }, id: string) =>
  fake.received.find((r) => r.path === "/prompt" && (r.body as { prompt_id?: string }).prompt_id === id)!.body as { prompt: unknown; extra_data: Record<string, unknown> };

describe("retrying a workflow", () => {
  test("one that ran past its limit runs again with a longer one: the same prompt, a new workflow; the first stays as it ended", async () => {
    const s = await comfyStack({ nodeMs: 150 });
    try {
      const first = (await s.submit(chain(10, "again"), { timeoutSeconds: 1, priority: "high" })).body.workflowId;
      expect((await s.until(first, ["completed", "failed"])).status).toBe("failed");
      const { res, body } = await retry(s.base, first, { timeoutSeconds: 0 });
      expect(res.status).toBe(202);
      expect(body).toMatchObject({ priority: "high", gpu: "local", timeoutSeconds: null });
      expect(body.workflowId).not.toBe(first);
      expect((await s.until(body.workflowId, ["completed", "failed"])).status).toBe("completed");
      expect(sent(s.fake, body.workflowId).prompt).toEqual(sent(s.fake, first).prompt);
      expect((await s.get(first)).status).toBe("failed");
      // Its own time limit when the request names none.
      const again = await retry(s.base, first);
      expect(again.body.timeoutSeconds).toBe(1);
      await s.until(again.body.workflowId, ["completed", "failed"]);
    } finally {
      await s.close();
    }
  });

  test("a UI workflow goes again with its UI JSON, without converting it again", async () => {
    const s = await comfyStack();
    try {
      const first = (await s.submit(ui)).body.workflowId;
      await s.until(first, ["completed"]);
      const conversions = s.fake.gets.filter((p) => p === "/object_info").length;
      const { body } = await retry(s.base, first, { priority: "low" });
      await s.until(body.workflowId, ["completed"]);
      expect(body.priority).toBe("low");
      expect(sent(s.fake, body.workflowId).extra_data.extra_pnginfo).toEqual(sent(s.fake, first).extra_data.extra_pnginfo);
      expect(s.fake.gets.filter((p) => p === "/object_info").length).toBe(conversions);
    } finally {
      await s.close();
    }
  });

  test("only a finished workflow; unknown is 404; a repeated Idempotency-Key queues it once", async () => {
    const s = await comfyStack({ nodeMs: 150 });
    try {
      const running = (await s.submit(chain(10, "busy"))).body.workflowId;
      await s.until(running, ["running"]);
      const busy = await retry(s.base, running);
      expect([busy.res.status, busy.body.message, busy.body.currentStatus]).toEqual([409, `Workflow ${running} is still running`, "running"]);
      const unknown = await retry(s.base, "00000000-0000-4000-8000-000000000000");
      expect(unknown.res.status).toBe(404);
      await fetch(`${s.base}/v1/comfyui/workflow/${running}`, { method: "DELETE", headers: AUTH });
      const salad = await retry(s.base, running, { gpu: "salad" });
      expect([salad.res.status, salad.body.message]).toEqual([400, 'GPU target "salad" is not configured (set SALAD_COMFYUI_URL)']);
      expect((await retry(s.base, running, { workflow: BASIC })).res.status).toBe(400); // the prompt is the workflow's own
      const key = { "Idempotency-Key": "retry-once" };
      const a = await retry(s.base, running, {}, key);
      const b = await retry(s.base, running, {}, key);
      expect([a.res.status, b.res.status]).toEqual([202, 202]);
      expect(b.body.workflowId).toBe(a.body.workflowId);
      expect(b.res.headers.get("Idempotent-Replayed")).toBe("true");
    } finally {
      await s.close();
    }
  });
});
