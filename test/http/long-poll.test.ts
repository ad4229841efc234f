/**
 * `?wait=N` on a task's and a workflow's GET, over real servers whose idle timeout (1 s) is shorter
 * than the waits: the answer comes when the thing ends, after N seconds, or at shutdown.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { createServer } from "../../src/server.ts";
import { chain, comfyStack } from "../comfyui/helpers.ts";
import { AUTH, silentLogger, testConfig } from "../helpers.ts";

const json = { ...AUTH, "Content-Type": "application/json" };
const timed = async <T>(fn: () => Promise<T>) => {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
};

describe("a task", async () => {
  // Its 1 s idle timeout may close a pooled connection just as a request reuses it, which then
  // fails with ECONNRESET (a POST did once in CI): those that change state take a fresh connection.
  const server = await createServer(testConfig(), silentLogger, { idleTimeoutSec: 1 });
  const base = `http://127.0.0.1:${server.port}`;
  afterAll(() => server.shutdown());
  const start = async (provider: string, task = "x") =>
    (await (await fetch(`${base}/v1/tasks`, { method: "POST", keepalive: false, headers: json, body: JSON.stringify({ agent: "w", task, provider }) })).json()).taskId as string;
  const get = (id: string, query = "") => fetch(`${base}/v1/tasks/${id}${query}`, { headers: AUTH });

  test("answers as soon as the task ends, past the idle timeout, with its end and log", async () => {
    const id = await start("slow", "10"); // about 2 s
    const { value: res, ms } = await timed(() => get(id, "?wait=30"));
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ status: "completed", exitCode: 0 });
    expect(body.logTail.at(-1)).toBe("slow 10");
    expect(ms).toBeGreaterThan(1000);
    expect(ms).toBeLessThan(10_000);
  });

  test("after N seconds a running task is answered as it is; an ended one, or wait=0, at once", async () => {
    const id = await start("sleeper");
    const { value, ms } = await timed(async () => (await get(id, "?wait=2")).json());
    expect(value.status).toBe("running");
    expect(ms).toBeGreaterThan(1900);
    await fetch(`${base}/v1/tasks/${id}`, { method: "DELETE", keepalive: false, headers: AUTH });
    const stopped = await (await get(id, "?wait=30")).json();
    expect(stopped).toMatchObject({ status: "stopped", exitCode: 0 });
    const again = await timed(() => get(id, "?wait=30"));
    expect(again.ms).toBeLessThan(1000);
    const fresh = await start("sleeper");
    expect((await timed(() => get(fresh, "?wait=0"))).ms).toBeLessThan(1000);
    await fetch(`${base}/v1/tasks/${fresh}`, { method: "DELETE", keepalive: false, headers: AUTH });
  });

  test("a wait out of range is a 400; an unknown task a 404 at once", async () => {
    for (const q of ["?wait=-1", "?wait=3601", "?wait=soon", "?wait=1.5"]) expect([q, (await get("00000000-0000-4000-8000-000000000000", q)).status]).toEqual([q, 400]);
    expect((await get("00000000-0000-4000-8000-000000000000", "?wait=30")).status).toBe(404);
  });

  test("shutdown answers a waiting request at once, with the task still running", async () => {
    const other = await createServer(testConfig(), silentLogger, { idleTimeoutSec: 1 });
    const otherBase = `http://127.0.0.1:${other.port}`;
    const res = await fetch(`${otherBase}/v1/tasks`, { method: "POST", keepalive: false, headers: json, body: JSON.stringify({ agent: "w", task: "x", provider: "sleeper" }) });
    const { taskId } = await res.json();
    const waiting = timed(() => fetch(`${otherBase}/v1/tasks/${taskId}?wait=60`, { headers: AUTH }));
    await Bun.sleep(300);
    await other.shutdown();
    const { value, ms } = await waiting;
    expect((await value.json()).status).toBe("running");
    expect(ms).toBeLessThan(5000);
    // Tasks outlive the API; this one is stopped by the test's own clean-up (it carries the test's TASK_DIR).
  });
});

describe("a workflow", async () => {
  const s = await comfyStack({ nodeMs: 400, server: { idleTimeoutSec: 1 } });
  afterAll(() => s.close());
  const get = (id: string, query = "") => fetch(`${s.base}/v1/comfyui/workflow/${id}${query}`, { headers: AUTH });

  test("answers as soon as it completes, with its outputs, past the idle timeout", async () => {
    const { body } = await s.submit(chain(3, "waited"));
    const { value: res, ms } = await timed(() => get(body.workflowId, "?wait=30"));
    const done = await res.json();
    expect(done).toMatchObject({ status: "completed", progress: 100 });
    expect(done.outputs[0].filename).toMatch(/^waited_/);
    expect(ms).toBeGreaterThan(1000);
    expect(s.server.services.comfyui!.hub.endWaiterCount).toBe(0);
  });

  test("a cancel ends the wait too; after N seconds a queued one is answered as it is", async () => {
    const long = await s.submit(chain(6, "long"));
    const queued = await s.submit(chain(0, "behind"));
    const { value, ms } = await timed(async () => (await get(queued.body.workflowId, "?wait=1")).json());
    expect(value.status).toBe("queued");
    expect(ms).toBeGreaterThan(900);
    const waiting = get(long.body.workflowId, "?wait=30");
    await Bun.sleep(200);
    await fetch(`${s.base}/v1/comfyui/workflow/${long.body.workflowId}`, { method: "DELETE", keepalive: false, headers: AUTH });
    expect((await (await waiting).json()).status).toBe("cancelled");
    await s.until(queued.body.workflowId, ["completed"]);
    expect(s.server.services.comfyui!.hub.endWaiterCount).toBe(0);
  });
});
