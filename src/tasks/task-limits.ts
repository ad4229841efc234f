/** The limits a running task is held to: its time limit, its processes' memory, its log's size and the time since its last output. */
import { statSync } from "node:fs";
import type { TaskRecord } from "./task.ts";

/** Which limit a task went past, as the metric `tasks_stopped_by_limit_total` labels it. */
export type LimitKind = "time" | "memory" | "log_size" | "no_output";

/** A limit a task went past: what its record and log say, and what the API's log adds. */
export interface Breach {
  limit: LimitKind;
  error: string;
  details: Record<string, number>;
}

/**
 * The first limit `t` is past at `now`, if any. The time limit is in the record, so it holds for
 * tasks adopted after a restart too.
 */
export function limitBreach(
  t: TaskRecord,
  limits: { logMaxBytes: number; memoryMaxBytes?: number },
  measured: { memoryBytes?: number } = {},
  now = Date.now(),
): Breach | undefined {
  if (t.timeoutMs !== null && now - t.startTime >= t.timeoutMs) {
    return { limit: "time", error: `Timed out after ${t.timeoutMs / 1000} s; task stopped`, details: { timeoutMs: t.timeoutMs } };
  }
  const { memoryMaxBytes } = limits;
  if (memoryMaxBytes !== undefined && measured.memoryBytes !== undefined && measured.memoryBytes > memoryMaxBytes) {
    const mib = (n: number) => `${Math.round(n / 1048576)} MiB`;
    return {
      limit: "memory",
      error: `Its processes held ${mib(measured.memoryBytes)} of memory, past TASK_MEMORY_MAX_BYTES (${mib(memoryMaxBytes)}); task stopped`,
      details: { memoryBytes: measured.memoryBytes, memoryMaxBytes },
    };
  }
  let log: { size: number; mtimeMs: number };
  try {
    log = statSync(t.logFile);
  } catch {
    return undefined;
  }
  if (log.size > limits.logMaxBytes) return { limit: "log_size", error: `Log exceeded TASK_LOG_MAX_BYTES (${limits.logMaxBytes} bytes); task stopped`, details: { size: log.size } };
  // The log's modification time is its last output: kept on disk, it holds across a restart of the API too.
  // Counted from the start at the earliest, as a queued task's log was made when it was queued.
  const lastOutput = Math.max(t.startTime, log.mtimeMs);
  if (t.noOutputTimeoutMs !== null && now - lastOutput >= t.noOutputTimeoutMs) {
    return { limit: "no_output", error: `No output for ${t.noOutputTimeoutMs / 1000} s; task stopped`, details: { noOutputTimeoutMs: t.noOutputTimeoutMs, lastOutput } };
  }
  return undefined;
}
