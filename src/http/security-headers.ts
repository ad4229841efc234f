/** Security headers: the full browser set (hono/secure-headers) on pages, a lean set on API responses. */
import type { MiddlewareHandler } from "hono";
import { secureHeaders } from "hono/secure-headers";

const PAGE = /^\/(docs|ui)(\/|$)/;

/** Swagger UI and the dashboard: the pages a browser renders. */
export function isPage(path: string): boolean {
  return PAGE.test(path);
}

/**
 * What a JSON or event-stream response needs (OWASP's REST headers): no sniffing, nothing may run
 * or frame it. Browsers never render these responses, so the rest of the page set would only cost
 * time on every request.
 */
export const API_SECURITY_HEADERS: readonly (readonly [string, string])[] = [
  ["X-Content-Type-Options", "nosniff"],
  ["Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"],
];

/** hono/secure-headers for pages, with a CSP that lets Swagger UI and the dashboard load their own files. */
export function pageSecurityHeaders(): MiddlewareHandler {
  return secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'", "'unsafe-inline'"],
      imgSrc: ["'self'", "data:", "blob:"],
      connectSrc: ["'self'"],
      fontSrc: ["'self'", "data:"],
      objectSrc: ["'none'"],
      frameAncestors: ["'none'"],
      baseUri: ["'self'"],
    },
    crossOriginResourcePolicy: "same-origin",
  });
}
