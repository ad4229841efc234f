/**
 * Signals and liveness checks for a task's processes (Linux /proc for identity checks): its process
 * group, and the descendants that left it for a session of their own (`setsid`, Node's
 * `detached: true`, Python's `start_new_session`), found by the TASK_ID they inherit.
 */
import { readdirSync, readFileSync } from "node:fs";

/** Sends a signal to every process of the group; false when the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Whether any process of the group, other than zombies, is still alive. */
export function groupAlive(pgid: number): boolean {
  if (!signalGroup(pgid, 0)) return false;
  // kill(0) also succeeds for zombies awaiting their reaper; look at what is really there.
  const members = groupMembers(pgid);
  return members === undefined ? true : members.some((m) => m.state !== "Z");
}

/** Processes whose process group is `pgid`, from /proc; undefined where /proc is not available. */
export function groupMembers(pgid: number): { pid: number; state: string }[] | undefined {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return undefined;
  }
  const out: { pid: number; state: string }[] = [];
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const stat = readStat(Number(e));
    if (stat && stat.pgrp === pgid) out.push({ pid: Number(e), state: stat.state });
  }
  return out;
}

function readStat(pid: number): { state: string; pgrp: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name is in parentheses and may contain spaces: fields start after the last ')'.
    const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { state: rest[0]!, pgrp: Number(rest[2]) };
  } catch {
    return undefined;
  }
}

/** Whether `pid` is alive (not a zombie) and its command line mentions `marker` (guards pid reuse). */
export function processMatches(pid: number, marker: string): boolean {
  try {
    const stat = readStat(pid);
    if (!stat || stat.state === "Z") return false;
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(marker);
  } catch {
    return false;
  }
}

/**
 * Live processes (zombies aside) whose environment holds `TASK_ID=<taskId>`: every descendant of
 * the task inherits it, including those in another process group, which a signal to the group
 * misses. A process that cleared its environment, or runs as another user, is not found.
 */
export function taskProcesses(taskId: string): number[] {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  const found: number[] = [];
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    try {
      if (taskIdIn(readFileSync(`/proc/${pid}/environ`)) === taskId && readStat(pid)?.state !== "Z") found.push(pid);
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

/** What a running task's processes use now. */
export interface TaskUsage {
  /** Live processes of the task (its own, and the descendants that left its group). */
  processes: number;
  /** The sum of their resident memory (pages they share counted in each). */
  memoryBytes: number;
  /** CPU time they, and the children they have reaped, have used so far. */
  cpuSeconds: number;
}

/** USER_HZ, the unit of /proc's CPU times: 100 on every Linux architecture Bun runs on. */
const CLOCK_TICKS = 100;

const TASK_ID_ENTRY = Buffer.from("TASK_ID=");

/** The TASK_ID entry of a process's environment (NUL-separated), if it has one. */
function taskIdIn(environ: Buffer): string | undefined {
  // A whole entry: at the start, or right after the NUL that ends the previous one.
  let at = 0;
  if (!environ.subarray(0, TASK_ID_ENTRY.length).equals(TASK_ID_ENTRY)) {
    const nul = environ.indexOf("\0TASK_ID=");
    if (nul === -1) return undefined;
    at = nul + 1;
  }
  const end = environ.indexOf(0, at);
  return environ.toString("latin1", at + TASK_ID_ENTRY.length, end === -1 ? undefined : end);
}

/** The task a process belongs to (the TASK_ID it inherited), or null: none, gone, or not ours to read. */
export function taskOfProcess(pid: number): string | null {
  try {
    return taskIdIn(readFileSync(`/proc/${pid}/environ`)) ?? null;
  } catch {
    return null;
  }
}

/**
 * What the processes of each of `taskIds` use, in one pass over /proc (found by the TASK_ID they
 * inherit, as taskProcesses finds them); zeros for a task with none, or where /proc cannot say.
 */
export function tasksUsage(taskIds: Iterable<string>): Map<string, TaskUsage> {
  const usage = new Map<string, TaskUsage & { ticks: number }>();
  for (const id of taskIds) usage.set(id, { processes: 0, memoryBytes: 0, cpuSeconds: 0, ticks: 0 });
  let entries: string[] = [];
  try {
    entries = usage.size ? readdirSync("/proc") : [];
  } catch {
    // no /proc
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const u = usage.get(taskIdIn(readFileSync(`/proc/${e}/environ`)) ?? "");
      if (!u) continue;
      const stat = readFileSync(`/proc/${e}/stat`, "utf8");
      // Fields after the command name: the state is the 1st; utime, stime, cutime and cstime the 12th to 15th.
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (f[0] === "Z") continue;
      const rssKiB = Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${e}/status`, "utf8"))?.[1] ?? 0);
      u.ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
      u.memoryBytes += rssKiB * 1024;
      u.processes++;
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return new Map([...usage].map(([id, { ticks, ...u }]) => [id, { ...u, cpuSeconds: Math.round((ticks / CLOCK_TICKS) * 100) / 100 }]));
}

/** What one task's processes use now. */
export function taskUsage(taskId: string): TaskUsage {
  return tasksUsage([taskId]).get(taskId)!;
}

/** Sends a signal to each pid; the ones that are gone are skipped. */
export function signalEach(pids: number[], signal: NodeJS.Signals) {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}
