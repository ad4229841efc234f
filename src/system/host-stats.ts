/** CPU load, memory and disk from the OS itself (no shell, no `free`/`df` parsing). */
import { cpus, freemem, loadavg, totalmem } from "node:os";
import { existsSync, readFileSync, statfsSync } from "node:fs";
import { join } from "node:path";

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

type Memory = { total: number; available: number; free: number; source: "host" | "cgroup" };

/** Where this process's cgroups live: the mount root, and /proc/self/cgroup's text (tests pass their own). */
export interface CgroupSource {
  root: string;
  selfCgroup: () => string;
}

const SYSTEM_CGROUPS: CgroupSource = { root: "/sys/fs/cgroup", selfCgroup: () => readFileSync("/proc/self/cgroup", "utf8") };

const readNumber = (path: string) => Number(readFileSync(path, "utf8").trim());
const statField = (path: string, field: string) => Number(new RegExp(`^${field} (\\d+)$`, "m").exec(readFileSync(path, "utf8"))?.[1] ?? 0);

/** This process's cgroup directories, from one read of /proc/self/cgroup. */
interface CgroupDirs {
  /** The cgroup v2 (unified) directory. */
  v2: string | undefined;
  /** A cgroup v1 controller's directory. */
  v1(controller: string): string | undefined;
}

function cgroupDirs(src: CgroupSource): CgroupDirs | undefined {
  let lines: string[];
  try {
    lines = src.selfCgroup().split("\n");
  } catch {
    return undefined; // not Linux
  }
  const v2 = lines.find((l) => l.startsWith("0::"))?.slice(3);
  const v1 = lines.map((l) => l.split(":"));
  return {
    v2: v2 === undefined ? undefined : join(src.root, v2),
    v1(controller) {
      const path = v1.find(([, controllers]) => controllers?.split(",").includes(controller))?.[2];
      return path === undefined ? undefined : join(src.root, controller, path);
    },
  };
}

/** The v2 directory when it has `file` (that controller is on), else undefined. */
const v2With = (dirs: CgroupDirs, file: string) => (dirs.v2 !== undefined && existsSync(join(dirs.v2, file)) ? dirs.v2 : undefined);

/** The CPUs this process's cgroup may use (its quota over its period), or null without a quota. */
function cgroupCpuLimit(dirs: CgroupDirs): number | null {
  try {
    let quota: number;
    let period: number;
    const v2 = v2With(dirs, "cpu.max");
    if (v2) {
      const [q, p] = readFileSync(join(v2, "cpu.max"), "utf8").trim().split(/\s+/);
      if (q === "max") return null;
      [quota, period] = [Number(q), Number(p)];
    } else {
      const dir = dirs.v1("cpu");
      if (!dir) return null;
      [quota, period] = [readNumber(join(dir, "cpu.cfs_quota_us")), readNumber(join(dir, "cpu.cfs_period_us"))];
    }
    return quota > 0 && period > 0 ? Math.round((quota / period) * 100) / 100 : null; // v1: -1 means no quota
  } catch {
    return null;
  }
}

/** limit, usage and reclaimable page cache of this process's memory cgroup (v2, else v1), in bytes. */
function cgroupFigures(dirs: CgroupDirs): { limit: number; usage: number; reclaimable: number } | undefined {
  const v2 = v2With(dirs, "memory.max");
  if (v2) {
    const max = readFileSync(join(v2, "memory.max"), "utf8").trim();
    if (max === "max") return undefined;
    return { limit: Number(max), usage: readNumber(join(v2, "memory.current")), reclaimable: statField(join(v2, "memory.stat"), "inactive_file") };
  }
  const dir = dirs.v1("memory");
  if (dir === undefined) return undefined;
  return { limit: readNumber(join(dir, "memory.limit_in_bytes")), usage: readNumber(join(dir, "memory.usage_in_bytes")), reclaimable: statField(join(dir, "memory.stat"), "total_inactive_file") };
}

/**
 * The memory limit of this process's cgroup, when one is set below the host's memory: inside a
 * container that is what the API and its tasks really have. Page cache the kernel can reclaim
 * (inactive_file) counts as available, as `docker stats` and the OOM killer see it.
 */
function cgroupMemory(dirs: CgroupDirs, hostTotal: number): Memory | undefined {
  let figures;
  try {
    figures = cgroupFigures(dirs);
  } catch {
    return undefined; // no cgroup files here (not mounted)
  }
  if (!figures) return undefined;
  const { limit, usage, reclaimable } = figures;
  // cgroup v1 writes "no limit" as a huge number; a limit at or above the host's is no limit either.
  if (!Number.isFinite(limit) || !Number.isFinite(usage) || limit <= 0 || limit >= hostTotal) return undefined;
  const inUse = Math.min(limit, Math.max(0, usage - reclaimable));
  return { total: limit, available: limit - inUse, free: Math.max(0, limit - usage), source: "cgroup" };
}

/** total/available from /proc/meminfo (Linux), else from node:os. In bytes. */
function hostMemory(): Memory {
  try {
    const info = readFileSync("/proc/meminfo", "utf8");
    const kb = (key: string) => {
      const m = new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(info);
      return m ? Number(m[1]) * 1024 : undefined;
    };
    const total = kb("MemTotal");
    const available = kb("MemAvailable");
    const free = kb("MemFree");
    if (total !== undefined && available !== undefined) return { total, available, free: free ?? available, source: "host" };
  } catch {
    // Not Linux: fall through.
  }
  return { total: totalmem(), available: freemem(), free: freemem(), source: "host" };
}

/** CPU, memory (the container's limit when it has one) and the disk holding `diskPath`. */
export function hostStats(diskPath: string, cgroups: CgroupSource = SYSTEM_CGROUPS) {
  const [load1, load5, load15] = loadavg();
  const host = hostMemory();
  const dirs = cgroupDirs(cgroups);
  const mem = (dirs && cgroupMemory(dirs, host.total)) ?? host;
  const used = mem.total - mem.available;
  const fs = statfsSync(diskPath);
  const size = fs.blocks * fs.bsize;
  const available = fs.bavail * fs.bsize;
  const diskUsed = (fs.blocks - fs.bfree) * fs.bsize;
  const r2 = (n: number) => Math.round(n * 100) / 100;
  return {
    cpu: { loadAverage: { load1: r2(load1!), load5: r2(load5!), load15: r2(load15!) }, cores: cpus().length, limit: dirs ? cgroupCpuLimit(dirs) : null },
    memory: {
      total: Math.round(mem.total / MiB),
      // From the rounded figures, so used + available = total holds exactly in MiB too.
      used: Math.round(mem.total / MiB) - Math.round(mem.available / MiB),
      free: Math.round(mem.free / MiB),
      available: Math.round(mem.available / MiB),
      percentUsed: pct(used, mem.total),
      unit: "MiB" as const,
      source: mem.source,
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
