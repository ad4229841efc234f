import { createRoute, z } from "@hono/zod-openapi";
import { labelQuery } from "../../labels.ts";
import { ResendWebhookBody, WebhookSchema } from "../../webhooks/webhook-view.ts";
import { cursorQuery, errorResponses, eventStreamDoc, jsonResponse, PROTECTED_ERRORS, requiredStatusListQuery, statusListQuery } from "../../http/openapi.ts";
import { RetryBody, SubmitBody, UUID, WorkflowIdParam, WorkflowSchema } from "./comfyui.schemas.ts";
import { IdempotencyHeaders } from "../../http/idempotency.ts";
import { waitQuery } from "../../http/long-poll.ts";

const errors = (...s: number[]) => errorResponses(...PROTECTED_ERRORS, ...s);

export const ModelsQuery = z.object({
  type: z
    .string()
    .regex(/^[a-z0-9_]{1,64}$/, "must be a model folder's name: lowercase letters, digits and _")
    .default("checkpoints")
    .optional()
    .openapi({
      description:
        "A model folder of ComfyUI's (GET /models there): `checkpoints` (the default), `loras`, `vae`, `controlnet`, `upscale_models`, `diffusion_models`, `text_encoders`, `clip_vision`, `embeddings`, …; " +
        "or `upscale` (upscale_models), `clip` (text_encoders), `unet` (diffusion_models). One ComfyUI has no folder for is a 400 that lists those it has",
      example: "loras",
    }),
  gpu: z.enum(["local", "salad"]).optional().openapi({ description: "Which backend's models: local (the default) or salad. Sizes (COMFYUI_MODELS_DIR) are the local one's only" }),
});
export const ModelsSchema = z
  .object({ models: z.array(z.object({ name: z.string(), type: z.string(), size: z.number().nullable(), hash: z.string().nullable() })) })
  .openapi("Models");

export const OutputsQuery = z.object({
  workflowId: z.string().regex(UUID, "must be a UUID").toLowerCase().optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50).optional(),
  cursor: cursorQuery,
});
export const OutputsSchema = z
  .object({
    outputs: z.array(
      z.object({
        filename: z.string(),
        subfolder: z.string().openapi({ description: "Below ComfyUI's output folder; \"\" for the folder itself" }),
        workflowId: z.string(),
        type: z.string(),
        size: z.number().nullable(),
        createdAt: z.string(),
        url: z.string().openapi({ description: "Where to download this very file (carries `subfolder` and `gpu` when they are not the defaults)" }),
      }),
    ),
    nextCursor: z.string().nullable().openapi({ description: "For the next page (?cursor=); null on the last" }),
  })
  .openapi("Outputs");

export const UploadForm = z
  .object({
    image: z
      .instanceof(File, { message: "must be a file" })
      .openapi({ type: "string", format: "binary", description: "The file, under its own name: an image for LoadImage, or a video or sound for the nodes that load those" }),
    subfolder: z.string().max(255).optional().openapi({ description: 'Below ComfyUI\'s input folder ("" by default)', example: "masks" }),
    overwrite: z.enum(["true", "false"]).optional().openapi({ description: 'Replace a file of the same name; by default ComfyUI keeps it and saves this one as "name (1).png" (unless they are the same image)' }),
    gpu: z.enum(["local", "salad"]).optional().openapi({ description: "Target backend, default local" }),
  })
  .strict()
  .openapi("UploadInputRequest");

export const UploadedSchema = z
  .object({
    name: z.string().openapi({ description: "The name ComfyUI saved the file under (it may differ from the one sent)" }),
    subfolder: z.string(),
    type: z.literal("input"),
    gpu: z.enum(["local", "salad"]),
    size: z.number().int(),
    path: z.string().openapi({ description: "What a workflow names it by: the value for LoadImage's `image` input", example: "masks/cat.png" }),
  })
  .openapi("UploadedInput");

export const uploadRoute = createRoute({
  operationId: "uploadInput",
  method: "post",
  path: "/v1/comfyui/upload",
  tags: ["ComfyUI"],
  summary: "Put a file in ComfyUI's input folder, for LoadImage and its kin",
  description:
    "A multipart form (`curl -F image=@cat.png`), as ComfyUI's own `/upload/image` takes it; at most UPLOAD_LIMIT bytes. " +
    "Workflows then name the file by the `path` in the answer.",
  request: { body: { required: true, content: { "multipart/form-data": { schema: UploadForm } } } },
  responses: { 201: jsonResponse(UploadedSchema, "Saved in ComfyUI's input folder"), ...errors(400, 413, 415, 502, 503) },
});

