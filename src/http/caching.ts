/** Cache-Control per route, ETag / If-None-Match on GET JSON responses. */
import type { Context } from "hono";
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

/**
 * The Cache-Control a successful response on `path` gets unless its handler sets its own. Error
 * responses say `no-store` themselves (errors.ts).
 */
export function cacheControlFor(path: string): string | undefined {
  for (const [re, value] of RULES) if (re.test(path)) return value;
  return undefined;
}

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
 * Gives the GET/HEAD JSON responses of this request an ETag and answers If-None-Match with 304. The
 * tag is computed from the JSON text as `c.json` makes it, so no response is read back or rebuilt.
 */
export function useEtags(c: Context<AppEnv>, compressing: boolean) {
  const json = c.json;
  c.json = ((object: unknown, arg?: number | ResponseInit, headers?: HeadersInit) => {
    const status = typeof arg === "number" ? arg : (arg?.status ?? 200);
    if (status !== 200) return json(object as never, arg as never, headers as never);
    const text = JSON.stringify(object);
    const tag = etagFor(text);
    c.header("ETag", tag);
    if (matchesEtag(c, tag)) return c.body(null, 304, headers as never);
    c.header("Content-Type", "application/json");
    // Lets compression skip small bodies (Bun adds the length itself otherwise).
    if (compressing) c.header("Content-Length", String(Buffer.byteLength(text)));
    return c.body(text, arg as never, headers as never);
  }) as typeof c.json;
}
