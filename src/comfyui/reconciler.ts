/**
 * Keeping our workflow records in line with ComfyUI, which replays no missed message: after every
 * (re)connect (send what waited; settle what finished or was lost meanwhile), whenever ComfyUI
 * reports that its queue changed (its own UI's delete and Clear Queue send nothing else), and
 * after a POST /prompt failed for a reason that passes while ComfyUI stays connected.
 */
import type { Logger } from "pino";
import type { BackendName, ComfyBackend } from "./backend.ts";
import { ComfyUnavailableError, ComfyValidationError } from "./backend-errors.ts";
import { coalesced } from "./coalesce.ts";
import { verdictFromHistory } from "./execution.ts";
import { rejectionMessage } from "./prompt.ts";
import { FETCH_SHARE, type QueuePositions } from "./queue-positions.ts";
import { FINAL, type OutputFile, type WorkflowRecord, type WorkflowStatus, type WorkflowStore } from "./workflow-store.ts";

/**
 * At most one queue check per backend this often: ComfyUI says `status` two or three times per
 * workflow. Less often when /queue is slow to fetch (it carries every queued prompt whole): at most
 * a FETCH_SHARE-th of the time goes to it.
 */
const QUEUE_CHECK_INTERVAL_MS = 500;
/** First wait before sending again what waits for a connected backend; it doubles up to RESEND_MAX_MS. */
const RESEND_FIRST_MS = 1_000;
const RESEND_MAX_MS = 30_000;

export interface ReconcilerDeps {
  store: WorkflowStore;
  positions: QueuePositions;
  logger: Logger;
  backend(name: BackendName): ComfyBackend | undefined;
  /** POST /prompt for a workflow that waited for its backend. */
  send(backend: ComfyBackend, w: WorkflowRecord): Promise<void>;
  /** Whether the workflow's POST /prompt is in flight: it must not be sent a second time. */
  sending(workflowId: string): boolean;
  finish(w: Pick<WorkflowRecord, "workflowId" | "backend">, status: WorkflowStatus, extra: { error?: string | null; outputs?: OutputFile[] }): void;
  closed(): boolean;
}

export class Reconciler {
  readonly #d: ReconcilerDeps;
  /** Backends whose reconnect reconciliation is running: it settles what is missing, as lost to a restart. */
  readonly #reconciling = new Set<BackendName>();
  readonly #queueChecks = new Map<BackendName, () => void>();

  constructor(d: ReconcilerDeps) {
    this.#d = d;
  }

  /** Whether the reconciliation after a (re)connect of this backend is under way: what it settles is not known yet. */
  reconciling(name: BackendName): boolean {
    return this.#reconciling.has(name);
  }

  /** After a (re)connect: submit what waited, then settle what ComfyUI finished or lost meanwhile. */
  async afterConnect(backend: ComfyBackend) {
    this.#reconciling.add(backend.name);
    try {
      await this.#sendWaiting(backend);
      await this.#settleMissing(backend, "reconnect");
    } catch (err) {
      this.#d.logger.warn({ backend: backend.name, err: (err as Error).message }, "reconciliation with ComfyUI failed; will retry");
      // A gateway's 503 or 429 right after the connect: what waits is sent again shortly, not at
      // the next reconnect, which may never come.
      if (err instanceof ComfyUnavailableError) this.resendLater(backend.name, err.retryAfterMs);
    } finally {
      this.#reconciling.delete(backend.name);
    }
  }

  /** The run of #sendWaiting under way per backend: a reconnect and a resend take turns, never sending one twice. */
  readonly #waitingSends = new Map<BackendName, Promise<void>>();

