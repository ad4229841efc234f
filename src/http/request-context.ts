/** Request id, per-request logger and the one access-log line per request. */
import type { MiddlewareHandler } from "hono";
import type { Logger } from "pino";
import { routeLabel } from "./route-label.ts";
import type { AppEnv } from "./types.ts";

const VALID_ID = /^[A-Za-z0-9._:@-]{1,128}$/;

/** Keeps a valid incoming x-request-id or makes one; logs method, route, status and time. */
export function requestContext(logger: Logger): MiddlewareHandler<AppEnv> {
  return async function requestContextMiddleware(c, next) {
    const start = performance.now();
    const incoming = c.req.header("x-request-id");
    const requestId = incoming && VALID_ID.test(incoming) ? incoming : crypto.randomUUID();
    c.set("requestId", requestId);
    // The shared logger: lines about a request pass `reqId` themselves (a child per request costs
    // more than the rest of a /health request).
    c.set("logger", logger);
    await next();
    const responseTime = Math.round((performance.now() - start) * 1000) / 1000;
    c.res.headers.set("x-request-id", requestId);
    const status = c.res.status;
    const level = status >= 500 ? "error" : status >= 400 ? "warn" : "info";
    // The path is logged without its query string, so `?token=` never reaches a log.
    logger[level](
      { reqId: requestId, method: c.req.method, route: routeLabel(c), path: c.req.path, status, responseTime, ip: c.get("clientIp") },
      "request completed",
    );
  };
}
