/**
 * An idle sidecar should cost next to nothing: the API with no request, task or ComfyUI (its
 * reconnect attempts included, as on a box where ComfyUI is not running) beside a raw Bun.serve,
 * over the same seconds. Wakeups are the main thread's voluntary context switches: a timer that
 * fires every few milliseconds shows there before it shows in CPU time.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { cpuSeconds, fmt, freePort, ROOT, startApi } from "./lib.ts";

const SECONDS = 10;

/** Voluntary context switches of a process's main thread so far (Linux); NaN elsewhere. */
function wakeups(pid: number): number {
  try {
    return Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/task/${pid}/status`, "utf8"))?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

export async function benchIdle() {
  const port = freePort();
  const raw = Bun.spawn([process.execPath, join(ROOT, "bench/raw-server.ts"), String(port)], { stdout: "pipe" });
  const api = await startApi({ COMFYUI_URL: `http://127.0.0.1:${freePort()}` });
  try {
    await Bun.sleep(2_000); // past start-up work
    const targets = [
      { name: "raw Bun.serve", pid: raw.pid },
      { name: "API, idle", pid: api.proc.pid },
    ];
    const before = targets.map((t) => ({ cpu: cpuSeconds(t.pid), wake: wakeups(t.pid) }));
    await Bun.sleep(SECONDS * 1_000);
    const figures = targets.map((t, i) => ({ ...t, cpuMs: ((cpuSeconds(t.pid) - before[i]!.cpu) * 1000) / SECONDS, wakeups: (wakeups(t.pid) - before[i]!.wake) / SECONDS }));
    console.log(`Idle for ${SECONDS} s (no requests; ComfyUI not running)`);
    for (const f of figures) console.log(`  ${f.name.padEnd(16)} cpu ${fmt(f.cpuMs, 1).padStart(5)} ms/s  main-thread wakeups ${fmt(f.wakeups, 0).padStart(4)}/s`);
    const [ref, ours] = figures as [(typeof figures)[0], (typeof figures)[0]];
    console.log(`  API over raw: cpu ${fmt(ours.cpuMs / Math.max(ref.cpuMs, 0.1), 1)}x, wakeups ${fmt(ours.wakeups / Math.max(ref.wakeups, 0.1), 1)}x`);
  } finally {
    raw.kill();
    await api.stop();
  }
}
