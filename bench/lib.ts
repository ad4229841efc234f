/** Helpers shared by the benchmarks: free ports, child servers, wrk, percentiles. */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dir, "..");
export const KEY = "bench-key-0123456789";

export function freePort(): number {
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const p = s.port!;
  s.stop(true);
  return p;
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export const fmt = (n: number, digits = 1) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

/**
 * Starts the real API (bun src/main.ts) on a free port with a fresh data dir; resolves when ready.
 * `runtimeArgs` go to bun before the script (`--preload`).
 */
export async function startApi(extraEnv: Record<string, string> = {}, runtimeArgs: string[] = []) {
  const dir = mkdtempSync(join(tmpdir(), "mapi-bench-"));
  const providers = join(dir, "providers.json");
  writeFileSync(
    providers,
    JSON.stringify({
      stamp: { command: ["sh", "-c", "date +%s%N"] },
      // Waits for a "go" file in its directory (so every client is connected), then writes N lines stamped with the wall clock.
      chatty: { command: ["sh", "-c", 'while [ ! -f go ]; do sleep 0.05; done; i=0; while [ $i -lt "$1" ]; do echo "$(date +%s%N) $i"; i=$((i+1)); done', "chatty", "{task}"] },
      // Waits for "go" too, then prints N lines as fast as it can (a runaway agent).
      runaway: { command: ["sh", "-c", 'while [ ! -f go ]; do sleep 0.05; done; exec seq -f "line %.0f of a runaway task" "$1"', "runaway", "{task}"] },
    }),
  );
  const port = freePort();
  const proc = Bun.spawn([process.execPath, ...runtimeArgs, join(ROOT, "src/main.ts")], {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: dir,
      PORT: String(port),
      DATA_DIR: dir,
      MANAGEMENT_API_KEY: KEY,
      PROVIDERS_FILE: providers,
      LOG_LEVEL: "info",
      LOG_FORMAT: "json",
      MAX_ACTIVE_TASKS: "1000",
      ...extraEnv,
    },
    stdout: Bun.file("/dev/null"),
    stderr: "inherit",
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${base}/ready`)).ok) break;
    } catch {}
    await Bun.sleep(50);
  }
  return { proc, base, dir, stop: async () => { proc.kill("SIGTERM"); await proc.exited; } };
}

/** Waits (up to 5 s) until the API's /ready says its local ComfyUI is reachable. */
export async function waitForComfyUI(base: string) {
  for (let i = 0; i < 100; i++) {
    const ready = (await (await fetch(`${base}/ready`)).json()) as { comfyui?: { local?: { reachable?: boolean } } };
    if (ready.comfyui?.local?.reachable) return;
    await Bun.sleep(50);
  }
}

/** Resident memory of a process in MiB (Linux). */
export async function rssMiB(pid: number): Promise<number> {
  const status = await Bun.file(`/proc/${pid}/status`).text();
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** USER_HZ, the unit of /proc's CPU times: 100 on every Linux architecture Bun runs on. */
const CLOCK_TICKS = 100;

/**
 * CPU seconds (user + system, all threads) a process has used so far, from /proc; NaN where there
 * is no /proc. Per request, this is the server's cost with wrk's own CPU left out, which moves less
 * than throughput on a shared machine where the two compete for the same cores.
 */
export function cpuSeconds(pid: number): number {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name is in parentheses and may contain spaces: fields start after the last ')'.
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}
