/** Finished tasks past TASK_RETENTION go (or at a client's word): their folders, logs and exit files, then their records. */
import type { Logger } from "pino";
import type { TaskRecord } from "./task.ts";
import type { TaskStore } from "./task-store.ts";

export interface DeleterDeps {
  store: TaskStore;
  exitFile: (taskId: string) => string;
  /** Deletes a file or a directory tree, off the event loop (removeTree). */
  remove: (path: string) => void | Promise<void>;
  /** Whether the supervisor closed (and the database with it): nothing more is deleted. */
  closed: () => boolean;
}

/** What deleting a task did: whether its folder went (a continuation's folder stays until the last of them goes). */
export interface TaskDeleted {
  folderDeleted: boolean;
}

/** Thrown for a deletion asked for, or under way, when the supervisor closes. */
export class DeleterClosedError extends Error {
  constructor() {
    super("the API is shutting down");
  }
}

/**
 * Deletes finished tasks one at a time, whoever asks: a retention sweep and a purge may take the same
 * tasks at once. Side by side, a session and its continuation would each find the other still
 * there and keep their shared folder, which no record would then lead to. At its turn a task is
 * read again, and one deleted meanwhile is skipped.
 */
export class TaskDeleter {
  readonly #d: DeleterDeps;
  #turn: Promise<unknown> = Promise.resolve();
  /** Tasks whose deletion is asked for and not yet done. */
  readonly #pending = new Set<string>();

  constructor(deps: DeleterDeps) {
    this.#d = deps;
  }

  /**
   * Deletes the task's files, then its record, once the deletions asked for before it are done.
   * Resolves to what went, or null when the task was gone already. Throws when a file cannot be
   * deleted (the record stays, to try again) or the supervisor has closed.
   */
  delete(taskId: string): Promise<TaskDeleted | null> {
    this.#pending.add(taskId);
    const run = this.#turn.then(() => this.#deleteNow(taskId)).finally(() => this.#pending.delete(taskId));
    this.#turn = run.catch(() => {});
    return run;
  }

  /**
   * Whether the task's deletion is asked for and not done: no continuation may start in its folder
   * then, which its deletion may have found unshared and be removing.
   */
  isDeleting(taskId: string): boolean {
    return this.#pending.has(taskId);
  }

  async #deleteNow(taskId: string): Promise<TaskDeleted | null> {
    if (this.#d.closed()) throw new DeleterClosedError();
    const t = this.#d.store.get(taskId);
    if (!t) return null;
    const folderDeleted = await deleteTaskFiles(this.#d, t);
    if (this.#d.closed()) throw new DeleterClosedError(); // the database with it
    this.#d.store.delete(taskId);
    return { folderDeleted };
  }
}

/**
 * Deletes finished tasks past their retention. A directory that cannot be deleted (a mount inside
 * it, a file owned by another user) keeps its task's record and log, is logged, and is tried again
 * next sweep; the others go ahead. Resolves to how many were deleted.
 */
export async function pruneTasks(d: { store: TaskStore; deleter: TaskDeleter; logger: Logger }, retentionMs: number): Promise<number> {
  let deleted = 0;
  for (const t of d.store.finishedBefore(Date.now() - retentionMs)) {
    try {
      if (await d.deleter.delete(t.taskId)) deleted++;
    } catch (err) {
      if (err instanceof DeleterClosedError) break;
      d.logger.warn({ taskId: t.taskId, taskDir: t.taskDir, err: (err as Error).message }, "could not delete a finished task's files; keeping its record and trying again next sweep");
    }
  }
  return deleted;
}

/**
 * Deletes a finished task's folder (unless another task works, or worked, in it: a continuation's
 * folder stays until the last of them goes), its log and its exit file. Throws when one cannot be
 * deleted; its record is the caller's to delete once this has succeeded. Resolves to whether the
 * folder went.
 */
async function deleteTaskFiles(d: Pick<DeleterDeps, "store" | "exitFile" | "remove">, t: TaskRecord): Promise<boolean> {
  const shared = d.store.sharesFolder(t);
  if (!shared) await d.remove(t.taskDir);
  await d.remove(t.logFile);
  await d.remove(d.exitFile(t.taskId));
  return !shared;
}
