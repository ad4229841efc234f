/**
 * GET /v1/status: computed at most once per STATUS_CACHE_MS however many clients ask (one
 * computation in flight at a time, shared), so a request storm runs nvidia-smi at most once.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../config.ts";
import type { Metrics } from "../metrics.ts";
import { CLAUDE_LOGIN_ENV, type Provider } from "../tasks/providers.ts";
import { resolveCommand } from "../tasks/spawn.ts";
import { VERSION } from "../version.ts";
import { taskOfProcess } from "../tasks/process-group.ts";
import { hostStats } from "./host-stats.ts";
import { GpuProbe, type GpuStatus } from "./nvidia-smi.ts";
import type { ComfySystem } from "../comfyui/comfy-wire.ts";

type BackendStatus = { url: string; reachable: boolean; queueLength: number | null; version: string | null; devices: ComfySystem["devices"] | null };

export interface StatusDeps {
  config: Config;
  metrics: Metrics;
  /** When the server started, on the monotonic clock (performance.now()), for its uptime. */
  startedAt: number;
  activeTasks: () => number;
  /** Tasks waiting for a slot. */
  queuedTasks: () => number;
  taskProviders: () => Record<string, Provider>;
  /** Running tasks by provider. */
  activeByProvider?: () => Record<string, number>;
  /** Webhook notifications not yet delivered nor given up. */
  webhooksPending?: () => number;
  comfyui?: () => Promise<Record<string, BackendStatus>>;
}

const toMiB = (bytes: number | null) => (bytes === null ? null : Math.round(bytes / 1048576));

const configured = (...values: (string | undefined)[]): "configured" | "not_configured" =>
  values.some((v) => v && v.trim()) ? "configured" : "not_configured";

/**
 * Whether the claude CLI has a way to log in: a key or token in the environment, a cloud provider,
 * or the login `claude /login` saved (its credentials file, in CLAUDE_CONFIG_DIR or ~/.claude).
 */
function claudeLogin(env: Readonly<Record<string, string>>): "configured" | "not_configured" {
  if (configured(...CLAUDE_LOGIN_ENV.map((name) => env[name])) === "configured") return "configured";
  const dir = env.CLAUDE_CONFIG_DIR || (env.HOME ? join(env.HOME, ".claude") : undefined);
  return dir && existsSync(join(dir, ".credentials.json")) ? "configured" : "not_configured";
}

export class StatusService {
  readonly #d: StatusDeps;
  #cache: { at: number; value: ReturnType<StatusService["compute"]> extends Promise<infer T> ? T : never } | undefined;
  #inflight: ReturnType<StatusService["compute"]> | undefined;
  /** How many times nvidia-smi actually ran (observable for tests and metrics). */
  gpuQueries = 0;

  readonly #gpu: GpuProbe;

  constructor(deps: StatusDeps) {
    this.#d = deps;
    const { system, childEnvSource } = deps.config;
    this.#gpu = new GpuProbe({ path: system.nvidiaSmiPath, timeoutMs: system.nvidiaSmiTimeoutMs, searchPath: childEnvSource.PATH, taskOf: taskOfProcess });
    // Scrapes read the same cached sample, so GPU gauges are never older than the status cache.
    // Both gauges wait for it: prom-client reads all metrics at once, so a gauge without its own
    // `collect` would be read before the sample lands (empty on a first scrape, a sample behind after).
    const refresh = async () => {
      await this.get();
    };
    const { gpuUtilization, vramUsage, comfyBackendUp, comfyBackendVramTotal, comfyBackendVramFree } = deps.metrics;
    for (const gauge of [gpuUtilization, vramUsage, comfyBackendUp, comfyBackendVramTotal, comfyBackendVramFree]) Object.assign(gauge, { collect: refresh });
  }

