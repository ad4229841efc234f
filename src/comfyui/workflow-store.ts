/** Durable ComfyUI workflow records and the outputs they made (bun:sqlite, same database as tasks). */
import type { Database } from "bun:sqlite";
import { addColumnIfMissing, bound, insertRow, page, ROWID, updateRow, type PageOrder } from "../db.ts";
import type { BackendName } from "./backend.ts";
import { labelsWhere, type Labels } from "../labels.ts";

export type WorkflowStatus = "queued" | "running" | "completed" | "cancelled" | "failed";
export type Priority = "low" | "normal" | "high";
export const FINAL: ReadonlySet<WorkflowStatus> = new Set(["completed", "cancelled", "failed"]);

export interface OutputFile {
  filename: string;
  subfolder: string;
  type: string;
  node: string;
}

export interface WorkflowRecord {
  workflowId: string;
  backend: BackendName;
  priority: Priority;
  status: WorkflowStatus;
  /** Whether ComfyUI has accepted it (false while waiting for an unreachable backend). */
  submitted: number;
  /** ComfyUI queue number we chose (orders the queue by priority). */
  number: number;
  progress: number;
  currentNode: string | null;
  queuedAt: number;
  startTime: number | null;
  completionTime: number | null;
  error: string | null;
  prompt: string;
  /** The original UI JSON, sent along as extra_pnginfo.workflow; null for API-format submissions. */
  uiWorkflow: string | null;
  outputs: string;
  /** ComfyUI's node_errors for the output nodes it dropped at validation (JSON); null when all run. */
  nodeErrors: string | null;
  /** Longest it may run once started; null for no limit. */
  timeoutMs: number | null;
  /** Where its end is POSTed (the webhook outbox, src/webhooks); null: nowhere. */
  webhookUrl: string | null;
  /** The client's labels, a JSON object (labels.ts); null: none. */
  labels: string | null;
  /**
   * When a client asked to cancel it, recorded before ComfyUI is told: an API stopped between the
   * two (a crash, a SIGKILL) finds it gone from ComfyUI's queue at its next start, and knows why.
   */
  cancelRequestedAt: number | null;
}

/** What open() reads of an unfinished workflow: not its prompt and UI JSON, often tens of KB each. */
export type OpenWorkflow = Pick<WorkflowRecord, "workflowId" | "backend" | "status" | "submitted" | "number" | "labels">;

/** The record of a workflow just submitted: queued, not yet taken by ComfyUI. */
export function newWorkflow(w: Pick<WorkflowRecord, "backend" | "priority" | "number" | "prompt" | "uiWorkflow" | "timeoutMs" | "webhookUrl" | "labels">): WorkflowRecord {
  return {
    ...w,
    workflowId: crypto.randomUUID(),
    status: "queued",
    submitted: 0,
    progress: 0,
    currentNode: null,
    queuedAt: Date.now(),
    startTime: null,
    completionTime: null,
    error: null,
    outputs: "[]",
    nodeErrors: null,
    cancelRequestedAt: null,
  };
}

export interface OutputRow {
  filename: string;
  subfolder: string;
  type: string;
  workflowId: string;
  backend: BackendName;
  size: number | null;
  createdAt: number;
}

/** The workflow list's order, which its index covers. */
const BY_QUEUED: PageOrder = { table: "workflows", time: "queuedAt", id: "workflowId" };
/** The outputs listing's order: its index on createdAt holds the rowid too. */
const OUTPUTS_BY_TIME: PageOrder = { table: "comfy_outputs", time: "createdAt", id: ROWID };

export class WorkflowStore {
  readonly #db: Database;
  readonly #onEnd: (() => void) | undefined;

