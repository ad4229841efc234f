/** pino logger. No transports: they use worker threads, which do not work in the compiled binary. */
import { tracingChannel } from "node:diagnostics_channel";
import { writeSync } from "node:fs";
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

/**
 * pino's ISO `time` field, formatted once per millisecond: under load dozens of lines share a
 * millisecond, and formatting a date is a good part of what a line costs.
 */
export function isoTimeCached(now: () => number = Date.now): () => string {
  let last = NaN;
  let field = "";
  return () => {
    const ms = now();
    if (ms !== last) {
      last = ms;
      field = `,"time":"${new Date(ms).toISOString()}"`;
    }
    return field;
  };
}

/**
 * pino's error serializer, keeping the error's own message: pino appends each cause's message to
 * it, and ours already quote their cause ("... is damaged (file is not a database): file is not a
 * database"). The cause is still in `stack`, after "caused by".
 */
function errorWithOwnMessage(err: unknown) {
  const out = pino.stdSerializers.err(err as Error);
  if (err instanceof Error) out.message = err.message;
  return out;
}

/** JSON lines by default; human-readable when LOG_FORMAT=pretty or (unset) on a terminal. */
export function createLogger(config: Pick<Config, "logLevel" | "logFormat">, isTTY: boolean, destination?: NodeJS.WritableStream): Logger {
  ensureTracingChannelHasSubscribers();
  const options = {
    level: config.logLevel,
    base: { service: "management-api" },
    timestamp: isoTimeCached(),
    serializers: { err: errorWithOwnMessage },
  };
  const format = config.logFormat ?? (isTTY ? "pretty" : "json");
  if (format === "pretty") return pino(options, pretty({ sync: true, colorize: isTTY, translateTime: "SYS:HH:MM:ss.l", destination: destination ?? 1 }));
  if (destination) return pino(options, destination);
  return pino(options, stdoutSink());
}

/** Where batched log text goes: Bun's FileSink has this shape. */
export interface LogWriter {
  write(chunk: string): unknown;
  flush(): unknown;
}

/**
 * Batches log lines into one write: when 64 KiB have gathered, 100 ms after the first pending line
 * at the latest, on `logger.flush()` and at exit. Bun's FileSink alone issued one write(2) per line
 * under load (strace: one per request), a system call on every request's path. Works in the
 * compiled binary (no worker thread).
 *
 * A failed write never reaches the API: its lines are dropped, and once the reader is gone for good
 * (EPIPE: `| head`, a log collector that exited) so is every later line, as pino's own destinations
 * do. Bun's FileSink throws such errors from `write` and `flush`; they used to surface as an uncaught
 * exception that left the API neither serving nor exited.
 */
export function batchedDestination(writer: LogWriter, options: { maxBytes?: number; maxDelayMs?: number; onError?: (err: Error) => void } = {}) {
  const maxBytes = options.maxBytes ?? 64 * 1024;
  const maxDelayMs = options.maxDelayMs ?? 100;
  let pending = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  const failed = (err: unknown) => {
    if (closed) return;
    if ((err as { code?: string }).code === "EPIPE") closed = true;
    options.onError?.(err as Error);
  };
  const drain = (): unknown => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    const text = pending;
    pending = "";
    if (closed) return;
    try {
      if (text) writer.write(text);
      const flushed = writer.flush();
      return flushed instanceof Promise ? flushed.catch(failed) : flushed;
    } catch (err) {
      failed(err);
    }
  };
  return {
    write(line: string) {
      if (closed) return;
      pending += line;
      if (pending.length >= maxBytes) drain();
      else if (!timer) (timer = setTimeout(drain, maxDelayMs)).unref?.();
    },
    flush(cb?: (err?: Error) => void) {
      Promise.resolve(drain()).then(() => cb?.());
    },
    /** Hands over what is pending now (for the exit handler, which cannot wait). */
    drain,
  };
}

function stdoutSink() {
  // Said once on stderr, which may still be read (a log collector of stdout alone).
  let told = false;
  const onError = (err: Error) => {
    if (told) return;
    told = true;
    try {
      writeSync(2, `management-api: writing logs to stdout failed (${(err as { code?: string }).code ?? err.message}); the lines are dropped\n`);
    } catch {
      // stderr is gone too
    }
  };
  const destination = batchedDestination(Bun.stdout.writer({ highWaterMark: 1024 * 1024 }), { onError });
  process.on("exit", () => destination.drain());
  return destination;
}

/**
 * Logs an uncaught exception or unhandled rejection as one fatal JSON line, then exits 1 as Bun would
 * have: a log pipeline that reads JSON lines would otherwise see only the runtime's stack trace on
 * stderr. Running tasks are not affected (they outlive the API; the next start re-attaches).
 */
export function exitOnCrash(logger: Logger) {
  const crash = (what: string) => (err: unknown) => {
    process.exitCode = 1; // also when the loop empties before the flush calls back
    try {
      logger.fatal({ err }, `${what}; exiting`);
      logger.flush(() => process.exit(1));
    } catch {
      // Not even the log works: exit all the same, rather than run on half-dead.
      process.exit(1);
    }
  };
  process.on("uncaughtException", crash("uncaught exception"));
  process.on("unhandledRejection", crash("unhandled promise rejection"));
}
