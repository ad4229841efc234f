/** Deleting what is past its retention: tasks (TASK_RETENTION) and ComfyUI workflows (WORKFLOW_RETENTION). */

/**
 * Runs `sweep` now and then every tenth of the retention, between once a minute and once an hour:
 * often enough that nothing outlives its retention by more than a tenth, rarely enough to cost nothing.
 * Returns the timer, for `clearInterval` on close.
 */
export function startSweeping(retentionMs: number, sweep: () => unknown, onError: (err: unknown) => void): Timer {
  // A failed sweep (a full disk, say) must neither stop the server from starting nor end it later
  // as an uncaught exception or rejection: it is reported, and the next sweep tries again.
  const guarded = () => {
    try {
      const done = sweep();
      if (done instanceof Promise) done.catch(onError);
    } catch (err) {
      onError(err);
    }
  };
  guarded();
  return setInterval(guarded, Math.min(3_600_000, Math.max(60_000, retentionMs / 10)));
}
