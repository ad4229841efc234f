/**
 * The reference: a bare Bun.serve answering what the API answers on the benchmarked paths, nothing
 * else (Bun's own static routing, so it pays for no URL parsing either).
 *
 * Further rows price what the specification asks of every answer, before any framework, logging or
 * metrics:
 * - `/health/with-api-headers` sends the headers the API's /health carries (request id,
 *   Cache-Control, ETag, the two API security headers);
 * - `/v1/tasks/with-peer-address` only asks Bun for the client's address (`server.requestIP`), which
 *   per-client rate limiting needs on every limited request: Bun answers it with a getpeername(2)
 *   system call each time (strace shows one per request), with no way to keep it per connection;
 * - `/v1/tasks/spec-minimum` does what any server must for an authenticated, rate-limited JSON
 *   route: the peer address checked against the allowlist, the bearer token hashed and compared in
 *   constant time, and the API's headers.
 */
import { timingSafeEqual } from "node:crypto";

const port = Number(Bun.argv[2] ?? 0);
/** The key the API under test accepts (bench/lib.ts KEY). */
const key = Bun.argv[3] ?? "";
const keyDigest = Bun.SHA256.hash(key) as Uint8Array;
const allowlist = new Set(["127.0.0.1"]);
const health = () => ({ status: "healthy", timestamp: new Date().toISOString() });
const emptyTaskList = () => ({ activeTasks: [], tasks: [], count: 0, nextCursor: null });

/** The body with the API's headers: request id, Cache-Control, ETag, the security headers. */
function withApiHeaders(req: Request, body: unknown, cacheControl: string): Response {
  const text = JSON.stringify(body);
  const etag = `W/"${Bun.hash(text).toString(36)}-${text.length.toString(36)}"`;
  const headers = {
    "Cache-Control": cacheControl,
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    ETag: etag,
    "Content-Type": "application/json",
    "x-request-id": req.headers.get("x-request-id") ?? crypto.randomUUID(),
  };
  return req.headers.get("if-none-match") === etag ? new Response(null, { status: 304, headers }) : new Response(text, { headers });
}

const server = Bun.serve({
  port,
  hostname: "127.0.0.1",
  routes: {
    "/health": () => Response.json(health()),
    "/health/with-api-headers": (req) => withApiHeaders(req, health(), "public, max-age=10"),
    // GET /v1/tasks on an API with no running task.
    "/v1/tasks": () => Response.json(emptyTaskList()),
    "/v1/tasks/with-peer-address": (req, srv) => {
      if (!srv.requestIP(req)) return new Response(null, { status: 500 });
      return Response.json(emptyTaskList());
    },
    "/v1/tasks/spec-minimum": (req, srv) => {
      const ip = srv.requestIP(req)?.address;
      if (!ip || !allowlist.has(ip)) return new Response(null, { status: 429 });
      const token = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(req.headers.get("authorization") ?? "")?.[1];
      if (!token || !timingSafeEqual(Bun.SHA256.hash(token) as Uint8Array, keyDigest)) return new Response(null, { status: 403 });
      return withApiHeaders(req, emptyTaskList(), "no-store");
    },
  },
  fetch: () => new Response("Not Found", { status: 404 }),
});
console.log(server.port);
