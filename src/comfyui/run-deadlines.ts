/**
 * Time limits of running workflows. ComfyUI has none of its own: a custom node that hangs (a
 * download that never ends, a deadlock) holds the GPU's queue for ever. A workflow with a limit
 * gets a timer when it starts running, counted from its start (its wait in the queue is other
 * workflows' time), and from the recorded start after an API restart.
 */
import type { WorkflowRecord } from "./workflow-store.ts";

/** setTimeout's longest delay; a longer one fires at once. Limits go up to 30 days. */
const MAX_DELAY_MS = 2 ** 31 - 1;

export class RunDeadlines {
  readonly #timers = new Map<string, Timer>();
  readonly #onTimeUp: (workflowId: string) => void;

  constructor(onTimeUp: (workflowId: string) => void) {
    this.#onTimeUp = onTimeUp;
  }

  /** Starts the clock of a running workflow that has a limit (again is harmless). */
  arm(w: Pick<WorkflowRecord, "workflowId" | "startTime" | "timeoutMs">, now = Date.now()) {
    if (w.timeoutMs === null || w.startTime === null || this.#timers.has(w.workflowId)) return;
    const due = w.startTime + w.timeoutMs;
    const tick = () => {
      const left = due - Date.now();
      if (left > 0) return this.#timers.set(w.workflowId, setTimeout(tick, Math.min(left, MAX_DELAY_MS)));
      this.#timers.delete(w.workflowId);
      this.#onTimeUp(w.workflowId);
    };
    this.#timers.set(w.workflowId, setTimeout(tick, Math.min(Math.max(0, due - now), MAX_DELAY_MS)));
  }

  /** The workflow ended: its clock stops. */
  clear(workflowId: string) {
    clearTimeout(this.#timers.get(workflowId));
    this.#timers.delete(workflowId);
  }

  close() {
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
  }
}
