/** What the task routes call: create, read, list, stop and stream tasks. */
import type { Logger } from "pino";
import { ApiError, isDiskFull } from "../http/errors.ts";
import { waitUntil } from "../http/long-poll.ts";
import { preview } from "../http/openapi.ts";
import type { Actor } from "../http/types.ts";
import type { Lifecycle } from "../lifecycle.ts";
import { startSweeping } from "../retention.ts";
import { fileSize, lastLinesStart, lastWrite, tailLines } from "./log-files.ts";
import { LogFollower, type Subscriber } from "./log-follower.ts";
import { followFile } from "./log-tail.ts";
import { TaskEvents } from "./task-events.ts";
import { purgeTask, purgeTasks, type PurgedTasks, type PurgeQuery } from "./task-purge.ts";
import { providerNamed, type Provider } from "./providers.ts";
import { decodeInputs, type InputFile } from "./task-inputs.ts";
import type { TaskSupervisor } from "./supervisor.ts";
import type { StartResult } from "./start-request.ts";
import type { ListQuery, TaskStore } from "./task-store.ts";
import type { TaskRecord } from "./task.ts";
import { resultView, taskView } from "./task-view.ts";
import type { WebhookEvent } from "../webhooks/webhook-sender.ts";
import { resendWebhook } from "../webhooks/resend.ts";
import type { Delivery, WebhookStore } from "../webhooks/webhook-store.ts";
import { parseLabels, storeLabels, type Labels } from "../labels.ts";
import { taskUsage } from "./process-group.ts";

const LOG_TAIL_LINES = 50;

export type { Actor };
const encoder = new TextEncoder();

/** What a request may add to a task it starts, new or continued. */
interface StartOptions {
  timeoutSeconds?: number;
  noOutputTimeoutSeconds?: number;
  /** The model to run with; null: the provider's default. */
  model?: string | null;
  files?: InputFile[];
  queue?: boolean;
  webhookUrl?: string | null;
  labels?: Labels | null;
}

export interface TaskServiceOptions {
  store: TaskStore;
  supervisor: TaskSupervisor;
  lifecycle: Lifecycle;
  logger: Logger;
  heartbeatMs: number;
  /** undefined keeps finished tasks forever. */
  retentionMs: number | undefined;
  /** Time limit of a task whose request sets none (TASK_TIMEOUT); undefined: none. */
  defaultTimeoutMs: number | undefined;
  /** No-output limit of a task whose request sets none (TASK_NO_OUTPUT_TIMEOUT); undefined: none. */
  defaultNoOutputTimeoutMs: number | undefined;
  defaultProvider: string;
  /** The webhook outbox, for the state of each task's notification. */
  webhooks: WebhookStore;
  /** Where an end goes when the request names no webhookUrl (WEBHOOK_URL). */
  defaultWebhookUrl?: string;
}

/** The model a task asks for, if its provider can take one (its `modelArgs`); else the 422 that says so. */
function modelFor(name: string, provider: Provider, model: string | null): string | null {
  if (model !== null && !provider.modelArgs) {
    throw new ApiError(422, `Provider '${name}' cannot pick a model: it has no "modelArgs" (as claude-flow has: ["--model", "{model}"])`);
  }
  return model;
}

/** A request's limit in seconds as stored: absent keeps `fallback`, 0 asks for none. */
const limitMs = (seconds: number | undefined, fallback: number | null) => (seconds === undefined ? fallback : seconds * 1000 || null);

const sse = (event: string, data: unknown) => encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);

export class TaskService {
  readonly #o: TaskServiceOptions;
  readonly #followers = new Map<string, LogFollower>();
  readonly #pruner: Timer | undefined;
  readonly #events: TaskEvents;

