/** The rate limiter's hit counts, in memory, with windows timed by the monotonic clock. */
import type { ClientRateLimitInfo, Store } from "hono-rate-limiter";

type Window = { hits: number; endsAt: number };

/**
 * A fixed window per client, as hono-rate-limiter's MemoryStore counts, but each window ends on the
 * monotonic clock (performance.now()). MemoryStore ends it at a wall-clock time, so a clock stepped
 * back (NTP at boot, a restored VM) stretched every open window by the step: a dashboard polling
 * every few seconds was never forgotten, and got 429 for as long as the step. The wall-clock
 * `resetTime` the headers need is worked out from the time left at each hit.
 */
export class MonotonicMemoryStore implements Store {
  readonly #windows = new Map<string, Window>();
  #windowMs = 60_000;
  #nextSweep = 0;

  init(options: { windowMs: number }) {
    this.#windowMs = options.windowMs;
  }

  get(key: string): ClientRateLimitInfo | undefined {
    const w = this.#windows.get(key);
    return w && w.endsAt > performance.now() ? this.#info(w) : undefined;
  }

  increment(key: string): ClientRateLimitInfo {
    const now = performance.now();
    this.#sweep(now);
    let w = this.#windows.get(key);
    if (!w || w.endsAt <= now) this.#windows.set(key, (w = { hits: 0, endsAt: now + this.#windowMs }));
    w.hits++;
    return this.#info(w);
  }

  decrement(key: string) {
    const w = this.#windows.get(key);
    if (w && w.hits > 0) w.hits--;
  }

  resetKey(key: string) {
    this.#windows.delete(key);
  }

  resetAll() {
    this.#windows.clear();
  }

  /** How many clients are remembered. */
  get size() {
    return this.#windows.size;
  }

  #info(w: Window): ClientRateLimitInfo {
    return { totalHits: w.hits, resetTime: new Date(Date.now() + Math.max(0, w.endsAt - performance.now())) };
  }

  /** Clients whose window ended are forgotten, at most once a window: memory follows the clients of the last window or two. */
  #sweep(now: number) {
    if (now < this.#nextSweep) return;
    this.#nextSweep = now + this.#windowMs;
    for (const [key, w] of this.#windows) if (w.endsAt <= now) this.#windows.delete(key);
  }
}
