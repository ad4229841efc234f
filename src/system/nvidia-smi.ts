/** GPU state from nvidia-smi: run with an argv (no shell) and a timeout, parse its CSV. */

export const GPU_QUERY = "index,uuid,name,utilization.gpu,memory.used,memory.total,temperature.gpu,power.draw,power.limit";

export interface GpuInfo {
  index: number;
  uuid: string;
  name: string;
  /** Percent, or null where the driver reports [N/A] / [Not Supported]. */
  utilization: number | null;
  /** MiB. */
  memory: { used: number | null; total: number | null; percentUsed: number | null };
  /** Degrees Celsius. */
  temperature: number | null;
  /** Watts. */
  power: { draw: number | null; limit: number | null };
}

/** A process using a GPU, as `--query-compute-apps` lists it. */
export interface GpuProcess {
  pid: number;
  name: string;
  /** MiB of the GPU's memory it holds; null where the driver does not say (MIG, some containers). */
  memory: number | null;
  /** The task it belongs to, when it is one of ours. */
  taskId: string | null;
}

/** What a GPU's process list says about its memory. */
export interface GpuProcesses {
  processes: GpuProcess[] | null;
  /**
   * MiB of the GPU's memory that no listed process holds: the driver's own (a few MiB) and, in a
   * container with its own PID namespace, the processes outside it, which the driver does not list
   * there (ComfyUI in another container). null where a figure it needs is unknown.
   */
  unlistedMemory: number | null;
}

export type GpuStatus =
  | { available: true; gpus: (GpuInfo & GpuProcesses)[] }
  | { available: false; error: string; gpus: [] };

const num = (s: string | undefined): number | null => {
  if (s === undefined) return null;
  const t = s.trim();
  if (!t || t.startsWith("[") || /^n\/?a$/i.test(t)) return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : null;
};

const round1 = (n: number) => Math.round(n * 10) / 10;

/** Parses `--format=csv,noheader,nounits` output. Names may contain commas: they sit between fixed fields. */
export function parseGpuCsv(text: string): GpuInfo[] {
  const gpus: GpuInfo[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (!line.trim()) continue;
    const f = line.split(",");
    if (f.length < 9) throw new Error(`unexpected nvidia-smi output: ${JSON.stringify(line.slice(0, 200))}`);
    const tail = f.slice(-6);
    const name = f.slice(2, f.length - 6).join(",").trim();
    const index = num(f[0]);
    if (index === null) throw new Error(`unexpected nvidia-smi output: ${JSON.stringify(line.slice(0, 200))}`);
    const used = num(tail[1]);
    const total = num(tail[2]);
    gpus.push({
      index,
      uuid: f[1]!.trim(),
      name,
      utilization: num(tail[0]),
      memory: { used, total, percentUsed: used !== null && total ? round1((used / total) * 100) : null },
      temperature: num(tail[3]),
      power: { draw: num(tail[4]), limit: num(tail[5]) },
    });
  }
  return gpus;
}

export const APPS_QUERY = "gpu_uuid,pid,used_memory,process_name";

interface GpuProcessRow {
  gpuUuid: string;
  pid: number;
  name: string;
  memory: number | null;
}

/**
 * Parses `--query-compute-apps` output in APPS_QUERY's order. The name comes last, as it may
 * contain commas (a path, a command line). No processes is no lines (older drivers say so in words).
 */
export function parseAppsCsv(text: string): GpuProcessRow[] {
  const rows: GpuProcessRow[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (!line.trim() || /^no running (compute )?processes found/i.test(line.trim())) continue;
    const f = line.split(",");
    const pid = num(f[1]);
    if (f.length < 4 || pid === null || !Number.isInteger(pid)) throw new Error(`unexpected nvidia-smi output: ${JSON.stringify(line.slice(0, 200))}`);
    rows.push({ gpuUuid: f[0]!.trim(), pid, memory: num(f[2]), name: f.slice(3).join(",").trim() });
  }
  return rows;
}

function unlistedMemory(used: number | null, processes: GpuProcess[] | null): number | null {
  if (used === null || processes === null || processes.some((p) => p.memory === null)) return null;
  return Math.max(0, used - processes.reduce((sum, p) => sum + p.memory!, 0));
}

export interface NvidiaSmiOptions {
  path: string;
  timeoutMs: number;
  /** PATH used to find the executable. */
  searchPath: string | undefined;
  /** The task a process belongs to, if any (process-group.ts reads its TASK_ID). */
  taskOf?: (pid: number) => string | null;
}

