/**
 * Deleting ended tasks now, one (DELETE /v1/tasks/{taskId}?purge=true) or many (DELETE
 * /v1/tasks?status=…&purge=true): their records, logs, exit files and folders, as TASK_RETENTION
 * deletes them later. A task whose files cannot be deleted keeps its record, to try again.
 */
import type { Logger } from "pino";
import { ApiError } from "../http/errors.ts";
import type { Actor } from "../http/types.ts";
import type { Labels } from "../labels.ts";
import type { TaskDeleted } from "./prune.ts";
import type { TaskSupervisor } from "./supervisor.ts";
import type { TaskStore } from "./task-store.ts";
import type { TaskRecord, TaskStatus } from "./task.ts";

export interface PurgeDeps {
  store: TaskStore;
  supervisor: TaskSupervisor;
  logger: Logger;
}

/** The statuses of an ended task: the only ones a purge takes. */
export const ENDED_STATUSES = ["completed", "failed", "stopped"] as const satisfies readonly TaskStatus[];
export type EndedStatus = (typeof ENDED_STATUSES)[number];

/** Which ended tasks a bulk purge deletes. */
export interface PurgeQuery {
  statuses: readonly EndedStatus[];
  agent?: string;
  provider?: string;
  labels?: Labels;
}

export interface PurgedTasks {
  /** The tasks deleted, their folders included unless a task not deleted shares one. */
  taskIds: string[];
  /** Of those, the ones whose folder stays (another task works, or worked, in it). */
  foldersKept: string[];
}

const hasEnded = (d: PurgeDeps, t: TaskRecord) => t.exitTime !== null && !d.supervisor.isLive(t.taskId);

/**
 * Deletes an ended task's files, then its record: what went (null when a retention sweep deleted it
 * meanwhile), or, logged, why its files could not be deleted (its record is kept).
 */
async function deleteEnded(d: PurgeDeps, t: TaskRecord): Promise<{ deleted: TaskDeleted | null } | { failed: string }> {
  try {
    return { deleted: await d.supervisor.purge(t) };
  } catch (err) {
    d.logger.error({ taskId: t.taskId, err }, "could not delete a task's files; its record is kept");
    return { failed: `Could not delete the files of task ${t.taskId} (${(err as Error).message})` };
  }
}

/** Deletes one ended task; a 409 while it runs, a 500 (record kept) when a file cannot be deleted. */
export async function purgeTask(d: PurgeDeps, t: TaskRecord, who: Actor): Promise<{ folderDeleted: boolean }> {
  if (!hasEnded(d, t)) {
    throw new ApiError(409, `Task ${t.taskId} is ${t.status}: stop it, and purge it once it has ended`, { extra: { currentStatus: t.status } });
  }
  const outcome = await deleteEnded(d, t);
  if ("failed" in outcome) throw new ApiError(500, `${outcome.failed}; its record is kept, to try again`);
  // A retention sweep deleted it meanwhile: gone, as for a second purge.
  if (!outcome.deleted) throw new ApiError(404, `Task ${t.taskId} not found`);
  const { folderDeleted } = outcome.deleted;
  d.logger.info({ audit: true, action: "task.purge", reqId: who.reqId, taskId: t.taskId, folderDeleted, keyId: who.keyId }, "task purged");
  return { folderDeleted };
}

/**
 * Deletes every ended task the query names, one after another, so that of tasks sharing a folder
 * (a session and its continuations) the last one deleted takes the folder with it. One whose files
 * cannot be deleted is kept and the rest go on; the answer is then a 500 that lists both.
 */
export async function purgeTasks(d: PurgeDeps, q: PurgeQuery, who: Actor): Promise<PurgedTasks> {
  const found = d.store.list({ statuses: q.statuses, agent: q.agent, provider: q.provider, labels: q.labels, limit: Number.MAX_SAFE_INTEGER }).tasks;
  const done: PurgedTasks = { taskIds: [], foldersKept: [] };
  const failed: { taskId: string; message: string }[] = [];
  for (const t of found) {
    if (!hasEnded(d, t)) continue;
    const outcome = await deleteEnded(d, t);
    if ("failed" in outcome) failed.push({ taskId: t.taskId, message: outcome.failed });
    else if (outcome.deleted) {
      done.taskIds.push(t.taskId);
      if (!outcome.deleted.folderDeleted) done.foldersKept.push(t.taskId);
    } // else a retention sweep's meanwhile
  }
  const { agent, provider, labels } = q;
  d.logger.info({ audit: true, action: "task.purge", reqId: who.reqId, taskIds: done.taskIds, failed: failed.map((f) => f.taskId), statuses: q.statuses, agent, provider, labels, keyId: who.keyId }, "tasks purged");
  if (failed.length) {
    throw new ApiError(500, `Could not delete the files of ${failed.length} of ${failed.length + done.taskIds.length} tasks; their records are kept, to try again (the others are deleted)`, {
      details: { purged: done.taskIds, failed },
    });
  }
  return done;
}
