/** Workflow time limits: ComfyUI has none, and a node that hangs holds the GPU's queue for ever. */
import { describe, expect, test } from "bun:test";
import { RunDeadlines } from "../../src/comfyui/run-deadlines.ts";
import { FakeComfyUI } from "../fake-comfyui.ts";
import { tempDir, waitFor } from "../helpers.ts";
import { chain, comfyStack, eventSocket } from "./helpers.ts";

const types = (history: { status: { messages: [string, unknown][] } }) => history.status.messages.map(([type]) => type);

/** A workflow with a time limit, running when its API stops (ComfyUI goes on); `restart` starts another API on the same data. */
async function runningAcrossRestart(nodeMs: number, prompt: object, timeoutSeconds: number) {
  const fake = new FakeComfyUI({ nodeMs }).start();
  const env = { DATA_DIR: tempDir() };
  const first = await comfyStack({ fake, env });
  const { body } = await first.submit(prompt, { timeoutSeconds });
  const started = await first.until(body.workflowId, ["running"]);
  await first.server.shutdown();
  return { fake, id: body.workflowId as string, started, restart: () => comfyStack({ fake, env }) };
}

describe("workflow time limits", () => {
  test("past its limit, counted from its start, a workflow is interrupted in ComfyUI and failed; the queue goes on", async () => {
    const s = await comfyStack({ nodeMs: 300 });
    try {
      const events = await eventSocket(s.base);
      events.send({ type: "subscribe", workflowId: "*" });
      await waitFor(() => events.messages.some((m) => m.type === "subscribed"));
      // 1.5 s ahead of it in the queue: longer than its limit, which that wait must not use up.
      const ahead = (await s.submit(chain(4, "ahead"))).body.workflowId;
      const { res, body } = await s.submit(chain(8, "limited"), { timeoutSeconds: 1 });
      expect([res.status, body.timeoutSeconds]).toEqual([202, 1]);
      const after = (await s.submit(chain(0, "after"))).body.workflowId;
      expect((await s.until(ahead, ["completed", "failed"])).status).toBe("completed");
      const failed = await s.until(body.workflowId, ["completed", "failed"]);
      expect(failed).toMatchObject({ status: "failed", error: "Timed out after 1 s; workflow interrupted", timeoutSeconds: 1, outputs: [] });
      const ran = Date.parse(failed.completionTime) - Date.parse(failed.startTime);
      expect(ran).toBeGreaterThanOrEqual(1000);
      expect(ran).toBeLessThan(2500); // its 10 nodes take 3 s
      const history = await waitFor(() => s.fake.history.get(body.workflowId));
      expect(types(history)).toContain("execution_interrupted");
      expect(Object.keys(history.outputs)).toHaveLength(0);
      expect(s.fake.received.filter((r) => r.path === "/interrupt")).toHaveLength(1);
      expect((await s.until(after, ["completed", "failed"])).status).toBe("completed");
      const event = await waitFor(() => events.messages.find((m) => m.type === "workflow:failed" && m.workflowId === body.workflowId));
      expect(event.data).toEqual({ error: "Timed out after 1 s; workflow interrupted" });
      expect(await (await fetch(`${s.base}/metrics`)).text()).toContain('comfyui_workflow_errors_total{error_type="timeout"} 1');
      events.ws.close();
    } finally {
      await s.close();
    }
  });

  test("WORKFLOW_TIMEOUT is the default; timeoutSeconds 0 asks for none", async () => {
    const s = await comfyStack({ nodeMs: 150, env: { WORKFLOW_TIMEOUT: "1s" } });
    try {
      const unlimited = (await s.submit(chain(16, "unlimited"), { timeoutSeconds: 0 })).body;
      expect(unlimited.timeoutSeconds).toBeNull();
      expect((await s.until(unlimited.workflowId, ["completed", "failed"])).status).toBe("completed"); // 2.7 s
      const limited = (await s.submit(chain(16, "default"))).body;
      expect(limited.timeoutSeconds).toBe(1);
      expect(await s.until(limited.workflowId, ["completed", "failed"])).toMatchObject({ status: "failed", error: "Timed out after 1 s; workflow interrupted" });
      const bad = await s.submit(chain(0), { timeoutSeconds: -1 });
      expect([bad.res.status, bad.body.message]).toEqual([400, "body/timeoutSeconds must be at least 0, got -1"]);
    } finally {
      await s.close();
    }
  });

  test("an interrupt ComfyUI refuses at the limit (a 503): failed all the same, and interrupted at its next message", async () => {
    const s = await comfyStack({ nodeMs: 300 });
    try {
      const { body } = await s.submit(chain(8, "refused"), { timeoutSeconds: 1 });
      await s.until(body.workflowId, ["running"]);
      s.fake.unavailable["/interrupt"] = 1;
      expect((await s.until(body.workflowId, ["completed", "failed"])).status).toBe("failed");
      const history = await waitFor(() => s.fake.history.get(body.workflowId), 5_000);
      expect(types(history)).toContain("execution_interrupted");
      expect(Object.keys(history.outputs)).toHaveLength(0);
    } finally {
      await s.close();
    }
  });

  test("the clock of a workflow running while the API restarts goes on from its recorded start", async () => {
    const { fake, id, started, restart } = await runningAcrossRestart(300, chain(20, "restart"), 2);
    const second = await restart();
    try {
      const failed = await second.until(id, ["completed", "failed"]);
      expect(failed).toMatchObject({ status: "failed", error: "Timed out after 2 s; workflow interrupted" });
      const ran = Date.parse(failed.completionTime) - Date.parse(started.startTime);
      expect(ran).toBeGreaterThanOrEqual(2000);
      expect(ran).toBeLessThan(5000); // its 22 nodes take 6.6 s
      expect(types(await waitFor(() => fake.history.get(id)))).toContain("execution_interrupted");
    } finally {
      await second.close();
    }
  });

  test("one that ended while the API was down, and whose limit passed meanwhile, is recorded as it ended, not as timed out", async () => {
    const { fake, id, restart } = await runningAcrossRestart(200, chain(3, "while-down"), 2); // 1 s of nodes
    await waitFor(() => fake.history.get(id)); // it completes in ComfyUI meanwhile
    await Bun.sleep(2000); // and its limit passes
    const second = await restart();
    try {
      const done = await second.until(id, ["completed", "failed"]);
      expect([done.status, done.error]).toEqual(["completed", null]);
      expect(fake.received.filter((r) => r.path === "/interrupt")).toHaveLength(0);
    } finally {
      await second.close();
    }
  });

  test("RunDeadlines: a limit longer than setTimeout's 24.8 days does not fire at once; one already past fires", async () => {
    const fired: string[] = [];
    const d = new RunDeadlines((id) => fired.push(id));
    const now = Date.now();
    d.arm({ workflowId: "long", startTime: now, timeoutMs: 30 * 86_400_000 }, now);
    d.arm({ workflowId: "past", startTime: now - 5000, timeoutMs: 1000 }, now);
    d.arm({ workflowId: "cleared", startTime: now, timeoutMs: 20 }, now);
    d.clear("cleared");
    await Bun.sleep(60);
    expect(fired).toEqual(["past"]);
    d.close();
  });
});
