/**
 * Tasks asked for with `queue` while every MAX_ACTIVE_TASKS slot was busy. They are kept in the
 * store as `queued` (a restart of the API keeps them), with their folders, logs and files made, and
 * start in the order they came as slots free.
 */
import type { Logger } from "pino";
import type { Metrics } from "../metrics.ts";
import { providerNamed, type Provider } from "./providers.ts";
import type { TaskStore } from "./task-store.ts";
import type { TaskRecord, TaskStatus } from "./task.ts";

/** Most tasks waiting for a slot: past it, a request to queue one is refused as busy. */
export const MAX_QUEUED = 1000;

export interface QueueDeps {
  store: TaskStore;
  providers: Record<string, Provider>;
  metrics: Metrics;
  logger: Logger;
  /** Whether a slot is free now. */
  hasRoom(): boolean;
  /** Whether the provider is below its own maxActive. */
  hasRoomFor(provider: string): boolean;
  /** Starts a queued task with what its command needs. Throws when its start cannot be recorded. */
  launch(t: TaskRecord, provider: Provider, sessionId: string): void;
  /** Tells those waiting for the task's end. */
  ended(t: TaskRecord): void;
}

export class TaskQueue {
  readonly #d: QueueDeps;

  constructor(deps: QueueDeps) {
    this.#d = deps;
  }

  get length(): number {
    return this.#d.store.queuedCount();
  }

  isFull(): boolean {
    return this.length >= MAX_QUEUED;
  }

  /** The task, if it is queued. */
  get(taskId: string): TaskRecord | undefined {
    const t = this.#d.store.get(taskId);
    return t?.status === "queued" ? t : undefined;
  }

  /**
   * Starts the queued tasks that free slots allow, the first queued first; one whose provider is at
   * its maxActive waits, and those behind it of other providers go ahead.
   */
  drain() {
    for (const t of this.#d.store.queued()) {
      if (!this.#d.hasRoom()) return;
      if (!this.#d.hasRoomFor(t.provider)) continue;
      const provider = providerNamed(this.#d.providers, t.provider);
      // The session a queued continuation goes on with is the earlier task's, as it ended.
      const sessionId = t.continuedFrom === null ? "" : (this.#d.store.get(t.continuedFrom)?.sessionId ?? null);
      if (!provider || sessionId === null) {
        this.end(t, "failed", `Could not start: ${provider ? `the task it continues (${t.continuedFrom}) is gone` : `its provider ${t.provider} is no longer configured`}`);
        continue;
      }
      try {
        this.#d.launch({ ...t, status: "running", startTime: Date.now() }, provider, sessionId);
      } catch (err) {
        // Its start not recorded (a full disk): it stays queued, and is tried again when a task ends.
        this.#d.logger.error({ taskId: t.taskId, err }, "starting a queued task failed; it stays queued");
        return;
      }
    }
  }

  /** Takes the task out of the queue, if it is queued, as `status` (stopped, or failed past a limit). */
  stop(taskId: string, status: TaskStatus, error: string | null): TaskRecord | undefined {
    const t = this.get(taskId);
    return t && this.end(t, status, error);
  }

  /** A queued task ends without having run: stopped, or unable to start. Its duration is none, not its wait. */
  end(t: TaskRecord, status: TaskStatus, error: string | null): TaskRecord {
    const now = Date.now();
    const done: TaskRecord = { ...t, status, startTime: now, exitTime: now, error };
    this.#d.store.update(t.taskId, { status, startTime: now, exitTime: now, error });
    this.#d.metrics.completedTasks.inc({ status });
    this.#d.metrics.queuedTasks.set(this.length);
    this.#d.ended(done);
    return done;
  }
}
