/**
 * Keeping our workflow records in line with ComfyUI, which replays no missed message: after every
 * (re)connect (send what waited; settle what finished or was lost meanwhile), and whenever ComfyUI
 * reports that its queue changed (its own UI's delete and Clear Queue send nothing else).
 */
import type { Logger } from "pino";
import type { BackendName, ComfyBackend } from "./backend.ts";
import { ComfyValidationError } from "./backend-errors.ts";
import { coalesced } from "./coalesce.ts";
import { verdictFromHistory } from "./execution.ts";
import { rejectionMessage } from "./prompt.ts";
import type { QueuePositions } from "./queue-positions.ts";
import { FINAL, type OutputFile, type WorkflowRecord, type WorkflowStatus, type WorkflowStore } from "./workflow-store.ts";

/** At most one queue check per backend this often: ComfyUI says `status` two or three times per workflow. */
const QUEUE_CHECK_INTERVAL_MS = 500;

export interface ReconcilerDeps {
  store: WorkflowStore;
  positions: QueuePositions;
  logger: Logger;
  backend(name: BackendName): ComfyBackend | undefined;
  /** POST /prompt for a workflow that waited for its backend. */
  send(backend: ComfyBackend, w: WorkflowRecord): Promise<void>;
  /** Whether the workflow's POST /prompt is in flight: it must not be sent a second time. */
  sending(workflowId: string): boolean;
  finish(w: WorkflowRecord, status: WorkflowStatus, extra: { error?: string | null; outputs?: OutputFile[] }): void;
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

  /** After a (re)connect: submit what waited, then settle what ComfyUI finished or lost meanwhile. */
  async afterConnect(backend: ComfyBackend) {
    const { store, logger } = this.#d;
    this.#reconciling.add(backend.name);
    try {
      const waiting = store.open().filter((o) => o.backend === backend.name && !o.submitted && !this.#d.sending(o.workflowId));
      // One whose POST reached ComfyUI just before we stopped (its answer lost with us) is known
      // there already: noted as sent, never sent twice.
      const queued = waiting.length ? await backend.queue() : undefined;
      const known = new Set([...(queued?.running ?? []), ...(queued?.pending ?? [])].map((e) => e.promptId));
      for (const w of waiting) {
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
      await this.#settleMissing(backend, "reconnect");
    } catch (err) {
      logger.warn({ backend: backend.name, err: (err as Error).message }, "reconciliation with ComfyUI failed; will retry on the next connect");
    } finally {
      this.#reconciling.delete(backend.name);
    }
  }

  /** ComfyUI said its queue changed: check it (coalesced, at most every QUEUE_CHECK_INTERVAL_MS). */
  queueChanged(name: BackendName) {
    let check = this.#queueChecks.get(name);
    if (!check) this.#queueChecks.set(name, (check = coalesced(() => this.#checkQueue(name), QUEUE_CHECK_INTERVAL_MS)));
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
      const w = store.get(c.workflowId);
      if (!w || FINAL.has(w.status) || inQueue.has(w.workflowId)) continue;
      const h = await backend.history(w.workflowId);
      if (h) {
        const verdict = verdictFromHistory(h);
        this.#d.finish(w, verdict.status, verdict);
      } else if (after === "reconnect") {
        this.#d.finish(w, "failed", { error: `ComfyUI (${backend.name}) no longer has this workflow: it restarted or its queue was cleared before the workflow finished` });
      } else {
        this.#d.finish(w, "cancelled", { error: `Removed from ComfyUI (${backend.name})'s queue outside this API (a delete or Clear Queue in ComfyUI itself)` });
      }
    }
  }
}
