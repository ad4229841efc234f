/** Entry point: config -> services -> app -> Bun.serve; signals and graceful shutdown. */
import { constants } from "node:os";
import { helpText, keepLoopbackOffProxy, loadConfigFromEnvironment, localUrl } from "./config.ts";
import { createLogger, exitOnCrash } from "./logger.ts";
import { createServer } from "./server.ts";
import { ignoredAtStart } from "./signals.ts";
import { API_NAME, VERSION } from "./version.ts";

const args = process.argv.slice(2);
if (args.includes("--help") || args.includes("-h")) {
  process.stdout.write(helpText(API_NAME, VERSION));
  process.exit(0);
}
if (args.includes("--version") || args.includes("-v")) {
  process.stdout.write(`${VERSION}\n`);
  process.exit(0);
}
keepLoopbackOffProxy();
const result = loadConfigFromEnvironment();
if (args.includes("--healthcheck")) {
  // For container HEALTHCHECKs: no curl needed in the image.
  const url = new URL("/health", localUrl(result.ok ? result.config : { host: "127.0.0.1", port: 9090 }));
  const ok = await fetch(url, { signal: AbortSignal.timeout(3000) }).then((r) => r.ok, () => false);
  process.exit(ok ? 0 : 1);
}
const unknown = args.filter((a) => a.startsWith("-"));
if (unknown.length) {
  process.stderr.write(`Unknown option ${unknown[0]}. Settings come from environment variables; see --help.\n`);
  process.exit(2);
}

if (!result.ok) {
  process.stderr.write(`Invalid configuration:\n${result.errors.map((e) => `  - ${e}`).join("\n")}\n`);
  process.exit(1);
}
const logger = createLogger(result.config, Boolean(process.stdout.isTTY));
exitOnCrash(logger);
for (const w of result.warnings) logger.warn(w);
// PID 1 adopts every orphaned process, and only an init waits for them. Bun waits for its own
// children alone, so what agents leave behind (a background server, a detached tool) would stay a
// zombie for good, each holding a pid.
if (process.pid === 1) {
  logger.warn("Running as PID 1: processes that agents leave behind are never reaped and stay as zombies. Run under an init: the image's ENTRYPOINT (tini), `docker run --init`, or in Kubernetes `args` rather than `command`.");
}

const server = await createServer(result.config, logger).catch((err: Error) => {
  // A port in use, a DATA_DIR held by another server, an unreadable PROVIDERS_FILE: one line that
  // says which, not a stack trace.
  logger.fatal({ err }, `cannot start: ${err.message}`);
  return logger.flush(() => process.exit(1)) as never;
});
// Where state lives, as absolute paths: DATA_DIR's default is relative to the working directory,
// which a service manager may set to "/" without saying so.
const { dataDir, workspaceDir, logsDir } = result.config;
logger.info({ url: server.url, version: VERSION, dataDir, workspaceDir, logsDir }, `${API_NAME} listening`);

let stopping = false;
// SIGHUP too: a closed terminal or SSH session sends it, and Bun's default for it is to die at once,
// losing the log lines not yet written and the streams' final events. Unless it was ignored at
// start (`nohup`): a handler would undo what the operator asked for.
for (const signal of ["SIGTERM", "SIGINT", ...(ignoredAtStart(constants.signals.SIGHUP) ? [] : ["SIGHUP" as const])] as const) {
  process.on(signal, () => {
    if (stopping) {
      // A second signal (Ctrl-C again) does not wait out SHUTDOWN_GRACE_MS. Tasks keep running
      // either way; the next start re-attaches to them.
      logger.warn({ signal }, "second signal: exiting without waiting for in-flight requests");
      logger.flush(() => process.exit(1));
      return;
    }
    stopping = true;
    logger.info({ signal }, "shutting down");
    const exit = (code: number) => logger.flush(() => process.exit(code));
    server.shutdown().then(
      () => {
        logger.info("shutdown complete");
        exit(0);
      },
      (err) => {
        logger.error({ err }, "shutdown failed");
        exit(1);
      },
    );
  });
}
