/** The reference: a bare Bun.serve answering the same JSON as /health, nothing else. */
const port = Number(Bun.argv[2] ?? 0);
const server = Bun.serve({
  port,
  hostname: "127.0.0.1",
  fetch: () => Response.json({ status: "healthy", timestamp: new Date().toISOString() }),
});
console.log(server.port);
