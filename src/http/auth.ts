/** Bearer-token / X-API-Key authentication, applied before routing so unknown paths are protected too. */
import { timingSafeEqual } from "node:crypto";
import type { Context } from "hono";
import { ApiError } from "./errors.ts";
import type { AppEnv } from "./types.ts";

/**
 * GET/HEAD paths that need no token. Exact paths: no prefix or case variants. With a trailing slash
 * (`/docs/`) they pass too, since no route has that path: it only leads to the redirect to them.
 */
const EXEMPT = new Set(["/", "/health", "/ready", "/metrics", "/docs", "/docs/json", "/docs/yaml", "/ui", "/favicon.ico"]);
/** Static docs and dashboard assets: a single, plain file name under the prefix. */
const EXEMPT_ASSET = /^\/(docs|ui)\/[A-Za-z0-9_-][A-Za-z0-9._-]*$/;
/** Routes a browser opens with EventSource/WebSocket, which cannot send headers. */
const STREAMING = /^\/v1\/(tasks\/events|tasks\/[^/]+\/logs\/stream|comfyui\/stream|comfyui\/workflow\/[^/]+\/events)$/;

/** Whether a request may pass without credentials. */
export function isExempt(method: string, path: string): boolean {
  if (method !== "GET" && method !== "HEAD") return false;
  if (EXEMPT.has(path) || (EXEMPT_ASSET.test(path) && !path.includes(".."))) return true;
  return path.length > 1 && path.endsWith("/") && EXEMPT.has(path.replace(/\/+$/, ""));
}

/** Whether a path accepts the token as a `token` query parameter. */
export function isStreamingPath(path: string): boolean {
  return STREAMING.test(path);
}

/** SHA-256 of a token (Bun's one-shot hasher: a sixth of node:crypto's createHash per request). */
const digest = (s: string) => Bun.SHA256.hash(s) as Uint8Array;

/** A non-secret identifier of a key, safe for audit logs. */
export function keyId(key: string): string {
  return "key_" + Buffer.from(digest(key)).toString("hex").slice(0, 12);
}

/** Extracts the token a request presents, or throws the matching 401. */
function presentedToken(req: { header(n: string): string | undefined; query(n: string): string | undefined }, path: string): string {
  const authorization = req.header("authorization");
  if (authorization !== undefined) {
    const m = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    if (!m) throw new ApiError(401, "Invalid Authorization format. Expected: Bearer <token>");
    return m[1]!;
  }
  const apiKey = req.header("x-api-key");
  if (apiKey !== undefined) {
    if (!apiKey.trim()) throw new ApiError(401, "Invalid Authorization format. Expected: Bearer <token>");
    return apiKey.trim();
  }
  if (isStreamingPath(path)) {
    // Browsers' WebSocket can only send a subprotocol list: "Bearer, <token>".
    const protocols = req.header("sec-websocket-protocol")?.split(",").map((s) => s.trim());
    if (protocols && protocols[0]?.toLowerCase() === "bearer" && protocols[1]) return protocols[1];
    const token = req.query("token");
    if (token) return token;
  }
  throw new ApiError(401, "Missing Authorization header");
}

/** What a read-only key may do: read, and ask which methods a path takes. */
const READ_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Builds the authentication check: passes exempt requests, throws 401 for missing or malformed
 * credentials and 403 for a wrong token, or for a read-only key's request to change something, and
 * records the matching key's id as `keyId`.
 */
export function authenticator(keys: readonly string[], readOnlyKeys: readonly string[] = []): (c: Context<AppEnv>) => void {
  const entry = (key: string, readOnly: boolean) => ({ hash: digest(key), id: keyId(key), readOnly });
  const accepted = [...keys.map((k) => entry(k, false)), ...readOnlyKeys.map((k) => entry(k, true))];
  return function authenticate(c) {
    const method = c.req.method;
    if (isExempt(method, c.req.path)) return;
    const presented = digest(presentedToken(c.req, c.req.path));
    // Compare against every key without stopping early, so timing says nothing about which matched.
    let match: (typeof accepted)[number] | undefined;
    for (const k of accepted) if (timingSafeEqual(k.hash, presented)) match ??= k;
    if (!match) throw new ApiError(403, "Invalid API token");
    // Before routing, as for a wrong key: a read-only key learns nothing of what it may not do.
    if (match.readOnly && !READ_METHODS.has(method)) {
      // `details` says so to programs (the dashboard keeps such a key signed in), not only the message.
      throw new ApiError(403, `This API key is read-only: ${method} is not allowed (only GET and HEAD)`, { details: { keyAccess: "read-only" } });
    }
    c.set("keyId", match.id);
  };
}
