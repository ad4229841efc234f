/** `/`, `/health`, `/ready`, `/metrics`: unauthenticated service endpoints. */
import { apiRouter } from "../../http/api-router.ts";
import type { AppEnv } from "../../http/types.ts";
import type { Services } from "../../services.ts";
import { API_NAME, VERSION } from "../../version.ts";
import { healthRoute, metricsRoute, readyRoute, rootRoute } from "./system.routes.ts";

function endpointMap(services: Services): Record<string, Record<string, string>> {
  const map: Record<string, Record<string, string>> = {
    system: { info: "GET /", health: "GET /health", ready: "GET /ready", metrics: "GET /metrics" },
  };
  if (services.tasks) {
    map.tasks = {
      create: "POST /v1/tasks",
      list: "GET /v1/tasks",
      get: "GET /v1/tasks/{taskId}",
      stop: "DELETE /v1/tasks/{taskId}",
      stopMany: "DELETE /v1/tasks",
      continue: "POST /v1/tasks/{taskId}/continue",
      logs: "GET /v1/tasks/{taskId}/logs/stream",
      log: "GET /v1/tasks/{taskId}/logs",
      files: "GET /v1/tasks/{taskId}/files",
      file: "GET /v1/tasks/{taskId}/file",
      archive: "GET /v1/tasks/{taskId}/archive",
      resendWebhook: "POST /v1/tasks/{taskId}/webhook",
      events: "GET /v1/tasks/events",
    };
  }
  if (services.status) map.monitoring = { status: "GET /v1/status" };
  if (services.comfyui) {
    map.comfyui = {
      submit: "POST /v1/comfyui/workflow",
      list: "GET /v1/comfyui/workflows",
      get: "GET /v1/comfyui/workflow/{workflowId}",
      cancel: "DELETE /v1/comfyui/workflow/{workflowId}",
      cancelMany: "DELETE /v1/comfyui/workflows",
      retry: "POST /v1/comfyui/workflow/{workflowId}/retry",
      models: "GET /v1/comfyui/models",
      outputs: "GET /v1/comfyui/outputs",
      output: "GET /v1/comfyui/output/{filename}",
      archive: "GET /v1/comfyui/workflow/{workflowId}/archive",
      upload: "POST /v1/comfyui/upload",
      free: "POST /v1/comfyui/free",
      stream: "WS /v1/comfyui/stream",
      events: "GET /v1/comfyui/workflow/{workflowId}/events",
      resendWebhook: "POST /v1/comfyui/workflow/{workflowId}/webhook",
    };
  }
  return map;
}

export function systemRoutes(services: Services) {
  const app = apiRouter<AppEnv>();
  const info = {
    name: API_NAME,
    version: VERSION,
    description: "Management API for AI-agent tasks, ComfyUI workflows and GPU monitoring",
    endpoints: endpointMap(services),
    documentation: { swagger: "/docs", openapi: "/docs/json", openapiYaml: "/docs/yaml", dashboard: "/ui" },
    authentication: {
      type: "Bearer token",
      header: "Authorization: Bearer <MANAGEMENT_API_KEY>",
      alternative: "X-API-Key: <MANAGEMENT_API_KEY>",
      streaming: "SSE and WebSocket routes also accept ?token=<MANAGEMENT_API_KEY>; WebSocket also Sec-WebSocket-Protocol: Bearer, <key>",
      readOnly: "Keys in MANAGEMENT_API_READONLY_KEYS may only GET and HEAD; anything else is 403",
      exempt: ["GET /", "GET /health", "GET /ready", "GET /metrics", "GET /docs", "GET /ui", "GET /favicon.ico"],
    },
  };
  const activeTasks = () => services.tasks?.activeCount() ?? 0;

  return app
    .openapi(rootRoute, (c) => c.json(info, 200))
    .openapi(healthRoute, (c) => c.json({ status: "healthy" as const, timestamp: new Date().toISOString() }, 200))
    .openapi(readyRoute, (c) => {
      const state = services.lifecycle.state;
      const comfyui = services.comfyui
        ? Object.fromEntries([...services.comfyui.service.backends.values()].map((b) => [b.name, { reachable: b.connected }]))
        : undefined;
      const body = { ready: state === "ready", activeTasks: activeTasks(), timestamp: new Date().toISOString(), ...(comfyui ? { comfyui } : {}) };
      if (state !== "ready") return c.json({ ...body, reason: state === "starting" ? "starting" : "shutting down" }, 503);
      return c.json(body, 200);
    })
    .openapi(metricsRoute, async (c) => {
      const text = await services.metrics.registry.metrics();
      return c.text(text, 200, { "Content-Type": services.metrics.registry.contentType });
    });
}
