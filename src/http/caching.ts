/** Cache-Control per route, ETag / If-None-Match on GET JSON responses. */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./types.ts";

/** Cache-Control by path, first match wins (the spec's table). */
const RULES: [RegExp, string][] = [
  [/^\/v1\/tasks(\/|$)/, "no-store"],
  [/^\/v1\/status$/, "public, max-age=5"],
  [/^\/health$/, "public, max-age=10"],
  [/^\/v1\/comfyui\/models$/, "public, max-age=300"],
  [/^\/v1\/comfyui\/outputs?(\/|$)/, "private, max-age=30"],
  [/^\/(ready|metrics)$/, "no-store"],
  [/^\/v1\//, "no-store"],
];

/** Sets Cache-Control on successful responses that did not set their own. */
export function cacheControl(): MiddlewareHandler<AppEnv> {
  return async function cacheControlMiddleware(c, next) {
    await next();
    if (c.res.headers.has("Cache-Control") || c.res.status >= 400) return;
    const rule = RULES.find(([re]) => re.test(c.req.path));
    if (rule) c.res.headers.set("Cache-Control", rule[1]);
  };
}

/** Weak ETag over the JSON body of 200 GET responses; a matching If-None-Match gets 304. */
export function etag(): MiddlewareHandler<AppEnv> {
  return async function etagMiddleware(c, next) {
    await next();
    const method = c.req.method;
    if ((method !== "GET" && method !== "HEAD") || c.res.status !== 200) return;
    if (!c.res.headers.get("Content-Type")?.startsWith("application/json") || !c.res.body) return;
    const body = new Uint8Array(await c.res.arrayBuffer());
    const tag = `W/"${Bun.hash(body).toString(36)}-${body.byteLength.toString(36)}"`;
    const headers = new Headers(c.res.headers);
    headers.set("ETag", tag);
    const inm = c.req.header("if-none-match");
    if (inm && inm.split(",").some((t) => t.trim() === tag || t.trim() === "*")) {
      headers.delete("Content-Type");
      headers.delete("Content-Length");
      c.res = new Response(null, { status: 304, headers });
      return;
    }
    headers.set("Content-Length", String(body.byteLength));
    c.res = new Response(body, { status: 200, headers });
  };
}
