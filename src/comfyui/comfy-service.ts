/**
 * ComfyUI workflows: submission (with real priority), live state from ComfyUI's WebSocket, cancel,
 * and the outputs our workflows made. Reconciliation with ComfyUI's queue and history, after
 * reconnects and queue changes, is in reconciler.ts.
 *
 * Priority is ComfyUI's own: POST /prompt takes a queue `number` and ComfyUI runs the lowest first,
 * so high / normal / low map to three bands of numbers, FIFO within a band. Submitting at once
 * means ComfyUI validates at once (its node_errors become our 400). While a backend is unreachable
 * workflows wait here, in order, and are submitted when it returns.
 */
import type { Logger } from "pino";
import { ApiError } from "../http/errors.ts";
import type { Actor } from "../http/types.ts";
import type { Metrics } from "../metrics.ts";
import { startSweeping } from "../retention.ts";
import { ComfyBackend, type BackendName } from "./backend.ts";
import { ComfyUnavailableError, ComfyValidationError } from "./backend-errors.ts";
import { cancelAll, cancelOne, type CancelDeps } from "./cancels.ts";
import { waitUntil } from "../http/long-poll.ts";
import { promptFor, rejectionMessage } from "./prompt.ts";
import { QueuePositions } from "./queue-positions.ts";
import { Reconciler } from "./reconciler.ts";
import { RunDeadlines } from "./run-deadlines.ts";
import { StopRequests } from "./stop-requests.ts";
import { RunTracker } from "./run-tracker.ts";
import { applyInputs, type InputOverrides } from "./overrides.ts";
import type { StreamHub, WorkflowEvent } from "./stream-hub.ts";
import { FINAL, newWorkflow, type OutputFile, type Priority, type WorkflowRecord, type WorkflowStatus, type WorkflowStore } from "./workflow-store.ts";
import { workflowView } from "./views.ts";
import type { WebhookEvent } from "../webhooks/webhook-sender.ts";
import { resendWebhook } from "../webhooks/resend.ts";
import type { WebhookStore } from "../webhooks/webhook-store.ts";
import { hasLabels, parseLabels, storeLabels, type Labels } from "../labels.ts";

const BANDS: Record<Priority, number> = { high: -1e12, normal: 0, low: 1e12 };

export interface ComfyServiceOptions {
  store: WorkflowStore;
  hub: StreamHub;
  metrics: Metrics;
  logger: Logger;
  backends: { name: BackendName; url: string; apiKey?: string; proxy?: string; comfyOrgApiKey?: string }[];
  backoffMs?: number;
  /** How long a conversion waits for /object_info (tests shorten it). */
  objectInfoWaitMs?: number;
  /** Finished workflows older than this are deleted; undefined keeps them forever. */
  retentionMs?: number;
  /** Time limit of a workflow whose request sets none (WORKFLOW_TIMEOUT); undefined: none. */
  defaultTimeoutMs?: number;
  /** Where an end goes when the request names no webhookUrl (WEBHOOK_URL). */
  defaultWebhookUrl?: string;
  /** The webhook outbox, for the state of each workflow's notification. */
  webhooks: WebhookStore;
}

/** What a request may add to a workflow it queues, new or again. */
interface QueueOptions {
  timeoutSeconds?: number;
  inputs?: InputOverrides;
  webhookUrl?: string | null;
  labels?: Labels | null;
}

export class ComfyService {
  readonly #o: ComfyServiceOptions;
  readonly backends = new Map<BackendName, ComfyBackend>();
  readonly #reconciler: Reconciler;
  /** Workflows whose POST /prompt is in flight: reconciliation must not send them a second time. */
  readonly #sending = new Set<string>();
  readonly #positions: QueuePositions;
  readonly #stops: StopRequests;
  readonly #deadlines = new RunDeadlines((id) => this.#timeUp(id));
  readonly #cancels: CancelDeps;
  readonly #tracker: RunTracker;
  #seq: number;

