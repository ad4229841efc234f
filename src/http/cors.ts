/** CORS from CORS_ORIGINS (hono/cors). */
import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";

const EXPOSED_HEADERS = ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After", "x-request-id", "ETag", "Idempotent-Replayed", "Content-Range"];

/** Listed origins are echoed back (with credentials); `*` allows any origin, never with credentials. */
export function corsFor(origins: readonly string[]): MiddlewareHandler {
  const wildcard = origins.includes("*");
  return cors({
    origin: (origin) => (wildcard ? "*" : origins.includes(origin) ? origin : null),
    allowMethods: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
    allowHeaders: ["Content-Type", "Authorization", "X-API-Key", "X-Request-Id", "Last-Event-ID", "If-None-Match", "Accept", "Idempotency-Key", "Range"],
    exposeHeaders: EXPOSED_HEADERS,
    credentials: !wildcard && origins.length > 0,
    maxAge: 600,
  });
}
