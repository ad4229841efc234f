/** MonotonicMemoryStore: fixed windows per client, ended by the monotonic clock, idle clients forgotten. */
import { describe, expect, setSystemTime, test } from "bun:test";
import { MonotonicMemoryStore } from "../../src/http/rate-limit-store.ts";

describe("MonotonicMemoryStore", () => {
  test("counts hits in a window, gives a decrement back, and starts a new window when it ends", async () => {
    const store = new MonotonicMemoryStore();
    store.init({ windowMs: 200 });
    expect(store.get("a")).toBeUndefined();
    expect(store.increment("a").totalHits).toBe(1);
    const { totalHits, resetTime } = store.increment("a");
    expect(totalHits).toBe(2);
    expect(resetTime!.getTime() - Date.now()).toBeWithin(100, 201);
    store.decrement("a");
    expect(store.get("a")!.totalHits).toBe(1);
    expect(store.increment("b").totalHits).toBe(1); // each client its own
    await Bun.sleep(250);
    expect(store.get("a")).toBeUndefined();
    expect(store.increment("a").totalHits).toBe(1);
    store.resetKey("a");
    expect(store.get("a")).toBeUndefined();
  });

  test("clients whose window ended are forgotten: memory follows the clients of the last window or two", async () => {
    const store = new MonotonicMemoryStore();
    store.init({ windowMs: 100 });
    for (let i = 0; i < 1000; i++) store.increment(`10.0.${i >> 8}.${i & 255}`);
    expect(store.size).toBe(1000);
    await Bun.sleep(150);
    store.increment("new");
    expect(store.size).toBe(1);
  });

  test("the wall clock stepped back or forward moves neither the window's end nor the count", async () => {
    const store = new MonotonicMemoryStore();
    store.init({ windowMs: 300 });
    store.increment("a");
    try {
      setSystemTime(new Date(Date.now() + 3_600_000));
      expect(store.increment("a").totalHits).toBe(2); // not a new window an hour early
      setSystemTime(new Date(Date.now() - 7_200_000));
      const { totalHits, resetTime } = store.increment("a");
      expect(totalHits).toBe(3);
      expect(resetTime!.getTime() - Date.now()).toBeWithin(0, 301); // in the clock's own terms
      await Bun.sleep(350);
      expect(store.increment("a").totalHits).toBe(1);
    } finally {
      setSystemTime();
    }
  });
});