  /** Sends the workflows waiting for this backend, in order, after any run of this still under way. */
  #sendWaiting(backend: ComfyBackend): Promise<void> {
    const run = (this.#waitingSends.get(backend.name) ?? Promise.resolve()).catch(() => {}).then(() => this.#sendWaitingNow(backend));
    this.#waitingSends.set(backend.name, run);
    return run.finally(() => {
      if (this.#waitingSends.get(backend.name) === run) this.#waitingSends.delete(backend.name);
    });
  }

  /** Sends the workflows waiting for this backend, in order; one ComfyUI already holds is only marked sent. */
  async #sendWaitingNow(backend: ComfyBackend) {
    const { store } = this.#d;
    const waiting = store.open().filter((o) => o.backend === backend.name && !o.submitted && !this.#d.sending(o.workflowId));
    // One whose POST reached ComfyUI though its answer did not reach us (we stopped, or the request
    // timed out while ComfyUI was busy) is known there already: noted as sent, never sent twice.
    const queued = waiting.length ? await backend.queue() : undefined;
    const known = new Set([...(queued?.running ?? []), ...(queued?.pending ?? [])].map((e) => e.promptId));
    for (const o of waiting) {
      const w = store.get(o.workflowId);
      // Cancelled while earlier ones were sent: never sent.
      if (!w || FINAL.has(w.status)) continue;
      // A cancel asked for before the API stopped, not yet recorded: never sent either.
      if (w.cancelRequestedAt !== null) {
        this.#d.finish(w, "cancelled", { error: null });
        continue;
      }
      if (known.has(w.workflowId) || (await backend.history(w.workflowId))) {
        store.update(w.workflowId, { submitted: 1 });
        continue;
      }
      try {
        await this.#d.send(backend, w);
        store.update(w.workflowId, { submitted: 1 });
      } catch (err) {
        if (err instanceof ComfyValidationError) this.#d.finish(w, "failed", { error: rejectionMessage(err) });
        else throw err;
      }
    }
  }

  readonly #resends = new Map<BackendName, { timer?: Timer; delayMs: number }>();

  /**
   * A POST /prompt failed in a way that passes (a 5xx, 408 or 429, a timeout) while ComfyUI may still
   * be connected: what waits is sent again after a pause that doubles while it keeps failing. Once
   * the backend is down, its reconnect sends what waits instead.
   */
  resendLater(name: BackendName, atLeastMs = 0) {
    const resend = this.#resends.get(name) ?? { delayMs: RESEND_FIRST_MS };
    if (resend.timer) return;
    this.#resends.set(name, resend);
    // A gateway's Retry-After (a 429, a 503) says when to come back: sooner would be refused again.
    const delayMs = Math.max(resend.delayMs, atLeastMs);
    resend.timer = setTimeout(async () => {
      resend.timer = undefined;
      const backend = this.#d.backend(name);
      if (!backend?.connected || this.#d.closed() || this.#reconciling.has(name)) return void this.#resends.delete(name);
      try {
        await this.#sendWaiting(backend);
        this.#resends.delete(name);
      } catch (err) {
        if (!(err instanceof ComfyUnavailableError)) {
          this.#d.logger.warn({ backend: name, err: (err as Error).message }, "sending waiting workflows to ComfyUI failed");
          return void this.#resends.delete(name);
        }
        resend.delayMs = Math.min(resend.delayMs * 2, RESEND_MAX_MS);
        const retryInMs = Math.max(resend.delayMs, err.retryAfterMs ?? 0);
        this.#d.logger.warn({ backend: name, err: err.message, retryInMs }, "sending waiting workflows to ComfyUI failed");
        this.resendLater(name, err.retryAfterMs);
      }
    }, delayMs);
  }

  /** Stops the resends that are scheduled. */
  close() {
    for (const { timer } of this.#resends.values()) clearTimeout(timer);
    this.#resends.clear();
  }

  /** ComfyUI said its queue changed: check it (coalesced, at most every QUEUE_CHECK_INTERVAL_MS). */
  queueChanged(name: BackendName) {
    let check = this.#queueChecks.get(name);
    if (!check) this.#queueChecks.set(name, (check = coalesced(() => this.#checkQueue(name), () => Math.max(QUEUE_CHECK_INTERVAL_MS, FETCH_SHARE * this.#d.positions.fetchMs(name)))));
    check();
  }

  async #checkQueue(name: BackendName) {
    const backend = this.#d.backend(name);
    if (!backend?.connected || this.#d.closed() || this.#reconciling.has(name)) return;
    try {
      await this.#settleMissing(backend, "queue change");
    } catch (err) {
      this.#d.logger.warn({ backend: name, err: (err as Error).message }, "checking ComfyUI's queue after a change failed");
    }
  }

  /**
   * Settles our submitted, unfinished workflows that ComfyUI's queue no longer holds: from /history
   * when ComfyUI finished them; else, after a reconnect, as lost with a restart, and while connected
   * as removed in ComfyUI itself. The candidates are read before /queue, so one submitted meanwhile
   * is never taken for missing.
   */
  async #settleMissing(backend: ComfyBackend, after: "reconnect" | "queue change") {
    const { store, positions } = this.#d;
    const candidates = store.open().filter((o) => o.backend === backend.name && o.submitted);
    if (candidates.length === 0 && after === "queue change") return;
    const snap = await backend.queue();
    positions.remember(backend.name, snap);
    const inQueue = new Set([...snap.running, ...snap.pending].map((e) => e.promptId));
    for (const c of candidates) {
      if (inQueue.has(c.workflowId)) continue;
      const w = store.get(c.workflowId);
      if (!w || FINAL.has(w.status)) continue;
      const h = await backend.history(w.workflowId);
      if (h) {
        const verdict = verdictFromHistory(h);
        this.#d.finish(w, verdict.status, verdict);
      } else if (w.cancelRequestedAt !== null) {
        // Our own cancel took it out of ComfyUI's queue; its end is not recorded yet (it is being,
        // or the API stopped first).
        this.#d.finish(w, "cancelled", { error: null });
      } else if (after === "reconnect") {
        this.#d.finish(w, "failed", { error: `ComfyUI (${backend.name}) no longer has this workflow: it restarted or its queue was cleared before the workflow finished` });
      } else {
        this.#d.finish(w, "cancelled", { error: `Removed from ComfyUI (${backend.name})'s queue outside this API (a delete or Clear Queue in ComfyUI itself)` });
      }
    }
  }
}