export const FreeBody = z
  .object({
    unloadModels: z.boolean().optional().openapi({ description: "Unload every model from VRAM (default true)" }),
    freeMemory: z.boolean().optional().openapi({ description: "Drop ComfyUI's cache of node results too: the next workflow computes everything again (default true). ComfyUI then unloads the models as well" }),
    gpu: z.enum(["local", "salad"]).optional().openapi({ description: "Target backend, default local" }),
  })
  .strict()
  .openapi("FreeMemoryRequest");

export const freeRoute = createRoute({
  operationId: "freeMemory",
  method: "post",
  path: "/v1/comfyui/free",
  tags: ["ComfyUI"],
  summary: "Make ComfyUI give back the GPU memory it holds between workflows",
  description:
    "ComfyUI keeps models loaded, and node results cached, after a workflow: quicker for the next one, but VRAM an agent's own model " +
    "may need. This asks it (its `/free`) to unload them: at once when it is idle, else when the workflow it is running ends.",
  request: { body: { required: true, content: { "application/json": { schema: FreeBody } } } },
  responses: {
    202: jsonResponse(
      z.object({ gpu: z.enum(["local", "salad"]), unloadModels: z.boolean(), freeMemory: z.boolean(), message: z.string() }).openapi("FreeMemoryAccepted"),
      "ComfyUI was asked; it frees the memory when it is idle",
    ),
    ...errors(400, 413, 415, 502, 503),
  },
});

export const submitRoute = createRoute({
  operationId: "submitWorkflow",
  method: "post",
  path: "/v1/comfyui/workflow",
  tags: ["ComfyUI"],
  summary: "Queue a workflow on a ComfyUI backend",
  request: { headers: IdempotencyHeaders, body: { required: true, content: { "application/json": { schema: SubmitBody } } } },
  responses: { 202: jsonResponse(WorkflowSchema, "Queued (or, for a repeated Idempotency-Key, the first submission's answer)"), ...errors(400, 409, 413, 415, 422, 502, 503, 507) },
});

export const retryWorkflowRoute = createRoute({
  operationId: "retryWorkflow",
  method: "post",
  path: "/v1/comfyui/workflow/{workflowId}/retry",
  tags: ["ComfyUI"],
  summary: "Queue a finished workflow again, as a new workflow",
  description:
    "Its prompt (and UI JSON) as it was first queued, so a client need not send it again: after a failure, a time limit too short, " +
    "or a cancel. The body (`{}` for none) may change its priority, backend or time limit.",
  request: { params: WorkflowIdParam, headers: IdempotencyHeaders, body: { required: true, content: { "application/json": { schema: RetryBody } } } },
  responses: { 202: jsonResponse(WorkflowSchema, "The new workflow, queued"), ...errors(400, 404, 409, 413, 415, 422, 502, 503, 507) },
});

export const ListWorkflowsQuery = z.object({
  status: statusListQuery(["queued", "running", "completed", "cancelled", "failed"], "Workflows in this status, or in any of several: `queued,running` for those not finished"),
  limit: z.coerce.number().int().min(1).max(200).default(20).optional(),
  cursor: cursorQuery,
  label: labelQuery,
});

export const listWorkflowsRoute = createRoute({
  operationId: "listWorkflows",
  method: "get",
  path: "/v1/comfyui/workflows",
  tags: ["ComfyUI"],
  summary: "Recent workflows, newest first",
  request: { query: ListWorkflowsQuery },
  responses: {
    200: jsonResponse(z.object({ workflows: z.array(WorkflowSchema), nextCursor: z.string().nullable().openapi({ description: "For the next page (?cursor=); null on the last" }) }).openapi("WorkflowList"), "Workflows"),
    ...errors(400),
  },
});

