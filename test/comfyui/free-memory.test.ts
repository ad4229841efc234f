/** POST /v1/comfyui/free: ComfyUI gives back the VRAM it holds between workflows (its /free). */
import { describe, expect, test } from "bun:test";
import pino from "pino";
import { FakeComfyUI } from "../fake-comfyui.ts";
import { waitFor } from "../helpers.ts";
import { chain, comfyStack, json } from "./helpers.ts";

const free = (base: string, body: unknown) => fetch(`${base}/v1/comfyui/free`, { method: "POST", headers: json, body: JSON.stringify(body) });
const frees = (fake: FakeComfyUI) => fake.received.filter((r) => r.path === "/free").map((r) => r.body);

describe("freeing ComfyUI's GPU memory", () => {
  test("both by default, or what is asked; it says when ComfyUI does it; audit-logged", async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const s = await comfyStack({ nodeMs: 200, logger });
    try {
      const idle = await free(s.base, {});
      expect(idle.status).toBe(202);
      expect(await idle.json()).toEqual({ gpu: "local", unloadModels: true, freeMemory: true, message: "ComfyUI frees it now" });
      const running = (await s.submit(chain(3, "busy"))).body.workflowId;
      await s.until(running, ["running"]);
      await waitFor(() => s.server.services.comfyui!.service.backends.get("local")!.queueRemaining > 0);
      const busy = await free(s.base, { freeMemory: false });
      expect(await busy.json()).toEqual({ gpu: "local", unloadModels: true, freeMemory: false, message: "ComfyUI frees it once the workflow it is running ends" });
      expect(frees(s.fake)).toEqual([
        { unload_models: true, free_memory: true },
        { unload_models: true, free_memory: false },
      ]);
      expect((await s.until(running, ["completed", "failed"])).status).toBe("completed"); // the workflow is not disturbed
      expect(lines.filter((l) => l.action === "comfyui.free").map((l) => [l.backend, l.unloadModels, l.freeMemory, typeof l.keyId])).toEqual([
        ["local", true, true, "string"],
        ["local", true, false, "string"],
      ]);
    } finally {
      await s.close();
    }
  });

  test("bad requests are 400 and reach no ComfyUI; its cache goes with its models; an unreachable one is a 503 to retry", async () => {
    const s = await comfyStack();
    try {
      const nothing = await free(s.base, { unloadModels: false, freeMemory: false });
      expect([nothing.status, (await nothing.json()).message]).toEqual([400, "Nothing to free: unloadModels and freeMemory are both false"]);
      // ComfyUI unloads the models whenever it frees its cache: the answer says so.
      const cacheOnly = await free(s.base, { unloadModels: false });
      expect(await cacheOnly.json()).toMatchObject({ unloadModels: true, freeMemory: true });
      const salad = await free(s.base, { gpu: "salad" });
      expect([salad.status, (await salad.json()).message]).toEqual([400, 'GPU target "salad" is not configured (set SALAD_COMFYUI_URL)']);
      const unknown = await free(s.base, { unload: true });
      expect(unknown.status).toBe(400);
      expect(frees(s.fake)).toEqual([{ unload_models: true, free_memory: true }]);
      s.fake.stop();
      const down = await free(s.base, {});
      expect(down.status).toBe(503);
      expect(down.headers.get("retry-after")).toBe("10");
    } finally {
      await s.close();
    }
  });
});
