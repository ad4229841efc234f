/**
 * The access-log line, one per request: exactly the JSON that `logger[level](fields, "request
 * completed")` writes, built here and handed to the logger's own destination.
 *
 * Why not just call pino: under Bun, which reports itself as Node 26, pino 10 escapes every key and
 * every string value with a JSON.stringify call of its own (`asString` in pino/lib/tools.js), about
 * a dozen per line, and walks the object generically. On the request path that measured about 5 µs
 * of a 25 µs `GET /health` (server CPU per request, `npm run bench http`). This line always has the
 * same keys, so they are constants, and a value is escaped only when it has a character that needs
 * it.
 *
 * pino still decides everything else: the level threshold, the level/time/bindings prefix, the
 * message key and the destination (JSON lines or pretty). The shortcut is taken only while nothing
 * could make pino write a different line: no mixin, log hooks, message prefix, metadata-reading
 * stream or subscriber to pino's tracing channel, and pino's own serializer (which sees
 * serializers, redaction, formatters and nestedKey) turns a sample record into the same text.
 * Otherwise the line goes through pino as usual.
 */
import { tracingChannel } from "node:diagnostics_channel";
import pino, { type Logger } from "pino";

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

/** The record as logged: `path` only where it says more than `route`, time rounded to a microsecond. */
interface AccessLine {
  reqId: string;
  method: string;
  route: string;
  path: string | undefined;
  status: number;
  responseTime: number;
  ip: string | undefined;
}

type Level = "info" | "warn" | "error";

export const ACCESS_MESSAGE = "request completed";

// `msgPrefixSym` is exported at runtime but missing from pino's type declarations.
const symbols = pino.symbols as typeof pino.symbols & { msgPrefixSym: symbol };
const { asJsonSym, chindingsSym, endSym, hooksSym, lsCacheSym, messageKeySym, mixinSym, msgPrefixSym, needsMetadataGsym, streamSym, timeSym } = symbols;

/** A logger's internals, read through pino's exported symbols. */
type PinoInternals = Record<symbol, unknown>;
type Destination = { write(line: string): unknown } & Record<symbol, unknown>;
type AsJson = (o: object, msg: string, n: number, time: string) => string;

/** Characters JSON.stringify would escape (controls, quote, backslash, and lone surrogates). */
const NEEDS_ESCAPE = /[\u0000-\u001f"\\\ud800-\udfff]/;
const str = (s: string) => (NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`);
const num = (n: number) => (Number.isFinite(n) ? String(n) : "null");

/** The record's fields as pino's serializer lays them out after the bindings, undefined ones left out. */
function fieldsJson(l: AccessLine): string {
  let s = `,"reqId":${str(l.reqId)},"method":${str(l.method)},"route":${str(l.route)}`;
  if (l.path !== undefined) s += `,"path":${str(l.path)}`;
  s += `,"status":${num(l.status)},"responseTime":${num(l.responseTime)}`;
  if (l.ip !== undefined) s += `,"ip":${str(l.ip)}`;
  return s;
}

function toLine(f: AccessLogFields): AccessLine {
  return {
    reqId: f.reqId,
    method: f.method,
    route: f.route,
    path: f.path === f.route ? undefined : f.path,
    status: f.status,
    responseTime: Math.round(f.responseTime * 1000) / 1000,
    ip: f.ip,
  };
}

/** Whether the shortcut writes what pino would, for this logger as configured now. */
function shortcutMatchesPino(logger: Logger): boolean {
  const l = logger as unknown as PinoInternals;
  const hooks = l[hooksSym] as { logMethod?: unknown; streamWrite?: unknown } | undefined;
  if (l[mixinSym] || typeof l[msgPrefixSym] === "string" || hooks?.logMethod || hooks?.streamWrite) return false;
  if ((l[streamSym] as Destination)[needsMetadataGsym] === true) return false;
  const sample: AccessLine = { reqId: 'r"1\\', method: "GET", route: "/v1/x/:id", path: "/v1/x/\u2028\u0001\ud800", status: 200, responseTime: 1.25, ip: "::1" };
  const time = ',"time":"sample"';
  const level = logger.levels.values.info!;
  const theirs = (l[asJsonSym] as AsJson).call(logger, sample, ACCESS_MESSAGE, level, time);
  return theirs === `${(l[lsCacheSym] as Record<number, string>)[level]}${time}${l[chindingsSym]}${fieldsJson(sample)},"${l[messageKeySym]}":"${ACCESS_MESSAGE}"${l[endSym]}`;
}

/**
 * Builds the access-log writer for `logger`: info below 400, warn for 4xx, error for 5xx, message
 * "request completed".
 */
export function accessLogger(logger: Logger): (f: AccessLogFields) => void {
  const l = logger as unknown as PinoInternals;
  const shortcut = shortcutMatchesPino(logger);
  const lsCache = l[lsCacheSym] as Record<number, string>;
  const destination = l[streamSym] as Destination;
  const now = l[timeSym] as () => string;
  const tail = `,"${l[messageKeySym]}":"${ACCESS_MESSAGE}"${l[endSym]}`;
  const values = logger.levels.values;
  // Subscribers to pino's serializer channel expect to see every line it serializes.
  const traced = tracingChannel("pino_asJson");

  return function logAccess(f) {
    const level: Level = f.status >= 500 ? "error" : f.status >= 400 ? "warn" : "info";
    if (!logger.isLevelEnabled(level)) return;
    const line = toLine(f);
    if (!shortcut || traced.hasSubscribers) {
      logger[level](line, ACCESS_MESSAGE);
      return;
    }
    destination.write(lsCache[values[level]!] + now.call(logger) + l[chindingsSym] + fieldsJson(line) + tail);
  };
}
