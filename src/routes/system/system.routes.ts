import { createRoute, z } from "@hono/zod-openapi";
import { errorResponses, jsonResponse } from "../../http/openapi.ts";

export const ApiInfoSchema = z
  .object({
    name: z.string(),
    version: z.string(),
    description: z.string(),
    endpoints: z.record(z.string(), z.record(z.string(), z.string())),
    documentation: z.object({ swagger: z.string(), openapi: z.string(), openapiYaml: z.string(), dashboard: z.string() }),
    authentication: z.object({ type: z.string(), header: z.string(), alternative: z.string(), streaming: z.string(), readOnly: z.string(), exempt: z.array(z.string()) }),
  })
  .openapi("ApiInfo");

export const HealthSchema = z
  .object({ status: z.literal("healthy"), timestamp: z.string().openapi({ format: "date-time" }) })
  .openapi("Health");

export const ReadySchema = z
  .object({
    ready: z.boolean(),
    activeTasks: z.number().int(),
    timestamp: z.string().openapi({ format: "date-time" }),
    reason: z.string().optional(),
    comfyui: z.record(z.string(), z.object({ reachable: z.boolean() })).optional().openapi({ description: "Reachability of each ComfyUI backend (informational: it does not affect readiness)" }),
  })
  .openapi("Ready");

// Public routes skip auth and (but for /) rate limits; the version check still applies to them.
const publicErrors = errorResponses(406, 429, 500);

export const rootRoute = createRoute({
  operationId: "getApiInfo",
  method: "get",
  path: "/",
  tags: ["System"],
  summary: "API information and endpoint map",
  security: [],
  responses: { 200: jsonResponse(ApiInfoSchema, "API information"), ...publicErrors },
});

export const healthRoute = createRoute({
  operationId: "getHealth",
  method: "get",
  path: "/health",
  tags: ["System"],
  summary: "Liveness: the process answers",
  security: [],
  responses: { 200: jsonResponse(HealthSchema, "Healthy"), ...errorResponses(406, 500) },
});

export const readyRoute = createRoute({
  operationId: "getReadiness",
  method: "get",
  path: "/ready",
  tags: ["System"],
  summary: "Readiness: 503 while starting or shutting down",
  security: [],
  responses: { 200: jsonResponse(ReadySchema, "Ready"), 503: jsonResponse(ReadySchema, "Not ready"), ...errorResponses(406, 500) },
});

export const metricsRoute = createRoute({
  operationId: "getMetrics",
  method: "get",
  path: "/metrics",
  tags: ["System"],
  summary: "Prometheus metrics",
  security: [],
  responses: {
    200: { description: "Prometheus text exposition format", content: { "text/plain": { schema: z.string() } } },
    ...errorResponses(406, 500),
  },
});
