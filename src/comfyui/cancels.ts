/**
 * Cancels: a workflow leaves ComfyUI's queue, or is interrupted there, and is cancelled here either
 * way. When ComfyUI cannot be told, StopRequests interrupts it should it start or go on running.
 */
import type { Logger } from "pino";
import type { Actor } from "../http/types.ts";
import type { BackendName, ComfyBackend } from "./backend.ts";
import { ComfyUnavailableError } from "./backend-errors.ts";
import type { StopRequests } from "./stop-requests.ts";
import type { OpenWorkflow } from "./workflow-store.ts";

export interface CancelDeps {
  backends: ReadonlyMap<BackendName, ComfyBackend>;
  stops: StopRequests;
  logger: Logger;
  /** Records one as cancelled; false for one that ended meanwhile, which keeps how it ended. */
  finish(w: OpenWorkflow): boolean;
}

/** Cancels one workflow (queued or running). */
export async function cancelOne(d: CancelDeps, w: OpenWorkflow, who?: Actor) {
  const backend = d.backends.get(w.backend);
  if (backend && w.submitted) {
    try {
      if (w.status === "running") await backend.interrupt(w.workflowId);
      else {
        await backend.deleteQueued([w.workflowId]);
        // It may have started between our look and the delete: interrupting it is then right too.
        await backend.interrupt(w.workflowId);
      }
      d.stops.told(w.workflowId);
    } catch (err) {
      if (!(err instanceof ComfyUnavailableError)) throw err;
      d.logger.warn({ workflowId: w.workflowId, err: err.message }, "ComfyUI could not be told of the cancel; the workflow is marked cancelled, and interrupted if it starts there");
    }
  }
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
  const byBackend = Map.groupBy(workflows, (w) => w.backend);
  for (const [name, ws] of byBackend) {
    const backend = d.backends.get(name);
    if (!backend) continue;
    const queued = ws.filter((w) => w.status === "queued" && w.submitted).map((w) => w.workflowId);
    try {
      // One that starts before the delete reaches ComfyUI is interrupted at its first message
      // (StopRequests), as a cancel ComfyUI was not told of.
      if (queued.length) await backend.deleteQueued(queued);
      for (const w of ws.filter((w) => w.status === "running")) {
        await backend.interrupt(w.workflowId);
        d.stops.told(w.workflowId);
      }
    } catch (err) {
      if (!(err instanceof ComfyUnavailableError)) throw err;
      d.logger.warn({ backend: name, err: err.message }, "ComfyUI could not be told of the cancels; the workflows are marked cancelled, and interrupted if they start there");
    }
  }
  d.logger.info({ audit: true, action: "workflow.cancelMany", reqId: who?.reqId, keyId: who?.keyId, workflows: workflows.length }, "workflows cancelled together");
  return workflows.filter((w) => d.finish(w)).map((w) => w.workflowId);
}
