/** The server's life: starting -> ready -> stopping. Streams watch `stopping` to say goodbye. */

export type LifecycleState = "starting" | "ready" | "stopping";

export class Lifecycle {
  #state: LifecycleState = "starting";
  readonly #stopping = new AbortController();
  /** When the server started, on the monotonic clock (performance.now()): uptime does not jump with the wall clock. */
  readonly startedAt = performance.now();

  get state(): LifecycleState {
    return this.#state;
  }

  /** Aborted when shutdown begins; open streams send a final message and close. */
  get stopping(): AbortSignal {
    return this.#stopping.signal;
  }

  markReady() {
    if (this.#state === "starting") this.#state = "ready";
  }

  beginShutdown() {
    this.#state = "stopping";
    this.#stopping.abort();
  }
}
