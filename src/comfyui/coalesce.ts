/** Running an async job on demand, never two at once and not more often than a given interval. */

/**
 * Returns a trigger for `job`. A trigger while the job runs (or waits out `minIntervalMs` since its
 * last start) asks for one more run after it; any number of such triggers make one run. Each run
 * sees the state after every trigger that came before it started. `job` handles its own errors.
 * `minIntervalMs` may be a function, asked before each run: an interval that follows the job's cost.
 */
export function coalesced(job: () => Promise<unknown>, minIntervalMs: number | (() => number)): () => void {
  const interval = typeof minIntervalMs === "number" ? () => minIntervalMs : minIntervalMs;
  let busy = false;
  let again = false;
  let lastStart = -Infinity;
  const run = async () => {
    busy = true;
    try {
      do {
        // The monotonic clock: a wall clock stepped back would otherwise make this wait as long as the step.
        const wait = lastStart + interval() - performance.now();
        if (wait > 0) await Bun.sleep(wait);
        again = false; // triggers until now are served by this run
        lastStart = performance.now();
        await job();
      } while (again);
    } finally {
      busy = false;
    }
  };
  return function trigger() {
    if (busy) again = true;
    else void run();
  };
}
