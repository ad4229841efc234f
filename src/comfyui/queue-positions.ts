/**
 * Where each workflow stands in its backend's line: 0 running, 1 next, ...; null when finished.
 * Read from ComfyUI's /queue, fetched at most once per 250 ms and once however many positions are
 * asked for at once (a list asks per workflow); the last snapshot serves while a backend is away,
 * or busy: ComfyUI answers nothing while it builds an /object_info for a browser (seconds to
 * minutes with many custom nodes), and a position is not worth holding every status request 10 s.
 */
import type { ComfyBackend, BackendName } from "./backend.ts";
import type { QueueSnapshot } from "./comfy-wire.ts";
import { FINAL, type WorkflowRecord, type WorkflowStore } from "./workflow-store.ts";

/** How long a position waits for ComfyUI's /queue before the last snapshot serves. */
const QUEUE_WAIT_MS = 2_000;

export class QueuePositions {
  readonly #store: WorkflowStore;
  readonly #snapshots = new Map<BackendName, QueueSnapshot>();
  readonly #fetching = new Map<BackendName, Promise<QueueSnapshot | undefined>>();

  constructor(store: WorkflowStore) {
    this.#store = store;
  }

  /** The backend's queue changed (a prompt sent, a status message): the next position asks again. */
  forget(backend: BackendName) {
    this.#snapshots.delete(backend);
  }

  /** A snapshot fetched elsewhere (reconciliation) serves the next positions too. */
  remember(backend: BackendName, snap: QueueSnapshot) {
    this.#snapshots.set(backend, snap);
  }

  async #snapshot(backend: ComfyBackend, maxAgeMs = 250): Promise<QueueSnapshot | undefined> {
    const s = this.#snapshots.get(backend.name);
    if (s && performance.now() - s.at <= maxAgeMs) return s;
    if (!backend.connected && s) return s;
    let fetching = this.#fetching.get(backend.name);
    if (!fetching) {
      fetching = backend
        .queue(QUEUE_WAIT_MS)
        .then(
          (fresh) => (this.#snapshots.set(backend.name, fresh), fresh),
          () => this.#snapshots.get(backend.name),
        )
        .finally(() => this.#fetching.delete(backend.name));
      this.#fetching.set(backend.name, fetching);
    }
    return fetching;
  }

  /** The workflow's position on `backend` (undefined when that backend is not configured). */
  async of(w: WorkflowRecord, backend: ComfyBackend | undefined): Promise<number | null> {
    if (FINAL.has(w.status)) return null;
    if (w.status === "running") return 0;
    if (!backend) return null;
    if (w.submitted) {
      const snap = await this.#snapshot(backend);
      if (snap) {
        if (snap.running.some((r) => r.promptId === w.workflowId)) return 0;
        const i = snap.pending.findIndex((p) => p.promptId === w.workflowId);
        if (i >= 0) return i + 1;
      }
      return null;
    }
    // Waiting here for an unreachable backend: behind what ComfyUI already holds.
    const waiting = this.#store.open().filter((o) => o.backend === w.backend && !o.submitted);
    const snap = this.#snapshots.get(w.backend);
    return (snap?.pending.length ?? 0) + waiting.findIndex((o) => o.workflowId === w.workflowId) + 1;
  }
}
