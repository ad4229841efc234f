/** /v1/status from real sources, with a fake nvidia-smi first on PATH. */
import { describe, expect, setSystemTime, test } from "bun:test";
import { parseAppsCsv, parseGpuCsv } from "../../src/system/nvidia-smi.ts";
import { humanSize } from "../../src/system/host-stats.ts";
import { StatusSchema } from "../../src/routes/status/status.routes.ts";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AUTH, FIXTURES, fakeNvidiaSmi, tempDir, testApp, waitFor } from "../helpers.ts";

const withSmi = (dir: string, extra: Record<string, string> = {}) =>
  testApp({ PATH: `${dir}:${process.env.PATH}`, NVIDIA_SMI_PATH: "nvidia-smi", NVIDIA_SMI_TIMEOUT_MS: "300", ...extra });
const status = async (t: ReturnType<typeof testApp>) => {
  const res = await t.request("/v1/status", { headers: AUTH });
  expect(res.status).toBe(200);
  return res.json();
};

describe("nvidia-smi parsing", () => {
  test("a real H200 capture", async () => {
    const [gpu] = parseGpuCsv(await Bun.file(`${FIXTURES}/nvidia-smi/h200-real.csv`).text());
    expect(gpu).toEqual({
      index: 0,
      uuid: "GPU-57d77a1e-873b-1818-11a7-d1d716de18cc",
      name: "NVIDIA H200",
      utilization: 0,
      memory: { used: 0, total: 143771, percentUsed: 0 },
      temperature: 38,
      power: { draw: 132.98, limit: 700 },
    });
  });
  test("a real H100 capture, with the process that held its memory", async () => {
    const [gpu] = parseGpuCsv(await Bun.file(`${FIXTURES}/nvidia-smi/h100-real-busy.csv`).text());
    expect(gpu).toMatchObject({ index: 0, name: "NVIDIA H100 80GB HBM3", memory: { used: 2575, total: 81559, percentUsed: 3.2 }, power: { draw: 107.12, limit: 700 } });
    expect(parseAppsCsv(await Bun.file(`${FIXTURES}/nvidia-smi/h100-real-apps.csv`).text())).toEqual([
      { gpuUuid: gpu!.uuid, pid: 463, memory: 2566, name: "python3" },
    ]);
  });
  test("[N/A] and [Not Supported] become null; names with commas survive", async () => {
    const [na] = parseGpuCsv(await Bun.file(`${FIXTURES}/nvidia-smi/na-fields.csv`).text());
    expect(na).toMatchObject({ utilization: null, temperature: null, power: { draw: null, limit: null }, memory: { used: 512, total: 15360, percentUsed: 3.3 } });
    const [comma] = parseGpuCsv(await Bun.file(`${FIXTURES}/nvidia-smi/comma-name.csv`).text());
    expect(comma).toMatchObject({ name: "Tesla V100-SXM2-16GB, rev 2", utilization: 12, memory: { used: 100, total: 16384 } });
  });
  test("garbage is an error, not a wrong number", () => {
    expect(() => parseGpuCsv("this is not csv")).toThrow("unexpected nvidia-smi output");
    expect(() => parseAppsCsv("GPU-1, not-a-pid, 10, python")).toThrow("unexpected nvidia-smi output");
    expect(() => parseAppsCsv("GPU-1, 12")).toThrow("unexpected nvidia-smi output");
  });
  test("compute processes: a name with commas survives, [N/A] memory is null, none is no rows", async () => {
    expect(parseAppsCsv(await Bun.file(`${FIXTURES}/nvidia-smi/two-gpus-apps.csv`).text())).toEqual([
      { gpuUuid: "GPU-11111111-2222-3333-4444-555555555555", pid: 4242, memory: 40960, name: "/usr/bin/python3" },
      { gpuUuid: "GPU-11111111-2222-3333-4444-555555555555", pid: 4343, memory: 12288, name: "/opt/venv/bin/python train.py --name a,b" },
      { gpuUuid: "GPU-66666666-7777-8888-9999-000000000000", pid: 5151, memory: null, name: "/usr/bin/python3" },
    ]);
    expect(parseAppsCsv("")).toEqual([]);
    expect(parseAppsCsv("No running processes found\n")).toEqual([]);
  });
});

