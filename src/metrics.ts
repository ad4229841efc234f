/**
 * The Prometheus registry and every metric family the API exposes. Built once and passed to the
 * services that move the values; nothing here is global.
 */
import { prometheus } from "@hono/prometheus";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { STATUS_TEXT } from "./http/errors.ts";
import { RequestMetrics } from "./request-metrics.ts";
import type { TaskRecord } from "./tasks/task.ts";

export type Metrics = ReturnType<typeof createMetrics>;

/** How often the event-loop delay histogram (nodejs_eventloop_lag_p99_seconds & co.) samples. */
const EVENT_LOOP_SAMPLE_MS = 100;

/** Creates a registry with default process metrics and all API families registered up front. */
export function createMetrics() {
  const registry = new Registry();
  // @hono/prometheus brings the registry wiring and default runtime metrics; its own HTTP metrics are
  // replaced below because the spec labels them method/route/status_code with its own buckets.
  const { printMetrics } = prometheus({
    registry,
    // The event-loop delay histogram samples on a timer, every 10 ms by default: a hundred wakeups a
    // second on an idle sidecar (`npm run bench idle`). Every 100 ms still gives a 15 s scrape 150
    // samples, and a stall longer than that is always caught.
    collectDefaultMetrics: { eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS },
    metricOptions: { requestDuration: { disabled: true }, requestsTotal: { disabled: true } },
  });
  // prom-client also exports these as gauges named *_total, which Prometheus' naming rules reserve for
  // counters (promtool flags them); the same figures remain in nodejs_active_handles & co.
  for (const name of ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"]) registry.removeSingleMetric(name);
  const registers = [registry];
  const m = {
    registry,
    printMetrics,
    /** http_request_duration_seconds and http_requests_total (see request-metrics.ts for why not prom-client's classes). */
    requests: new RequestMetrics(registry),
    apiErrors: new Counter({
      name: "api_errors_total",
      help: "Error responses by type and route",
      labelNames: ["error_type", "route"] as const,
      registers,
    }),
    activeTasks: new Gauge({ name: "active_tasks_total", help: "Agent tasks currently running", registers }),
    providerActiveTasks: new Gauge({
      name: "provider_active_tasks",
      help: "Agent tasks currently running, by provider (every configured provider, 0 included): against its maxActive, a saturated one shows",
      labelNames: ["provider"] as const,
      registers,
    }),
    queuedTasks: new Gauge({ name: "queued_tasks", help: "Agent tasks waiting for a MAX_ACTIVE_TASKS slot", registers }),
    completedTasks: new Counter({
      name: "completed_tasks_total",
      help: "Agent tasks that ended, by final status",
      labelNames: ["status"] as const,
      registers,
    }),
    tasksStoppedByLimit: new Counter({
      name: "tasks_stopped_by_limit_total",
      help: "Agent tasks stopped as failed for going past a limit: time (timeoutSeconds), memory, log_size or no_output",
      labelNames: ["limit"] as const,
      registers,
    }),
    taskDuration: new Histogram({
      name: "task_duration_seconds",
      help: "Run time of agent tasks in seconds",
      labelNames: ["task_type", "status"] as const,
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
      registers,
    }),
    agentCost: new Counter({
      name: "agent_cost_usd_total",
      help: "What agent tasks cost in US dollars, as a claude session's final result reports it",
      labelNames: ["task_type"] as const,
      registers,
    }),
    agentTokens: new Counter({
      name: "agent_tokens_total",
      help: "Tokens agent tasks used, by kind (input, output, cache_read, cache_creation), as a claude session's final result reports them",
      labelNames: ["task_type", "kind"] as const,
      registers,
    }),
    mcpToolCalls: new Counter({
      name: "mcp_tool_calls_total",
      help: "MCP tool invocations by tool and outcome",
      labelNames: ["tool", "status"] as const,
      registers,
    }),
    mcpToolDuration: new Histogram({
      name: "mcp_tool_duration_seconds",
      help: "Duration of MCP tool invocations in seconds",
      labelNames: ["tool"] as const,
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60],
      registers,
    }),
    comfyWorkflows: new Counter({
      name: "comfyui_workflow_total",
      help: "ComfyUI workflows by final status",
      labelNames: ["status"] as const,
      registers,
    }),
    comfyWorkflowDuration: new Histogram({
      name: "comfyui_workflow_duration_seconds",
      help: "ComfyUI workflow run time in seconds",
      labelNames: ["gpu_type"] as const,
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800],
      registers,
    }),
    comfyWorkflowErrors: new Counter({
      name: "comfyui_workflow_errors_total",
      help: "ComfyUI workflow errors by type",
      labelNames: ["error_type"] as const,
      registers,
    }),
    comfyQueueLength: new Gauge({ name: "comfyui_queue_length", help: "Workflows queued or running in ComfyUI", registers }),
    gpuUtilization: new Gauge({
      name: "comfyui_gpu_utilization",
      help: "GPU utilization in percent, from nvidia-smi",
      labelNames: ["gpu_id"] as const,
      registers,
    }),
    vramUsage: new Gauge({
      name: "comfyui_vram_usage_bytes",
      help: "GPU memory in use in bytes, from nvidia-smi",
      labelNames: ["gpu_id"] as const,
      registers,
    }),
    comfyBackendUp: new Gauge({ name: "comfyui_backend_up", help: "1 while the API is connected to the ComfyUI backend, else 0", labelNames: ["backend"] as const, registers }),
    comfyBackendVramTotal: new Gauge({
      name: "comfyui_backend_vram_total_bytes",
      help: "Memory of each device a ComfyUI backend runs on, as its /system_stats reports it (a remote backend's GPU too)",
      labelNames: ["backend", "device"] as const,
      registers,
    }),
    comfyBackendVramFree: new Gauge({
      name: "comfyui_backend_vram_free_bytes",
      help: "Free memory of each device a ComfyUI backend runs on, as its /system_stats reports it",
      labelNames: ["backend", "device"] as const,
      registers,
    }),
    webhookAttempts: new Counter({
      name: "webhook_attempts_total",
      help: "Webhook POSTs by outcome: success (a 2xx), http_error, network_error or timeout",
      labelNames: ["outcome"] as const,
      registers,
    }),
    webhookDeliveries: new Counter({
      name: "webhook_deliveries_total",
      help: "Webhook notifications that ended: delivered, or failed (given up after the last attempt, or a 410)",
      labelNames: ["status"] as const,
      registers,
    }),
    webhooksSending: new Gauge({ name: "webhook_deliveries_pending", help: "Webhook notifications not yet delivered nor given up", registers }),
  };
  return m;
}

/** Adds what an ended task's agent reports it used (nothing for a task with no result event). */
export function recordAgentUsage(metrics: Metrics, t: TaskRecord) {
  if (t.costUsd !== null) metrics.agentCost.inc({ task_type: t.provider }, t.costUsd);
  const tokens = { input: t.inputTokens, output: t.outputTokens, cache_read: t.cacheReadTokens, cache_creation: t.cacheCreationTokens };
  for (const [kind, n] of Object.entries(tokens)) if (n !== null) metrics.agentTokens.inc({ task_type: t.provider, kind }, n);
}

/** Records one request's duration and count (and the error count for 4xx/5xx), labelled with the route pattern. */
export function recordRequest(metrics: Metrics, method: string, route: string, status: number, seconds: number) {
  metrics.requests.record(method, route, status, seconds);
  if (status >= 400) {
    const type = (STATUS_TEXT[status] ?? String(status)).toLowerCase().replace(/\s+/g, "_");
    metrics.apiErrors.inc({ error_type: type, route });
  }
}
