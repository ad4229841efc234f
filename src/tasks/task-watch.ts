/**
 * The periodic check of running tasks (every 0.5 s while any runs): an adopted task
 * (re-attached after a restart, whose exit the API cannot await) is looked up through its exit file,
 * and every task is held to its limits (time, log size, memory).
 */
import { appendFileSync } from "node:fs";
import type { Logger } from "pino";
import type { Metrics } from "../metrics.ts";
import { processMatches, tasksUsage } from "./process-group.ts";
import { readExitFile } from "./spawn.ts";
import { limitBreach } from "./task-limits.ts";
import type { TaskRecord, TaskStatus } from "./task.ts";

type Exit = { exitCode: number | null; signal: string | null };

export interface WatchDeps {
  /** The tasks whose processes may be alive. */
  live(): readonly TaskRecord[];
  /** Whether this API spawned the task itself (it then hears of the end from the process). */
  owns(t: TaskRecord): boolean;
  finish(t: TaskRecord, exit: Exit, error: string | null): void;
  stop(taskId: string, reason: { status: TaskStatus; error?: string }): void;
  exitFile(taskId: string): string;
  logMaxBytes: number;
  /** Most resident memory a task's processes may hold together; undefined: not checked. */
  memoryMaxBytes?: number;
  logger: Logger;
  metrics: Metrics;
  pollMs?: number;
}

export class TaskWatch {
  readonly #d: WatchDeps;
  #timer: Timer | undefined;
  /** Tasks whose last check failed (logged once until one succeeds). */
  readonly #failed = new Set<string>();
  /**
   * Exit statuses heard from the process (the API was its parent) that could not be recorded: the
   * exit file may be missing too, when the same full disk kept the supervisor shell from writing it.
   */
  readonly #heard = new Map<string, Exit>();

  constructor(deps: WatchDeps) {
    this.#d = deps;
  }

  /** Checks every poll interval while a task runs. */
  ensure() {
    if (this.#timer || this.#d.live().length === 0) return;
    this.#timer = setInterval(() => this.#poll(), this.#d.pollMs ?? 500);
  }

  /**
   * A task whose end could not be recorded (a full disk): checked, and recorded, at the next checks,
   * with the status its process ended with where the exit file lacks it.
   */
  markFailed(taskId: string, exit?: Exit) {
    this.#failed.add(taskId);
    if (exit) this.#heard.set(taskId, exit);
  }

  close() {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #poll() {
    const live = this.#d.live();
    // One pass over /proc for every task, and only when a limit asks for it.
    const usage = this.#d.memoryMaxBytes === undefined ? undefined : tasksUsage(live.filter((t) => t.stopRequestedAt === null).map((t) => t.taskId));
    for (const t of live) {
      try {
        this.#check(t, usage?.get(t.taskId)?.memoryBytes);
        this.#failed.delete(t.taskId);
      } catch (err) {
        // From a timer an exception would end the process, and the next start would meet the same task.
        // Said once per task until a check succeeds: a full disk would otherwise be logged twice a second.
        if (!this.#failed.has(t.taskId)) this.#d.logger.error({ taskId: t.taskId, err }, "checking a running task failed; trying again at every check");
        this.#failed.add(t.taskId);
      }
    }
    if (this.#d.live().length === 0) this.close();
  }

  #check(t: TaskRecord, memoryBytes: number | undefined) {
    // Tasks we spawned report their end through the exit promise; only adopted ones are looked up.
    if (!this.#d.owns(t)) {
      const exit = readExitFile(this.#d.exitFile(t.taskId)) ?? this.#heard.get(t.taskId);
      if (exit) {
        this.#d.finish(t, exit, null);
        this.#heard.delete(t.taskId);
        return;
      }
      if (t.pid !== null && !processMatches(t.pid, t.taskId)) {
        const late = readExitFile(this.#d.exitFile(t.taskId));
        return this.#d.finish(t, late ?? { exitCode: null, signal: null }, late ? null : "The task's process ended without recording an exit status");
      }
    }
    if (t.stopRequestedAt !== null) return;
    const breach = limitBreach(t, { logMaxBytes: this.#d.logMaxBytes, memoryMaxBytes: this.#d.memoryMaxBytes }, { memoryBytes });
    if (!breach) return;
    this.#d.logger.warn({ taskId: t.taskId, limit: breach.limit, ...breach.details, reason: breach.error }, "task past a limit; stopping it");
    this.#d.metrics.tasksStoppedByLimit.inc({ limit: breach.limit });
    this.#failWithNote(t, breach.error);
  }

  /** Stops a task as `failed` with `error`, and ends its log (and so its stream) with a line saying why. */
  #failWithNote(t: TaskRecord, error: string) {
    // Stop first: a runaway log may have filled the disk, and then the note below cannot be written.
    this.#d.stop(t.taskId, { status: "failed", error });
    try {
      appendFileSync(t.logFile, `\n[management-api] ${error}\n`);
    } catch (err) {
      this.#d.logger.warn({ taskId: t.taskId, err: (err as Error).message }, "could not note why the task was stopped in its log");
    }
  }
}