/**
 * Runs nvidia-smi; never throws and never waits longer than the timeout. One run at a time: when
 * the GPU driver hangs (an Xid error, a GPU fallen off the bus), nvidia-smi sits in the kernel
 * where even SIGKILL cannot end it, and starting another on every status request would pile them
 * up by the thousand. Until the one that timed out has finished, no other is started.
 */
export class GpuProbe {
  readonly #o: NvidiaSmiOptions;
  /** When the run that timed out started, while it (or its output) has not finished. */
  #unfinishedSince: number | undefined;

  constructor(o: NvidiaSmiOptions) {
    this.#o = o;
  }

  /** The GPUs, then the processes using each (a second run, made only when the first answered). */
  async query(): Promise<GpuStatus> {
    const o = this.#o;
    const gpuRun = await this.#run([`--query-gpu=${GPU_QUERY}`, "--format=csv,noheader,nounits"]);
    if (!gpuRun.ok) return { available: false, error: gpuRun.error, gpus: [] };
    let gpus: GpuInfo[];
    try {
      gpus = parseGpuCsv(gpuRun.stdout);
    } catch (err) {
      return { available: false, error: (err as Error).message, gpus: [] };
    }
    if (!gpus.length) return { available: false, error: "nvidia-smi reported no GPUs", gpus: [] };
    const appsRun = await this.#run([`--query-compute-apps=${APPS_QUERY}`, "--format=csv,noheader,nounits"]);
    let apps: GpuProcessRow[] | undefined;
    try {
      if (appsRun.ok) apps = parseAppsCsv(appsRun.stdout);
    } catch {
      // Said below as processes: null, the GPU figures being good.
    }
    const taskOf = o.taskOf ?? (() => null);
    return {
      available: true,
      gpus: gpus.map((g) => {
        const processes = apps?.filter((a) => a.gpuUuid === g.uuid).map(({ pid, name, memory }) => ({ pid, name, memory, taskId: taskOf(pid) })) ?? null;
        return { ...g, processes, unlistedMemory: unlistedMemory(g.memory.used, processes) };
      }),
    };
  }

  async #run(args: string[]): Promise<Run> {
    const o = this.#o;
    if (this.#unfinishedSince !== undefined) {
      const ago = Math.round((performance.now() - this.#unfinishedSince) / 1000);
      return { ok: false, error: `${o.path} started ${ago} s ago has still not finished, even after SIGKILL (a hung GPU driver?); no other is started until it does` };
    }
    return runNvidiaSmi(o, args, (output, since) => {
      this.#unfinishedSince = since;
      const done = () => {
        if (this.#unfinishedSince === since) this.#unfinishedSince = undefined;
      };
      output.then(done, done);
    });
  }
}

type Run = { ok: true; stdout: string } | { ok: false; error: string };

/** One run of nvidia-smi; `onTimeout` gets what is still to finish, and when the run started, if it did not answer in time. */
async function runNvidiaSmi(o: NvidiaSmiOptions, args: string[], onTimeout: (unfinished: Promise<unknown>, startedAt: number) => void): Promise<Run> {
  const startedAt = performance.now();
  const exe = o.path.includes("/") ? o.path : Bun.which(o.path, { PATH: o.searchPath ?? "" });
  if (!exe) return { ok: false, error: `${o.path} not found on PATH` };
  let proc;
  try {
    proc = Bun.spawn([exe, ...args], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env: { PATH: o.searchPath ?? "/usr/bin:/bin", LC_ALL: "C" },
    });
  } catch (err) {
    return { ok: false, error: `cannot run ${o.path}: ${(err as Error).message}` };
  }
  let timer: Timer | undefined;
  const timedOut = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), o.timeoutMs)));
  const output = Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  const result = await Promise.race([output, timedOut]);
  clearTimeout(timer);
  if (result === "timeout") {
    proc.kill("SIGKILL");
    onTimeout(output, startedAt);
    return { ok: false, error: `${o.path} did not answer within ${o.timeoutMs} ms` };
  }
  const [stdout, stderr, code] = result;
  if (code !== 0) {
    const why = (stderr.trim() || stdout.trim()).split("\n")[0]?.slice(0, 300) || "no output";
    return { ok: false, error: `${o.path} exited with code ${code}: ${why}` };
  }
  return { ok: true, stdout };
}
