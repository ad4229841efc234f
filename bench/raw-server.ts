/**
 * The reference: a bare Bun.serve answering what the API answers on the benchmarked paths, nothing
 * else (Bun's own static routing, so it pays for no URL parsing either).
 */
const port = Number(Bun.argv[2] ?? 0);
const server = Bun.serve({
  port,
  hostname: "127.0.0.1",
  routes: {
    "/health": () => Response.json({ status: "healthy", timestamp: new Date().toISOString() }),
    // GET /v1/tasks on an API with no running task.
    "/v1/tasks": () => Response.json({ activeTasks: [], tasks: [], count: 0, nextCursor: null }),
  },
  fetch: () => new Response("Not Found", { status: 404 }),
});
console.log(server.port);
