/**
 * One error format for every layer: `{error, message, statusCode, requestId, details?}`.
 * Handlers throw `ApiError`; `onError` turns anything thrown into that shape.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Logger } from "pino";
import { API_SECURITY_HEADERS } from "./security-headers.ts";
import type { AppEnv } from "./types.ts";

export const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  409: "Conflict",
  413: "Payload Too Large",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  422: "Unprocessable Content",
  426: "Upgrade Required",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  507: "Insufficient Storage",
};

export interface ApiErrorOptions {
  details?: unknown;
  /** Extra top-level fields, e.g. `currentStatus` on 409 or `retryAfter` on 429. */
  extra?: Record<string, unknown>;
  headers?: Record<string, string>;
  cause?: unknown;
}

/** An error that becomes an HTTP response with the given status and message. */
export class ApiError extends Error {
  readonly status: ContentfulStatusCode;
  readonly details: unknown;
  readonly extra: Record<string, unknown> | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(status: ContentfulStatusCode, message: string, options: ApiErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = "ApiError";
    this.status = status;
    this.details = options.details;
    this.extra = options.extra;
    this.headers = options.headers;
  }
}

/** The body of every error response; the only place that shapes one. */
function errorBody(status: number, message: string, requestId: string, options: ApiErrorOptions = {}): Record<string, unknown> {
  const body: Record<string, unknown> = { error: STATUS_TEXT[status] ?? "Error", message, statusCode: status, requestId, ...options.extra };
  if (options.details !== undefined) body.details = options.details;
  return body;
}

/** Builds the JSON error response of a request. */
export function errorResponse(c: Context<AppEnv>, status: ContentfulStatusCode, message: string, options: ApiErrorOptions = {}) {
  const body = errorBody(status, message, c.get("requestId"), options);
  c.header("Cache-Control", "no-store");
  for (const [k, v] of Object.entries(options.headers ?? {})) c.header(k, v);
  return c.json(body, status);
}

/** No body was sent (curl -X POST without -d, or Content-Length: 0): the runtime gives no body stream. */
function hasEmptyBody(c: Context<AppEnv>): boolean {
  return c.req.raw.body === null;
}

/** `app.onError`: known errors keep their status; anything else is a logged 500 without a stack. */
export function onError(err: Error, c: Context<AppEnv>) {
  if (err instanceof ApiError) return errorResponse(c, err.status, err.message, err);
  if (err instanceof HTTPException) {
    const status = err.status as ContentfulStatusCode;
    const message = status === 400 && /json/i.test(err.message) ? (hasEmptyBody(c) ? "Request body is empty; send a JSON object" : "Malformed JSON in request body") : err.message || STATUS_TEXT[status] || "Error";
    return errorResponse(c, status, message);
  }
  c.get("logger")?.error({ err, reqId: c.get("requestId") }, "unhandled error");
  // The state database or a file on a full disk: the operator can act on that, so it is named.
  if (isDiskFull(err)) return errorResponse(c, 507, "The server's disk is full; nothing was changed");
  return errorResponse(c, 500, "An unexpected error occurred");
}

/**
 * Bun.serve's `error` handler: the last resort for an exception that escapes the app (Hono answers
 * whatever its handlers throw with `onError`). Without it Bun answers with a page of its own, which
 * outside production mode shows the error's message and stack. The answer is the common format,
 * under a new request id that its log line carries too.
 *
 * One such error is no fault: a file answered whole (a task's file or log, an output) that was
 * deleted after its handler looked at it and before Bun opened it to send (a purge, retention,
 * someone's `rm`). That is the 404 the request would have had a moment later.
 */
export function lastResortError(logger: Logger) {
  return function serverError(err: Error): Response {
    const requestId = crypto.randomUUID();
    const headers = { "Cache-Control": "no-store", "x-request-id": requestId, ...Object.fromEntries(API_SECURITY_HEADERS) };
    if ((err as { code?: unknown }).code === "ENOENT") {
      logger.warn({ reqId: requestId, path: (err as { path?: unknown }).path }, "a file was deleted before it could be sent");
      return Response.json(errorBody(404, "The file was deleted before it could be sent", requestId), { status: 404, headers });
    }
    logger.error({ err, reqId: requestId }, "unhandled error outside the app");
    return Response.json(errorBody(500, "An unexpected error occurred", requestId), { status: 500, headers });
  };
}

/** A full disk, as SQLite or the file system reports it. */
export function isDiskFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "SQLITE_FULL" || code === "ENOSPC" || code === "EDQUOT";
}

/** `app.notFound`: unknown routes (reached only with a valid token). */
export function notFound(c: Context<AppEnv>) {
  return errorResponse(c, 404, `Route ${c.req.method} ${c.req.path} not found`);
}