  /** `onEnd` is called after each write that records a workflow's end (the webhook sender's cue). */
  constructor(db: Database, onEnd?: () => void) {
    this.#db = db;
    this.#onEnd = onEnd;
    this.#db.exec(`CREATE TABLE IF NOT EXISTS workflows (
      workflowId TEXT PRIMARY KEY, backend TEXT NOT NULL, priority TEXT NOT NULL, status TEXT NOT NULL,
      submitted INTEGER NOT NULL, number REAL NOT NULL, progress REAL NOT NULL, currentNode TEXT,
      queuedAt INTEGER NOT NULL, startTime INTEGER, completionTime INTEGER, error TEXT,
      prompt TEXT NOT NULL, uiWorkflow TEXT, outputs TEXT NOT NULL, nodeErrors TEXT, timeoutMs INTEGER, webhookUrl TEXT, labels TEXT,
      cancelRequestedAt INTEGER)`);
    // Databases from before nodeErrors was kept, before workflows had a time limit, webhooks, labels
    // and a durable cancel request.
    addColumnIfMissing(this.#db, "workflows", "nodeErrors", "TEXT");
    addColumnIfMissing(this.#db, "workflows", "timeoutMs", "INTEGER");
    addColumnIfMissing(this.#db, "workflows", "webhookUrl", "TEXT");
    addColumnIfMissing(this.#db, "workflows", "labels", "TEXT");
    addColumnIfMissing(this.#db, "workflows", "cancelRequestedAt", "INTEGER");
    this.#createOutputsTable();
    this.#db.exec("CREATE INDEX IF NOT EXISTS outputs_by_time ON comfy_outputs (createdAt DESC)");
    this.#db.exec("CREATE INDEX IF NOT EXISTS workflows_by_time ON workflows (queuedAt DESC, workflowId DESC)");
    // The unfinished ones are read at every change of ComfyUI's queue: found among a week's
    // workflows without reading them all. And those past retention, by when they ended.
    this.#db.exec("CREATE INDEX IF NOT EXISTS workflows_by_status ON workflows (status)");
    this.#db.exec("CREATE INDEX IF NOT EXISTS workflows_by_end ON workflows (completionTime) WHERE completionTime IS NOT NULL");
    this.#db.exec("CREATE INDEX IF NOT EXISTS outputs_by_workflow ON comfy_outputs (workflowId)");
    this.#db.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
  }

  /**
   * One row per file: ComfyUI numbers files per subfolder and per backend, so the same name is
   * routine in two date folders, or on local and salad alike. Databases from before the backend and
   * subfolder were part of the key are rebuilt once, keeping their rows.
   */
  #createOutputsTable() {
    const columns = `filename TEXT NOT NULL, subfolder TEXT NOT NULL, type TEXT NOT NULL, workflowId TEXT NOT NULL,
      backend TEXT NOT NULL, size INTEGER, createdAt INTEGER NOT NULL, PRIMARY KEY (backend, subfolder, filename, type)`;
    const keyed = this.#db.query("SELECT pk FROM pragma_table_info('comfy_outputs') WHERE name = 'backend'").get() as { pk: number } | null;
    if (keyed && keyed.pk === 0) {
      this.#db.transaction(() => {
        this.#db.exec(`CREATE TABLE comfy_outputs_keyed (${columns})`);
        this.#db.exec("INSERT INTO comfy_outputs_keyed SELECT filename, subfolder, type, workflowId, backend, size, createdAt FROM comfy_outputs");
        this.#db.exec("DROP TABLE comfy_outputs");
        this.#db.exec("ALTER TABLE comfy_outputs_keyed RENAME TO comfy_outputs");
      })();
    }
    this.#db.exec(`CREATE TABLE IF NOT EXISTS comfy_outputs (${columns})`);
    this.#db.exec("CREATE INDEX IF NOT EXISTS outputs_by_name ON comfy_outputs (filename)");
  }

  /** A value kept across restarts (e.g. our ComfyUI clientId), created on first use. */
  meta(key: string, make: () => string): string {
    const row = this.#db.query("SELECT value FROM meta WHERE key = ?").get(key) as { value: string } | null;
    if (row) return row.value;
    const value = make();
    this.#db.query("INSERT INTO meta (key, value) VALUES (?, ?)").run(key, value);
    return value;
  }

  setMeta(key: string, value: string) {
    this.#db.query("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(key, value);
  }

  insert(w: WorkflowRecord) {
    insertRow(this.#db, "workflows", w);
    if (w.completionTime !== null) this.#onEnd?.();
  }

  update(id: string, fields: Partial<WorkflowRecord>) {
    updateRow(this.#db, "workflows", "workflowId", id, fields);
    if (fields.completionTime != null) this.#onEnd?.();
  }

  /** Deletes a workflow that ComfyUI refused, with nothing else to keep. */
  delete(id: string) {
    this.#db.query("DELETE FROM workflows WHERE workflowId = ?").run(id);
  }

  get(id: string): WorkflowRecord | undefined {
    return (this.#db.query("SELECT * FROM workflows WHERE workflowId = ?").get(id) as WorkflowRecord | null) ?? undefined;
  }

  /** Newest first, optionally only those in some statuses, paged by cursor (see db.ts). */
  list(q: { statuses?: readonly WorkflowStatus[]; labels?: Labels; limit: number; cursor?: string }): { workflows: WorkflowRecord[]; nextCursor: string | null } {
    const { rows, nextCursor } = page<WorkflowRecord>(this.#db, BY_QUEUED, { status: q.statuses }, q.limit, q.cursor, labelsWhere(q.labels));
    return { workflows: rows, nextCursor };
  }

  /** Running workflows with a time limit (at most a few: one per backend). */
  runningWithLimit(): WorkflowRecord[] {
    return this.#db.query("SELECT * FROM workflows WHERE status = 'running' AND timeoutMs IS NOT NULL").all() as WorkflowRecord[];
  }

  /** How many wait in our own queue for their backend (not yet taken by ComfyUI). */
  waitingCount(): number {
    return (this.#db.query("SELECT COUNT(*) AS n FROM workflows WHERE status = 'queued' AND submitted = 0").get() as { n: number }).n;
  }

  /** A workflow's status alone (not its prompt and UI JSON, often tens of KB each). */
  statusOf(id: string): WorkflowStatus | undefined {
    return (this.#db.query("SELECT status FROM workflows WHERE workflowId = ?").get(id) as { status: WorkflowStatus } | null)?.status;
  }

  /** Notes that a client asked to cancel these (unfinished) workflows, in one write. */
  cancelRequested(ids: readonly string[], at = Date.now()) {
    const mark = this.#db.query("UPDATE workflows SET cancelRequestedAt = ? WHERE workflowId = ? AND status IN ('queued','running')");
    this.#db.transaction(() => {
      for (const id of ids) mark.run(at, id);
    })();
  }

  /** Workflows not yet finished, in ComfyUI's run order, without their prompts: read at every queue change. */
  open(): OpenWorkflow[] {
    return this.#db.query("SELECT workflowId, backend, status, submitted, number, labels FROM workflows WHERE status IN ('queued','running') ORDER BY number").all() as OpenWorkflow[];
  }

  addOutput(o: OutputRow) {
    this.#db
      .query("INSERT OR REPLACE INTO comfy_outputs (filename, subfolder, type, workflowId, backend, size, createdAt) VALUES ($filename, $subfolder, $type, $workflowId, $backend, $size, $createdAt)")
      .run(o as never);
  }

  /** Newest first (files saved together: the last saved first), optionally one workflow's, paged by cursor. */
  outputs(q: { workflowId?: string; limit: number; cursor?: string }): { outputs: OutputRow[]; nextCursor: string | null } {
    const { rows, nextCursor } = page<OutputRow>(this.#db, OUTPUTS_BY_TIME, { workflowId: q.workflowId }, q.limit, q.cursor);
    return { outputs: rows, nextCursor };
  }

  /** Deletes finished workflows that completed before `before` (ms), with their output rows; returns how many. */
  pruneFinished(before: number): number {
    // By end time: SQLite, knowing nothing of how many rows each status has, would take the status
    // index, and read every finished workflow to find the few old enough.
    const finished = `status IN ('completed', 'failed', 'cancelled') AND completionTime < ?`;
    return this.#db.transaction(() => {
      this.#db.query(`DELETE FROM comfy_outputs WHERE workflowId IN (SELECT workflowId FROM workflows INDEXED BY workflows_by_end WHERE ${finished})`).run(before);
      return this.#db.query(`DELETE FROM workflows INDEXED BY workflows_by_end WHERE ${finished}`).run(before).changes;
    })();
  }

  /** Every recorded output with this name (in any subfolder, from any backend), newest first. */
  outputsNamed(filename: string): OutputRow[] {
    return this.#db.query("SELECT * FROM comfy_outputs WHERE filename = ? ORDER BY createdAt DESC").all(filename) as OutputRow[];
  }
}
