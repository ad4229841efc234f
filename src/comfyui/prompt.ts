/** What a submitted `workflow` becomes for POST /prompt: a UI workflow converted, an API prompt checked. */
import { ApiError } from "../http/errors.ts";
import { ComfyUnavailableError, type ComfyBackend, type ComfyValidationError } from "./backend.ts";
import { ConversionError, convertUiWorkflow, isUiWorkflow } from "./convert.ts";

/**
 * The API-format prompt for `workflow`, and the UI JSON to embed in the images (null for an API
 * prompt). A UI workflow is converted with the backend's /object_info. Throws the ApiError to answer.
 */
export async function promptFor(workflow: Record<string, unknown>, backend: ComfyBackend): Promise<{ prompt: Record<string, unknown>; ui: string | null }> {
  if (!isUiWorkflow(workflow)) {
    const bad = Object.entries(workflow).find(([, n]) => !n || typeof n !== "object" || typeof (n as { class_type?: unknown }).class_type !== "string");
    if (bad || Object.keys(workflow).length === 0) {
      throw new ApiError(400, `body/workflow must be a UI workflow (nodes and links) or an API prompt (node id -> {class_type, inputs})${bad ? `; node "${bad[0]}" has no class_type` : ""}`);
    }
    return { prompt: workflow, ui: null };
  }
  let info;
  try {
    info = await backend.objectInfo();
  } catch (err) {
    if (err instanceof ComfyUnavailableError) {
      throw new ApiError(503, `ComfyUI (${backend.name}) is unreachable and its /object_info is not cached yet, so a UI-format workflow cannot be converted; submit the API format or retry when ComfyUI is up`, { headers: { "Retry-After": "10" } });
    }
    throw err;
  }
  try {
    return { prompt: convertUiWorkflow(workflow, info), ui: JSON.stringify(workflow) };
  } catch (err) {
    if (err instanceof ConversionError) throw new ApiError(400, `body/workflow: ${err.message}`);
    throw err;
  }
}

/** ComfyUI's verdict on a prompt it refused, as our error message says it (400s and failed workflows). */
export function rejectionMessage(err: ComfyValidationError): string {
  return `ComfyUI rejected the workflow: ${err.body.error?.message ?? "validation failed"}`;
}
