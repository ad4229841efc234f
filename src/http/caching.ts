/** Cache-Control per route, ETag / If-None-Match on GET JSON responses. */
import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "./types.ts";

/** Cache-Control by path, first match wins (the spec's table). */
const RULES: [RegExp, string][] = [
  [/^\/v1\/tasks(\/|$)/, "no-store"],
  [/^\/v1\/status$/, "public, max-age=5"],
  [/^\/health$/, "public, max-age=10"],
  [/^\/v1\/comfyui\/models$/, "public, max-age=300"],
  [/^\/ui(\/|$)/, "no-cache"],
  [/^\/v1\/comfyui\/outputs?(\/|$)/, "private, max-age=30"],
  [/^\/(ready|metrics)$/, "no-store"],
  [/^\/v1\//, "no-store"],
];

/** A weak validator for a body. */
export function etagFor(body: string | Uint8Array): string {
  const len = typeof body === "string" ? body.length : body.byteLength;
  return `W/"${Bun.hash(body).toString(36)}-${len.toString(36)}"`;
}

/** Whether If-None-Match names this tag. */
export function matchesEtag(c: Context, tag: string): boolean {
  const inm = c.req.header("if-none-match");
  return !!inm && inm.split(",").some((t) => t.trim() === tag || t.trim() === "*");
}

/**
 * Sets Cache-Control on successful responses that did not set their own, and gives GET JSON
 * responses an ETag. The ETag is computed from the JSON text as `c.json` makes it, so no response
 * is read back or rebuilt.
 */
export function caching(): MiddlewareHandler<AppEnv> {
  return async function cachingMiddleware(c, next) {
    const method = c.req.method;
    if (method === "GET" || method === "HEAD") {
      const json = c.json;
      c.json = ((object: unknown, arg?: number | ResponseInit, headers?: HeadersInit) => {
        const status = typeof arg === "number" ? arg : (arg?.status ?? 200);
        if (status !== 200) return json(object as never, arg as never, headers as never);
        const text = JSON.stringify(object);
        const tag = etagFor(text);
        c.header("ETag", tag);
        if (matchesEtag(c, tag)) return c.body(null, 304, headers as never);
        c.header("Content-Type", "application/json");
        // Lets compression skip small bodies.
        c.header("Content-Length", String(Buffer.byteLength(text)));
        return c.body(text, arg as never, headers as never);
      }) as typeof c.json;
    }
    await next();
    if (c.res.status >= 400 || c.res.headers.has("Cache-Control")) return;
    const path = c.req.path;
    for (const [re, value] of RULES) {
      if (re.test(path)) {
        c.res.headers.set("Cache-Control", value);
        return;
      }
    }
  };
}
