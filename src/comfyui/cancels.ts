/**
 * Cancels: a workflow leaves ComfyUI's queue, or is interrupted there, and is cancelled here either
 * way. When ComfyUI cannot be told, StopRequests interrupts it should it start or go on running.
 *
 * A running workflow is not cancelled the moment ComfyUI is told: ComfyUI stops at its next node or
 * sampler step, and one whose last node (a SaveImage) was already running completes, its files
 * saved. So a cancel of a running workflow waits a little for ComfyUI's own word of how it ended,
 * and takes that; only when none comes in time is the workflow marked cancelled (and interrupted
 * again should it go on). Marking it cancelled at once listed a workflow whose images were saved
 * as cancelled, without them.
 */
import type { Logger } from "pino";
import type { Actor } from "../http/types.ts";
import type { BackendName, ComfyBackend } from "./backend.ts";
import { ComfyUnavailableError } from "./backend-errors.ts";
import type { StopRequests } from "./stop-requests.ts";
import type { OpenWorkflow, WorkflowStatus } from "./workflow-store.ts";

export interface CancelDeps {
  backends: ReadonlyMap<BackendName, ComfyBackend>;
  stops: StopRequests;
  logger: Logger;
  /** Records one as cancelled; false for one that ended meanwhile, which keeps how it ended. */
  finish(w: OpenWorkflow): boolean;
  /** Notes durably, before ComfyUI is told, that these are being cancelled (see WorkflowRecord.cancelRequestedAt). */
  requested(workflowIds: readonly string[]): void;
  /** The workflow's status now (its start, or its end, may have come since it was looked at). */
  statusOf(workflowId: string): WorkflowStatus | undefined;
  /** Resolves once the workflow has ended here, or after `ms`, or at shutdown. */
  ended(workflowId: string, ms: number): Promise<void>;
}

/**
 * How long a running workflow's cancel waits for ComfyUI to report how it stopped: a sampler step
 * of an image model takes well under a second; a step of a large video model may take longer than
 * this, and such a workflow is marked cancelled when the wait ends.
 */
export const CANCEL_CONFIRM_MS = 3_000;

/**
 * Whether a workflow ComfyUI was told to stop may yet end otherwise there: one running, and any
 * while the WebSocket is down (ComfyUI restarting, a proxy's hiccup), since one we take for queued
 * may have started unseen. The reconciliation at the reconnect then says how it ended.
 */
function unsure(d: CancelDeps, backend: ComfyBackend, workflowId: string): boolean {
  const status = d.statusOf(workflowId);
  return status === "running" || (status === "queued" && !backend.connected);
}

/** Cancels one workflow (queued or running). */
export async function cancelOne(d: CancelDeps, w: OpenWorkflow, who?: Actor) {
  const backend = d.backends.get(w.backend);
  d.requested([w.workflowId]);
  let told = false;
  if (backend && w.submitted) {
    try {
      if (w.status === "running") await backend.interrupt(w.workflowId);
      else {
        await backend.deleteQueued([w.workflowId]);
        // It may have started between our look and the delete: interrupting it is then right too.
        await backend.interrupt(w.workflowId);
      }
      d.stops.told(w.workflowId);
      told = true;
    } catch (err) {
      if (!(err instanceof ComfyUnavailableError)) throw err;
      d.logger.warn({ workflowId: w.workflowId, err: err.message }, "ComfyUI could not be told of the cancel; the workflow is marked cancelled, and interrupted if it starts there");
    }
  }
  if (told && backend && unsure(d, backend, w.workflowId)) await d.ended(w.workflowId, CANCEL_CONFIRM_MS);
  d.logger.info({ audit: true, action: "workflow.cancel", reqId: who?.reqId, keyId: who?.keyId, workflowId: w.workflowId, backend: w.backend, was: w.status }, "workflow cancel requested");
  d.finish(w);
}

/**
 * Cancels `workflows` (queued or running); resolves to the ids of those that are cancelled now. A
 * batch gone wrong (a thousand queued with the wrong prompt) is one request, where a DELETE each
 * would take ten minutes of a remote client's rate limit, and ComfyUI takes the whole list in one
 * POST /queue {delete}. Running ones are interrupted.
 */
export async function cancelAll(d: CancelDeps, workflows: OpenWorkflow[], who?: Actor): Promise<string[]> {
  d.requested(workflows.map((w) => w.workflowId));
  const byBackend = Map.groupBy(workflows, (w) => w.backend);
  const told: { id: string; backend: ComfyBackend }[] = [];
  for (const [name, ws] of byBackend) {
    const backend = d.backends.get(name);
    if (!backend) continue;
    const queued = ws.filter((w) => w.status === "queued" && w.submitted).map((w) => w.workflowId);
    try {
      // One that starts before the delete reaches ComfyUI is interrupted at its first message
      // (StopRequests), as a cancel ComfyUI was not told of.
      if (queued.length) await backend.deleteQueued(queued);
      told.push(...queued.map((id) => ({ id, backend })));
      for (const w of ws.filter((w) => w.status === "running")) {
        await backend.interrupt(w.workflowId);
        d.stops.told(w.workflowId);
        told.push({ id: w.workflowId, backend });
      }
    } catch (err) {
      if (!(err instanceof ComfyUnavailableError)) throw err;
      d.logger.warn({ backend: name, err: err.message }, "ComfyUI could not be told of the cancels; the workflows are marked cancelled, and interrupted if they start there");
    }
  }
  const waited = new Set(told.filter((t) => unsure(d, t.backend, t.id)).map((t) => t.id));
  await Promise.all([...waited].map((id) => d.ended(id, CANCEL_CONFIRM_MS)));
  d.logger.info({ audit: true, action: "workflow.cancelMany", reqId: who?.reqId, keyId: who?.keyId, workflows: workflows.length }, "workflows cancelled together");
  // Cancelled here, or ended by our cancel as ComfyUI said: not one that ended otherwise meanwhile.
  const ours = (w: OpenWorkflow) => d.finish(w) || (waited.has(w.workflowId) && d.statusOf(w.workflowId) === "cancelled");
  return workflows.filter(ours).map((w) => w.workflowId);
}
