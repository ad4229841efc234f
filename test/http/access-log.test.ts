/** The access-log line: the same text pino writes, whether or not the shortcut is taken. */
import { describe, expect, test } from "bun:test";
import { tracingChannel } from "node:diagnostics_channel";
import pino, { type LoggerOptions } from "pino";
import { ACCESS_MESSAGE, accessLogger, type AccessLogFields } from "../../src/http/access-log.ts";
import { createLogger } from "../../src/logger.ts";

const FIXED_TIME = () => ',"time":"2026-11-27T00:00:00.000Z"';

function capture() {
  const lines: string[] = [];
  return { lines, stream: { write: (l: string) => void lines.push(l) } };
}

const RECORDS: AccessLogFields[] = [
  { reqId: "0b4e1f0e-6f7a-4a55-9a0b-2f1c1d3e4f50", method: "GET", route: "/health", path: "/health", status: 200, responseTime: 0.123456 },
  { reqId: "req-1", method: "GET", route: "/v1/tasks/:id", path: "/v1/tasks/t-1", status: 404, responseTime: 1.5, ip: "10.0.0.7" },
  { reqId: "req-2", method: "POST", route: "unmatched", path: '/odd/"quoted"\\back\u0001\u2028\ud800', status: 500, responseTime: 12, ip: "::1" },
  { reqId: "req-3", method: "DELETE", route: "/v1/tasks/:id", path: "/v1/tasks/é", status: 403, responseTime: Number.NaN, ip: "127.0.0.1" },
];

/** What `logger[level](fields, "request completed")` writes for a record, by pino itself. */
function pinoLines(options: LoggerOptions, records: AccessLogFields[]) {
  const out = capture();
  const logger = pino(options, out.stream as never);
  for (const f of records) {
    const level = f.status >= 500 ? "error" : f.status >= 400 ? "warn" : "info";
    if (!logger.isLevelEnabled(level)) continue;
    const responseTime = Math.round(f.responseTime * 1000) / 1000;
    logger[level]({ reqId: f.reqId, method: f.method, route: f.route, path: f.path === f.route ? undefined : f.path, status: f.status, responseTime, ip: f.ip }, ACCESS_MESSAGE);
  }
  return out.lines;
}

/** What accessLogger writes for the same records, and whether it called pino's log methods. */
function accessLines(options: LoggerOptions, records: AccessLogFields[]) {
  const out = capture();
  const logger = pino(options, out.stream as never);
  let pinoCalls = 0;
  for (const level of ["info", "warn", "error"] as const) {
    const original = logger[level].bind(logger);
    logger[level] = ((...args: Parameters<typeof original>) => (pinoCalls++, original(...args))) as never;
  }
  const log = accessLogger(logger);
  for (const f of records) log(f);
  return { lines: out.lines, pinoCalls };
}

describe("access log", () => {
  test("writes exactly pino's line (levels by status, escaping, omitted fields) without calling pino", () => {
    const options: LoggerOptions = { base: { service: "management-api" }, timestamp: FIXED_TIME };
    const ours = accessLines(options, RECORDS);
    expect(ours.lines).toEqual(pinoLines(options, RECORDS));
    expect(ours.pinoCalls).toBe(0);
    const parsed = ours.lines.map((l) => JSON.parse(l));
    expect(parsed.map((l) => l.level)).toEqual([30, 40, 50, 40]);
    expect(parsed[0]).not.toHaveProperty("path");
    expect(parsed[0]).not.toHaveProperty("ip");
    expect(parsed[2].path).toBe(RECORDS[2]!.path);
    expect(parsed[3].responseTime).toBeNull();
  });

  test("the server's own logger takes the shortcut", () => {
    const out = capture();
    const logger = createLogger({ logLevel: "info", logFormat: "json" }, false, out.stream as never);
    let pinoCalls = 0;
    const info = logger.info.bind(logger);
    logger.info = ((...a: Parameters<typeof info>) => (pinoCalls++, info(...a))) as never;
    accessLogger(logger)(RECORDS[0]!);
    expect(pinoCalls).toBe(0);
    expect(JSON.parse(out.lines[0]!)).toMatchObject({ level: 30, service: "management-api", reqId: RECORDS[0]!.reqId, route: "/health", status: 200, responseTime: 0.123, msg: ACCESS_MESSAGE });
    expect(typeof JSON.parse(out.lines[0]!).time).toBe("string");
  });

  test("honours the level threshold and pino's own time, message key and bindings", () => {
    const options: LoggerOptions = { level: "warn", messageKey: "message", base: { pid: 1, role: 'side"car' } };
    const ours = accessLines(options, RECORDS);
    expect(ours.lines).toHaveLength(3);
    expect(ours.pinoCalls).toBe(0);
    const mask = (l: string) => l.replace(/"time":\d+/, '"time":0');
    expect(ours.lines.map(mask)).toEqual(pinoLines(options, RECORDS).map(mask));
  });

  test("anything that changes pino's line sends it through pino: mixin, redaction, serializers, nestedKey, hooks", () => {
    const variants: LoggerOptions[] = [
      { timestamp: FIXED_TIME, mixin: () => ({ node: "gpu-1" }) },
      { timestamp: FIXED_TIME, redact: ["ip"] },
      { timestamp: FIXED_TIME, serializers: { path: (p: string) => p.toUpperCase() } },
      { timestamp: FIXED_TIME, nestedKey: "http" },
      { timestamp: FIXED_TIME, formatters: { log: (o: object) => ({ ...o, extra: true }) } },
      { timestamp: FIXED_TIME, msgPrefix: "[api] " },
      { timestamp: FIXED_TIME, hooks: { streamWrite: (s: string) => s.replace("req-1", "req-x") } },
    ];
    for (const options of variants) {
      const ours = accessLines(options, RECORDS);
      expect(ours.lines).toEqual(pinoLines(options, RECORDS));
      expect(ours.pinoCalls).toBeGreaterThan(0);
    }
  });

  test("a subscriber to pino's tracing channel still sees access lines", () => {
    const seen: unknown[] = [];
    const handlers = { start: (ctx: unknown) => seen.push(ctx), end() {}, asyncStart() {}, asyncEnd() {}, error() {} };
    const ours = capture();
    const log = accessLogger(createLogger({ logLevel: "info", logFormat: "json" }, false, ours.stream as never));
    tracingChannel("pino_asJson").subscribe(handlers);
    try {
      log(RECORDS[1]!);
    } finally {
      tracingChannel("pino_asJson").unsubscribe(handlers);
    }
    log(RECORDS[0]!);
    expect(seen).toHaveLength(1);
    expect(ours.lines).toHaveLength(2);
  });
});
