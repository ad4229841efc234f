/** ComfyUI routes: submit, retry, status, cancel, models, outputs, uploads, freeing memory, and the event WebSocket. */
import { apiRouter } from "../../http/api-router.ts";
import { listModels, listOutputs, outputFile } from "../../comfyui/assets.ts";
import type { ComfyService } from "../../comfyui/comfy-service.ts";
import type { SocketData, StreamHub } from "../../comfyui/stream-hub.ts";
import { FINAL, type WorkflowStore } from "../../comfyui/workflow-store.ts";
import { ApiError } from "../../http/errors.ts";
import { idempotent, type IdempotencyStore } from "../../http/idempotency.ts";
import { waitUntil } from "../../http/long-poll.ts";
import { actorOf } from "../../http/request-context.ts";
import type { AppEnv } from "../../http/types.ts";
import { eventStreamResponse } from "../../http/streaming.ts";
import { uploadInput } from "../../comfyui/uploads.ts";
import { freeMemory } from "../../comfyui/free-memory.ts";
import { outputsArchive } from "../../comfyui/output-archive.ts";
import { cancelWorkflowRoute, cancelWorkflowsRoute, freeRoute, retryWorkflowRoute, getWorkflowRoute, listWorkflowsRoute, modelsRoute, outputFileRoute, outputsRoute, streamRoute, submitRoute, uploadRoute, workflowArchiveRoute, workflowEventsRoute, resendWorkflowWebhookRoute } from "./comfyui.routes.ts";
import { workflowEventStream } from "../../comfyui/event-stream.ts";

export interface ComfyRouteDeps {
  comfy: ComfyService;
  store: WorkflowStore;
  hub: StreamHub;
  idempotency: IdempotencyStore;
  modelsDir: string | undefined;
  outputDir: string | undefined;
  /** Aborts at shutdown: requests waiting for a workflow's end answer then. */
  stopping: AbortSignal;
  /** Interval of an event stream's heartbeat comments (SSE_HEARTBEAT_MS). */
  heartbeatMs: number;
}

export function comfyuiRoutes(d: ComfyRouteDeps) {
  return apiRouter<AppEnv>()
    .openapi(submitRoute, async (c) => {
      const body = c.req.valid("json");
      return idempotent(c, d.idempotency, body, async () => ({ status: 202, body: await d.comfy.submit(body, actorOf(c)) })) as never;
    })
    .openapi(listWorkflowsRoute, async (c) => {
      const q = c.req.valid("query");
      return c.json(await d.comfy.list({ statuses: q.status, labels: q.label, limit: q.limit ?? 20, cursor: q.cursor }), 200);
    })
    .openapi(cancelWorkflowsRoute, async (c) => {
      const q = c.req.valid("query");
      if (q.gpu) d.comfy.backend(q.gpu); // a 400 when that target is not configured, as elsewhere
      return c.json(await d.comfy.cancelMany({ statuses: q.status, gpu: q.gpu, labels: q.label }, actorOf(c)), 200);
    })
    .openapi(getWorkflowRoute, async (c) => {
      const { workflowId } = c.req.valid("param");
      const { wait } = c.req.valid("query");
      const w = d.store.get(workflowId);
      if (w && !FINAL.has(w.status)) await waitUntil((wait ?? 0) * 1000, d.stopping, (wake) => d.hub.onEnded(workflowId, wake));
      return c.json(await d.comfy.view(workflowId), 200);
    })
    .openapi(retryWorkflowRoute, async (c) => {
      const { workflowId } = c.req.valid("param");
      const body = c.req.valid("json");
      return idempotent(c, d.idempotency, { retry: workflowId, ...body }, async () => ({ status: 202, body: await d.comfy.retry(workflowId, body, actorOf(c)) })) as never;
    })
    .openapi(cancelWorkflowRoute, async (c) => c.json(await d.comfy.cancel(c.req.valid("param").workflowId, actorOf(c)), 200))
    .openapi(modelsRoute, async (c) => {
      const q = c.req.valid("query");
      const backend = d.comfy.backend(q.gpu ?? "local");
      // COMFYUI_MODELS_DIR is the local ComfyUI's folder: another backend's sizes are not read from it.
      return c.json({ models: await listModels(backend, q.type ?? "checkpoints", backend.name === "local" ? d.modelsDir : undefined) }, 200);
    })
    .openapi(outputsRoute, async (c) => {
      const q = c.req.valid("query");
      return c.json(await listOutputs(d.store, { workflowId: q.workflowId, limit: q.limit ?? 50, cursor: q.cursor }, d.outputDir), 200);
    })
    .openapi(uploadRoute, async (c) => {
      const form = c.req.valid("form");
      return c.json(await uploadInput(d.comfy.backend(form.gpu ?? "local"), form, actorOf(c), c.get("logger")), 201);
    })
    .openapi(freeRoute, async (c) => {
      const body = c.req.valid("json");
      return c.json(await freeMemory(d.comfy.backend(body.gpu ?? "local"), body, actorOf(c), c.get("logger")), 202);
    })
    .openapi(workflowArchiveRoute, async (c) => {
      const { workflowId } = c.req.valid("param");
      if (!d.store.get(workflowId)) throw new ApiError(404, `Workflow ${workflowId} not found`);
      return outputsArchive({ store: d.store, backends: d.comfy.backends, outputDir: d.outputDir, logger: c.get("logger") }, workflowId) as never;
    })
    .openapi(outputFileRoute, async (c) => {
      const { preview, quality, ...q } = c.req.valid("query");
      if (quality !== undefined && !preview) throw new ApiError(400, "query/quality is the preview's: give preview=webp with it");
      const ref = { ...q, ...c.req.valid("param"), preview: preview && { format: preview, quality: quality ?? 90 } };
      return (await outputFile(d.store, d.comfy.backends, ref, d.outputDir, c.req.header("range"))) as never;
    })
    .openapi(resendWorkflowWebhookRoute, (c) => c.json(d.comfy.resendWebhook(c.req.valid("param").workflowId, c.req.valid("json").url, actorOf(c)), 202))
    .openapi(workflowEventsRoute, (c) => {
      const { workflowId } = c.req.valid("param");
      if (!d.store.get(workflowId)) throw new ApiError(404, `Workflow ${workflowId} not found`);
      return eventStreamResponse(c, workflowEventStream(d.hub, workflowId, d.heartbeatMs)) as never;
    })
    .openapi(streamRoute, (c) => {
      if (c.req.header("upgrade")?.toLowerCase() !== "websocket" || !c.env?.upgrade) {
        throw new ApiError(426, "This route is a WebSocket: connect with ws:// (Upgrade: websocket)", { headers: { Upgrade: "websocket" } });
      }
      // Browsers send the key as a subprotocol; the reply must select one or they drop the socket.
      const protocols = c.req.header("sec-websocket-protocol");
      const headers = protocols?.split(",")[0]?.trim().toLowerCase() === "bearer" ? { "Sec-WebSocket-Protocol": "Bearer" } : undefined;
      const data: SocketData = { handler: d.hub, subs: new Set() };
      if (!c.env.upgrade(c.req.raw, { headers, data })) throw new ApiError(400, "WebSocket upgrade failed");
      return new Response(null) as never;
    });
}
