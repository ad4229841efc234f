/**
 * Where each workflow stands in its backend's line: 0 running, 1 next, ...; null when finished.
 * Read from ComfyUI's /queue, fetched at most once per 250 ms and once however many positions are
 * asked for at once (a list asks per workflow); the last snapshot serves while a backend is away,
 * or busy: ComfyUI answers nothing while it builds an /object_info for a browser (seconds to
 * minutes with many custom nodes), and a position is not worth holding every status request 10 s.
 *
 * /queue carries every queued prompt whole (ComfyUI deep-copies them for it): with 600 queued
 * prompts of 16 KB, about 50 ms a fetch; fetched for each submission, a batch took quadratic time
 * on both sides (53 ms a submission at 600 queued, against 9 at 50).
 * So what we send ourselves goes into the snapshot we hold; while ComfyUI's count (its status
 * messages) agrees with the snapshot, it serves as before; and one that no longer agrees is fetched
 * again only once older than ten times its own fetch took, which keeps fetching to a tenth of the time.
 */
import type { ComfyBackend, BackendName } from "./backend.ts";
import type { QueueSnapshot } from "./comfy-wire.ts";
import { FINAL, type WorkflowRecord, type WorkflowStore } from "./workflow-store.ts";

/** How long a position waits for ComfyUI's /queue before the last snapshot serves. */
const QUEUE_WAIT_MS = 2_000;
/** A snapshot serves for at least this many times as long as fetching it took (the reconciler's queue checks too). */
export const FETCH_SHARE = 10;

/** When a snapshot's fetch started: what happened before then, it shows. */
const fetchStart = (s: QueueSnapshot) => s.at - s.fetchMs;

export class QueuePositions {
  readonly #store: WorkflowStore;
  /** Per backend: ComfyUI's queue as last fetched, with what we sent since merged in. */
  readonly #snapshots = new Map<BackendName, QueueSnapshot>();
  /** Per backend: prompts we sent that no snapshot fetched after their sending shows yet, and when. */
  readonly #sent = new Map<BackendName, Map<string, { number: number; at: number }>>();
  /** Per backend: how many prompts ComfyUI last said it holds, running ones included. */
  readonly #remaining = new Map<BackendName, number>();
  /** Per backend: how many we sent since ComfyUI last said so, whose status message may yet come. */
  readonly #unannounced = new Map<BackendName, number>();
  readonly #fetching = new Map<BackendName, Promise<QueueSnapshot | undefined>>();

  constructor(store: WorkflowStore) {
    this.#store = store;
  }

  /**
   * ComfyUI said its queue changed (a status message) and now holds `remaining` prompts, running
   * ones included. A snapshot that holds as many (with what we sent since) still serves; else the
   * next position asks again. Compared when a position is asked, not now: ComfyUI says so before
   * it answers our POST, that is, before we know what we sent.
   */
  changed(backend: BackendName, remaining: number) {
    this.#remaining.set(backend, remaining);
    this.#unannounced.set(backend, 0);
  }

  /** We sent ComfyUI this prompt: it waits in line by its number, as ComfyUI keeps it. */
  sent(backend: BackendName, promptId: string, number: number) {
    let sent = this.#sent.get(backend);
    if (!sent) this.#sent.set(backend, (sent = new Map()));
    sent.set(promptId, { number, at: performance.now() });
    this.#unannounced.set(backend, (this.#unannounced.get(backend) ?? 0) + 1);
    const s = this.#snapshots.get(backend);
    if (s) this.#snapshots.set(backend, withSent(s, sent));
  }

  /** ComfyUI started this prompt of ours: it runs, and the one that ran before it has ended (ComfyUI runs one at a time). */
  started(backend: BackendName, promptId: string) {
    const s = this.#snapshots.get(backend);
    const e = s?.pending.find((p) => p.promptId === promptId);
    if (s && e) this.#snapshots.set(backend, { ...s, running: [e], pending: s.pending.filter((p) => p !== e) });
  }

  /** A snapshot fetched elsewhere (reconciliation) serves the next positions too. */
  remember(backend: BackendName, snap: QueueSnapshot) {
    const sent = this.#sent.get(backend);
    // What it shows of ours, or not (run and gone), it knows better than we do.
    for (const [id, e] of sent ?? []) if (e.at <= fetchStart(snap)) sent!.delete(id);
    this.#snapshots.set(backend, sent?.size ? withSent(snap, sent) : snap);
  }

  /**
   * Whether ComfyUI's last count fits `s`: as many, or fewer by at most the prompts we sent since
   * (ComfyUI's status message about a prompt comes before or after its POST's answer).
   */
  #agrees(backend: BackendName, s: QueueSnapshot): boolean {
    const remaining = this.#remaining.get(backend);
    const size = s.running.length + s.pending.length;
    return remaining === undefined || (remaining <= size && remaining >= size - (this.#unannounced.get(backend) ?? 0));
  }

  async #snapshot(backend: ComfyBackend, maxAgeMs = 250): Promise<QueueSnapshot | undefined> {
    const s = this.#snapshots.get(backend.name);
    const agrees = s && this.#agrees(backend.name, s);
    if (s && performance.now() - s.at <= FETCH_SHARE * s.fetchMs + (agrees ? maxAgeMs : 0)) return s;
    if (!backend.connected && s) return s;
    let fetching = this.#fetching.get(backend.name);
    if (!fetching) {
      fetching = backend
        .queue(QUEUE_WAIT_MS)
        .then(
          (fresh) => (this.remember(backend.name, fresh), this.#snapshots.get(backend.name)),
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

/** `s` with the prompts of `sent` it does not hold put in line by their numbers. */
function withSent(s: QueueSnapshot, sent: ReadonlyMap<string, { number: number }>): QueueSnapshot {
  const held = new Set([...s.running, ...s.pending].map((e) => e.promptId));
  const extra = [...sent].filter(([id]) => !held.has(id)).map(([promptId, e]) => ({ promptId, number: e.number }));
  if (!extra.length) return s;
  return { ...s, pending: [...s.pending, ...extra].sort((a, b) => a.number - b.number) };
}
