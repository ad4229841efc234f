/**
 * GPU memory that ComfyUI holds between workflows: the models it keeps loaded, and its cache of
 * node results. On a box where agents and ComfyUI share a GPU, an agent's own model may need it.
 */
import type { Logger } from "pino";
import { ApiError } from "../http/errors.ts";
import type { Actor } from "../http/types.ts";
import type { ComfyBackend } from "./backend.ts";
import { orRetryLater } from "./backend-errors.ts";

export interface FreeRequest {
  /** Unload every model from VRAM (default true). */
  unloadModels?: boolean;
  /** Drop ComfyUI's cache of node results too, so the next workflow computes everything again (default true); ComfyUI then unloads the models as well. */
  freeMemory?: boolean;
}

/** Asks a backend to free what it holds; ComfyUI does it at once when idle, else after the workflow it is running. */
export async function freeMemory(backend: ComfyBackend, request: FreeRequest, who: Actor, logger: Logger) {
  const freeMemory = request.freeMemory ?? true;
  // ComfyUI's worker unloads the models whenever it frees its cache, whatever unload_models says.
  const unloadModels = (request.unloadModels ?? true) || freeMemory;
  if (!unloadModels && !freeMemory) throw new ApiError(400, "Nothing to free: unloadModels and freeMemory are both false");
  await orRetryLater(backend.free({ unload_models: unloadModels, free_memory: freeMemory }));
  logger.info({ audit: true, action: "comfyui.free", reqId: who.reqId, keyId: who.keyId, backend: backend.name, unloadModels, freeMemory }, "ComfyUI asked to free GPU memory");
  const busy = backend.connected && backend.queueRemaining > 0;
  return {
    gpu: backend.name,
    unloadModels,
    freeMemory,
    message: busy ? "ComfyUI frees it once the workflow it is running ends" : "ComfyUI frees it now",
  };
}
