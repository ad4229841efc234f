/** Ports for task CLIs that serve something of their own on this machine (agentic-flow's proxy). */

/** A TCP port on 127.0.0.1 that nothing listens on now. */
export function freeLocalPort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const { port } = listener;
  listener.stop(true);
  return port;
}
