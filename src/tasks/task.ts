/** The task model: one flat record per task, as stored and as returned by the API. */

/**
 * - `queued`: asked for with `queue` while every MAX_ACTIVE_TASKS slot was busy; it starts, in the
 *   order they came, as slots free. Its folder, log and files are made already.
 * - `running`: the process (group) is alive.
 * - `completed`: it exited with code 0.
 * - `failed`: non-zero exit, killed by a signal, failed to start, or its end could not be known.
 * - `stopped`: stopped through the API; stays `stopped` whatever the process then does.
 */
export type TaskStatus = "queued" | "running" | "completed" | "failed" | "stopped";
export const TASK_STATUSES: readonly TaskStatus[] = ["queued", "running", "completed", "failed", "stopped"];

export interface TaskRecord {
  taskId: string;
  agent: string;
  task: string;
  provider: string;
  status: TaskStatus;
  /** Epoch milliseconds: when it started, or, while it is queued, when it was queued. */
  startTime: number;
  exitTime: number | null;
  exitCode: number | null;
  signal: string | null;
  error: string | null;
  taskDir: string;
  logFile: string;
  /** Pid of the task's supervisor shell, which leads the task's own process group. */
  pid: number | null;
  /** When a stop was asked for (the process may still be ending). */
  stopRequestedAt: number | null;
  /** Id of the API key that created the task (never the key). */
  createdBy: string | null;
  /** The task is stopped (and `failed`) once it has run this long; null: no limit. */
  timeoutMs: number | null;
  /** The task is stopped (and `failed`) once its log has not grown for this long; null: no limit. */
  noOutputTimeoutMs: number | null;
  /** The model its request named (the provider's `modelArgs` pass it on); null: the provider's default. */
  model: string | null;
  /** The earlier task whose session and folder this one went on with (POST /v1/tasks/{taskId}/continue). */
  continuedFrom: string | null;
  /** Where the task's end is POSTed (the webhook outbox, src/webhooks); null: nowhere. */
  webhookUrl: string | null;
  /** The client's labels, a JSON object (labels.ts); null: none. */
  labels: string | null;
  // What a claude session's final result event says (final-event.ts); null for any other end.
  /** Its final answer (the first 64 KiB). */
  resultText: string | null;
  costUsd: number | null;
  turns: number | null;
  /** For `claude --resume`. */
  sessionId: string | null;
  inputTokens: number | null;
  outputTokens: number | null;
  cacheReadTokens: number | null;
  cacheCreationTokens: number | null;
}

/** What a task's record holds before it has run: no process, no end, nothing its agent reported. */
export const NOT_STARTED = {
  exitTime: null,
  exitCode: null,
  signal: null,
  error: null,
  pid: null,
  stopRequestedAt: null,
  resultText: null,
  costUsd: null,
  turns: null,
  sessionId: null,
  inputTokens: null,
  outputTokens: null,
  cacheReadTokens: null,
  cacheCreationTokens: null,
} satisfies Partial<TaskRecord>;

/** Seconds the task ran, or has run so far; frozen at exit; 0 while it waits in the queue. */
export function durationSeconds(t: TaskRecord, now = Date.now()): number {
  if (t.status === "queued") return 0;
  return Math.max(0, Math.round(((t.exitTime ?? now) - t.startTime) / 100) / 10);
}
