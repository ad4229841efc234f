/**
 * A failed task's error in its own words, where its log's last line gives them: a claude session
 * (stream-json) ends with a `result` event whose text says why it failed ("Not logged in · Please
 * run /login", "API Error: 529 Overloaded"), which its exit code 1 does not.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";

/** How much of the log's end is read: a result event is well under this. */
const TAIL_BYTES = 64 * 1024;
/** The reason is cut to this: an error field, not a transcript. */
const MAX_REASON = 300;

/**
 * The log's last TAIL_BYTES, read at once: the supervisor records a task's end synchronously (its
 * listeners and metrics follow in the same turn), so log-files.ts's async tailLines does not fit.
 */
function logTail(logFile: string): string {
  const fd = openSync(logFile, "r");
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, TAIL_BYTES);
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, size - length);
    return buf.toString("utf8");
  } finally {
    closeSync(fd);
  }
}

/** What the exit code alone does not say, if the log's last line says it; undefined otherwise. */
export function exitReason(logFile: string): string | undefined {
  let last: string | undefined;
  try {
    last = logTail(logFile).split(/\r?\n/).findLast((line) => line.trim() !== "");
  } catch {
    return undefined; // no log (the task never started), or unreadable: the exit code stands alone
  }
  if (!last?.startsWith("{")) return undefined;
  let event: { type?: unknown; is_error?: unknown; result?: unknown; subtype?: unknown };
  try {
    event = JSON.parse(last);
  } catch {
    return undefined;
  }
  if (event?.type !== "result" || event.is_error !== true) return undefined;
  const text = typeof event.result === "string" ? event.result.trim().split("\n")[0] : "";
  const why = text || (typeof event.subtype === "string" ? event.subtype : "");
  return why ? why.slice(0, MAX_REASON) : undefined;
}

/** A failed task's error: how it exited, and the reason its log ends with, if any. */
export function exitError(logFile: string, exit: { exitCode: number | null; signal: string | null }): string | null {
  if (exit.signal) return `Terminated by ${exit.signal}`;
  if (exit.exitCode === null) return null;
  const reason = exitReason(logFile);
  return `Exited with code ${exit.exitCode}${reason ? `: ${reason}` : ""}`;
}
