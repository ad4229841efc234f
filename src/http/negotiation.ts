/** API versioning by Accept header, and the rule for request bodies: JSON, or a file upload where one is expected. */
import type { Context } from "hono";
import { ApiError } from "./errors.ts";
import type { AppEnv } from "./types.ts";

const VENDOR = /application\/vnd\.agenticflow\.v(\d+)\+json/i;
const UNVERSIONED = /^\/(tasks|status|comfyui)(\/|$)/;
export const SUPPORTED_VERSIONS = [1];
/** Routes that take a file (multipart/form-data, as `curl -F` and browser forms send it) instead of JSON. */
const UPLOAD_PATHS = /^\/v1\/comfyui\/upload$/;

/** Whether `path` takes a file upload (its body is multipart, under UPLOAD_LIMIT rather than BODY_LIMIT). */
export function isUploadPath(path: string): boolean {
  return UPLOAD_PATHS.test(path);
}

/** The API version asked for in Accept, if any. */
export function requestedVersion(accept: string | null | undefined): number | undefined {
  const m = accept ? VENDOR.exec(accept) : null;
  return m ? Number(m[1]) : undefined;
}

/**
 * The path the router sees: `/tasks` with `Accept: application/vnd.agenticflow.v1+json` is
 * served by `/v1/tasks`. Used as Hono's `getPath`, so every middleware sees the same path.
 */
export function versionedPath(req: Request): string {
  const url = req.url;
  const start = url.indexOf("/", url.indexOf("://") + 3);
  const q = url.indexOf("?", start);
  let path = start < 0 ? "/" : url.slice(start, q < 0 ? undefined : q);
  if (path.includes("%")) {
    try {
      path = decodeURI(path);
    } catch {
      // Keep the raw path; it will simply match no route.
    }
  }
  if (UNVERSIONED.test(path) && requestedVersion(req.headers.get("accept")) === 1) return "/v1" + path;
  return path;
}

/**
 * Throws 406 when Accept names an API version this server does not have, and (for a request a route
 * takes, `routed`) 415 for a body of the wrong type.
 */
export function checkNegotiation(c: Context<AppEnv>, routed = true) {
  const v = requestedVersion(c.req.header("accept"));
  if (v !== undefined && !SUPPORTED_VERSIONS.includes(v)) {
    throw new ApiError(406, `API version v${v} is not supported; supported: ${SUPPORTED_VERSIONS.map((n) => `v${n}`).join(", ")}`);
  }
  if (routed && hasBody(c.req.method)) {
    const type = c.req.header("content-type") ?? "";
    const got = type ? `, got ${type.split(";")[0]}` : "";
    if (isUploadPath(c.req.path)) {
      if (!/^multipart\/form-data\s*(;|$)/i.test(type)) throw new ApiError(415, `Content-Type must be multipart/form-data (a file upload)${got}`);
    } else if (!/^application\/json\s*(;|$)/i.test(type)) {
      // Only application/json: it is the one type the routes declare (and @hono/zod-openapi checks),
      // so a "+json" type would pass here only to get that library's bare 415.
      throw new ApiError(415, `Content-Type must be application/json${got}`);
    }
  }
}

/** Methods whose requests carry a body this API reads as JSON. */
export function hasBody(method: string): boolean {
  return method === "POST" || method === "PUT" || method === "PATCH";
}

const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads a JSON request body as strict UTF-8 (RFC 8259 §8.1) for the route's validator, which then
 * parses this text. The runtime's own decoding turns the bytes of another encoding into U+FFFD: a
 * prompt with "café" sent as Latin-1 by a client not told the charset would reach the agent as
 * "caf\uFFFD" without a word. It is a 400 instead. A UTF-8 BOM is dropped, as before.
 */
export async function readUtf8Body(c: Context<AppEnv>): Promise<void> {
  if (c.req.raw.body === null) return; // no body: the validator says so
  const bytes = await c.req.raw.arrayBuffer();
  let text: string;
  try {
    text = STRICT_UTF8.decode(bytes);
  } catch {
    throw new ApiError(400, "Request body is not valid UTF-8; send JSON encoded as UTF-8");
  }
  if (mayHaveProtoKey(text)) throw new ApiError(400, 'Request body has a "__proto__" key, which no field takes as a name');
  // Hono's types name the cache's entries as Body's methods; they hold the promises those return.
  (c.req.bodyCache as { text?: Promise<string> }).text = Promise.resolve(text);
}

/**
 * Whether the JSON text has an object key "__proto__", in any spelling (`"__\u0070roto__"` too:
 * JSON.parse makes either an own property). zod's records drop one without a word, as they guard
 * the prototype: a label `{"__proto__": "x"}` was accepted and lost, where `?label=__proto__=x` is
 * a 400. Parsed and walked only when the text may hold one; the validator parses it again (Hono's
 * json() always parses the text). A reviver took ten times a parse, the walk under one.
 */
function mayHaveProtoKey(text: string): boolean {
  if (!text.includes("__proto__") && !text.includes("\\u")) return false;
  try {
    return hasProtoKey(JSON.parse(text));
  } catch {
    return false; // not JSON: the validator says so, in the common words
  }
}

/** Whether a parsed JSON value has an own "__proto__" key in any object, however deep. */
function hasProtoKey(root: unknown): boolean {
  const stack: unknown[] = [root];
  while (stack.length) {
    const value = stack.pop();
    if (value === null || typeof value !== "object") continue;
    if (Array.isArray(value)) {
      for (const item of value) if (item !== null && typeof item === "object") stack.push(item);
      continue;
    }
    if (Object.hasOwn(value, "__proto__")) return true;
    for (const item of Object.values(value)) if (item !== null && typeof item === "object") stack.push(item);
  }
  return false;
}
