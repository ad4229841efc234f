import { createRoute, z } from "@hono/zod-openapi";
import { errorResponses, jsonResponse, PROTECTED_ERRORS } from "../../http/openapi.ts";

const nullableNum = z.number().nullable();

export const GpuSchema = z
  .object({
    index: z.number().int(),
    uuid: z.string(),
    name: z.string(),
    utilization: nullableNum.openapi({ description: "Percent" }),
    memory: z.object({ used: nullableNum, total: nullableNum, percentUsed: nullableNum }).openapi({ description: "MiB" }),
    temperature: nullableNum.openapi({ description: "Degrees Celsius" }),
    power: z.object({ draw: nullableNum, limit: nullableNum }).openapi({ description: "Watts" }),
    processes: z
      .array(
        z.object({
          pid: z.number().int().openapi({ description: "In the API's PID namespace (a container's own, where it has one), as the driver gives it" }),
          name: z.string().openapi({ example: "/usr/bin/python3" }),
          memory: nullableNum.openapi({ description: "MiB of this GPU's memory it holds; null where the driver does not say (MIG, some containers)" }),
          taskId: z.string().nullable().openapi({ description: "The task it belongs to, when it is one of this API's" }),
        }),
      )
      .nullable()
      .openapi({ description: "The processes using this GPU (nvidia-smi --query-compute-apps): ComfyUI, a task's training run, another program. In a container with its own PID namespace, only that namespace's. null when nvidia-smi could not say" }),
    unlistedMemory: nullableNum.openapi({
      description:
        "MiB of this GPU's memory that no listed process holds: the driver's own (a few MiB) and, in a container with its own PID namespace, the processes outside it, which the driver does not list there (ComfyUI in another container). null where processes or a process's memory is unknown",
    }),
  })
  .openapi("Gpu");

export const StatusSchema = z
  .object({
    timestamp: z.string().openapi({ format: "date-time" }),
    api: z.object({ uptime: z.number().int().openapi({ description: "Seconds" }), version: z.string(), pid: z.number().int() }),
    tasks: z.object({ active: z.number().int(), queued: z.number().int().openapi({ description: "Waiting for a MAX_ACTIVE_TASKS slot" }) }),
    webhooks: z.object({
      signed: z.boolean().openapi({ description: "Whether WEBHOOK_SECRET signs them" }),
      pending: z.number().int().openapi({ description: "Notifications not yet delivered nor given up (a receiver that is down shows here)" }),
    }),
    gpu: z.object({ available: z.boolean(), gpus: z.array(GpuSchema), error: z.string().optional() }),
    providers: z.object({
      gemini: z.enum(["configured", "not_configured"]),
      openai: z.enum(["configured", "not_configured"]),
      claude: z.enum(["configured", "not_configured"]),
      openrouter: z.enum(["configured", "not_configured"]),
      comfyOrg: z.enum(["configured", "not_configured"]).openapi({ description: "COMFY_ORG_API_KEY, which ComfyUI's partner (API) nodes need" }),
      xinference: z.enum(["enabled", "disabled"]),
    }),
    comfyui: z.record(
      z.string(),
      z.object({
        url: z.string().openapi({ description: "The backend's URL; a password in it shows as ***", example: "http://127.0.0.1:8188" }),
        reachable: z.boolean(),
        queueLength: z.number().int().nullable(),
        version: z.string().nullable().openapi({ description: "ComfyUI's version, from its /system_stats" }),
        devices: z
          .array(z.object({ name: z.string(), type: z.string(), vramTotal: z.number().nullable(), vramFree: z.number().nullable() }))
          .nullable()
          .openapi({ description: "The devices ComfyUI runs on, as it reports them, memory in MiB: for a remote backend the only view of its GPU; null when it cannot be asked" }),
      }),
    ),
    taskProviders: z.record(
      z.string(),
      z.object({
        command: z.string(),
        installed: z.boolean(),
        resumes: z.boolean().openapi({ description: "Whether its tasks can be continued (POST /v1/tasks/{taskId}/continue): it has `resume` arguments" }),
        takesModel: z.boolean().openapi({ description: "Whether a task of it may name a `model`: it has `modelArgs`" }),
        active: z.number().int().openapi({ description: "Its tasks running now" }),
        maxActive: z.number().int().nullable().openapi({ description: "Most of its tasks that may run at once (PROVIDERS_FILE); null: only MAX_ACTIVE_TASKS holds" }),
        description: z.string().openapi({ description: "What the provider runs (from PROVIDERS_FILE for one added there)" }),
      }),
    ),
    system: z.object({
      cpu: z.object({
        loadAverage: z.object({ load1: z.number(), load5: z.number(), load15: z.number() }),
        cores: z.number().int(),
        limit: z.number().nullable().openapi({ description: "CPUs the container may use (its cgroup quota over its period); null without a quota" }),
      }),
      memory: z
        .object({
          total: z.number(),
          used: z.number(),
          free: z.number(),
          available: z.number(),
          percentUsed: z.number(),
          unit: z.literal("MiB"),
          source: z.enum(["host", "cgroup"]).openapi({ description: "cgroup: the container's memory limit (cgroup v2 memory.max), which is below the host's" }),
        })
        .openapi({ description: "MiB; used = total - available" }),
      disk: z.object({
        path: z.string(),
        size: z.string(),
        used: z.string(),
        available: z.string(),
        percentUsed: z.number(),
        sizeBytes: z.number(),
        usedBytes: z.number(),
        availableBytes: z.number(),
      }),
    }),
  })
  .openapi("Status");

export const statusRoute = createRoute({
  operationId: "getStatus",
  method: "get",
  path: "/v1/status",
  tags: ["Status"],
  summary: "Machine, GPU, task and provider status (cached for STATUS_CACHE_MS)",
  responses: { 200: jsonResponse(StatusSchema, "Current status"), ...errorResponses(...PROTECTED_ERRORS) },
});
