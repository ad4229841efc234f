/** Ports for task CLIs that serve something of their own on this machine (agentic-flow's proxy). */

/** A TCP port on 127.0.0.1 that nothing listens on now. */
export function freeLocalPort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const { port } = listener;
  listener.stop(true);
  return port;
}

/**
 * Hands out free ports, never one it handed out in the last `holdMs`. The kernel may offer a port
 * again as soon as it is released, before the first task's CLI has bound it: two tasks started
 * together were given the same one (seen in a test run), the collision the port is there to avoid.
 */
export class LocalPorts {
  readonly #handedOut = new Map<number, number>(); // port -> held until (performance.now() ms)

  constructor(
    private readonly holdMs = 5 * 60_000,
    private readonly probe: () => number = freeLocalPort,
  ) {}

  take(now = performance.now()): number {
    for (const [port, until] of this.#handedOut) if (until <= now) this.#handedOut.delete(port);
    for (let tries = 0; tries < 100; tries++) {
      const port = this.probe();
      if (this.#handedOut.has(port)) continue;
      this.#handedOut.set(port, now + this.holdMs);
      return port;
    }
    throw new Error("no free TCP port on 127.0.0.1 that was not just handed to another task");
  }
}