  constructor(options: TaskServiceOptions) {
    this.#o = options;
    this.#events = new TaskEvents({ heartbeatMs: options.heartbeatMs, stopping: options.lifecycle.stopping });
    options.supervisor.recover();
    if (options.retentionMs !== undefined) {
      this.#pruner = startSweeping(options.retentionMs, () => this.prune(), (err) => options.logger.error({ err }, "deleting tasks past TASK_RETENTION failed; trying again next sweep"));
    }
    options.lifecycle.stopping.addEventListener("abort", () => {
      const bye = sse("shutdown", { message: "Server is shutting down; reconnect with Last-Event-ID to resume", timestamp: new Date().toISOString() });
      for (const f of this.#followers.values()) f.shutdown(bye);
    });
  }

  get providerNames(): string[] {
    return Object.keys(this.#o.supervisor.providers);
  }

  get defaultProvider() {
    return this.#o.defaultProvider;
  }

  /** Log streams currently open (each one a subscriber of a follower). */
  openStreams() {
    let n = 0;
    for (const f of this.#followers.values()) n += f.subscriberCount;
    return n;
  }

  activeCount() {
    return this.#o.supervisor.activeCount();
  }

  queuedCount() {
    return this.#o.supervisor.queuedCount();
  }

  /** The queued tasks' ids, the first queued first. */
  queuedIds(): string[] {
    return this.#o.store.queuedIds();
  }

  create(input: { agent: string; task: string; provider?: string } & StartOptions, who: Actor) {
    const keyId = who.keyId;
    const provider = input.provider ?? this.#o.defaultProvider;
    const p = providerNamed(this.#o.supervisor.providers, provider);
    if (!p) throw new ApiError(400, `body/provider must be one of: ${this.providerNames.join(", ")}; got ${preview(provider)}`);
    const model = modelFor(provider, p, input.model ?? null);
    // A limit of 0 seconds asks for none, whatever TASK_TIMEOUT or TASK_NO_OUTPUT_TIMEOUT says.
    const timeoutMs = limitMs(input.timeoutSeconds, this.#o.defaultTimeoutMs ?? null);
    const noOutputTimeoutMs = limitMs(input.noOutputTimeoutSeconds, this.#o.defaultNoOutputTimeoutMs ?? null);
    const files = decodeInputs(input.files);
    const webhookUrl = input.webhookUrl === undefined ? (this.#o.defaultWebhookUrl ?? null) : input.webhookUrl;
    const start = { agent: input.agent, task: input.task, provider, createdBy: keyId, timeoutMs, noOutputTimeoutMs, model, files, queue: input.queue, webhookUrl, labels: storeLabels(input.labels) };
    return this.#started(this.#o.supervisor.start(start), who, "task.create");
  }

  /**
   * A new task that goes on with an earlier one's agent session, in its folder: same agent and
   * provider, the earlier task's time limits, model, webhook URL and labels unless the request sets them.
   */
  continue(taskId: string, input: { task: string } & StartOptions, who: Actor) {
    const earlier = this.get(taskId);
    // Its folder may be going with it: a continuation would start in a folder being removed.
    if (this.#o.supervisor.isDeleting(taskId)) throw new ApiError(409, `Task ${taskId} is being deleted: its folder cannot be continued in`, { extra: { currentStatus: earlier.status } });
    const files = decodeInputs(input.files);
    const running = this.#o.store.runningIn(earlier.taskDir);
    if (running) throw new ApiError(409, `Task ${running.taskId} is still ${running.status} in this task's folder; continue once it has ended`, { extra: { currentStatus: running.status } });
    const provider = providerNamed(this.#o.supervisor.providers, earlier.provider);
    if (!provider) throw new ApiError(422, `Task ${taskId} ran with provider '${earlier.provider}', which is no longer configured`);
    if (!provider.resume) {
      throw new ApiError(422, `Task ${taskId} ran with provider '${earlier.provider}', which cannot continue a session (a provider needs "resume" arguments, as claude-flow has)`);
    }
    if (earlier.sessionId === null) throw new ApiError(422, `Task ${taskId} left no session to continue: its agent reported none (a claude session reports one when it ends)`);
    const timeoutMs = limitMs(input.timeoutSeconds, earlier.timeoutMs);
    const noOutputTimeoutMs = limitMs(input.noOutputTimeoutSeconds, earlier.noOutputTimeoutMs);
    const model = modelFor(earlier.provider, provider, input.model === undefined ? earlier.model : input.model);
    const continues = { taskId, taskDir: earlier.taskDir, sessionId: earlier.sessionId };
    const webhookUrl = input.webhookUrl === undefined ? earlier.webhookUrl : input.webhookUrl;
    const labels = input.labels === undefined ? earlier.labels : storeLabels(input.labels);
    const start = { agent: earlier.agent, task: input.task, provider: earlier.provider, createdBy: who.keyId, timeoutMs, noOutputTimeoutMs, model, continues, files, queue: input.queue, webhookUrl, labels };
    return this.#started(this.#o.supervisor.start(start), who, "task.continue");
  }

  /** The task a start made, or the ApiError that says why there is none. */
  #started(result: StartResult, who: Actor, action: string): TaskRecord {
    if (!result.ok && result.reason === "busy") {
      const why = result.provider
        ? `Provider ${result.provider.name} is at its maxActive (${result.provider.maxActive} running)`
        : `Too many active tasks (MAX_ACTIVE_TASKS is ${this.#o.supervisor.maxActive})`;
      throw new ApiError(503, `${why}; try again later, or ask with "queue": true`, { headers: { "Retry-After": "10" } });
    }
    if (!result.ok && result.reason === "storage") {
      // A full disk is common on a GPU box (models are large); say so rather than "unexpected error".
      this.#o.logger.error({ err: result.error, code: result.code }, "cannot prepare a task's folder and log");
      throw new ApiError(isDiskFull(result) ? 507 : 500, `Cannot prepare the task's folder and log: ${result.error}`);
    }
    if (!result.ok && result.reason === "inputs") throw new ApiError(409, `body/files: ${result.error}`);
    const { task } = result;
    const from = { ...(task.continuedFrom ? { continuedFrom: task.continuedFrom } : {}), ...(task.labels ? { labels: parseLabels(task.labels) } : {}) };
    this.#o.logger.info({ audit: true, action, reqId: who.reqId, taskId: task.taskId, provider: task.provider, agent: task.agent, keyId: who.keyId, ...from, started: result.ok }, "task created");
    if (!result.ok) throw new ApiError(500, "Failed to start task", { details: result.error, extra: { taskId: task.taskId } });
    return task;
  }

  get(taskId: string): TaskRecord {
    const t = this.#o.store.get(taskId);
    if (!t) throw new ApiError(404, `Task ${taskId} not found`);
    return t;
  }

  /** The task with the tail of its log; with `waitMs`, once it has ended or that long has passed (see long-poll.ts). */
  async detail(taskId: string, waitMs = 0) {
    this.get(taskId);
    if (this.#o.supervisor.isLive(taskId)) {
      await waitUntil(waitMs, this.#o.lifecycle.stopping, (wake) => this.#o.supervisor.onEnded(taskId, wake));
    }
    const t = this.get(taskId);
    const logTail = await tailLines(t.logFile, LOG_TAIL_LINES);
    // Its processes may outlive a stop for the grace period: counted until its end is recorded.
    const resources = t.exitTime === null && t.pid !== null ? taskUsage(t.taskId) : null;
    return taskView(t, { queued: t.status === "queued" ? this.queuedIds() : [], full: true, logTail, delivery: this.#deliveryOf(t), resources, lastOutput: lastWrite(t.logFile) });
  }

  /** A page of tasks, newest first, as the API shows them. */
  list(q: ListQuery) {
    const page = this.#o.store.list(q);
    const queued = page.tasks.some((t) => t.status === "queued") ? this.queuedIds() : [];
    const withWebhook = page.tasks.filter((t) => t.webhookUrl !== null && t.exitTime !== null);
    const deliveries = withWebhook.length ? this.#o.webhooks.getMany(withWebhook.map((t) => `task:${t.taskId}`)) : undefined;
    // A running task's last output (one stat each, running ones only): a stuck agent shows in the list.
    const view = (t: TaskRecord) => taskView(t, { queued, delivery: deliveries?.get(`task:${t.taskId}`), ...(t.status === "running" ? { lastOutput: lastWrite(t.logFile) } : {}) });
    return { tasks: page.tasks.map(view), nextCursor: page.nextCursor };
  }

  /** The store wrote a change of the task's status (or its end): those following task events hear of it. */
  changed(taskId: string) {
    if (!this.#events.listening) return;
    const t = this.#o.store.get(taskId);
    if (t) this.#events.publish(t, taskView(t, { queued: [], delivery: this.#deliveryOf(t) }));
  }

  /**
   * The store is deleting a task (a purge, or its retention): those following task events hear of it
   * once it is gone, as lists showed it last.
   */
  deleting(t: TaskRecord): (() => void) | undefined {
    if (!this.#events.listening) return undefined;
    const view = taskView(t, { queued: [], delivery: this.#deliveryOf(t) });
    return () => this.#events.publish(t, view, "task.deleted");
  }

  /** Every task change from now on, as SSE (GET /v1/tasks/events), of the tasks carrying all of `labels`. */
  eventStream(labels: Labels | undefined): ReadableStream<Uint8Array> {
    return this.#events.stream(labels);
  }

  #deliveryOf(t: TaskRecord): Delivery | undefined {
    return t.webhookUrl !== null && t.exitTime !== null ? this.#o.webhooks.get(`task:${t.taskId}`) : undefined;
  }

  /** Sends an ended task's notification again, to `url` (which becomes its webhookUrl) or its own. */
  resendWebhook(taskId: string, url: string | undefined, who: Actor) {
    const t = this.get(taskId);
    const target = { subject: `task:${taskId}`, what: `Task ${taskId}`, ids: { taskId }, webhookUrl: t.webhookUrl, ended: t.exitTime !== null };
    return resendWebhook({ store: this.#o.webhooks, logger: this.#o.logger }, { ...target, setUrl: (webhookUrl) => this.#o.store.update(taskId, { webhookUrl }) }, url, who);
  }

  /** The notification of an ended task's end (its view as GET returns it, less the log's tail), or undefined once it is gone. */
  webhookEvent(taskId: string): WebhookEvent | undefined {
    const t = this.#o.store.get(taskId);
    if (!t || t.exitTime === null) return undefined;
    return { type: `task.${t.status}`, timestamp: new Date(t.exitTime).toISOString(), data: taskView(t, { queued: [], full: true, delivery: this.#deliveryOf(t), resources: null, lastOutput: lastWrite(t.logFile) }) };
  }

  stop(taskId: string, who: Actor): TaskRecord {
    const t = this.get(taskId);
    if ((t.status !== "running" && t.status !== "queued") || !this.#o.supervisor.isLive(taskId)) {
      throw new ApiError(409, `Task ${taskId} is not running`, { extra: { currentStatus: t.status } });
    }
    const stopped = this.#o.supervisor.stop(taskId) ?? t;
    this.#o.logger.info({ audit: true, action: "task.stop", reqId: who.reqId, taskId, keyId: who.keyId }, "task stop requested");
    if (stopped.status !== "stopped") throw new ApiError(409, `Task ${taskId} ${stopped.status} before it could be stopped`, { extra: { currentStatus: stopped.status } });
    return stopped;
  }

  /** Deletes an ended task now (DELETE /v1/tasks/{taskId}?purge=true): see task-purge.ts. */
  purge(taskId: string, who: Actor): Promise<{ folderDeleted: boolean }> {
    return purgeTask(this.#o, this.get(taskId), who);
  }

  /** Deletes every ended task the query names (DELETE /v1/tasks?status=…&purge=true): see task-purge.ts. */
  purgeMany(q: PurgeQuery, who: Actor): Promise<PurgedTasks> {
    return purgeTasks(this.#o, q, who);
  }

  /** Stops every running (or queued) task, of one agent or provider if given: each as stop() stops one. */
  stopMany(q: { statuses: readonly ("running" | "queued")[]; agent?: string; provider?: string; labels?: Labels }, who: Actor): TaskRecord[] {
    const running = this.#o.store.list({ statuses: q.statuses, agent: q.agent, provider: q.provider, labels: q.labels, limit: Number.MAX_SAFE_INTEGER }).tasks;
    // Not one that ended on its own just before: it keeps that end, and is not counted.
    const stopped = running.filter((t) => this.#o.supervisor.isLive(t.taskId)).map((t) => this.#o.supervisor.stop(t.taskId) ?? t).filter((t) => t.status === "stopped");
    const taskIds = stopped.map((t) => t.taskId);
    this.#o.logger.info({ audit: true, action: "task.stop", reqId: who.reqId, taskIds, agent: q.agent, provider: q.provider, labels: q.labels, keyId: who.keyId }, "task stops requested");
    return stopped;
  }

  /**
   * The log as raw bytes from byte `from` (or its last `lastLines` lines), going on as it grows
   * until the task's end; ended at shutdown.
   */
  async followLog(taskId: string, start: { from: number } | { lastLines: number }): Promise<ReadableStream<Uint8Array>> {
    const t = this.get(taskId);
    const from = "from" in start ? start.from : await lastLinesStart(t.logFile, start.lastLines);
    let unsubscribe: (() => void) | undefined;
    const ended = this.#o.supervisor.isLive(taskId) ? new Promise<unknown>((resolve) => (unsubscribe = this.#o.supervisor.onEnded(taskId, resolve))) : Promise.resolve();
    return followFile(t.logFile, { from, ended, stop: this.#o.lifecycle.stopping, onClose: () => unsubscribe?.() });
  }

  /** The log as SSE: after a byte offset the client has seen (0: all of it), or from its last `lastLines` lines. */
  async stream(taskId: string, start: { after: number } | { lastLines: number }): Promise<ReadableStream<Uint8Array>> {
    const t = this.get(taskId);
    let from: number;
    if ("after" in start) {
      const size = await fileSize(t.logFile);
      if (start.after > size) throw new ApiError(400, `Last-Event-ID ${start.after} is beyond the end of the log (${size} bytes)`);
      from = start.after;
    } else from = await lastLinesStart(t.logFile, start.lastLines, { carriageReturns: true });
    let follower = this.#followers.get(taskId);
    if (!follower || follower.closed) {
      const created = new LogFollower({ path: t.logFile, onIdle: () => this.#followers.get(taskId) === created && this.#followers.delete(taskId) });
      follower = created;
      this.#followers.set(taskId, follower);
      const done = (r: TaskRecord) => created.end(sse("task-complete", { status: r.status, exitCode: r.exitCode, signal: r.signal, error: r.error, result: resultView(r, true), timestamp: new Date().toISOString() }));
      if (this.#o.supervisor.isLive(taskId)) this.#o.supervisor.onEnded(taskId, done);
      else done(this.#o.store.get(taskId) ?? t);
    }
    const f = follower;
    const heartbeatMs = this.#o.heartbeatMs;
    let unsubscribe: (() => void) | undefined;
    let heartbeat: Timer | undefined;
    let open = true;
    const finish = () => {
      open = false;
      clearInterval(heartbeat);
      unsubscribe?.();
    };
    return new ReadableStream<Uint8Array>(
      {
        start(controller) {
          const sink: Subscriber = {
            write(bytes) {
              if (!open) return 0;
              if (bytes.length) controller.enqueue(bytes);
              return controller.desiredSize ?? 0;
            },
            close(last) {
              if (!open) return;
              if (last) controller.enqueue(last);
              finish();
              controller.close();
            },
          };
          controller.enqueue(encoder.encode(`retry: 2000\n: connected to task ${taskId}\n\n`));
          heartbeat = setInterval(() => open && controller.enqueue(encoder.encode(": heartbeat\n\n")), heartbeatMs);
          return f.subscribe(sink, from).then((u) => {
            if (open) unsubscribe = u;
            else u();
          });
        },
        cancel() {
          finish();
        },
      },
      new ByteLengthQueuingStrategy({ highWaterMark: 1024 * 1024 }),
    );
  }

  /** The sweep under way: a big one may outlast the interval between sweeps. */
  #sweep: Promise<number> | undefined;

  /** Deletes the finished tasks past TASK_RETENTION; joins the sweep under way, if any. */
  prune(): Promise<number> {
    const retentionMs = this.#o.retentionMs;
    if (retentionMs === undefined) return Promise.resolve(0);
    this.#sweep ??= this.#o.supervisor
      .prune(retentionMs)
      .then((n) => {
        if (n) this.#o.logger.info({ pruned: n }, "pruned finished tasks past retention");
        return n;
      })
      .finally(() => (this.#sweep = undefined));
    return this.#sweep;
  }

  close() {
    clearInterval(this.#pruner);
    this.#o.supervisor.close();
  }
}
