/**
 * The reference: a bare Bun.serve answering what the API answers on the benchmarked paths, nothing
 * else (Bun's own static routing, so it pays for no URL parsing either).
 *
 * `/health/with-api-headers` also sends the headers the API's /health carries (request id, Cache-Control,
 * ETag, the two API security headers): what answering as the specification asks costs before any
 * framework, logging or metrics.
 */
const port = Number(Bun.argv[2] ?? 0);
const health = () => ({ status: "healthy", timestamp: new Date().toISOString() });
const server = Bun.serve({
  port,
  hostname: "127.0.0.1",
  routes: {
    "/health": () => Response.json(health()),
    "/health/with-api-headers": (req) => {
      const text = JSON.stringify(health());
      const etag = `W/"${Bun.hash(text).toString(36)}-${text.length.toString(36)}"`;
      const headers = {
        "Cache-Control": "public, max-age=10",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
        ETag: etag,
        "Content-Type": "application/json",
        "x-request-id": req.headers.get("x-request-id") ?? crypto.randomUUID(),
      };
      return req.headers.get("if-none-match") === etag ? new Response(null, { status: 304, headers }) : new Response(text, { headers });
    },
    // GET /v1/tasks on an API with no running task.
    "/v1/tasks": () => Response.json({ activeTasks: [], tasks: [], count: 0, nextCursor: null }),
  },
  fetch: () => new Response("Not Found", { status: 404 }),
});
console.log(server.port);
