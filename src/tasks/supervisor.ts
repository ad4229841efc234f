/**
 * Starts, stops and watches task processes, and keeps their records true across API restarts.
 *
 * Each task runs under a supervisor shell (see spawn.ts) that leads its own process group and
 * writes the exit status to `<logs>/tasks/<id>.exit`. While the API is the parent it learns of the
 * end from the process itself; tasks adopted after a restart are polled (task-watch.ts, which also
 * holds every task to its limits). Tasks that wait for a slot are task-queue.ts's.
 */
import type { Logger } from "pino";
import { recordAgentUsage, type Metrics } from "../metrics.ts";
import { groupAlive, processMatches, signalEach, signalGroup, taskProcesses } from "./process-group.ts";
import { LocalPorts } from "./local-port.ts";
import { buildArgv, buildEnv, providerNamed, usesPort, type Provider } from "./providers.ts";
import { OnceListeners } from "../keyed-listeners.ts";
import { pruneTasks, TaskDeleter, type TaskDeleted } from "./prune.ts";
import { TaskQueue } from "./task-queue.ts";
import { TaskWatch } from "./task-watch.ts";
import { removeTree } from "./remove-tree.ts";
import { TaskPaths } from "./task-paths.ts";
import { InputPathError, writeInputs } from "./task-inputs.ts";
import type { StartInput, StartResult } from "./start-request.ts";
import { readExitFile, resolveCommand, type SpawnFn } from "./spawn.ts";
import type { TaskStore } from "./task-store.ts";
import { agentResult, exitError, finalEvent } from "./final-event.ts";
import { durationSeconds, NOT_STARTED, type TaskRecord, type TaskStatus } from "./task.ts";

export interface SupervisorOptions {
  store: TaskStore;
  spawn: SpawnFn;
  providers: Record<string, Provider>;
  workspaceDir: string;
  logsDir: string;
  envSource: Readonly<Record<string, string>>;
  /** TASK_ENV: variables (names or "PREFIX_*") every task gets when set. */
  taskEnv?: readonly string[];
  maxActive: number;
  stopGraceMs: number;
  logMaxBytes: number;
  /** Most resident memory a task's processes may hold together (TASK_MEMORY_MAX_BYTES); undefined: no limit. */
  memoryMaxBytes?: number;
  claudePermissionMode: string;
  metrics: Metrics;
  logger: Logger;
  /** How often adopted tasks and log sizes are checked. */
  pollMs?: number;
  /** Deletes a file or a directory tree (default removeTree); tests make it fail. */
  removePath?: (path: string) => void | Promise<void>;
}

export class TaskSupervisor {
  readonly #o: SupervisorOptions;
  /** Deletes ended tasks, one at a time (see prune.ts). */
  readonly #deleter: TaskDeleter;
  /** Tasks whose processes may be alive, by id. */
  readonly #live = new Map<string, TaskRecord>();
  readonly #endListeners = new OnceListeners<TaskRecord>();
  readonly #killTimers = new Map<string, Timer>();
  #closed = false;
  /** Set while recover() re-attaches tasks: no queued one starts, as a slot may be held by one not yet seen. */
  #recovering = false;
  /** {port}s for the CLIs that serve something of their own. */
  readonly #ports = new LocalPorts();
  readonly #paths: TaskPaths;
  readonly #queue: TaskQueue;
  readonly #watch: TaskWatch;

