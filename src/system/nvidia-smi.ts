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

export type GpuStatus = { available: true; gpus: GpuInfo[] } | { available: false; error: string; gpus: [] };

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

export interface NvidiaSmiOptions {
  path: string;
  timeoutMs: number;
  /** PATH used to find the executable. */
  searchPath: string | undefined;
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

  async query(): Promise<GpuStatus> {
    const o = this.#o;
    if (this.#unfinishedSince !== undefined) {
      const ago = Math.round((Date.now() - this.#unfinishedSince) / 1000);
      return { available: false, error: `${o.path} started ${ago} s ago has still not finished, even after SIGKILL (a hung GPU driver?); no other is started until it does`, gpus: [] };
    }
    return queryGpus(o, (output, since) => {
      this.#unfinishedSince = since;
      const done = () => {
        if (this.#unfinishedSince === since) this.#unfinishedSince = undefined;
      };
      output.then(done, done);
    });
  }
}

/** One run of nvidia-smi; `onTimeout` gets what is still to finish, and when the run started, if it did not answer in time. */
async function queryGpus(o: NvidiaSmiOptions, onTimeout: (unfinished: Promise<unknown>, startedAt: number) => void): Promise<GpuStatus> {
  const startedAt = Date.now();
  const exe = o.path.includes("/") ? o.path : Bun.which(o.path, { PATH: o.searchPath ?? "" });
  if (!exe) return { available: false, error: `${o.path} not found on PATH`, gpus: [] };
  let proc;
  try {
    proc = Bun.spawn([exe, `--query-gpu=${GPU_QUERY}`, "--format=csv,noheader,nounits"], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env: { PATH: o.searchPath ?? "/usr/bin:/bin", LC_ALL: "C" },
    });
  } catch (err) {
    return { available: false, error: `cannot run ${o.path}: ${(err as Error).message}`, gpus: [] };
  }
  let timer: Timer | undefined;
  const timedOut = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), o.timeoutMs)));
  const output = Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  const result = await Promise.race([output, timedOut]);
  clearTimeout(timer);
  if (result === "timeout") {
    proc.kill("SIGKILL");
    onTimeout(output, startedAt);
    return { available: false, error: `${o.path} did not answer within ${o.timeoutMs} ms`, gpus: [] };
  }
  const [stdout, stderr, code] = result;
  if (code !== 0) {
    const why = (stderr.trim() || stdout.trim()).split("\n")[0]?.slice(0, 300) || "no output";
    return { available: false, error: `${o.path} exited with code ${code}: ${why}`, gpus: [] };
  }
  try {
    const gpus = parseGpuCsv(stdout);
    if (!gpus.length) return { available: false, error: "nvidia-smi reported no GPUs", gpus: [] };
    return { available: true, gpus };
  } catch (err) {
    return { available: false, error: (err as Error).message, gpus: [] };
  }
}
