/** Where a task's files live: its folder under `WORKSPACE/tasks`, its log and exit status under `LOGS_DIR/tasks`. */
import { appendFileSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";

export class TaskPaths {
  readonly #tasksDir: string;
  readonly #logsDir: string;

  constructor(workspaceDir: string, logsDir: string) {
    this.#tasksDir = join(workspaceDir, "tasks");
    this.#logsDir = join(logsDir, "tasks");
    this.#makeFolders();
  }

  dir(taskId: string) {
    return join(this.#tasksDir, taskId);
  }

  log(taskId: string) {
    return join(this.#logsDir, `${taskId}.log`);
  }

  /** Written by the task's supervisor shell when its command ends (spawn.ts). */
  exit(taskId: string) {
    return join(this.#logsDir, `${taskId}.exit`);
  }

  /**
   * Makes a new task's folder and its empty log; a task that goes on in an earlier one's `folder`
   * makes only its log (and the folder again, should a clean-up have removed it). Throws (a full
   * disk, a read-only one) leaving neither behind.
   */
  prepare(taskId: string, folder?: string) {
    try {
      this.#makeFolders();
      if (folder) mkdirSync(folder, { recursive: true, mode: 0o700 });
      else mkdirSync(this.dir(taskId));
      appendFileSync(this.log(taskId), "");
    } catch (err) {
      this.discard(taskId);
      throw err;
    }
  }

  /** Deletes the folder and log of a task that was never recorded, as far as it can (they hold next to nothing). */
  discard(taskId: string) {
    for (const path of [this.dir(taskId), this.log(taskId)]) {
      try {
        rmSync(path, { recursive: true, force: true });
      } catch {
        // best effort
      }
    }
  }

  /**
   * The folders above, for this user only, as the ones above them (server.ts). Made again for each
   * task: a clean-up may remove them while the API runs (`rm -rf logs/*`, or systemd-tmpfiles
   * ageing out an idle DATA_DIR under /tmp).
   */
  #makeFolders() {
    mkdirSync(this.#tasksDir, { recursive: true, mode: 0o700 });
    mkdirSync(this.#logsDir, { recursive: true, mode: 0o700 });
  }
}