describe("GET /v1/status", () => {
  test("shape matches the OpenAPI schema; two GPUs with numbers as numbers", async () => {
    const t = withSmi(fakeNvidiaSmi({ csv: "two-gpus.csv" }), { OPENAI_API_KEY: "sk-x", GEMINI_API_KEY: "g", ENABLE_XINFERENCE: "true", API_KEY_COMFY_ORG: "comfy-org-x" });
    const body = await status(t);
    expect(StatusSchema.safeParse(body).success).toBe(true);
    expect(body.gpu.available).toBe(true);
    expect(body.gpu.gpus.map((g: { index: number }) => g.index)).toEqual([0, 1]);
    expect(body.gpu.gpus[0]).toMatchObject({ name: "NVIDIA A100-SXM4-80GB", utilization: 98, memory: { used: 79000, total: 81920, percentUsed: 96.4 }, power: { draw: 390.12, limit: 400 } });
    expect(body.providers).toEqual({ gemini: "configured", openai: "configured", claude: "not_configured", openrouter: "not_configured", comfyOrg: "configured", xinference: "enabled" });
    expect(JSON.stringify(body)).not.toContain("sk-x");
    expect(JSON.stringify(body)).not.toContain("comfy-org-x");
    expect(body.api).toMatchObject({ version: (await import("../../package.json")).version, pid: process.pid });
    expect(body.taskProviders.demo).toEqual({ command: "sh", installed: true, resumes: false, takesModel: false, active: 0, maxActive: null, description: "Built-in demo: prints a few lines over a few seconds; needs nothing installed" });
    expect(body.taskProviders["missing-cli"]).toEqual({ command: "definitely-not-installed-cli", installed: false, resumes: false, takesModel: false, active: 0, maxActive: null, description: "" });
    // Tasks of these can be continued.
    expect([body.taskProviders["claude-flow"].resumes, body.taskProviders["claude-session"].resumes]).toEqual([true, true]);
    // What a provider really does is said where one is picked: agentic-flow has no openai of its own.
    expect(body.taskProviders.openai.description).toContain("OpenRouter");
    const { memory, disk, cpu } = body.system;
    expect(memory.total).toBeGreaterThan(0);
    expect(memory.used).toBe(memory.total - memory.available);
    expect(disk.sizeBytes).toBeGreaterThan(disk.usedBytes);
    expect(disk.size).toMatch(/^\d+(\.\d)?[KMGTP]$/);
    expect(typeof cpu.loadAverage.load1).toBe("number");
    t.close();
  });

  test("one GPU, and GPU metrics from the same sample", async () => {
    const t = withSmi(fakeNvidiaSmi({ csv: "one-gpu.csv" }));
    const body = await status(t);
    expect(body.gpu.gpus).toHaveLength(1);
    const metrics = await (await t.request("/metrics")).text();
    expect(metrics).toContain('comfyui_gpu_utilization{gpu_id="0"} 37');
    expect(metrics).toContain(`comfyui_vram_usage_bytes{gpu_id="0"} ${10240 * 1024 * 1024}`);
    t.close();
  });

  test("a scrape with no status computed yet samples once and fills both GPU gauges", async () => {
    const t = withSmi(fakeNvidiaSmi({ csv: "two-gpus.csv" }));
    const metrics = await (await t.request("/metrics")).text();
    for (const line of ['comfyui_gpu_utilization{gpu_id="1"} 0', `comfyui_vram_usage_bytes{gpu_id="0"} ${79000 * 1024 * 1024}`, `comfyui_vram_usage_bytes{gpu_id="1"} ${3 * 1024 * 1024}`]) {
      expect(metrics).toContain(line);
    }
    expect(t.services.status!.gpuQueries).toBe(1);
    t.close();
  });

  test("no nvidia-smi, a failing one, a hanging one: available:false, and the rest still answers promptly", async () => {
    const cases = [
      // Nothing else on PATH: on a GPU machine the real nvidia-smi is on the usual one.
      { dir: "/nonexistent-dir", error: "nvidia-smi not found on PATH", path: "/nonexistent-dir" },
      { dir: fakeNvidiaSmi({ fail: "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver." }), error: "exited with code 9: NVIDIA-SMI has failed" },
      { dir: fakeNvidiaSmi({ hang: true }), error: "did not answer within 300 ms" },
    ];
    for (const c of cases) {
      const t = withSmi(c.dir, c.path ? { PATH: c.path } : {});
      const t0 = performance.now();
      const body = await status(t);
      expect(performance.now() - t0).toBeLessThan(2000);
      expect(body.gpu.available).toBe(false);
      expect(body.gpu.error).toContain(c.error);
      expect(body.system.memory.total).toBeGreaterThan(0);
      t.close();
    }
  });

  test("an nvidia-smi that does not finish even after SIGKILL (a hung driver) is not started again until it does", async () => {
    const dir = fakeNvidiaSmi({ stuck: true });
    const t = withSmi(dir, { STATUS_CACHE_MS: "0" });
    const runs = () => readFileSync(join(dir, "runs"), "utf8").trim().split("\n").length;
    try {
      expect((await status(t)).gpu.error).toContain("did not answer within 300 ms");
      for (let i = 0; i < 3; i++) {
        const again = await status(t);
        expect(again.gpu.error).toMatch(/started \d+ s ago has still not finished, even after SIGKILL \(a hung GPU driver\?\); no other is started until it does/);
      }
      expect(runs()).toBe(1);
      // Once it finishes, the next status runs it again.
      process.kill(Number(readFileSync(join(dir, "pid"), "utf8")), "SIGKILL");
      await waitFor(async () => (await status(t)).gpu.error.includes("did not answer"));
      expect(runs()).toBe(2);
    } finally {
      t.close();
      for (const line of readFileSync(join(dir, "pid"), "utf8").split("\n")) if (line) try { process.kill(Number(line), "SIGKILL"); } catch {}
    }
  });

  test("a provider's command counts as installed as a task's start would find it: a file or a command on PATH", async () => {
    const dir = tempDir("providers-");
    const file = join(dir, "providers.json");
    writeFileSync(file, JSON.stringify({ folder: { command: [dir] }, script: { command: [file] }, onPath: { command: ["sh"] }, nowhere: { command: ["no-such-cli-here"] } }));
    const t = withSmi("/nonexistent-dir", { PROVIDERS_FILE: file });
    const { taskProviders } = await status(t);
    t.close();
    expect([taskProviders.folder.installed, taskProviders.script.installed, taskProviders.onPath.installed, taskProviders.nowhere.installed]).toEqual([false, true, true, false]);
  });

  test("claude counts as configured with a key, a setup-token, a cloud provider, or a saved login", async () => {
    const claude = async (env: Record<string, string>) => {
      const t = withSmi("/nonexistent-dir", env);
      const body = await status(t);
      t.close();
      return body.providers.claude;
    };
    const home = tempDir("claude-home-");
    expect(await claude({ HOME: home })).toBe("not_configured");
    expect(await claude({ HOME: home, CLAUDE_CODE_OAUTH_TOKEN: "sk-ant-oat01-x" })).toBe("configured");
    expect(await claude({ HOME: home, CLAUDE_CODE_USE_BEDROCK: "1" })).toBe("configured");
    mkdirSync(join(home, ".claude"));
    writeFileSync(join(home, ".claude", ".credentials.json"), "{}");
    expect(await claude({ HOME: home })).toBe("configured");
    expect(await claude({ HOME: home, CLAUDE_CONFIG_DIR: join(home, "elsewhere") })).toBe("not_configured");
  });

  test("a storm of requests runs nvidia-smi once per cache period", async () => {
    const t = withSmi(fakeNvidiaSmi({ csv: "one-gpu.csv" }), { STATUS_CACHE_MS: "5000" });
    const bodies = await Promise.all(Array.from({ length: 50 }, () => status(t)));
    expect(new Set(bodies.map((b) => b.timestamp)).size).toBe(1);
    await t.request("/metrics");
    expect(t.services.status!.gpuQueries).toBe(1);
    const res = await t.request("/v1/status", { headers: AUTH });
    expect(res.headers.get("Cache-Control")).toBe("public, max-age=5");
    t.close();
    const fresh = withSmi(fakeNvidiaSmi({ csv: "one-gpu.csv" }), { STATUS_CACHE_MS: "0" });
    await status(fresh);
    await status(fresh);
    expect(fresh.services.status!.gpuQueries).toBe(2);
    fresh.close();
  });

  test("a wall clock stepped back (NTP, a restored VM) does not keep a status past its cache period", async () => {
    const t = withSmi(fakeNvidiaSmi({ csv: "one-gpu.csv" }), { STATUS_CACHE_MS: "300" });
    try {
      await status(t);
      expect(t.services.status!.gpuQueries).toBe(1);
      setSystemTime(new Date(Date.now() - 3_600_000));
      const cached = await t.request("/v1/status", { headers: AUTH });
      expect(cached.headers.get("Age")).toBe("0");
      const { api } = await cached.json();
      expect(api.uptime).toBeGreaterThanOrEqual(0);
      expect(api.uptime).toBeLessThan(60);
      await Bun.sleep(400);
      await status(t);
      expect(t.services.status!.gpuQueries).toBe(2);
    } finally {
      setSystemTime();
      t.close();
    }
  });

  test("each GPU lists the processes using it, and which task a process belongs to", async () => {
    const apps = join(tempDir(), "apps.csv");
    const t = withSmi(fakeNvidiaSmi({ csv: "two-gpus.csv", apps }), { STATUS_CACHE_MS: "0" });
    try {
      // A task's process on GPU 1 beside a stranger's on GPU 0 (a pid that is not ours).
      const started = await (await t.request("/v1/tasks", { method: "POST", headers: { ...AUTH, "Content-Type": "application/json" }, body: JSON.stringify({ agent: "trainer", task: "x", provider: "sleeper" }) })).json();
      const pid = t.services.tasks!.get(started.taskId).pid!;
      writeFileSync(apps, `GPU-11111111-2222-3333-4444-555555555555, 999999999, 40960, /usr/bin/python3\nGPU-66666666-7777-8888-9999-000000000000, ${pid}, 2048, /bin/sh\n`);
      const body = await status(t);
      expect(StatusSchema.safeParse(body).success).toBe(true);
      expect(body.gpu.gpus.map((g: { processes: unknown }) => g.processes)).toEqual([
        [{ pid: 999999999, name: "/usr/bin/python3", memory: 40960, taskId: null }],
        [{ pid, name: "/bin/sh", memory: 2048, taskId: started.taskId }],
      ]);
      // What the GPU's used memory (79000 and 3 MiB) holds beyond its listed processes.
      expect(body.gpu.gpus.map((g: { unlistedMemory: unknown }) => g.unlistedMemory)).toEqual([79000 - 40960, 0]);
      writeFileSync(apps, "");
      const none = await status(t);
      expect(none.gpu.gpus.map((g: { processes: unknown }) => g.processes)).toEqual([[], []]);
      // In a container, ComfyUI's processes in another one are not listed: their memory is all unlisted.
      expect(none.gpu.gpus.map((g: { unlistedMemory: unknown }) => g.unlistedMemory)).toEqual([79000, 3]);
      // A process whose memory the driver does not give leaves the rest unknown.
      writeFileSync(apps, "GPU-11111111-2222-3333-4444-555555555555, 999999999, [N/A], /usr/bin/python3\n");
      expect((await status(t)).gpu.gpus.map((g: { unlistedMemory: unknown }) => g.unlistedMemory)).toEqual([null, 3]);
      await t.request(`/v1/tasks/${started.taskId}`, { method: "DELETE", headers: AUTH });
    } finally {
      t.close();
    }
  });

  test("an nvidia-smi that cannot list processes still gives the GPUs; processes is null", async () => {
    const t = withSmi(fakeNvidiaSmi({ csv: "two-gpus.csv", appsFail: "Unable to query compute applications" }));
    try {
      const body = await status(t);
      expect(body.gpu).toMatchObject({ available: true, gpus: [{ index: 0, utilization: 98, processes: null, unlistedMemory: null }, { index: 1, processes: null, unlistedMemory: null }] });
    } finally {
      t.close();
    }
  });

  test("active and queued task counts", async () => {
    const t = testApp({ MAX_ACTIVE_TASKS: "1" });
    const post = async (queue: boolean) =>
      (await (await t.request("/v1/tasks", { method: "POST", headers: { ...AUTH, "Content-Type": "application/json" }, body: JSON.stringify({ agent: "a", task: "x", provider: "sleeper", queue }) })).json()).taskId;
    const running = await post(false);
    const queued = await post(true);
    expect((await status(t)).tasks).toEqual({ active: 1, queued: 1 });
    await t.request(`/v1/tasks?status=running,queued`, { method: "DELETE", headers: AUTH });
    await waitFor(async () => (await (await t.request(`/v1/tasks/${running}`, { headers: AUTH })).json()).exitTime);
    expect((await (await t.request(`/v1/tasks/${queued}`, { headers: AUTH })).json()).status).toBe("stopped");
    t.close();
  });

  test("human-readable sizes as df -h prints them", () => {
    expect(humanSize(512)).toBe("512B");
    expect(humanSize(1536)).toBe("1.5K");
    expect(humanSize(270553174016)).toBe("252G");
  });
});
