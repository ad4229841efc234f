/** Durable task records in bun:sqlite (WAL), so a restart of the API loses none. */
import type { Database } from "bun:sqlite";
import { addColumnIfMissing, insertRow, page, updateRow, type PageOrder } from "../db.ts";
import type { TaskRecord, TaskStatus } from "./task.ts";
import { labelsWhere, type Labels } from "../labels.ts";

export interface ListQuery {
  /** Tasks in any of these statuses; all of them when absent. */
  statuses?: readonly TaskStatus[];
  /** Only this agent's, or this provider's, tasks. */
  agent?: string;
  provider?: string;
  /** Only the tasks that continued this one. */
  continuedFrom?: string;
  /** Only those carrying every one of these labels. */
  labels?: Labels;
  limit: number;
  cursor?: string;
}

/** Columns later versions added, made in a database an earlier one wrote. */
const ADDED_COLUMNS = {
  timeoutMs: "INTEGER",
  continuedFrom: "TEXT",
  resultText: "TEXT",
  costUsd: "REAL",
  turns: "INTEGER",
  sessionId: "TEXT",
  inputTokens: "INTEGER",
  outputTokens: "INTEGER",
  cacheReadTokens: "INTEGER",
  cacheCreationTokens: "INTEGER",
  webhookUrl: "TEXT",
  labels: "TEXT",
  noOutputTimeoutMs: "INTEGER",
  model: "TEXT",
};

/** The task list's order, which its index covers. */
const BY_START: PageOrder = { table: "tasks", time: "startTime", id: "taskId" };

/** What the store tells of its writes, for the webhook sender and the task events stream. */
export interface TaskStoreHooks {
  /** After each write that makes a task or changes its status or end; `ended` when it records the end (the webhook sender's cue). */
  changed?: (taskId: string, ended: boolean) => void;
  /**
   * Right before a task's record is deleted (purged, or past its retention), with the record and
   * while what refers to it (its webhook's delivery) is still there; what it returns is called once
   * the record is gone.
   */
  deleting?: (t: TaskRecord) => (() => void) | undefined;
}

export class TaskStore {
  readonly #db: Database;
  readonly #onChange: TaskStoreHooks["changed"];
  readonly #onDeleting: TaskStoreHooks["deleting"];