  constructor(o: ComfyServiceOptions) {
    this.#o = o;
    this.#positions = new QueuePositions(o.store);
    this.#stops = new StopRequests(o.logger);
    this.#cancels = {
      backends: this.backends,
      stops: this.#stops,
      logger: o.logger,
      finish: (w) => this.#finish(w, "cancelled", { error: null }),
      requested: (ids) => o.store.cancelRequested(ids),
      statusOf: (id) => o.store.statusOf(id),
      ended: (id, ms) => waitUntil(ms, this.#closing.signal, (wake) => o.hub.onEnded(id, wake)),
    };
    this.#tracker = new RunTracker({ store: o.store, deadlines: this.#deadlines, stops: this.#stops, publish: (type, id, data) => this.#publish(type, id, data), finish: (w, status, extra) => this.#finish(w, status, extra) });
    const clientId = o.store.meta("comfyui.clientId", () => `management-api-${crypto.randomUUID()}`);
    this.#seq = Number(o.store.meta("comfyui.seq", () => "0"));
    this.#reconciler = new Reconciler({
      store: o.store,
      positions: this.#positions,
      logger: o.logger,
      backend: (name) => this.backends.get(name),
      send: (backend, w) => this.#send(backend, w),
      sending: (id) => this.#sending.has(id),
      finish: (w, status, extra) => this.#finish(w, status, extra),
      closed: () => this.#closed,
    });
    for (const b of o.backends) {
      this.backends.set(
        b.name,
        new ComfyBackend({
          ...b,
          clientId,
          logger: o.logger,
          backoffMs: o.backoffMs,
          objectInfoWaitMs: o.objectInfoWaitMs,
          onMessage: (backend, msg) => this.#onMessage(backend, msg),
          onConnect: (backend) => void this.#reconcile(backend),
          onDisconnect: () => this.#updateQueueGauge(),
        }),
      );
    }
  }

  #pruner: Timer | undefined;

  start() {
    for (const b of this.backends.values()) b.start();
    if (this.#o.retentionMs !== undefined) {
      this.#pruner = startSweeping(this.#o.retentionMs, () => this.prune(), (err) => this.#o.logger.error({ err }, "deleting workflows past WORKFLOW_RETENTION failed; trying again next sweep"));
    }
  }

  /** Deletes finished workflow records past WORKFLOW_RETENTION (each keeps its prompt and UI JSON, so they add up). */
  prune(): number {
    if (this.#o.retentionMs === undefined) return 0;
    const n = this.#o.store.pruneFinished(Date.now() - this.#o.retentionMs);
    if (n) this.#o.logger.info({ pruned: n }, "pruned finished ComfyUI workflows past retention");
    return n;
  }

  close() {
    this.#closed = true;
    this.#closing.abort();
    clearInterval(this.#pruner);
    this.#reconciler.close();
    this.#deadlines.close();
    for (const b of this.backends.values()) b.close();
  }

  #closed = false;
  readonly #closing = new AbortController();

  /** The backend a request names; a 400 saying which setting to set when it is not configured. */
  backend(name: BackendName): ComfyBackend {
    const b = this.backends.get(name);
    if (!b) {
      const hint = name === "salad" ? "set SALAD_COMFYUI_URL" : "set COMFYUI_URL";
      throw new ApiError(400, `GPU target "${name}" is not configured (${hint})`);
    }
    return b;
  }

  #publish(type: WorkflowEvent["type"], workflowId: string, data: Record<string, unknown> = {}) {
    this.#o.hub.publish({ type, workflowId, data });
  }

  /** Validates, converts and queues a workflow. */
  async submit(input: { workflow: Record<string, unknown>; priority?: Priority; gpu?: BackendName } & QueueOptions, who?: Actor) {
    const backend = this.backend(input.gpu ?? "local");
    const { prompt, ui } = await promptFor(input.workflow, backend);
    // timeoutSeconds 0 asks for no limit, whatever WORKFLOW_TIMEOUT says.
    const timeoutMs = input.timeoutSeconds === undefined ? (this.#o.defaultTimeoutMs ?? null) : input.timeoutSeconds * 1000 || null;
    return this.#enqueue(backend, { prompt: applyInputs(prompt, input.inputs), ui, priority: input.priority ?? "normal", timeoutMs, webhookUrl: input.webhookUrl === undefined ? (this.#o.defaultWebhookUrl ?? null) : input.webhookUrl, labels: storeLabels(input.labels) }, who);
  }

  /**
   * Queues a finished workflow's prompt again (its UI JSON too), as a new workflow: by default with
   * its priority, backend, time limit, webhook URL and labels, each of which the request may change.
   */
  async retry(workflowId: string, input: { priority?: Priority; gpu?: BackendName } & QueueOptions, who?: Actor) {
    const w = this.#known(workflowId, true);
    const backend = this.backend(input.gpu ?? w.backend);
    const timeoutMs = input.timeoutSeconds === undefined ? w.timeoutMs : input.timeoutSeconds * 1000 || null;
    const queued = { prompt: applyInputs(JSON.parse(w.prompt) as Record<string, unknown>, input.inputs), ui: w.uiWorkflow, priority: input.priority ?? w.priority, timeoutMs,
      webhookUrl: input.webhookUrl === undefined ? w.webhookUrl : input.webhookUrl,
      labels: input.labels === undefined ? w.labels : storeLabels(input.labels),
    };
    return this.#enqueue(backend, queued, who, workflowId);
  }

  /** Records a converted workflow and sends it to ComfyUI (or keeps it waiting for ComfyUI's return). */
  async #enqueue(backend: ComfyBackend, q: { prompt: Record<string, unknown>; ui: string | null; priority: Priority } & Pick<WorkflowRecord, "timeoutMs" | "webhookUrl" | "labels">, who?: Actor, retryOf?: string) {
    const { prompt, ui, priority, timeoutMs, webhookUrl, labels } = q;
    const seq = ++this.#seq;
    const record = newWorkflow({ backend: backend.name, priority, number: BANDS[priority] + seq, prompt: JSON.stringify(prompt), uiWorkflow: ui, timeoutMs, webhookUrl, labels });
    this.#o.store.setMeta("comfyui.seq", String(this.#seq));
    // Stored before the POST: ComfyUI may run it, and say so over the WebSocket, before its answer
    // arrives (a cached prompt, a slow gateway). Messages about an unknown id are dropped.
    this.#o.store.insert(record);
    this.#sending.add(record.workflowId);
    try {
      await this.#send(backend, record);
      this.#o.store.update(record.workflowId, { submitted: 1 });
    } catch (err) {
      if (!(err instanceof ComfyUnavailableError)) this.#o.store.delete(record.workflowId);
      if (err instanceof ComfyValidationError) {
        this.#o.metrics.comfyWorkflowErrors.inc({ error_type: err.body.error?.type ?? "validation" });
        throw new ApiError(400, rejectionMessage(err), {
          details: { error: err.body.error, node_errors: err.body.node_errors ?? {} },
        });
      }
      if (!(err instanceof ComfyUnavailableError)) throw err;
      this.#o.logger.warn({ backend: backend.name, workflowId: record.workflowId, err: err.message }, "ComfyUI did not take the workflow; it waits in our queue");
      this.#reconciler.resendLater(backend.name, err.retryAfterMs);
    } finally {
      this.#sending.delete(record.workflowId);
    }
    this.#updateQueueGauge();
    const view = await this.view(record.workflowId);
    this.#o.logger.info(
      { audit: true, action: retryOf ? "workflow.retry" : "workflow.submit", reqId: who?.reqId, keyId: who?.keyId, workflowId: record.workflowId, retryOf, backend: backend.name, priority, nodes: Object.keys(prompt).length, uiFormat: ui !== null, ...(labels ? { labels: parseLabels(labels) } : {}) },
      "workflow queued",
    );
    // Not once it has started (its later events went out while the POST was answered): events keep their order.
    if (view.status === "queued") this.#publish("workflow:queued", record.workflowId, { queuePosition: view.queuePosition, priority, gpu: backend.name });
    return view;
  }

  /** POST /prompt with our id and number; marks the record submitted. */
  async #send(backend: ComfyBackend, record: WorkflowRecord) {
    const extraData = record.uiWorkflow ? { extra_pnginfo: { workflow: JSON.parse(record.uiWorkflow) } } : {};
    const answer = await backend.submit({ prompt: JSON.parse(record.prompt), promptId: record.workflowId, number: record.number, extraData });
    record.submitted = 1;
    // Accepted with some outputs dropped: ComfyUI runs only those that passed. Kept, so the client learns why.
    const dropped = answer.node_errors && typeof answer.node_errors === "object" && Object.keys(answer.node_errors).length ? answer.node_errors : undefined;
    if (dropped) {
      this.#o.store.update(record.workflowId, { nodeErrors: JSON.stringify(dropped) });
      this.#o.logger.warn({ workflowId: record.workflowId, backend: backend.name, nodes: Object.keys(dropped) }, "ComfyUI dropped some output nodes at validation; the others run");
    }
    this.#positions.sent(backend.name, record.workflowId, record.number);
  }

  async view(workflowId: string) {
    const w = this.#o.store.get(workflowId);
    if (!w) throw new ApiError(404, `Workflow ${workflowId} not found`);
    return this.#view(w);
  }

  /** Recent workflows, newest first, with their queue positions. */
  async list(q: { statuses?: readonly WorkflowStatus[]; labels?: Labels; limit: number; cursor?: string }) {
    const page = this.#o.store.list(q);
    return { workflows: await Promise.all(page.workflows.map((w) => this.#view(w))), nextCursor: page.nextCursor };
  }

  async #view(w: WorkflowRecord) {
    const delivery = w.webhookUrl !== null && w.completionTime !== null ? this.#o.webhooks.get(`workflow:${w.workflowId}`) : undefined;
    return workflowView(w, await this.#positions.of(w, this.backends.get(w.backend)), delivery);
  }

  /** Sends an ended workflow's notification again, to `url` (which becomes its webhookUrl) or its own. */
  resendWebhook(workflowId: string, url: string | undefined, who?: Actor) {
    const w = this.#o.store.get(workflowId);
    if (!w) throw new ApiError(404, `Workflow ${workflowId} not found`);
    const target = { subject: `workflow:${workflowId}`, what: `Workflow ${workflowId}`, ids: { workflowId }, webhookUrl: w.webhookUrl, ended: w.completionTime !== null };
    return resendWebhook({ store: this.#o.webhooks, logger: this.#o.logger }, { ...target, setUrl: (webhookUrl) => this.#o.store.update(workflowId, { webhookUrl }) }, url, who);
  }

  /** The notification of an ended workflow's end (its view as GET returns it), or undefined once it is gone. */
  async webhookEvent(workflowId: string): Promise<WebhookEvent | undefined> {
    const w = this.#o.store.get(workflowId);
    if (!w || w.completionTime === null) return undefined;
    return { type: `workflow.${w.status}`, timestamp: new Date(w.completionTime).toISOString(), data: await this.#view(w) };
  }

  async cancel(workflowId: string, who?: Actor) {
    const w = this.#known(workflowId, false);
    await cancelOne(this.#cancels, w, who);
    const status = this.#o.store.get(workflowId)?.status;
    if (status && status !== "cancelled") throw new ApiError(409, `Workflow ${workflowId} ${status} before the cancel reached ComfyUI`, { extra: { currentStatus: status } });
    return this.view(workflowId);
  }

  /** Cancels every workflow in these statuses (of one backend, or all): a batch gone wrong is one request. */
  async cancelMany(q: { statuses: readonly ("queued" | "running")[]; gpu?: BackendName; labels?: Labels }, who?: Actor) {
    const chosen = this.#o.store.open().filter((w) => (q.statuses as readonly string[]).includes(w.status) && (q.gpu === undefined || w.backend === q.gpu) && hasLabels(w.labels, q.labels));
    const cancelled = await cancelAll(this.#cancels, chosen, who);
    return { cancelled: cancelled.length, workflowIds: cancelled };
  }

  /** A known workflow, finished if `final` (else not yet): a 404 when unknown, a 409 naming its status when it is not as asked. */
  #known(workflowId: string, final: boolean): WorkflowRecord {
    const w = this.#o.store.get(workflowId);
    if (!w) throw new ApiError(404, `Workflow ${workflowId} not found`);
    if (FINAL.has(w.status) !== final) {
      const why = final ? `is still ${w.status}` : `is already ${w.status}`;
      throw new ApiError(409, `Workflow ${workflowId} ${why}`, { extra: { currentStatus: w.status } });
    }
    return w;
  }

  /** Records a final status once (false when it had one); later messages about the workflow do not change it. */
  #finish(w: Pick<WorkflowRecord, "workflowId" | "backend">, status: WorkflowStatus, extra: { error?: string | null; outputs?: OutputFile[]; errorType?: string }): boolean {
    const current = this.#o.store.get(w.workflowId);
    if (!current || FINAL.has(current.status)) return false;
    this.#deadlines.clear(w.workflowId);
    const now = Date.now();
    const outputs = extra.outputs ?? this.#tracker.outputsOf(w.workflowId) ?? JSON.parse(current.outputs);
    const fields: Partial<WorkflowRecord> = {
      status,
      completionTime: now,
      currentNode: null,
      error: extra.error ?? null,
      outputs: JSON.stringify(outputs),
      ...(status === "completed" ? { progress: 100 } : {}),
    };
    this.#o.store.update(w.workflowId, fields);
    this.#tracker.forget(w.workflowId);
    this.#positions.ended(w.backend, w.workflowId);
    // What a failed or cancelled run saved before it stopped is on disk too, and listed with it.
    for (const o of outputs as OutputFile[]) {
      if (o.type !== "output") continue;
      this.#o.store.addOutput({ filename: o.filename, subfolder: o.subfolder, type: o.type, workflowId: w.workflowId, backend: w.backend, size: null, createdAt: now });
    }
    const seconds = current.startTime ? (now - current.startTime) / 1000 : null;
    this.#o.logger[status === "failed" ? "warn" : "info"](
      { workflowId: w.workflowId, backend: w.backend, status, seconds, outputs: outputs.length, ...(fields.error ? { error: fields.error } : {}) },
      "workflow ended",
    );
    const m = this.#o.metrics;
    m.comfyWorkflows.inc({ status });
    if (seconds !== null) m.comfyWorkflowDuration.observe({ gpu_type: w.backend }, seconds);
    if (status === "failed") m.comfyWorkflowErrors.inc({ error_type: extra.errorType ?? "execution_error" });
    this.#updateQueueGauge();
    const data: Record<string, unknown> = status === "completed" ? { outputs, duration: seconds } : status === "failed" ? { error: fields.error } : {};
    this.#publish(`workflow:${status}` as WorkflowEvent["type"], w.workflowId, data);
    return true;
  }

  #onMessage(backend: ComfyBackend, msg: { type: string; data: Record<string, unknown> }) {
    if (this.#closed) return;
    if (msg.type === "status") {
      this.#positions.changed(backend.name, backend.queueRemaining);
      this.#updateQueueGauge();
      this.#reconciler.queueChanged(backend.name);
      return;
    }
    const id = msg.data?.prompt_id;
    if (typeof id !== "string") return;
    const w = this.#o.store.get(id);
    if (!w) return;
    // A start leaves ComfyUI's count as it was: no status message would show the line moved.
    if (msg.type === "execution_start") this.#positions.started(backend.name, id);
    this.#tracker.onMessage(backend, w, msg);
  }

  /** A workflow past its time limit: failed here, and interrupted in ComfyUI (at its next message again if ComfyUI cannot be told now). */
  #timeUp(workflowId: string) {
    const w = this.#o.store.get(workflowId);
    if (!w || w.status !== "running" || w.timeoutMs === null) return;
    const backend = this.backends.get(w.backend);
    // ComfyUI out of reach, or just back: it may have ended in time there. The reconciliation after
    // the connect says so, then looks at its clock again.
    if (!backend?.connected || this.#reconciler.reconciling(backend.name)) return;
    this.#o.logger.warn({ workflowId, backend: w.backend, timeoutSeconds: w.timeoutMs / 1000 }, "workflow past its time limit; interrupting it");
    this.#stops.interrupt(backend, workflowId);
    this.#finish(w, "failed", { error: `Timed out after ${w.timeoutMs / 1000} s; workflow interrupted`, errorType: "timeout" });
  }

  async #reconcile(backend: ComfyBackend) {
    if (this.#closed) return;
    await this.#reconciler.afterConnect(backend);
    if (this.#closed) return; // and the database with it
    // Running when the API started, or when the backend went away: their clocks go on from their
    // recorded start, now that ComfyUI has said which of them ended meanwhile, and how.
    for (const w of this.#o.store.runningWithLimit()) if (w.backend === backend.name) this.#deadlines.arm(w);
    this.#updateQueueGauge();
  }

  #updateQueueGauge() {
    if (this.#closed) return;
    let n = 0;
    for (const b of this.backends.values()) n += b.connected ? b.queueRemaining : 0;
    n += this.#o.store.waitingCount();
    this.#o.metrics.comfyQueueLength.set(n);
  }
}