  /** The status, from cache when fresh. */
  async get() {
    // Ages on the monotonic clock: a wall clock stepped back (NTP, a restored VM) must not keep an old status for that long.
    const now = performance.now();
    if (this.#cache && now - this.#cache.at < this.#d.config.system.statusCacheMs) return this.#cache.value;
    this.#inflight ??= this.compute().finally(() => (this.#inflight = undefined));
    const value = await this.#inflight;
    return value;
  }

  /** Age in seconds of the cached status, for Age headers. */
  get cacheAge() {
    return this.#cache ? Math.floor((performance.now() - this.#cache.at) / 1000) : 0;
  }

  async compute() {
    const { config } = this.#d;
    this.gpuQueries++;
    // ComfyUI's own view of its devices is asked meanwhile: neither waits for the other.
    const noBackends: Record<string, BackendStatus> = {};
    const [gpu, comfyui] = await Promise.all([this.#gpu.query(), this.#d.comfyui?.() ?? noBackends]);
    this.#recordGpuMetrics(gpu);
    this.#recordBackendMetrics(comfyui);
    const env = config.childEnvSource;
    const activeByProvider = this.#d.activeByProvider?.() ?? {};
    const value = {
      timestamp: new Date().toISOString(),
      api: { uptime: Math.round((performance.now() - this.#d.startedAt) / 1000), version: VERSION, pid: process.pid },
      tasks: { active: this.#d.activeTasks(), queued: this.#d.queuedTasks() },
      webhooks: { signed: config.webhookSecret !== undefined, pending: this.#d.webhooksPending?.() ?? 0 },
      gpu,
      providers: {
        gemini: configured(env.GOOGLE_GEMINI_API_KEY, env.GEMINI_API_KEY),
        openai: configured(env.OPENAI_API_KEY),
        claude: claudeLogin(env),
        openrouter: configured(env.OPENROUTER_API_KEY),
        // ComfyUI's partner nodes: its workflows carry the key (COMFY_ORG_API_KEY).
        comfyOrg: configured(config.comfyui.comfyOrgApiKey),
        xinference: (config.system.enableXinference ? "enabled" : "disabled") as "enabled" | "disabled",
      },
      taskProviders: Object.fromEntries(
        Object.entries(this.#d.taskProviders()).map(([name, p]) => {
          const active = activeByProvider[name] ?? 0;
          const command = p.command[0]!;
          // The same test a task's start makes: a file at that path, or a command on PATH.
          return [name, { command, installed: resolveCommand(command, { PATH: env.PATH ?? "" }, config.workspaceDir), resumes: p.resume !== undefined, takesModel: p.modelArgs !== undefined, active, maxActive: p.maxActive ?? null, description: p.description }];
        }),
      ),
      system: hostStats(config.workspaceDir),
      // Device memory in MiB, as the GPU section gives it.
      comfyui: Object.fromEntries(
        Object.entries(comfyui).map(([name, b]) => [name, { ...b, devices: b.devices?.map((d) => ({ ...d, vramTotal: toMiB(d.vramTotal), vramFree: toMiB(d.vramFree) })) ?? null }]),
      ),
    };
    this.#cache = { at: performance.now(), value };
    return value;
  }

  /** Each backend's reachability and, from its /system_stats, its devices' memory (a remote GPU too). */
  #recordBackendMetrics(backends: Record<string, BackendStatus>) {
    const { comfyBackendUp, comfyBackendVramTotal, comfyBackendVramFree } = this.#d.metrics;
    comfyBackendVramTotal.reset();
    comfyBackendVramFree.reset();
    for (const [backend, b] of Object.entries(backends)) {
      comfyBackendUp.set({ backend }, b.reachable ? 1 : 0);
      for (const d of b.devices ?? []) {
        if (d.vramTotal !== null) comfyBackendVramTotal.set({ backend, device: d.name }, d.vramTotal);
        if (d.vramFree !== null) comfyBackendVramFree.set({ backend, device: d.name }, d.vramFree);
      }
    }
  }

  #recordGpuMetrics(gpu: GpuStatus) {
    const { gpuUtilization, vramUsage } = this.#d.metrics;
    gpuUtilization.reset();
    vramUsage.reset();
    for (const g of gpu.gpus) {
      const id = String(g.index);
      if (g.utilization !== null) gpuUtilization.set({ gpu_id: id }, g.utilization);
      if (g.memory.used !== null) vramUsage.set({ gpu_id: id }, g.memory.used * 1024 * 1024);
    }
  }
}
