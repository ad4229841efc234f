/** pino logger. No transports: they use worker threads, which do not work in the compiled binary. */
import pino, { type Logger } from "pino";
import pretty from "pino-pretty";
import type { Config } from "./config.ts";

/** JSON lines by default; human-readable when LOG_FORMAT=pretty or (unset) on a terminal. */
export function createLogger(config: Pick<Config, "logLevel" | "logFormat">, isTTY: boolean, destination?: NodeJS.WritableStream): Logger {
  const options = {
    level: config.logLevel,
    base: { service: "management-api" },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ["req.headers.authorization", "req.headers['x-api-key']", "*.token", "token"], censor: "[redacted]" },
  };
  const format = config.logFormat ?? (isTTY ? "pretty" : "json");
  if (format === "pretty") return pino(options, pretty({ sync: true, colorize: isTTY, translateTime: "SYS:HH:MM:ss.l", destination: destination ?? 1 }));
  return pino(options, destination ?? pino.destination({ dest: 1, sync: false }));
}