export const cancelWorkflowsRoute = createRoute({
  operationId: "cancelWorkflows",
  method: "delete",
  path: "/v1/comfyui/workflows",
  tags: ["ComfyUI"],
  summary: "Cancel every workflow queued (or running), at once",
  description:
    "For a batch gone wrong: one request, where a DELETE each would use up the rate limit. The queued ones leave ComfyUI's queue " +
    "in one request; running ones are interrupted, and the answer waits up to 3 s for ComfyUI to say they stopped (one it completes " +
    "meanwhile is not counted). `status` is required, so that nothing is cancelled by accident.",
  request: {
    query: z.object({
      status: requiredStatusListQuery(["queued", "running"], "Cancel the workflows in this status, or in either: `queued,running`"),
      gpu: z.enum(["local", "salad"]).optional().openapi({ description: "Only this backend's (default: every backend's)" }),
      label: labelQuery,
    }),
  },
  responses: {
    200: jsonResponse(
      z.object({ cancelled: z.number().int(), workflowIds: z.array(z.string()) }).openapi("CancelledWorkflows"),
      "What was cancelled (one that ended meanwhile keeps how it ended, and is not counted)",
    ),
    ...errors(400, 502, 507),
  },
});

export const getWorkflowRoute = createRoute({
  operationId: "getWorkflow",
  method: "get",
  path: "/v1/comfyui/workflow/{workflowId}",
  tags: ["ComfyUI"],
  summary: "A workflow's status, progress, queue position and outputs",
  description: "With `?wait=N`, the answer comes once the workflow has ended (completed, failed or cancelled), or after N seconds.",
  request: { params: WorkflowIdParam, query: z.object({ wait: waitQuery }) },
  responses: { 200: jsonResponse(WorkflowSchema, "The workflow"), ...errors(400, 404) },
});

export const workflowEventsRoute = createRoute({
  operationId: "streamWorkflow",
  method: "get",
  path: "/v1/comfyui/workflow/{workflowId}/events",
  tags: ["ComfyUI"],
  summary: "Follow one workflow's progress (Server-Sent Events)",
  description:
    "For clients without a WebSocket (`curl -N`, EventSource): `event: state` first, with its status, progress, currentNode, outputs and " +
    "error now; then `event: workflow:started|progress|completed|failed|cancelled`, each with the WebSocket's `{type, workflowId, data, timestamp}`. " +
    "The stream ends after the workflow's end, or right after `state` when it had ended already (an EventSource should close on either); " +
    "`event: shutdown` when the server stops. `: heartbeat` comments keep it open.",
  request: { params: WorkflowIdParam, query: z.object({ token: z.string().optional().openapi({ description: "API key, for EventSource clients that cannot send headers" }) }) },
  responses: {
    200: eventStreamDoc,
    ...errors(400, 404),
  },
});

export const resendWorkflowWebhookRoute = createRoute({
  operationId: "resendWorkflowWebhook",
  method: "post",
  path: "/v1/comfyui/workflow/{workflowId}/webhook",
  tags: ["ComfyUI"],
  summary: "Send an ended workflow's webhook again (after its receiver's outage, or to a new URL)",
  description:
    "Its notification is due again now, with the same webhook-id, and is tried again as at first. `{}` sends it to the workflow's own " +
    "webhookUrl; `{url}` to another, which becomes the workflow's. 409 while the workflow runs or its notification is still being sent; 422 without a URL.",
  request: { params: WorkflowIdParam, body: { required: true, content: { "application/json": { schema: ResendWebhookBody } } } },
  responses: { 202: jsonResponse(WebhookSchema.unwrap(), "To be sent now"), ...errors(400, 404, 409, 413, 415, 422, 507) },
});

export const cancelWorkflowRoute = createRoute({
  operationId: "cancelWorkflow",
  method: "delete",
  path: "/v1/comfyui/workflow/{workflowId}",
  tags: ["ComfyUI"],
  summary: "Cancel: remove from the queue, or interrupt if running",
  description:
    "ComfyUI stops a running workflow at its next node or sampling step: the answer waits for its word, up to 3 s (then the workflow is " +
    "cancelled all the same, and interrupted again should it go on); while the API's WebSocket to ComfyUI is down, a queued one may " +
    "have started unseen, and the answer waits as long for the reconnect to say. One whose last node was already running completes, " +
    "its files saved: it is then `completed`, and the answer a 409 with `currentStatus`, as for any workflow that had ended.",
  request: { params: WorkflowIdParam },
  responses: { 200: jsonResponse(WorkflowSchema, "Cancelled"), ...errors(400, 404, 409, 502, 507) },
});

export const modelsRoute = createRoute({
  operationId: "listModels",
  method: "get",
  path: "/v1/comfyui/models",
  tags: ["ComfyUI"],
  summary: "Models a backend has (the local one by default), by type",
  request: { query: ModelsQuery },
  responses: { 200: jsonResponse(ModelsSchema, "Models"), ...errors(400, 502, 503) },
});

