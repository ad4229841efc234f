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

/** What we know of one backend's line. */
interface Line {
  /** ComfyUI's queue as last fetched, with what we sent and started since put in. */
  snapshot?: QueueSnapshot;
  /** Prompts we sent that no snapshot fetched after their sending shows yet, and when. */
  sent: Map<string, { number: number; at: number }>;
  /** How many prompts ComfyUI last said it holds, running ones included. */
  remaining?: number;
  /** How many we sent since ComfyUI last said so, whose status message may yet come. */
  unannounced: number;
  fetching?: Promise<QueueSnapshot | undefined>;
}

export class QueuePositions {
  readonly #store: WorkflowStore;
  readonly #lines = new Map<BackendName, Line>();

  constructor(store: WorkflowStore) {
    this.#store = store;
  }

  #line(backend: BackendName): Line {
    let line = this.#lines.get(backend);
    if (!line) this.#lines.set(backend, (line = { sent: new Map(), unannounced: 0 }));
    return line;
  }

  /**
   * ComfyUI said its queue changed (a status message) and now holds `remaining` prompts, running
   * ones included. A snapshot that holds as many (with what we sent since) still serves; else the
   * next position asks again. Compared when a position is asked, not now: ComfyUI says so before
   * it answers our POST, that is, before we know what we sent.
   */
  changed(backend: BackendName, remaining: number) {
    const line = this.#line(backend);
    line.remaining = remaining;
    line.unannounced = 0;
  }

  /** We sent ComfyUI this prompt: it waits in line by its number, as ComfyUI keeps it. */
  sent(backend: BackendName, promptId: string, number: number) {
    const line = this.#line(backend);
    line.sent.set(promptId, { number, at: performance.now() });
    line.unannounced++;
    if (line.snapshot) line.snapshot = withSent(line.snapshot, line.sent);
  }

  /** ComfyUI started this prompt of ours: it runs, and the one that ran before it has ended (ComfyUI runs one at a time). */
  started(backend: BackendName, promptId: string) {
    const line = this.#line(backend);
    const s = line.snapshot;
    const e = s?.pending.find((p) => p.promptId === promptId);
    if (s && e) line.snapshot = { ...s, running: [e], pending: s.pending.filter((p) => p !== e) };
  }

  /** This prompt of ours ended (completed, failed, cancelled: deleted from ComfyUI's queue or interrupted): out of line. */
  ended(backend: BackendName, promptId: string) {
    const line = this.#line(backend);
    line.sent.delete(promptId);
    const s = line.snapshot;
    if (s) line.snapshot = { ...s, running: s.running.filter((e) => e.promptId !== promptId), pending: s.pending.filter((e) => e.promptId !== promptId) };
  }

  /** A snapshot fetched elsewhere (reconciliation) serves the next positions too. */
  remember(backend: BackendName, snap: QueueSnapshot) {
    const line = this.#line(backend);
    // What it shows of ours, or not (run and gone), it knows better than we do.
    for (const [id, e] of line.sent) if (e.at <= fetchStart(snap)) line.sent.delete(id);
    line.snapshot = withSent(snap, line.sent);
  }

  /** How long the last look at the backend's /queue took to fetch, in ms (0 before the first). */
  fetchMs(backend: BackendName): number {
    return this.#lines.get(backend)?.snapshot?.fetchMs ?? 0;
  }

  /**
   * Whether ComfyUI's last count fits the snapshot: as many, or fewer by at most the prompts we sent
   * since (ComfyUI's status message about a prompt comes before or after its POST's answer).
   */
  #agrees(line: Line, s: QueueSnapshot): boolean {
    const size = s.running.length + s.pending.length;
    return line.remaining === undefined || (line.remaining <= size && line.remaining >= size - line.unannounced);
  }

  async #snapshot(backend: ComfyBackend, maxAgeMs = 250): Promise<QueueSnapshot | undefined> {
    const line = this.#line(backend.name);
    const s = line.snapshot;
    if (s && performance.now() - s.at <= FETCH_SHARE * s.fetchMs + (this.#agrees(line, s) ? maxAgeMs : 0)) return s;
    if (!backend.connected && s) return s;
    line.fetching ??= backend
      .queue(QUEUE_WAIT_MS)
      .then(
        (fresh) => (this.remember(backend.name, fresh), line.snapshot),
        () => line.snapshot,
      )
      .finally(() => (line.fetching = undefined));
    return line.fetching;
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
    const snap = this.#lines.get(w.backend)?.snapshot;
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
