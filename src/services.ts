/** Everything the HTTP layer needs, built once in main (or a test) and passed to createApp. */
import type { Logger } from "pino";
import type { Config } from "./config.ts";
import type { IdempotencyStore } from "./http/idempotency.ts";
import type { Lifecycle } from "./lifecycle.ts";
import type { Metrics } from "./metrics.ts";
import type { TaskService } from "./tasks/task-service.ts";
import type { StatusService } from "./system/status-service.ts";
import type { ComfyService } from "./comfyui/comfy-service.ts";
import type { StreamHub } from "./comfyui/stream-hub.ts";
import type { WorkflowStore } from "./comfyui/workflow-store.ts";

export interface Services {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  lifecycle: Lifecycle;
  /** Answers kept for Idempotency-Key retries of the POSTs that start work. */
  idempotency: IdempotencyStore;
  tasks?: TaskService;
  status?: StatusService;
  comfyui?: { service: ComfyService; store: WorkflowStore; hub: StreamHub };
}
