/**
 * `?wait=N` on the GETs of things that end (a task, a workflow): the answer comes once the thing
 * has ended, or after N seconds, whichever is first, so a script waits with one request instead of
 * polling. Shutdown answers every wait at once, with the state as it then is. Bun's idle timeout
 * does not cut a request waiting for its answer (checked by test/http/long-poll.test.ts, with a
 * 1 s timeout), so a wait needs no opt-out as a stream does.
 */
import { z } from "@hono/zod-openapi";

/** The longest wait a request may ask for; a client wanting more asks again. */
export const MAX_WAIT_SECONDS = 3600;

export const waitQuery = z.coerce
  .number()
  .int()
  .min(0)
  .max(MAX_WAIT_SECONDS)
  .optional()
  .openapi({
    description: `Answer once it has ended, or after this many seconds (up to ${MAX_WAIT_SECONDS}), whichever is first, rather than at once; the answer is its state then. Shutdown answers at once`,
    example: 60,
  });

/**
 * Resolves after `ms`, when `subscribe`'s callback fires, or when `signal` aborts, whichever is
 * first; `subscribe` returns what undoes it.
 */
export function waitUntil(ms: number, signal: AbortSignal, subscribe: (wake: () => void) => () => void): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    let unsubscribe: (() => void) | undefined;
    let woken = false;
    const timer = setTimeout(wake, ms);
    function wake() {
      if (woken) return;
      woken = true;
      clearTimeout(timer);
      signal.removeEventListener("abort", wake);
      unsubscribe?.();
      resolve();
    }
    signal.addEventListener("abort", wake, { once: true });
    unsubscribe = subscribe(wake);
    // Woken while subscribing (it had ended already): nothing is left to undo it later.
    if (woken) unsubscribe();
  });
}
