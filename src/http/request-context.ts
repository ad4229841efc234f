/** Request ids and the one access-log line per request. */
import type { Logger } from "pino";

const VALID_ID = /^[A-Za-z0-9._:@-]{1,128}$/;

/** Keeps a valid incoming `x-request-id`, or makes a new one. */
export function requestIdFrom(incoming: string | null | undefined): string {
  return incoming && VALID_ID.test(incoming) ? incoming : crypto.randomUUID();
}

export interface AccessLogFields {
  reqId: string;
  method: string;
  /** The matched route pattern (or "unmatched"). */
  route: string;
  /** The concrete path, without its query string (so `?token=` never reaches a log). */
  path: string;
  status: number;
  /** Milliseconds. */
  responseTime: number;
  /** The client's address; resolved for every request except the probes (/health, /ready, /metrics). */
  ip?: string;
}

/** Writes the access-log line: info below 400, warn for 4xx, error for 5xx. */
export function logRequest(logger: Logger, f: AccessLogFields) {
  const level = f.status >= 500 ? "error" : f.status >= 400 ? "warn" : "info";
  if (!logger.isLevelEnabled(level)) return;
  const responseTime = Math.round(f.responseTime * 1000) / 1000;
  // `path` only where it says more than `route` (a parameter or an unmatched path); pino leaves
  // out fields that are undefined.
  const path = f.path === f.route ? undefined : f.path;
  const line = { reqId: f.reqId, method: f.method, route: f.route, path, status: f.status, responseTime, ip: f.ip };
  logger[level](line, "request completed");
}
