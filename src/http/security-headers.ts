/** Security headers: the full browser set (hono/secure-headers) on pages, a lean set on API responses. */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./types.ts";

const PAGE = /^\/(docs|ui)(\/|$)/;
/** What a JSON or event-stream response needs: no sniffing, nothing may run or frame it. */
const API_HEADERS: [string, string][] = [
  ["X-Content-Type-Options", "nosniff"],
  ["Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"],
  ["Referrer-Policy", "no-referrer"],
];

/**
 * Pages (Swagger UI, the dashboard) get `pageHeaders` (CSP that lets them load their own files,
 * frame and cross-origin policies, HSTS...). API responses, which browsers never render, get three
 * headers: setting a dozen headers on every response would cost more than the rest of a request.
 */
export function securityHeaders(pageHeaders: MiddlewareHandler): MiddlewareHandler<AppEnv> {
  return async function securityHeadersMiddleware(c, next) {
    if (PAGE.test(c.req.path)) return pageHeaders(c, next);
    await next();
    const h = c.res.headers;
    for (const [k, v] of API_HEADERS) h.set(k, v);
  };
}
