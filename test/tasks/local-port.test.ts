/** {port}s for task CLIs: free when handed out, and never handed to two tasks at once. */
import { describe, expect, test } from "bun:test";
import { LocalPorts } from "../../src/tasks/local-port.ts";

describe("local ports", () => {
  test("a port the kernel offers again is not handed out twice while it is held", () => {
    // The kernel may offer a just-released port again at once, as it did in a test run.
    const offers = [41000, 41000, 41000, 41001, 41000];
    const ports = new LocalPorts(1_000, () => offers.shift()!);
    expect(ports.take(0)).toBe(41000);
    expect(ports.take(10)).toBe(41001);
    // Once the hold is over, it may go to another task.
    expect(ports.take(1_000)).toBe(41000);
  });

  test("it gives up, saying why, rather than hand out a held port", () => {
    const ports = new LocalPorts(1_000, () => 41000);
    ports.take(0);
    expect(() => ports.take(1)).toThrow("no free TCP port on 127.0.0.1 that was not just handed to another task");
  });

  test("a hundred taken at once are all different, and free", () => {
    const ports = new LocalPorts();
    const taken = Array.from({ length: 100 }, () => ports.take());
    expect(new Set(taken).size).toBe(100);
    // Each can be bound, as the task's CLI will.
    const bound = taken.map((port) => Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } }));
    expect(bound.map((l) => l.port)).toEqual(taken);
    for (const l of bound) l.stop(true);
  });
});
