/** The shapes of a workflow, and of the bodies that queue one, shared by the ComfyUI routes. */
import { z } from "@hono/zod-openapi";
import { WebhookSchema, webhookUrlField } from "../../webhooks/webhook-view.ts";
import { labelsField } from "../../labels.ts";
import { timeoutSecondsField } from "../../http/openapi.ts";

export const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** Real workflows nest under a dozen levels (subgraphs included); the cap leaves room for custom nodes' values. */
export const MAX_WORKFLOW_DEPTH = 64;

/**
 * Whether a parsed JSON value nests objects or arrays deeper than `limit`. Walks with its own stack:
 * a recursive walk, like `JSON.stringify`, overflows on the deeply nested bodies this guards against.
 */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (depth + 1 > limit) return true;
    for (const child of Object.values(v)) if (child !== null && typeof child === "object") stack.push([child, depth + 1]);
  }
  return false;
}

export const WorkflowIdParam = z.object({
  workflowId: z.string().regex(UUID, "must be a UUID").toLowerCase().openapi({ param: { name: "workflowId", in: "path" }, example: "0b7c4c7e-3f57-4a38-9d55-5c7cbb0b1c11" }),
});

const inputOverrides = z
  .record(z.string().min(1), z.record(z.string().min(1), z.unknown()))
  .optional()
  .openapi({
    description:
      "Values to set on the workflow's nodes before it is queued, each node named by its id (after conversion: `5:1` inside a subgraph) or by its title: " +
      "a new prompt or seed without editing the workflow. A list value goes as `{\"__value__\": [...]}` (a bare list would be a link)",
    example: { "Positive prompt": { text: "a red fox in the snow" }, "3": { seed: 42 } },
  });

export const SubmitBody = z
  .object({
    workflow: z
      .record(z.string(), z.unknown())
      .refine((w) => !nestsDeeperThan(w, MAX_WORKFLOW_DEPTH), `nests deeper than ${MAX_WORKFLOW_DEPTH} levels`)
      .openapi({ description: `UI format (nodes/links, as saved by ComfyUI) or API format (node id -> {class_type, inputs}); at most ${MAX_WORKFLOW_DEPTH} levels deep` }),
    priority: z.enum(["low", "normal", "high"]).optional().openapi({ description: "Default normal" }),
    gpu: z.enum(["local", "salad"]).optional().openapi({ description: "Target backend, default local" }),
    timeoutSeconds: timeoutSecondsField(
      "Interrupt the workflow (as failed) once it has run this long in ComfyUI, counted from its start (not its wait in the queue); 0 for no limit. Default: WORKFLOW_TIMEOUT (none unless set)",
    ),
    inputs: inputOverrides,
    labels: labelsField("Your own names for the workflow (`{\"batch\": \"7\"}`): shown with it and in its webhook; `?label=batch=7` finds or cancels the workflows that carry them"),
    webhookUrl: webhookUrlField(
      "POSTed the workflow's end (`workflow.completed`, `workflow.failed`, `workflow.cancelled`, with the workflow as GET returns it), signed with WEBHOOK_SECRET; tried again for hours until a 2xx. Default: WEBHOOK_URL (none unless set); null for none",
    ),
  })
  .strict()
  .openapi("SubmitWorkflowRequest");

const OutputFileSchema = z.object({ filename: z.string(), subfolder: z.string(), type: z.string(), node: z.string(), url: z.string().nullable() });

export const WorkflowSchema = z
  .object({
    workflowId: z.string(),
    status: z.enum(["queued", "running", "completed", "cancelled", "failed"]),
    priority: z.enum(["low", "normal", "high"]),
    gpu: z.enum(["local", "salad"]),
    progress: z.number().openapi({ description: "0-100 over the nodes that really execute" }),
    currentNode: z.string().nullable(),
    queuePosition: z.number().int().nullable().openapi({ description: "0 running, 1 next, ...; null when finished" }),
    queuedAt: z.string(),
    startTime: z.string().nullable(),
    completionTime: z.string().nullable(),
    outputs: z.array(OutputFileSchema),
    error: z.string().nullable(),
    timeoutSeconds: z.number().nullable().openapi({ description: "The workflow's time limit in seconds, from its start (null: none); past it the workflow is interrupted and failed" }),
    nodeErrors: z
      .record(z.string(), z.unknown())
      .nullable()
      .openapi({ description: "ComfyUI accepted the workflow but dropped the output nodes that failed validation: its node_errors for them (the others run); null when every output runs" }),
    labels: z.record(z.string(), z.string()).openapi({ description: "The labels its request gave ({} for none)" }),
    webhook: WebhookSchema,
  })
  .openapi("Workflow");

export const RetryBody = z
  .object({
    priority: z.enum(["low", "normal", "high"]).optional().openapi({ description: "Default: the workflow's own" }),
    gpu: z.enum(["local", "salad"]).optional().openapi({ description: "Default: the backend it ran on" }),
    timeoutSeconds: timeoutSecondsField("Its time limit, from its start; 0 for none. Default: the workflow's own"),
    inputs: inputOverrides,
    labels: labelsField("The new workflow's labels. Default: the workflow's own; null for none"),
    webhookUrl: webhookUrlField("POSTed the new workflow's end, as for a submission. Default: the workflow's own; null for none"),
  })
  .strict()
  .openapi("RetryWorkflowRequest");
