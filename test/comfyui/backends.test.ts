/** Second backend (salad) with its API key, and ComfyUI folders on disk for outputs and model sizes. */
import { describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FakeComfyUI } from "../fake-comfyui.ts";
import { FakeProxy } from "../fake-proxy.ts";
import { freePort } from "../process.ts";
import pino from "pino";
import { createServer, type RunningServer } from "../../src/server.ts";
import { AUTH, FIXTURES, KEY, tempDir, testConfig, waitFor } from "../helpers.ts";
import { BASIC, chain, comfyStack, json } from "./helpers.ts";

describe("backends and folders", () => {
  test("COMFY_ORG_API_KEY goes with every workflow, to each backend, for partner nodes; ComfyUI keeps it out of its queue and history, and so do we", async () => {
    const salad = new FakeComfyUI({ nodeMs: 5 }).start();
    const dir = tempDir();
    writeFileSync(join(dir, "comfy-org-key"), "comfy-org-secret\n"); // a mounted secret ends in a newline
    const lines: string[] = [];
    const logger = pino({ level: "debug" }, { write: (line: string) => void lines.push(line) });
    const s = await comfyStack({ env: { SALAD_COMFYUI_URL: salad.url, COMFY_ORG_API_KEY_FILE: join(dir, "comfy-org-key") }, logger });
    try {
      await waitFor(() => s.server.services.comfyui!.service.backends.get("salad")!.connected);
      const local = await s.submit(chain(2, "partner"));
      const remote = await s.submit(BASIC, { gpu: "salad" });
      const extraOf = (fake: FakeComfyUI, id: string) => (fake.received.find((r) => r.path === "/prompt" && (r.body as { prompt_id?: string }).prompt_id === id)!.body as { extra_data: Record<string, unknown> }).extra_data;
      expect(extraOf(s.fake, local.body.workflowId).api_key_comfy_org).toBe("comfy-org-secret");
      expect(extraOf(salad, remote.body.workflowId).api_key_comfy_org).toBe("comfy-org-secret");
      expect(JSON.stringify(await (await fetch(`${s.fake.url}/queue`)).json())).not.toContain("comfy-org-secret");
      await s.until(local.body.workflowId, ["completed"]);
      await s.until(remote.body.workflowId, ["completed"]);
      expect(JSON.stringify(await (await fetch(`${s.fake.url}/history/${local.body.workflowId}`)).json())).not.toContain("comfy-org-secret");
      const status = await (await fetch(`${s.base}/v1/status`, { headers: AUTH })).text();
      const workflow = await (await fetch(`${s.base}/v1/comfyui/workflow/${local.body.workflowId}`, { headers: AUTH })).text();
      for (const text of [status, workflow, lines.join("")]) expect(text).not.toContain("comfy-org-secret");
    } finally {
      await s.close();
      salad.stop();
    }
  });

  test("without COMFY_ORG_API_KEY (or its other name API_KEY_COMFY_ORG) no key is sent", async () => {
    const s = await comfyStack();
    try {
      const { body } = await s.submit(BASIC);
      expect((s.fake.received.find((r) => (r.body as { prompt_id?: string })?.prompt_id === body.workflowId)!.body as { extra_data: object }).extra_data).not.toHaveProperty("api_key_comfy_org");
    } finally {
      await s.close();
    }
    const aliased = await comfyStack({ env: { API_KEY_COMFY_ORG: "by-its-other-name" } });
    try {
      const { body } = await aliased.submit(BASIC);
      expect((aliased.fake.received.find((r) => (r.body as { prompt_id?: string })?.prompt_id === body.workflowId)!.body as { extra_data: Record<string, unknown> }).extra_data.api_key_comfy_org).toBe("by-its-other-name");
    } finally {
      await aliased.close();
    }
  });

  test("gpu: salad goes to SALAD_COMFYUI_URL with Salad-Api-Key, and stays bound to it", async () => {
    const salad = new FakeComfyUI({ nodeMs: 5 }).start();
    const s = await comfyStack({ env: { SALAD_COMFYUI_URL: salad.url, SALAD_API_KEY: "salad-secret" } });
    await waitFor(() => s.server.services.comfyui!.service.backends.get("salad")!.connected);
    const { res, body } = await s.submit(BASIC, { gpu: "salad" });
    expect(res.status).toBe(202);
    const done = await s.until(body.workflowId, ["completed"]);
    expect(done.gpu).toBe("salad");
    expect(salad.history.has(body.workflowId)).toBe(true);
    expect(s.fake.history.has(body.workflowId)).toBe(false);
    expect(salad.apiKeys.length).toBeGreaterThan(2);
    expect(salad.apiKeys.every((k) => k === "salad-secret")).toBe(true);
    expect(s.fake.apiKeys.every((k) => k === null)).toBe(true);
    // Its output is fetched from the backend that made it.
    const file = await fetch(`${s.base}${done.outputs[0].url}`, { headers: AUTH });
    expect(file.status).toBe(200);
    // The remote GPU, seen only through ComfyUI's /system_stats (nvidia-smi sees this machine's).
    salad.systemStats = { system: { comfyui_version: "0.8.1" }, devices: [{ name: "cuda:0 NVIDIA L40S : cudaMallocAsync", type: "cuda", index: 0, vram_total: 48305799168, vram_free: 47185920000 }] };
    const status = await (await fetch(`${s.base}/v1/status`, { headers: AUTH })).json();
    expect(status.comfyui.salad).toEqual({ url: salad.url, reachable: true, queueLength: 0, version: "0.8.1", devices: [{ name: "cuda:0 NVIDIA L40S : cudaMallocAsync", type: "cuda", vramTotal: 46068, vramFree: 45000 }] });
    expect(salad.apiKeys.at(-1)).toBe("salad-secret");
    // And in Prometheus, in bytes as reported, with each backend's reachability.
    const metrics = await (await fetch(`${s.base}/metrics`)).text();
    expect(metrics).toContain('comfyui_backend_up{backend="salad"} 1');
    expect(metrics).toContain('comfyui_backend_up{backend="local"} 1');
    expect(metrics).toContain('comfyui_backend_vram_total_bytes{backend="salad",device="cuda:0 NVIDIA L40S : cudaMallocAsync"} 48305799168');
    expect(metrics).toContain('comfyui_backend_vram_free_bytes{backend="salad",device="cuda:0 NVIDIA L40S : cudaMallocAsync"} 47185920000');
    await s.close();
    salad.stop();
  });

  test("/v1/status does not wait long for a backend slow to describe itself, nor for one that is down", async () => {
    const slow = new FakeComfyUI({ nodeMs: 5 }).start();
    const s = await comfyStack({ fake: slow, env: { STATUS_CACHE_MS: "100" } });
    try {
      slow.getDelayMs["/system_stats"] = 10_000;
      const started = Date.now();
      const status = await (await fetch(`${s.base}/v1/status`, { headers: AUTH })).json();
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(status.comfyui.local).toMatchObject({ reachable: true, version: null, devices: null });
      slow.stop();
      await waitFor(() => !s.server.services.comfyui!.service.backends.get("local")!.connected);
      await Bun.sleep(150); // past STATUS_CACHE_MS
      const down = await (await fetch(`${s.base}/v1/status`, { headers: AUTH })).json();
      expect(down.comfyui.local).toMatchObject({ reachable: false, queueLength: null, version: null, devices: null });
      expect(await (await fetch(`${s.base}/metrics`)).text()).toContain('comfyui_backend_up{backend="local"} 0');
    } finally {
      await s.close();
    }
  });

  test("a gateway refusing SALAD_API_KEY is a 502 that says so, not a 500 or a workflow waiting forever", async () => {
    const salad = new FakeComfyUI({ nodeMs: 5, requireApiKey: "right" }).start();
    const s = await comfyStack({ env: { SALAD_COMFYUI_URL: salad.url, SALAD_API_KEY: "wrong" } });
    const api = await s.submit(BASIC, { gpu: "salad" });
    expect(api.res.status).toBe(502);
    expect(api.body.message).toBe("ComfyUI (salad) answered 401 to POST /prompt: check SALAD_API_KEY");
    const ui = await s.submit(await Bun.file(`${FIXTURES}/comfyui-workflows/basic_ui.json`).json(), { gpu: "salad" });
    expect([ui.res.status, ui.body.message]).toEqual([502, "ComfyUI (salad) answered 401 to GET /object_info: check SALAD_API_KEY"]);
    const listed = await fetch(`${s.base}/v1/comfyui/workflows?limit=200`, { headers: AUTH });
    expect((await listed.json()).workflows.filter((w: { gpu: string }) => w.gpu === "salad")).toEqual([]);
    await s.close();
    salad.stop();
  });

  test("a user and password in COMFYUI_URL pass a proxy's basic authentication, and are never shown", async () => {
    // nginx's auth_basic in front of ComfyUI; the password has characters a URL must encode.
    const fake = new FakeComfyUI({ nodeMs: 5, requireBasicAuth: "comfy:s@cr:et" }).start();
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: "debug" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const secret = "s%40cr%3Aet";
    const s = await comfyStack({ fake, logger, env: { COMFYUI_URL: `http://comfy:${secret}@127.0.0.1:${fake.port}` } });
    const others: RunningServer[] = [];
    try {
      expect(s.server.services.comfyui!.service.backends.get("local")!.connected).toBe(true);
      const { res, body } = await s.submit(BASIC);
      expect(res.status).toBe(202);
      const done = await s.until(body.workflowId, ["completed"]);
      expect((await fetch(`${s.base}${done.outputs[0].url}`, { headers: AUTH })).status).toBe(200);
      expect(fake.authorizations.length).toBeGreaterThan(3);
      expect(new Set(fake.authorizations)).toEqual(new Set([`Basic ${btoa("comfy:s@cr:et")}`]));
      const status = await (await fetch(`${s.base}/v1/status`, { headers: AUTH })).json();
      expect(status.comfyui.local.url).toBe(`http://comfy:***@127.0.0.1:${fake.port}`);

      // A wrong password, and none: a 502 that sends the operator to the URL, never showing it.
      const refused = async (url: string) => {
        const other = await createServer(testConfig({ COMFYUI_URL: url }), logger, { comfyBackoffMs: 50 });
        others.push(other);
        const res = await fetch(`http://127.0.0.1:${other.port}/v1/comfyui/workflow`, { method: "POST", headers: json, body: JSON.stringify({ workflow: BASIC }) });
        return [res.status, (await res.json()).message];
      };
      expect(await refused(`http://comfy:wr0ng-pa55@127.0.0.1:${fake.port}`)).toEqual([502, "ComfyUI (local) answered 401 to POST /prompt: check the user and password in COMFYUI_URL"]);
      expect(await refused(fake.url)).toEqual([
        502,
        "ComfyUI (local) answered 401 to POST /prompt: COMFYUI_URL asks for credentials; for basic authentication give them in it (http://user:password@host:port)",
      ]);
      await waitFor(() => lines.filter((l) => l.msg === "cannot reach ComfyUI; retrying in the background").length >= 2);
      const shown = JSON.stringify([status, lines]);
      expect(lines.some((l) => l.msg === "connected to ComfyUI" && l.url === `http://comfy:***@127.0.0.1:${fake.port}`)).toBe(true);
      for (const leak of [secret, "s@cr:et", "wr0ng-pa55"]) expect(shown).not.toContain(leak);
    } finally {
      for (const other of others) await other.shutdown();
      await s.close();
    }
  });

  test("behind HTTPS_PROXY/HTTP_PROXY, a remote backend's WebSocket goes through the proxy as its requests do", async () => {
    // The remote name resolves nowhere: only the proxy (which takes every host for this machine) reaches it.
    const salad = new FakeComfyUI({ nodeMs: 5 }).start();
    const proxy = new FakeProxy().start();
    const remote = `http://comfy.salad.test:${salad.port}`;
    const s = await comfyStack({ env: { SALAD_COMFYUI_URL: remote, SALAD_API_KEY: "k", HTTP_PROXY: proxy.url, NO_PROXY: "corp.example" } });
    try {
      await waitFor(() => s.server.services.comfyui!.service.backends.get("salad")!.connected);
      expect(proxy.requests).toContain(`CONNECT comfy.salad.test:${salad.port} HTTP/1.1`);
      const { res, body } = await s.submit(BASIC, { gpu: "salad" });
      expect(res.status).toBe(202);
      // Completed, so its requests reached the remote name too: through the proxy (each connection
      // to it starts with an absolute-form request; later ones reuse the connection).
      expect((await s.until(body.workflowId, ["completed"])).gpu).toBe("salad");
      expect(proxy.requests.some((r) => r.startsWith(`GET ${remote}/`) || r.startsWith(`POST ${remote}/`))).toBe(true);
      // The local backend, on loopback, never goes through it.
      expect(proxy.requests.every((r) => r.includes(`comfy.salad.test:${salad.port}`))).toBe(true);
    } finally {
      await s.close();
      salad.stop();
      proxy.stop();
    }
  });

  test("a backend unreachable through its proxy says so, naming the proxy without its password", async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const proxyPort = freePort(); // nothing listens there
    const s = await comfyStack({ logger, env: { SALAD_COMFYUI_URL: "http://comfy.salad.test:8188", HTTP_PROXY: `http://u:proxy-pw@127.0.0.1:${proxyPort}` } });
    try {
      const shown = `http://u:***@127.0.0.1:${proxyPort}`;
      const form = new FormData();
      form.set("image", new File([new Uint8Array([1, 2, 3])], "cat.png", { type: "image/png" }));
      form.set("gpu", "salad");
      const res = await fetch(`${s.base}/v1/comfyui/upload`, { method: "POST", headers: AUTH, body: form });
      expect(res.status).toBe(503);
      expect((await res.json()).message).toStartWith(`ComfyUI (salad) at http://comfy.salad.test:8188 is unreachable through the proxy ${shown} (NO_PROXY may need to name its host): `);
      const warned = await waitFor(() => lines.find((l) => l.msg === "cannot reach ComfyUI; retrying in the background" && l.backend === "salad"));
      expect(warned.proxy).toBe(shown);
      expect(JSON.stringify(lines)).not.toContain("proxy-pw");
    } finally {
      await s.close();
    }
  });

  test("COMFYUI_OUTPUT_DIR serves outputs from disk with sizes; COMFYUI_MODELS_DIR gives model sizes", async () => {
    const outDir = tempDir("comfy-out-");
    const modelsDir = tempDir("comfy-models-");
    mkdirSync(join(modelsDir, "checkpoints", "sdxl"), { recursive: true });
    writeFileSync(join(modelsDir, "checkpoints", "sd15.safetensors"), Buffer.alloc(1234));
    // ComfyUI still reads the directories of renamed folders: models/clip for text_encoders.
    mkdirSync(join(modelsDir, "text_encoders"));
    mkdirSync(join(modelsDir, "clip"));
    writeFileSync(join(modelsDir, "text_encoders", "t5xxl_fp16.safetensors"), Buffer.alloc(99));
    writeFileSync(join(modelsDir, "clip", "clip_l.safetensors"), Buffer.alloc(42));
    const s = await comfyStack({ env: { COMFYUI_OUTPUT_DIR: outDir, COMFYUI_MODELS_DIR: modelsDir } });
    const { body } = await s.submit(BASIC);
    const done = await s.until(body.workflowId, ["completed"]);
    const name = done.outputs[0].filename;
    writeFileSync(join(outDir, name), "bytes on disk");
    const list = await (await fetch(`${s.base}/v1/comfyui/outputs`, { headers: AUTH })).json();
    expect(list.outputs[0]).toMatchObject({ filename: name, size: 13 });
    const file = await fetch(`${s.base}/v1/comfyui/output/${name}`, { headers: AUTH });
    expect(await file.text()).toBe("bytes on disk");
    const models = await (await fetch(`${s.base}/v1/comfyui/models`, { headers: AUTH })).json();
    expect(models.models).toEqual([
      { name: "sd15.safetensors", type: "checkpoints", size: 1234, hash: null },
      { name: "sdxl/base.safetensors", type: "checkpoints", size: null, hash: null },
    ]);
    const encoders = await (await fetch(`${s.base}/v1/comfyui/models?type=text_encoders`, { headers: AUTH })).json();
    expect(encoders.models.map((m: { size: number }) => m.size)).toEqual([99, 42]);
    await s.close();
  });

  test("models of a backend: ?gpu=salad lists the remote one's (with Salad-Api-Key), never sized from the local disk; an unconfigured one is a 400", async () => {
    const salad = new FakeComfyUI({ nodeMs: 5, models: { loras: ["style.safetensors"], checkpoints: ["sd15.safetensors"] } }).start();
    const modelsDir = tempDir("comfy-models-");
    mkdirSync(join(modelsDir, "checkpoints"));
    writeFileSync(join(modelsDir, "checkpoints", "sd15.safetensors"), Buffer.alloc(1234));
    const s = await comfyStack({ env: { SALAD_COMFYUI_URL: salad.url, SALAD_API_KEY: "salad-secret", COMFYUI_MODELS_DIR: modelsDir } });
    try {
      const models = async (query: string) => (await (await fetch(`${s.base}/v1/comfyui/models${query}`, { headers: AUTH })).json()).models;
      expect(await models("?gpu=salad&type=loras")).toEqual([{ name: "style.safetensors", type: "loras", size: null, hash: null }]);
      expect(salad.gets.at(-1)).toBe("/models/loras");
      expect(salad.apiKeys.at(-1)).toBe("salad-secret");
      // The same name on both: sized on the local one only, since COMFYUI_MODELS_DIR is its folder.
      expect(await models("?gpu=salad")).toEqual([{ name: "sd15.safetensors", type: "checkpoints", size: null, hash: null }]);
      expect((await models("?gpu=local"))[0]).toEqual({ name: "sd15.safetensors", type: "checkpoints", size: 1234, hash: null });
    } finally {
      await s.close();
      salad.stop();
    }
    const alone = await comfyStack();
    try {
      const res = await fetch(`${alone.base}/v1/comfyui/models?gpu=salad`, { headers: AUTH });
      expect([res.status, (await res.json()).message]).toEqual([400, 'GPU target "salad" is not configured (set SALAD_COMFYUI_URL)']);
    } finally {
      await alone.close();
    }
  });

  test("one name in two subfolders, or on two backends: each URL downloads its own file, the bare name never guesses", async () => {
    const salad = new FakeComfyUI({ nodeMs: 5 }).start();
    const outDir = tempDir("comfy-out-");
    const s = await comfyStack({ env: { SALAD_COMFYUI_URL: salad.url, COMFYUI_OUTPUT_DIR: outDir } });
    await waitFor(() => s.server.services.comfyui!.service.backends.get("salad")!.connected);
    const made = async (prefix: string, gpu: "local" | "salad") => {
      const { body } = await s.submit(chain(0, prefix), { gpu });
      return (await s.until(body.workflowId, ["completed"])).outputs[0];
    };
    // As ComfyUI does, each backend numbers files per subfolder: the same name three times.
    const day1 = await made("2026-11-27/img", "local");
    const day2 = await made("2026-11-28 run+2/img", "local"); // a space and a plus survive the URL
    const remote = await made("2026-11-27/img", "salad");
    expect([day1.filename, day2.filename, remote.filename]).toEqual(["img_00001_.png", "img_00001_.png", "img_00001_.png"]);
    expect([day1.subfolder, day2.subfolder, remote.subfolder]).toEqual(["2026-11-27", "2026-11-28 run+2", "2026-11-27"]);
    for (const day of ["2026-11-27", "2026-11-28 run+2"]) {
      mkdirSync(join(outDir, day), { recursive: true });
      writeFileSync(join(outDir, day, "img_00001_.png"), `local ${day}`);
    }
    salad.files.set("output/2026-11-27/img_00001_.png", new TextEncoder().encode("salad 2026-11-27"));
    const text = async (url: string) => {
      const res = await fetch(`${s.base}${url}`, { headers: AUTH });
      return [res.status, await res.text()];
    };
    expect(await text(day1.url)).toEqual([200, "local 2026-11-27"]);
    expect(await text(day2.url)).toEqual([200, "local 2026-11-28 run+2"]);
    expect(await text(remote.url)).toEqual([200, "salad 2026-11-27"]);
    expect(remote.url).toBe("/v1/comfyui/output/img_00001_.png?subfolder=2026-11-27&gpu=salad");
    // The listing gives the same exact URLs, and sizes only from the local disk.
    const listed = (await (await fetch(`${s.base}/v1/comfyui/outputs`, { headers: AUTH })).json()).outputs;
    expect(listed.map((o: { url: string; size: number | null }) => [o.url, o.size])).toEqual([
      [remote.url, null],
      [day2.url, 22],
      [day1.url, 16],
    ]);
    // The bare name is ambiguous: a 409 listing every candidate, never some file.
    const bare = await fetch(`${s.base}/v1/comfyui/output/img_00001_.png`, { headers: AUTH });
    const conflict = await bare.json();
    expect([bare.status, conflict.message]).toEqual([409, "3 outputs are named img_00001_.png: say which with ?subfolder= and ?gpu="]);
    expect(conflict.details.map((d: { url: string }) => d.url).sort()).toEqual([day1.url, day2.url, remote.url].sort());
    expect((await text("/v1/comfyui/output/img_00001_.png?subfolder=2026-11-29"))[0]).toBe(404);
    expect((await text("/v1/comfyui/output/img_00001_.png?subfolder=2026-11-28%20run%2B2&gpu=salad"))[0]).toBe(404);
    // A name only one output has is still found from the name alone.
    const single = await made("solo/only", "local");
    mkdirSync(join(outDir, "solo"));
    writeFileSync(join(outDir, "solo", "only_00001_.png"), "just one");
    expect(await text("/v1/comfyui/output/only_00001_.png")).toEqual([200, "just one"]);
    expect(single.url).toBe("/v1/comfyui/output/only_00001_.png?subfolder=solo");
    // With one at the defaults (the local output folder itself), the bare name means that one.
    const root = await made("img", "local");
    expect([root.filename, root.url]).toEqual(["img_00001_.png", "/v1/comfyui/output/img_00001_.png"]);
    writeFileSync(join(outDir, "img_00001_.png"), "local root");
    expect(await text(root.url)).toEqual([200, "local root"]);
    await s.close();
    salad.stop();
  });

  test("finished workflows past WORKFLOW_RETENTION are deleted with their outputs; unfinished ones stay", async () => {
    const s = await comfyStack({ env: { WORKFLOW_RETENTION: "50ms" }, nodeMs: 150 });
    const done = (await s.submit(BASIC)).body.workflowId;
    await s.until(done, ["completed"]);
    const waiting = (await s.submit(chain(5, "slow"))).body.workflowId;
    await Bun.sleep(100);
    const service = s.server.services.comfyui!.service;
    expect(service.prune()).toBe(1);
    expect((await fetch(`${s.base}/v1/comfyui/workflow/${done}`, { headers: AUTH })).status).toBe(404);
    expect((await (await fetch(`${s.base}/v1/comfyui/outputs?workflowId=${done}`, { headers: AUTH })).json()).outputs).toEqual([]);
    expect((await s.get(waiting)).status).toMatch(/queued|running/);
    expect(service.prune()).toBe(0);
    await s.close();
  });

  test("submits and cancels are audit-logged with the key's id; every workflow's end is logged", async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const s = await comfyStack({ logger, nodeMs: 100 });
    const done = (await s.submit(BASIC)).body.workflowId;
    await s.until(done, ["completed"]);
    const slow = (await s.submit(chain(5, "to-cancel"))).body.workflowId;
    await fetch(`${s.base}/v1/comfyui/workflow/${slow}`, { method: "DELETE", headers: { ...AUTH, "x-request-id": "req-cancel" } });
    const submit = lines.find((l) => l.action === "workflow.submit" && l.workflowId === done)!;
    expect(submit).toMatchObject({ audit: true, backend: "local", priority: "normal", nodes: 2, uiFormat: false, msg: "workflow queued" });
    expect(submit.keyId).toMatch(/^key_[0-9a-f]{12}$/);
    expect(lines.find((l) => l.action === "workflow.cancel")).toMatchObject({ audit: true, reqId: "req-cancel", workflowId: slow, keyId: submit.keyId });
    expect(lines.filter((l) => l.msg === "workflow ended").map((l) => [l.workflowId, l.status])).toEqual([[done, "completed"], [slow, "cancelled"]]);
    expect(JSON.stringify(lines)).not.toContain(KEY);
    await s.close();
  });

  test("shutdown: open WebSockets get a final message and close", async () => {
    const s = await comfyStack();
    const { eventSocket } = await import("./helpers.ts");
    const c = await eventSocket(s.base);
    const closed = new Promise<number>((r) => (c.ws.onclose = (e) => r(e.code)));
    await s.server.shutdown();
    expect(await closed).toBe(1001);
    expect(c.messages.at(-1)).toMatchObject({ type: "shutdown" });
    s.fake.stop();
  });
});