export const outputsRoute = createRoute({
  operationId: "listOutputs",
  method: "get",
  path: "/v1/comfyui/outputs",
  tags: ["ComfyUI"],
  summary: "Files our workflows made, newest first",
  request: { query: OutputsQuery },
  responses: { 200: jsonResponse(OutputsSchema, "Outputs"), ...errors(400) },
});

const FILE_CONTENT = Object.fromEntries(
  ["image/*", "video/*", "audio/*", "model/gltf-binary", "text/plain", "application/json", "application/octet-stream"].map((t) => [t, { schema: z.string().openapi({ format: "binary" }) }]),
);

export const outputFileRoute = createRoute({
  operationId: "getOutputFile",
  method: "get",
  path: "/v1/comfyui/output/{filename}",
  tags: ["ComfyUI"],
  summary: "Download an output file",
  description:
    "ComfyUI numbers files per subfolder and per backend, so a name alone may mean several files: `subfolder` " +
    "(default `\"\"`) and `gpu` (default `local`) say which, as in the `url` of each listed output. With neither given and " +
    "no such file at the defaults, the one output of that name elsewhere is served; where there are several, a 409 lists their URLs.",
  request: {
    params: z.object({ filename: z.string().openapi({ param: { name: "filename", in: "path" }, example: "ComfyUI_00001_.png" }) }),
    query: z.object({
      subfolder: z.string().optional().openapi({ description: "Subfolder below ComfyUI's output folder", example: "2026-11-27" }),
      gpu: z.enum(["local", "salad"]).optional().openapi({ description: "Backend that made the file" }),
      preview: z.enum(["webp"]).optional().openapi({
        description: "Rather than the file, the image as ComfyUI renders it for a preview, in WebP (a fraction of a PNG's size: thumbnails, a slow link). Images only (PNG, JPEG, WebP, GIF: of an animated one, its first frame); made by the backend, so it must be reachable",
      }),
      quality: z.coerce.number().int().min(1).max(100).optional().openapi({ description: "The preview's quality, 1 to 100 (default 90, as ComfyUI's)", example: 75 }),
    }),
  },
  responses: {
    200: { description: "The file, typed by its extension (PNG, JPEG, WebP, GIF, MP4, WebM, WAV, MP3, FLAC, glTF, text, JSON; else octet-stream); with `preview=webp`, its WebP preview", content: FILE_CONTENT },
    206: { description: "The part of the file a `Range: bytes=…` header asked for, with Content-Range", content: FILE_CONTENT },
    ...errors(400, 404, 409, 416, 502, 503),
  },
});

export const streamRoute = createRoute({
  operationId: "streamWorkflowEvents",
  method: "get",
  path: "/v1/comfyui/stream",
  tags: ["ComfyUI"],
  summary: "WebSocket of workflow events",
  description:
    "Authenticate with `Sec-WebSocket-Protocol: Bearer, <key>` (the server selects `Bearer`) or `?token=<key>`. " +
    'Send `{"type":"subscribe","workflowId":"<id>|*"}`, `{"type":"unsubscribe",...}` or `{"type":"ping"}`; receive ' +
    "`workflow:queued|started|progress|completed|failed|cancelled` events as `{type, workflowId, data, timestamp}`. " +
    "The `subscribed` reply to one id carries the workflow's current `state` (status, progress, currentNode, outputs, error; " +
    "null for an unknown id), since a workflow may finish before its client subscribes. " +
    "A malformed message gets an `error` event and the socket stays open; one over 64 KiB closes it with 1009.",
  request: { query: z.object({ token: z.string().optional() }) },
  responses: {
    101: { description: "Switching to the WebSocket protocol" },
    ...errors(426),
  },
});

export const workflowArchiveRoute = createRoute({
  operationId: "getWorkflowArchive",
  method: "get",
  path: "/v1/comfyui/workflow/{workflowId}/archive",
  tags: ["ComfyUI"],
  summary: "Download every file a workflow saved as one .tar.gz",
  description:
    "A batch in one request: `curl -H 'Authorization: Bearer …' …/archive | tar xz` unpacks its outputs into a folder named after the workflow " +
    "(subfolders kept; another backend's under its name). Each comes from COMFYUI_OUTPUT_DIR when set, else through its backend's /view; " +
    "one no longer there is left out.",
  request: { params: WorkflowIdParam },
  responses: {
    200: { description: "A gzipped tar of the workflow's outputs, under a folder named after it", content: { "application/gzip": { schema: z.string().openapi({ format: "binary" }) } } },
    ...errors(400, 404),
  },
});
