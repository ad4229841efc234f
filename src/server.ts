/** Builds every service from a Config and serves the app with Bun.serve; used by main and by tests. */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import type { Server, ServerWebSocket } from "bun";
import type { Logger } from "pino";
import { createApp } from "./app.ts";
import type { Config } from "./config.ts";
import { Lifecycle } from "./lifecycle.ts";
import { createMetrics } from "./metrics.ts";
import type { Services } from "./services.ts";
import { lastResortError } from "./http/errors.ts";
import { IdempotencyStore } from "./http/idempotency.ts";
import { StatusService } from "./system/status-service.ts";
import { DEFAULT_PROVIDER, loadProviders, providerCommands } from "./tasks/providers.ts";
import { resolveCommand, spawnTask, type SpawnFn } from "./tasks/spawn.ts";
import { TaskSupervisor } from "./tasks/supervisor.ts";
import { TaskService } from "./tasks/task-service.ts";
import { TaskStore } from "./tasks/task-store.ts";
import { openDatabase } from "./db.ts";
import { dataFolders, prepareDataFolders } from "./data-folders.ts";
import { ComfyService } from "./comfyui/comfy-service.ts";
import { StreamHub, type SocketData } from "./comfyui/stream-hub.ts";
import { WorkflowStore } from "./comfyui/workflow-store.ts";
import { backendsView, workflowView } from "./comfyui/views.ts";
import { WebhookSender } from "./webhooks/webhook-sender.ts";
import { WebhookStore } from "./webhooks/webhook-store.ts";
import { VERSION } from "./version.ts";

export interface BuildOptions {
  spawn?: SpawnFn;
  /** Bun's idle timeout in seconds (streams opt out of it). */
  idleTimeoutSec?: number;
  /** First reconnect delay to ComfyUI (tests shorten it). */
  comfyBackoffMs?: number;
  /** How long a UI-workflow conversion waits for ComfyUI's /object_info (tests shorten it). */
  comfyObjectInfoWaitMs?: number;
  /** How long to wait for another server to let go of DATA_DIR's database (tests shorten it). */
  dbBusyTimeoutMs?: number;
  /** How finished tasks' files are deleted (tests make it fail). */
  removePath?: (path: string) => void | Promise<void>;
  /** How often the webhook outbox is looked at, the delays between attempts, and the wait for an answer (tests shorten them). */
  webhookPollMs?: number;
  webhookRetryDelaysMs?: readonly number[];
  webhookTimeoutMs?: number;
}

/** rwx for the API's own user, nothing for others. */
const PRIVATE_DIR = 0o700;