  constructor(db: Database, hooks: TaskStoreHooks = {}) {
    this.#db = db;
    this.#onChange = hooks.changed;
    this.#onDeleting = hooks.deleting;
    this.#db.exec(`CREATE TABLE IF NOT EXISTS tasks (
      taskId TEXT PRIMARY KEY, agent TEXT NOT NULL, task TEXT NOT NULL, provider TEXT NOT NULL,
      status TEXT NOT NULL, startTime INTEGER NOT NULL, exitTime INTEGER, exitCode INTEGER,
      signal TEXT, error TEXT, taskDir TEXT NOT NULL, logFile TEXT NOT NULL, pid INTEGER,
      stopRequestedAt INTEGER, createdBy TEXT, timeoutMs INTEGER, continuedFrom TEXT, resultText TEXT, costUsd REAL, turns INTEGER,
      sessionId TEXT, inputTokens INTEGER, outputTokens INTEGER, cacheReadTokens INTEGER, cacheCreationTokens INTEGER, webhookUrl TEXT, labels TEXT, noOutputTimeoutMs INTEGER, model TEXT)`);
    // Databases from before tasks had a time limit, or an agent's result.
    for (const [column, type] of Object.entries(ADDED_COLUMNS)) addColumnIfMissing(this.#db, "tasks", column, type);
    this.#db.exec("CREATE INDEX IF NOT EXISTS tasks_by_start ON tasks (startTime DESC, taskId DESC)");
    // Covers the list's whole ORDER BY, so a filtered page needs no sort (replaces tasks_by_status).
    this.#db.exec("DROP INDEX IF EXISTS tasks_by_status");
    this.#db.exec("CREATE INDEX IF NOT EXISTS tasks_by_status_start ON tasks (status, startTime DESC, taskId DESC)");
    // For deleting past retention: which tasks ended before a time, and whether another task shares
    // a folder (asked once per task deleted). Read whole, 100,000 tasks took 34 ms a question, and a
    // sweep that deleted them all, most of an hour of the server's time.
    this.#db.exec("CREATE INDEX IF NOT EXISTS tasks_by_end ON tasks (exitTime) WHERE exitTime IS NOT NULL");
    this.#db.exec("CREATE INDEX IF NOT EXISTS tasks_by_folder ON tasks (taskDir)");
  }

  insert(t: TaskRecord) {
    insertRow(this.#db, "tasks", t);
    this.#onChange?.(t.taskId, t.exitTime !== null);
  }

  /** Updates the given fields of one task. */
  update(taskId: string, fields: Partial<Omit<TaskRecord, "taskId">>) {
    updateRow(this.#db, "tasks", "taskId", taskId, fields);
    if (fields.status !== undefined || fields.exitTime != null) this.#onChange?.(taskId, fields.exitTime != null);
  }

  get(taskId: string): TaskRecord | undefined {
    return (this.#db.query("SELECT * FROM tasks WHERE taskId = ?").get(taskId) as TaskRecord | null) ?? undefined;
  }

  /** Tasks whose processes may still be alive. */
  live(): TaskRecord[] {
    return this.#db.query("SELECT * FROM tasks WHERE exitTime IS NULL AND pid IS NOT NULL AND status IN ('running','stopped')").all() as TaskRecord[];
  }

  /** Newest first, filtered by status, agent and provider, paged by cursor. */
  list(q: ListQuery): { tasks: TaskRecord[]; nextCursor: string | null } {
    const { rows, nextCursor } = page<TaskRecord>(this.#db, BY_START, { status: q.statuses, agent: q.agent, provider: q.provider, continuedFrom: q.continuedFrom }, q.limit, q.cursor, labelsWhere(q.labels));
    return { tasks: rows, nextCursor };
  }

  /** Whether another task works, or worked, in `t`'s folder (one continued from it, or the one it continued). */
  sharesFolder(t: Pick<TaskRecord, "taskId" | "taskDir">): boolean {
    return this.#db.query("SELECT 1 FROM tasks WHERE taskDir = ? AND taskId != ? LIMIT 1").get(t.taskDir, t.taskId) !== null;
  }

  /** Queued tasks, the first queued first. */
  queued(): TaskRecord[] {
    return this.#db.query("SELECT * FROM tasks WHERE status = 'queued' ORDER BY startTime, rowid").all() as TaskRecord[];
  }

  /** How many tasks are queued (the gauge reads it at every start and end). */
  queuedCount(): number {
    return (this.#db.query("SELECT COUNT(*) AS n FROM tasks WHERE status = 'queued'").get() as { n: number }).n;
  }

  /** The queued tasks' ids, the first queued first. */
  queuedIds(): string[] {
    return (this.#db.query("SELECT taskId FROM tasks WHERE status = 'queued' ORDER BY startTime, rowid").all() as { taskId: string }[]).map((r) => r.taskId);
  }

  /** A task running (or queued) in `taskDir`, if any. */
  runningIn(taskDir: string): TaskRecord | undefined {
    return (this.#db.query("SELECT * FROM tasks WHERE taskDir = ? AND exitTime IS NULL LIMIT 1").get(taskDir) as TaskRecord | null) ?? undefined;
  }

  /** Finished tasks that ended before `before` (epoch ms). */
  finishedBefore(before: number): TaskRecord[] {
    return this.#db.query("SELECT * FROM tasks WHERE exitTime IS NOT NULL AND exitTime < ?").all(before) as TaskRecord[];
  }

  delete(taskId: string) {
    // Read first only for a listener, which hears of the task as it was once it is gone.
    const gone = this.#onDeleting ? this.get(taskId) : undefined;
    const deleted = gone && this.#onDeleting?.(gone);
    this.#db.query("DELETE FROM tasks WHERE taskId = ?").run(taskId);
    deleted?.();
  }
}
