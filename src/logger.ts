/** pino logger. No transports: they use worker threads, which do not work in the compiled binary. */
import { tracingChannel } from "node:diagnostics_channel";
import pino, { type Logger } from "pino";
import pretty from "pino-pretty";
import type { Config } from "./config.ts";

/**
 * Adds Node's `TracingChannel#hasSubscribers` where the runtime lacks it (Bun, oven-sh/bun#27805).
 * pino 10 checks `hasSubscribers === false` before every line and, seeing `undefined`, runs each
 * line through `traceSync`: about a microsecond per line for tracing nobody listens to.
 */
export function ensureTracingChannelHasSubscribers() {
  const proto = Object.getPrototypeOf(tracingChannel("management-api:probe")) as object;
  if ("hasSubscribers" in proto) return;
  Object.defineProperty(proto, "hasSubscribers", {
    configurable: true,
    get(this: Record<"start" | "end" | "asyncStart" | "asyncEnd" | "error", { hasSubscribers: boolean }>) {
      return this.start.hasSubscribers || this.end.hasSubscribers || this.asyncStart.hasSubscribers || this.asyncEnd.hasSubscribers || this.error.hasSubscribers;
    },
  });
}

/** JSON lines by default; human-readable when LOG_FORMAT=pretty or (unset) on a terminal. */
export function createLogger(config: Pick<Config, "logLevel" | "logFormat">, isTTY: boolean, destination?: NodeJS.WritableStream): Logger {
  ensureTracingChannelHasSubscribers();
  const options = {
    level: config.logLevel,
    base: { service: "management-api" },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  const format = config.logFormat ?? (isTTY ? "pretty" : "json");
  if (format === "pretty") return pino(options, pretty({ sync: true, colorize: isTTY, translateTime: "SYS:HH:MM:ss.l", destination: destination ?? 1 }));
  if (destination) return pino(options, destination);
  return pino(options, stdoutSink());
}

/**
 * A buffered stdout destination on Bun's native FileSink: far cheaper per line than sonic-boom under
 * Bun, works in the compiled binary (no worker), flushed every 100 ms and by `logger.flush()`.
 */
function stdoutSink() {
  const sink = Bun.stdout.writer({ highWaterMark: 64 * 1024 });
  setInterval(() => sink.flush(), 100).unref();
  return {
    write(line: string) {
      sink.write(line);
    },
    flush(cb?: (err?: Error) => void) {
      Promise.resolve(sink.flush()).then(() => cb?.(), (err) => cb?.(err));
    },
  };
}