/** Creates the services (no listening socket). Throws on unusable settings such as a bad PROVIDERS_FILE. */
export function buildServices(config: Config, logger: Logger, options: BuildOptions = {}): Services & { close(): void } {
  // Prompts, transcripts and what agents made are nobody else's business on a shared machine: the
  // folders are made for this user only. One that exists already keeps the mode it was given.
  prepareDataFolders(dataFolders(config), config.dbPath, PRIVATE_DIR);
  const metrics = createMetrics();
  const lifecycle = new Lifecycle();
  const providers = loadProviders(config.tasks.providersFile);
  const searchPath = config.childEnvSource.PATH ?? "";
  const commands = providerCommands(providers, (command) => resolveCommand(command, { PATH: searchPath }, config.workspaceDir));
  if (Object.keys(commands.missing).length) logger.info({ ...commands, PATH: searchPath }, "task providers; some commands are not on PATH, so their tasks fail until installed");
  else logger.info(commands, "task providers");
  const db = openDatabase(config.dbPath, options.dbBusyTimeoutMs);
  // An end recorded (its notification made in the same write) sends it at once; the poll is the net.
  // Bound once the services exist: a change made while they are built has no listener yet anyway.
  let webhooks: WebhookSender | undefined;
  let tasks: TaskService | undefined;
  const endRecorded = () => webhooks?.kick();
  const store = new TaskStore(db, {
    changed: (taskId, ended) => {
      if (ended) endRecorded();
      tasks?.changed(taskId);
    },
    deleting: (t) => tasks?.deleting(t),
  });
  const workflowStore = new WorkflowStore(db, endRecorded);
  // Before anything can record an end (recover() does, as the task service starts): its triggers make the notifications.
  const webhookStore = new WebhookStore(db, [
    { kind: "task", table: "tasks", id: "taskId", endTime: "exitTime" },
    { kind: "workflow", table: "workflows", id: "workflowId", endTime: "completionTime" },
  ]);
  const supervisor = new TaskSupervisor({
    store,
    spawn: options.spawn ?? spawnTask,
    providers,
    workspaceDir: config.workspaceDir,
    logsDir: config.logsDir,
    envSource: config.childEnvSource,
    taskEnv: config.tasks.taskEnv,
    maxActive: config.tasks.maxActive,
    stopGraceMs: config.tasks.stopGraceMs,
    logMaxBytes: config.tasks.logMaxBytes,
    memoryMaxBytes: config.tasks.memoryMaxBytes,
    claudePermissionMode: config.tasks.claudePermissionMode,
    metrics,
    logger,
    removePath: options.removePath,
  });
  tasks = new TaskService({
    store,
    supervisor,
    lifecycle,
    logger,
    heartbeatMs: config.tasks.heartbeatMs,
    retentionMs: config.tasks.retentionMs,
    defaultTimeoutMs: config.tasks.timeoutMs,
    defaultWebhookUrl: config.webhookDefaultUrl,
    defaultNoOutputTimeoutMs: config.tasks.noOutputTimeoutMs,
    defaultProvider: providers[DEFAULT_PROVIDER] ? DEFAULT_PROVIDER : Object.keys(providers)[0]!,
    webhooks: webhookStore,
  });
  const hub = new StreamHub((id) => {
    const w = workflowStore.get(id);
    if (!w) return undefined;
    const { status, progress, currentNode, outputs, error } = workflowView(w, null);
    return { status, progress, currentNode, outputs, error };
  });
  const comfy = new ComfyService({
    store: workflowStore,
    hub,
    metrics,
    logger,
    backends: [
      { name: "local" as const, url: config.comfyui.localUrl, proxy: config.comfyui.localProxy, comfyOrgApiKey: config.comfyui.comfyOrgApiKey },
      ...(config.comfyui.saladUrl
        ? [{ name: "salad" as const, url: config.comfyui.saladUrl, apiKey: config.comfyui.saladApiKey, proxy: config.comfyui.saladProxy, comfyOrgApiKey: config.comfyui.comfyOrgApiKey }]
        : []),
    ],
    backoffMs: options.comfyBackoffMs,
    objectInfoWaitMs: options.comfyObjectInfoWaitMs,
    retentionMs: config.comfyui.retentionMs,
    defaultTimeoutMs: config.comfyui.timeoutMs,
    defaultWebhookUrl: config.webhookDefaultUrl,
    webhooks: webhookStore,
  });
  comfy.start();
  webhooks = new WebhookSender({
    store: webhookStore,
    describe: (subject) => {
      const [kind, id] = subject.split(":") as [string, string];
      return kind === "task" ? tasks.webhookEvent(id) : comfy.webhookEvent(id);
    },
    secret: config.webhookSecret,
    userAgent: `agentic-flow-management-api/${VERSION}`,
    logger,
    metrics,
    pollMs: options.webhookPollMs,
    retryDelaysMs: options.webhookRetryDelaysMs,
    timeoutMs: options.webhookTimeoutMs,
  });
  webhooks.start();
  lifecycle.stopping.addEventListener("abort", () => hub.closeAll("Server is shutting down"));
  const status = new StatusService({
    config,
    metrics,
    startedAt: lifecycle.startedAt,
    activeTasks: () => tasks.activeCount(),
    queuedTasks: () => tasks.queuedCount(),
    webhooksPending: () => webhookStore.sendingCount(),
    taskProviders: () => supervisor.providers,
    activeByProvider: () => supervisor.activeByProvider(),
    comfyui: () => backendsView(comfy.backends.values()),
  });
  return {
    config,
    logger,
    metrics,
    lifecycle,
    idempotency: new IdempotencyStore(db),
    tasks,
    status,
    comfyui: { service: comfy, store: workflowStore, hub },
    close() {
      webhooks.close();
      tasks.close();
      comfy.close();
      db.close();
    },
  };
}

export interface RunningServer {
  url: URL;
  port: number;
  services: Services;
  /** Graceful stop: /ready turns 503, streams close, in-flight requests get SHUTDOWN_GRACE_MS. */
  shutdown(): Promise<void>;
}

/** Largest WebSocket message a client may send: subscribe/unsubscribe/ping fit in a few hundred bytes. */
export const WS_MAX_MESSAGE_BYTES = 64 * 1024;
/** Events queued for one WebSocket client beyond which it is closed (an event is a few hundred bytes). */
export const WS_BACKPRESSURE_BYTES = 1024 * 1024;

