/** Finished tasks past TASK_RETENTION go (or one at a client's word): their folders, logs and exit files, then their records. */
import type { Logger } from "pino";
import type { TaskRecord } from "./task.ts";
import type { TaskStore } from "./task-store.ts";

export interface PruneDeps {
  store: TaskStore;
  exitFile: (taskId: string) => string;
  /** Deletes a file or a directory tree, off the event loop (removeTree). */
  remove: (path: string) => void | Promise<void>;
  logger: Logger;
  /** Whether the supervisor closed (and the database with it): a sweep under way stops there. */
  closed: () => boolean;
}

/**
 * Deletes finished tasks past their retention: directory (unless another task still uses it, as a
 * continuation does), log, exit file, then the record. A directory that cannot be deleted (a mount
 * inside it, a file owned by another user) keeps its task's record and log, is logged, and is tried
 * again next sweep; the others go ahead. Files go one task at a time. Resolves to how many were
 * deleted.
 */
export async function pruneTasks(d: PruneDeps, retentionMs: number): Promise<number> {
  let deleted = 0;
  for (const t of d.store.finishedBefore(Date.now() - retentionMs)) {
    if (d.closed()) break;
    try {
      await deleteTaskFiles(d, t);
    } catch (err) {
      d.logger.warn({ taskId: t.taskId, taskDir: t.taskDir, err: (err as Error).message }, "could not delete a finished task's files; keeping its record and trying again next sweep");
      continue;
    }
    if (d.closed()) break; // the database with it
    d.store.delete(t.taskId);
    deleted++;
  }
  return deleted;
}

/**
 * Deletes a finished task's folder (unless another task works, or worked, in it: a continuation's
 * folder stays until the last of them goes), its log and its exit file. Throws when one cannot be
 * deleted; its record is the caller's to delete once this has succeeded. Resolves to whether the
 * folder went.
 */
export async function deleteTaskFiles(d: Pick<PruneDeps, "store" | "exitFile" | "remove">, t: TaskRecord): Promise<boolean> {
  const shared = d.store.sharesFolder(t);
  if (!shared) await d.remove(t.taskDir);
  await d.remove(t.logFile);
  await d.remove(d.exitFile(t.taskId));
  return !shared;
}
