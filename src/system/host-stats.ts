/** CPU load, memory and disk from the OS itself (no shell, no `free`/`df` parsing). */
import { cpus, freemem, loadavg, totalmem } from "node:os";
import { readFileSync, statfsSync } from "node:fs";

const MiB = 1024 * 1024;
const pct = (part: number, whole: number) => (whole > 0 ? Math.round((part / whole) * 1000) / 10 : 0);

/** Sizes as `df -h` prints them: 1024-based, one decimal below 10. */
export function humanSize(bytes: number): string {
  const units = ["B", "K", "M", "G", "T", "P"];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v < 10 ? Math.ceil(v * 10) / 10 : Math.ceil(v)}${units[i]}`;
}

/** total/available from /proc/meminfo (Linux), else from node:os. In bytes. */
function memoryBytes(): { total: number; available: number; free: number } {
  try {
    const info = readFileSync("/proc/meminfo", "utf8");
    const kb = (key: string) => {
      const m = new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(info);
      return m ? Number(m[1]) * 1024 : undefined;
    };
    const total = kb("MemTotal");
    const available = kb("MemAvailable");
    const free = kb("MemFree");
    if (total !== undefined && available !== undefined) return { total, available, free: free ?? available };
  } catch {
    // Not Linux: fall through.
  }
  return { total: totalmem(), available: freemem(), free: freemem() };
}

export function hostStats(diskPath: string) {
  const [load1, load5, load15] = loadavg();
  const mem = memoryBytes();
  const used = mem.total - mem.available;
  const fs = statfsSync(diskPath);
  const size = fs.blocks * fs.bsize;
  const available = fs.bavail * fs.bsize;
  const diskUsed = (fs.blocks - fs.bfree) * fs.bsize;
  const r2 = (n: number) => Math.round(n * 100) / 100;
  return {
    cpu: { loadAverage: { load1: r2(load1!), load5: r2(load5!), load15: r2(load15!) }, cores: cpus().length },
    memory: {
      total: Math.round(mem.total / MiB),
      // From the rounded figures, so used + available = total holds exactly in MiB too.
      used: Math.round(mem.total / MiB) - Math.round(mem.available / MiB),
      free: Math.round(mem.free / MiB),
      available: Math.round(mem.available / MiB),
      percentUsed: pct(used, mem.total),
      unit: "MiB" as const,
    },
    disk: {
      path: diskPath,
      size: humanSize(size),
      used: humanSize(diskUsed),
      available: humanSize(available),
      percentUsed: pct(diskUsed, diskUsed + available),
      sizeBytes: size,
      usedBytes: diskUsed,
      availableBytes: available,
    },
  };
}
