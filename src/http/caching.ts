/** Cache-Control per route, ETag / If-None-Match on GET JSON responses, the headers every response carries. */
import type { Context } from "hono";
import { API_SECURITY_HEADERS } from "./security-headers.ts";
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
  if (!inm) return false;
  // If-None-Match compares weakly (RFC 9110 §13.1.2): W/"x" and "x" are the same tag.
  const opaque = tag.startsWith("W/") ? tag.slice(2) : tag;
  return inm.split(",").some((t) => {
    const sent = t.trim();
    return sent === "*" || sent === tag || sent === opaque;
  });
}

/** What every response to a request carries, worked out once by the pipeline. */
export interface StandardHeaders {
  requestId: string;
  /** Cache-Control for a successful response on this path (cacheControlFor). */
  cacheControl: string | undefined;
  /** Whether the API security headers apply (every path but the pages). */
  api: boolean;
  /**
   * The response built below with all of them, if any. Checking another response's headers means
   * touching `Response#headers`, which in Bun's server measured about a microsecond of its own.
   */
  complete?: Response;
}

/** The standard headers of a response with `status`: errors are never cached. */
function standardHeaders(std: StandardHeaders, status: number): Record<string, string> {
  const h: Record<string, string> = { "x-request-id": std.requestId };
  const cacheControl = status < 400 ? std.cacheControl : "no-store";
  if (cacheControl) h["Cache-Control"] = cacheControl;
  // Pages get theirs from hono/secure-headers, which sets them on whatever response comes back.
  if (std.api) for (const [k, v] of API_SECURITY_HEADERS) h[k] = v;
  return h;
}

/**
 * Adds the standard headers a response lacks: for responses built by any other means than below.
 * The request id always wins; a Cache-Control or security header the response has is kept.
 */
export function completeHeaders(h: Headers, std: StandardHeaders, status: number) {
  for (const [k, v] of Object.entries(standardHeaders(std, status))) if (k === "x-request-id" || !h.has(k)) h.set(k, v);
}

/**
 * Makes this request's `c.json` answer 200s with an ETag, and If-None-Match with 304. The tag is
 * computed from the JSON text as `c.json` makes it, so no response is read back or rebuilt.
 *
 * While nothing has called `c.header` for the request (no CORS, no handler header), the response
 * is built in one go with the standard headers as a plain object. Preparing them with `c.header`
 * instead (a Headers object filled one call at a time, which Bun then copies into the response)
 * measured about 2 µs more per request in the server (`npm run bench http`), a tenth of a
 * `GET /health`. Any other response gets them from `completeHeaders`.
 */
export function useJsonResponses(c: Context<AppEnv>, std: StandardHeaders, compressing: boolean) {
  const head = c.req.method === "HEAD";
  let headerCalled = false;
  const header = c.header;
  c.header = ((name: string, value?: string, options?: { append?: boolean }) => {
    headerCalled = true;
    header(name, value, options);
  }) as typeof c.header;
  const json = c.json;
  c.json = ((object: unknown, arg?: number | ResponseInit, headers?: HeadersInit) => {
    const status = typeof arg === "number" ? arg : (arg?.status ?? 200);
    if (status !== 200) return json(object as never, arg as never, headers as never);
    const text = JSON.stringify(object);
    const tag = etagFor(text);
    const notModified = matchesEtag(c, tag);
    if (!headerCalled && headers === undefined && typeof arg !== "object") {
      const h = standardHeaders(std, 200);
      h.ETag = tag;
      if (notModified) return (std.complete = new Response(null, { status: 304, headers: h }));
      h["Content-Type"] = "application/json";
      // Lets compression skip small bodies, and a HEAD answer (no body) tell the GET's length; Bun
      // adds the length itself otherwise.
      if (compressing || head) h["Content-Length"] = String(Buffer.byteLength(text));
      return (std.complete = new Response(text, { status: 200, headers: h }));
    }
    c.header("ETag", tag);
    if (notModified) return c.body(null, 304, headers as never);
    c.header("Content-Type", "application/json");
    if (compressing || head) c.header("Content-Length", String(Buffer.byteLength(text)));
    return c.body(text, arg as never, headers as never);
  }) as typeof c.json;
}