  constructor(options: SupervisorOptions) {
    this.#o = options;
    // Files are deleted by removeTree unless a test gives another remover.
    this.#deleter = new TaskDeleter({ store: options.store, exitFile: (id) => this.#paths.exit(id), remove: options.removePath ?? removeTree, closed: () => this.#closed });
    this.#paths = new TaskPaths(options.workspaceDir, options.logsDir);
    this.#watch = new TaskWatch({
      live: () => [...this.#live.values()],
      owns: (t) => this.#owned.has(t),
      finish: (t, exit, error) => this.#finish(t, exit, error),
      stop: (taskId, reason) => this.stop(taskId, reason),
      exitFile: (taskId) => this.#paths.exit(taskId),
      logMaxBytes: options.logMaxBytes,
      memoryMaxBytes: options.memoryMaxBytes,
      logger: options.logger,
      metrics: options.metrics,
      pollMs: options.pollMs,
    });
    this.#queue = new TaskQueue({
      store: options.store,
      providers: options.providers,
      metrics: options.metrics,
      logger: options.logger,
      hasRoom: () => !this.#closed && !this.#recovering && this.#live.size < this.#o.maxActive,
      hasRoomFor: (name) => !this.#providerFull(name),
      launch: (t, provider, sessionId) => this.#launch(t, provider, sessionId, false),
      ended: (t) => this.#endListeners.fire(t.taskId, t),
    });
  }

  get providers(): Record<string, Provider> {
    return this.#o.providers;
  }

  get maxActive(): number {
    return this.#o.maxActive;
  }

  activeCount(): number {
    return this.#live.size;
  }

  /** Running tasks by provider (those with none running left out). */
  activeByProvider(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const t of this.#live.values()) counts[t.provider] = (counts[t.provider] ?? 0) + 1;
    return counts;
  }

  /** Whether the provider has as many tasks running as its maxActive allows. */
  #providerFull(name: string): boolean {
    const max = providerNamed(this.#o.providers, name)?.maxActive;
    return max !== undefined && (this.activeByProvider()[name] ?? 0) >= max;
  }

  queuedCount(): number {
    return this.#queue.length;
  }

  /** Whether the task has yet to end: running, or queued. */
  isLive(taskId: string): boolean {
    return this.#live.has(taskId) || this.#queue.get(taskId) !== undefined;
  }

  /** Calls `fn` once when the task ends; returns an unsubscribe function. */
  onEnded(taskId: string, fn: (task: TaskRecord) => void): () => void {
    return this.#endListeners.add(taskId, fn);
  }

  /** Re-attaches to tasks left by a previous run of the API; call once at start. */
  recover() {
    this.#recovering = true;
    for (const t of this.#o.store.live()) {
      try {
        const exit = readExitFile(this.#paths.exit(t.taskId));
        if (exit) this.#finish(t, exit, null);
        else if (t.pid !== null && processMatches(t.pid, t.taskId)) {
          this.#live.set(t.taskId, t);
          // A stop that was under way when the API went down is carried through.
          if (t.stopRequestedAt !== null) this.#terminate(t, Math.max(0, t.stopRequestedAt + this.#o.stopGraceMs - Date.now()));
          this.#o.logger.info({ taskId: t.taskId, pid: t.pid }, "re-attached to running task");
        } else {
          this.#finish(t, { exitCode: null, signal: null }, "The task's process ended while the API was not running and left no exit status");
        }
      } catch (err) {
        // Its end could not be recorded (a full disk): the server still starts, and the poller records it later.
        this.#o.logger.error({ taskId: t.taskId, err }, "recording a task's end failed; trying again at the next check");
        this.#live.set(t.taskId, t);
        this.#watch.markFailed(t.taskId);
      }
    }
    this.#recovering = false;
    this.#updateGauge();
    this.#watch.ensure();
    this.#queue.drain();
  }

  /**
   * Starts a task, or with `queue` and every slot busy, queues it (its folder, log and files made
   * now). Never throws for the task's own failures: those are recorded on the task.
   */
  start(input: StartInput): StartResult {
    const provider = providerNamed(this.#o.providers, input.provider);
    if (!provider) throw new Error(`No provider named ${input.provider}`);
    const allFull = this.#live.size >= this.#o.maxActive;
    const providerFull = !allFull && this.#providerFull(input.provider);
    const busy = allFull || providerFull;
    if (busy && (!input.queue || this.#queue.isFull())) {
      return { ok: false, reason: "busy", ...(providerFull ? { provider: { name: input.provider, maxActive: provider.maxActive! } } : {}) };
    }
    const taskId = crypto.randomUUID();
    const taskDir = input.continues?.taskDir ?? this.#paths.dir(taskId);
    try {
      this.#paths.prepare(taskId, input.continues?.taskDir);
      writeInputs(taskDir, input.files ?? []);
    } catch (err) {
      // A new task's folder goes with what was written; a continuation's keeps the files written before the error.
      this.#paths.discard(taskId);
      if (err instanceof InputPathError) return { ok: false, reason: "inputs", error: err.message };
      return { ok: false, reason: "storage", error: (err as Error).message, code: (err as NodeJS.ErrnoException).code };
    }
    const record: TaskRecord = {
      ...NOT_STARTED,
      taskId,
      agent: input.agent,
      task: input.task,
      provider: input.provider,
      status: busy ? "queued" : "running",
      startTime: Date.now(),
      taskDir,
      logFile: this.#paths.log(taskId),
      createdBy: input.createdBy,
      timeoutMs: input.timeoutMs,
      noOutputTimeoutMs: input.noOutputTimeoutMs ?? null,
      model: input.model ?? null,
      continuedFrom: input.continues?.taskId ?? null,
      webhookUrl: input.webhookUrl ?? null,
      labels: input.labels ?? null,
    };
    if (!busy) return this.#launch(record, provider, input.continues?.sessionId ?? "", true);
    try {
      this.#o.store.insert(record);
    } catch (err) {
      this.#paths.discard(taskId);
      throw err;
    }
    this.#updateGauge();
    return { ok: true, task: record };
  }

  /** Spawns `record`'s command; `fresh`: the record is new (else a queued one, already stored). */
  #launch(record: TaskRecord, provider: Provider, sessionId: string, fresh: boolean): StartResult {
    const { taskId, taskDir, logFile } = record;
    const port = usesPort(provider) ? String(this.#ports.take()) : "";
    const vars = { agent: record.agent, task: record.task, taskId, taskDir, permissionMode: this.#o.claudePermissionMode, port, sessionId, model: record.model ?? "" };
    const argv = buildArgv(provider, vars, record.continuedFrom !== null);
    const env = buildEnv(provider, this.#o.envSource, vars, this.#o.taskEnv);
    const save = ({ taskId: _, ...fields }: TaskRecord) => (fresh ? this.#o.store.insert({ taskId, ...fields }) : this.#o.store.update(taskId, fields));
    const fail = (error: string): StartResult => {
      const failed: TaskRecord = { ...record, status: "failed", exitTime: Date.now(), error };
      save(failed);
      this.#o.metrics.completedTasks.inc({ status: "failed" });
      this.#o.metrics.taskDuration.observe({ task_type: record.provider, status: "failed" }, 0);
      if (!fresh) {
        // A queued task may have someone waiting for its end (?wait, a log stream).
        this.#updateGauge();
        this.#endListeners.fire(taskId, failed);
      }
      return { ok: false, reason: "start-failed", task: failed, error };
    };
    if (!resolveCommand(argv[0]!, env, taskDir)) return fail(`spawn ${argv[0]} ENOENT`);
    let proc;
    try {
      proc = this.#o.spawn({ argv, cwd: taskDir, env, logFile, statusFile: this.#paths.exit(taskId) });
    } catch (err) {
      return fail(`spawn ${argv[0]} ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    record.pid = proc.pid;
    try {
      save(record);
    } catch (err) {
      // Unrecorded, it would run on unsupervised (a full disk fails the insert): it goes, with its
      // files (nothing would ever prune them), and the error is the answer. They were made just now
      // and hold next to nothing, so they go at once, before the answer.
      signalGroup(proc.pid, "SIGKILL");
      if (fresh) this.#paths.discard(taskId);
      throw err;
    }
    this.#owned.add(record);
    this.#live.set(taskId, record);
    this.#updateGauge();
    this.#watch.ensure();
    proc.exited.then(({ code, signal }) => {
      const current = this.#live.get(taskId);
      // After close() the next start of the API records the end from the exit file.
      if (!current || this.#closed) return;
      // The exit file is the truth; without it the supervisor itself was killed (SIGKILL escalation).
      const exit = readExitFile(this.#paths.exit(taskId)) ?? { exitCode: code, signal };
      try {
        this.#finish(current, exit, null);
      } catch (err) {
        // Not recorded (a full disk): the poller takes it over, as after a restart, and records it when it can.
        this.#o.logger.error({ taskId, err }, "recording a task's end failed; trying again at the next check");
        this.#owned.delete(current);
        this.#watch.markFailed(taskId, exit);
      }
    });
    return { ok: true, task: record };
  }

  /**
   * Asks the task to stop: SIGTERM to its group now, SIGKILL after the grace period. One that has
   * just ended on its own, its exit status written but its end not yet noticed, keeps that end: it
   * is recorded now, and returned as it ended (not `stopped`).
   */
  stop(taskId: string, reason: { status: TaskStatus; error?: string } = { status: "stopped" }): TaskRecord | undefined {
    const t = this.#live.get(taskId);
    if (!t) return this.#queue.stop(taskId, reason.status, reason.error ?? null);
    if (t.stopRequestedAt !== null) return t;
    const exit = readExitFile(this.#paths.exit(taskId));
    if (exit) {
      this.#finish(t, exit, null);
      return this.#o.store.get(taskId);
    }
    t.stopRequestedAt = Date.now();
    t.status = reason.status;
    t.error = reason.error ?? null;
    this.#o.store.update(taskId, { status: t.status, stopRequestedAt: t.stopRequestedAt, error: t.error });
    this.#terminate(t, this.#o.stopGraceMs);
    return t;
  }

  /** SIGTERM to the task's group and to its descendants outside it; SIGKILL to what is left after `graceMs`. */
  #terminate(t: TaskRecord, graceMs: number) {
    const pgid = t.pid!;
    signalGroup(pgid, "SIGTERM");
    signalEach(taskProcesses(t.taskId), "SIGTERM");
    const check = () => {
      this.#killTimers.delete(t.taskId);
      if (groupAlive(pgid)) signalGroup(pgid, "SIGKILL");
      signalEach(taskProcesses(t.taskId), "SIGKILL");
    };
    clearTimeout(this.#killTimers.get(t.taskId));
    this.#killTimers.set(t.taskId, setTimeout(check, graceMs));
  }

  #finish(t: TaskRecord, exit: { exitCode: number | null; signal: string | null }, error: string | null) {
    if (t.exitTime !== null) return;
    const stopped = t.stopRequestedAt !== null;
    const status: TaskStatus = stopped ? t.status : exit.exitCode === 0 ? "completed" : "failed";
    const event = finalEvent(t.logFile);
    const ended = {
      status,
      exitTime: Date.now(),
      exitCode: exit.exitCode,
      signal: exit.signal,
      error: t.error ?? error ?? (status === "failed" ? exitError(event, exit) : null),
      ...agentResult(event),
    };
    const done: TaskRecord = { ...t, ...ended };
    this.#o.store.update(t.taskId, ended);
    // Only once the end is recorded (a full disk makes that throw): until then the task stays live and is checked again.
    this.#live.delete(t.taskId);
    // The main process is gone; nothing it started may outlive it.
    if (t.pid !== null && (groupAlive(t.pid) || taskProcesses(t.taskId).length > 0)) this.#terminate(t, Math.min(this.#o.stopGraceMs, 2000));
    else {
      clearTimeout(this.#killTimers.get(t.taskId));
      this.#killTimers.delete(t.taskId);
    }
    this.#o.metrics.completedTasks.inc({ status });
    this.#o.metrics.taskDuration.observe({ task_type: t.provider, status }, durationSeconds(done));
    recordAgentUsage(this.#o.metrics, done);
    this.#updateGauge();
    this.#o.logger.info({ taskId: t.taskId, status, exitCode: done.exitCode, signal: done.signal, ...(done.costUsd === null ? {} : { costUsd: done.costUsd }) }, "task ended");
    this.#endListeners.fire(t.taskId, done);
    // A slot is free: the first queued task takes it.
    this.#queue.drain();
  }

  #updateGauge() {
    const m = this.#o.metrics;
    m.activeTasks.set(this.#live.size);
    m.queuedTasks.set(this.#queue.length);
    const active = this.activeByProvider();
    for (const provider of Object.keys(this.#o.providers)) m.providerActiveTasks.set({ provider }, active[provider] ?? 0);
  }

  /** Records of processes this API spawned itself (the others were adopted after a restart). */
  readonly #owned = new WeakSet<TaskRecord>();

  /** Deletes finished tasks past their retention (see prune.ts); resolves to how many were deleted. */
  prune(retentionMs: number): Promise<number> {
    return pruneTasks({ store: this.#o.store, deleter: this.#deleter, logger: this.#o.logger }, retentionMs);
  }

  /**
   * Deletes an ended task now: its files as retention deletes them, then its record. Throws when a
   * file cannot be deleted (the record stays, to try again). Resolves to whether its folder went, or
   * null when it was deleted meanwhile (by a retention sweep).
   */
  purge(t: TaskRecord): Promise<TaskDeleted | null> {
    return this.#deleter.delete(t.taskId);
  }

  /** Whether the task is being deleted (purged, or past its retention). */
  isDeleting(taskId: string): boolean {
    return this.#deleter.isDeleting(taskId);
  }

  /** Stops watching; running tasks keep running and are re-attached by the next start. */
  close() {
    this.#closed = true;
    this.#watch.close();
    for (const timer of this.#killTimers.values()) clearTimeout(timer);
    this.#killTimers.clear();
  }
}
