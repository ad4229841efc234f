/**
 * How a task's log ends, in the agent's own words. A claude session (stream-json) ends with a
 * `result` event: its final answer, what it cost, its turns, its session id and tokens, and, when it
 * failed, why ("Not logged in · Please run /login", "API Error: 529 Overloaded"). None of that is in
 * the exit code.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import type { TaskRecord } from "./task.ts";

/** How much of the log's end is read: the result event holds the final answer, which may run long. */
const TAIL_BYTES = 1024 * 1024;
/** The reason is cut to this: an error field, not a transcript. */
const MAX_REASON = 300;
/** The final answer kept with the task; the whole of it stays in the log's last line. */
export const MAX_RESULT_TEXT = 64 * 1024;

type Event = Record<string, unknown>;

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

/** The log's last line as a JSON object, if it is one; undefined otherwise (or with no log). */
export function finalEvent(logFile: string): Event | undefined {
  let last: string | undefined;
  try {
    last = logTail(logFile).split(/\r?\n/).findLast((line) => line.trim() !== "");
  } catch {
    return undefined; // no log (the task never started), or unreadable
  }
  if (!last?.startsWith("{")) return undefined;
  try {
    const event: unknown = JSON.parse(last);
    return event && typeof event === "object" && !Array.isArray(event) ? (event as Event) : undefined;
  } catch {
    return undefined;
  }
}

const isResult = (event: Event | undefined): event is Event => event?.type === "result";
const text = (v: unknown) => (typeof v === "string" ? v : null);
/** `s` cut to `max` UTF-16 units, never between the two halves of a character outside the BMP. */
const cut = (s: string | null, max: number) => (s === null || s.length <= max ? s : s.slice(0, /[\uD800-\uDBFF]/.test(s[max - 1]!) ? max - 1 : max));
const count = (v: unknown) => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : null);

/** What the exit code alone does not say, if the final event is a failed result; undefined otherwise. */
export function exitReason(event: Event | undefined): string | undefined {
  if (!isResult(event) || event.is_error !== true) return undefined;
  const first = text(event.result)?.trim().split("\n")[0] ?? "";
  const why = first || (text(event.subtype) ?? "");
  return why ? why.slice(0, MAX_REASON) : undefined;
}

/** A failed task's error: how it exited, and the reason its log ends with, if any. */
export function exitError(event: Event | undefined, exit: { exitCode: number | null; signal: string | null }): string | null {
  if (exit.signal) return `Terminated by ${exit.signal}`;
  if (exit.exitCode === null) return null;
  const reason = exitReason(event);
  return `Exited with code ${exit.exitCode}${reason ? `: ${reason}` : ""}`;
}

/**
 * A session id as claude writes it (a UUID), else null: it becomes an argument of the next
 * continuation's command (`--resume <id>`), and a value starting with "-" would be read as an option.
 */
function sessionIdOf(v: unknown): string | null {
  return typeof v === "string" && /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(v) ? v : null;
}

/** The fields of a task that its final result event fills (all null for any other end). */
export type AgentResultFields = Pick<TaskRecord, "resultText" | "costUsd" | "turns" | "sessionId" | "inputTokens" | "outputTokens" | "cacheReadTokens" | "cacheCreationTokens">;

/** A claude session's own account of its end, from its final result event. */
export function agentResult(event: Event | undefined): AgentResultFields {
  const r = isResult(event) ? event : {};
  const usage = (r.usage && typeof r.usage === "object" ? r.usage : {}) as Event;
  return {
    resultText: cut(text(r.result), MAX_RESULT_TEXT),
    costUsd: count(r.total_cost_usd),
    turns: count(r.num_turns),
    sessionId: sessionIdOf(r.session_id),
    inputTokens: count(usage.input_tokens),
    outputTokens: count(usage.output_tokens),
    cacheReadTokens: count(usage.cache_read_input_tokens),
    cacheCreationTokens: count(usage.cache_creation_input_tokens),
  };
}