/**
 * Wraps a WebSocket handler so that an exception in it is logged and closes that one socket (1011)
 * instead of escaping to Bun, which ends the whole process on an error thrown from a socket handler.
 */
export function guardSocket<A extends unknown[]>(logger: Logger, event: string, handler: (ws: ServerWebSocket<SocketData>, ...rest: A) => void) {
  return function guardedSocketHandler(ws: ServerWebSocket<SocketData>, ...rest: A) {
    try {
      handler(ws, ...rest);
    } catch (err) {
      logger.error({ err, event }, "WebSocket handler failed; closing the socket");
      if (event !== "close") ws.close(1011, "Internal error");
    }
  };
}

/**
 * A HOST given as a name must resolve before Bun is asked to listen on it: Bun reports a name that
 * does not as "EINPROGRESS: unknown error, listen".
 */
async function checkHostResolves(host: string) {
  if (isIP(host)) return;
  try {
    await lookup(host);
  } catch (err) {
    throw new Error(`HOST: the host name ${host} does not resolve (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); use an address such as 127.0.0.1 or 0.0.0.0`, { cause: err });
  }
}

/** Bun's listen error, said in terms of the settings where Bun's words do not. */
function listenError(err: NodeJS.ErrnoException, host: string): Error {
  if (err.code === "EADDRNOTAVAIL" || /EADDRNOTAVAIL/.test(err.message)) {
    return new Error(`HOST: ${host} is not an address of this machine (EADDRNOTAVAIL); use 127.0.0.1 (this machine only), 0.0.0.0 (every interface) or one of its own addresses`, { cause: err });
  }
  return err;
}

/** Builds services and the app, and listens. */
export async function createServer(config: Config, logger: Logger, options: BuildOptions = {}): Promise<RunningServer> {
  await checkHostResolves(config.host);
  const services = buildServices(config, logger, options);
  const app = createApp(services);
  let server: Server<SocketData>;
  try {
    server = Bun.serve<SocketData>({
      port: config.port,
      hostname: config.host,
      idleTimeout: options.idleTimeoutSec ?? 30,
      // Bun's default follows NODE_ENV, which is unset in the container and the binary: development.
      development: false,
      // Said explicitly: in production mode Bun 1.4 otherwise binds a port that is in use, sharing it
      // (SO_REUSEPORT) with whatever listens there, so a second API would take half the requests.
      reusePort: false,
      // The pipeline limits every body (BODY_LIMIT, UPLOAD_LIMIT) and answers 413 in the common format.
      // Bun's own limit (128 MiB by default) would answer first, with a bare 413 and no log line, and
      // cap UPLOAD_LIMIT at 128 MiB whatever it says.
      maxRequestBodySize: Number.MAX_SAFE_INTEGER,
      fetch: (req, srv) => app.fetch(req, srv),
      error: lastResortError(logger),
      websocket: {
        // Clients send only small control messages; Bun closes a socket sending more with 1009.
        maxPayloadLength: WS_MAX_MESSAGE_BYTES,
        // A client that stops reading is closed once 1 MiB of events wait for it, rather than having
        // events silently dropped (Bun's default past 16 MiB): it reconnects and reads current state.
        backpressureLimit: WS_BACKPRESSURE_BYTES,
        closeOnBackpressureLimit: true,
        open: guardSocket(logger, "open", (ws) => ws.data.handler.open(ws)),
        message: guardSocket(logger, "message", (ws, msg: string | Buffer) => ws.data.handler.message(ws, msg)),
        close: guardSocket(logger, "close", (ws) => ws.data.handler.close(ws)),
      },
    });
  } catch (err) {
    services.close(); // the database lock, the task poller and the ComfyUI sockets go with it
    throw listenError(err as NodeJS.ErrnoException, config.host);
  }
  services.lifecycle.markReady();
  return {
    url: server.url,
    port: server.port!,
    services,
    async shutdown() {
      services.lifecycle.beginShutdown();
      const drained = server.stop(false);
      const grace = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), config.shutdownGraceMs).unref?.());
      if ((await Promise.race([drained, grace])) === "timeout") {
        logger.warn({ graceMs: config.shutdownGraceMs }, "in-flight requests did not finish in time; closing them");
        await server.stop(true);
      }
      services.close();
    },
  };
}
