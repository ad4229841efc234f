/** coalesced(): one run at a time, triggers during a run folded into one more, a minimum interval. */
import { describe, expect, setSystemTime, test } from "bun:test";
import { coalesced } from "../../src/comfyui/coalesce.ts";

describe("coalesced", () => {
  test("triggers during a run make exactly one more run, started no sooner than the interval", async () => {
    const starts: number[] = [];
    let running = 0;
    let overlapped = false;
    const trigger = coalesced(async () => {
      overlapped ||= running > 0;
      running++;
      starts.push(Date.now());
      await Bun.sleep(30);
      running--;
    }, 100);
    trigger();
    for (let i = 0; i < 5; i++) trigger(); // while the first run is busy
    await Bun.sleep(250);
    expect(starts).toHaveLength(2);
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(95);
    expect(overlapped).toBe(false);
    // Idle again: a trigger runs at once once the interval has passed.
    const before = Date.now();
    trigger();
    await Bun.sleep(10);
    expect(starts).toHaveLength(3);
    expect(starts[2]! - before).toBeLessThan(10);
  });

  test("an interval given as a function is asked before each run: one that follows the job's cost", async () => {
    const starts: number[] = [];
    let gap = 0;
    const trigger = coalesced(async () => void starts.push(performance.now()), () => gap);
    trigger();
    await Bun.sleep(5);
    gap = 150;
    trigger();
    await Bun.sleep(50);
    expect(starts).toHaveLength(1); // held back by the new gap
    await Bun.sleep(250);
    expect(starts).toHaveLength(2);
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(145);
  });

  test("a wall clock stepped back (NTP, a restored VM) does not hold the next run back by the step", async () => {
    let runs = 0;
    const trigger = coalesced(async () => void runs++, 100);
    trigger();
    await Bun.sleep(10);
    expect(runs).toBe(1);
    try {
      setSystemTime(new Date(Date.now() - 3_600_000));
      trigger(); // due 100 ms after the first run, not an hour and 100 ms
      await Bun.sleep(300);
      expect(runs).toBe(2);
    } finally {
      setSystemTime();
    }
  });
});
