/** What a submitted `workflow` becomes for POST /prompt: a UI workflow converted, an API prompt checked. */
import { ApiError } from "../http/errors.ts";
import type { ComfyBackend } from "./backend.ts";
import { ComfyUnavailableError, type ComfyValidationError } from "./backend-errors.ts";
import { ConversionError, convertUiWorkflow, isUiWorkflow } from "./convert.ts";

/**
 * The API-format prompt for `workflow`, and the UI JSON to embed in the images (null for an API
 * prompt). A UI workflow is converted with the backend's /object_info. Throws the ApiError to answer.
 */
export async function promptFor(workflow: Record<string, unknown>, backend: ComfyBackend): Promise<{ prompt: Record<string, unknown>; ui: string | null }> {
  if (!isUiWorkflow(workflow)) {
    if (isApiPrompt(workflow)) return { prompt: workflow, ui: null };
    const bad = Object.keys(workflow).find((id) => !isNode(workflow[id]));
    // Scripts written for ComfyUI itself send its POST /prompt body, {prompt, client_id, ...}.
    const why = bad === "prompt" && isApiPrompt(workflow.prompt) ? `; this is a ComfyUI POST /prompt body: send its "prompt" as "workflow"` : bad ? `; node "${bad}" has no class_type` : "";
    throw new ApiError(400, `body/workflow must be a UI workflow (nodes and links) or an API prompt (node id -> {class_type, inputs})${why}`);
  }
  let info;
  try {
    info = await backend.objectInfo();
  } catch (err) {
    if (err instanceof ComfyUnavailableError) {
      // The cause may end a sentence itself (Bun's connection errors end with a question).
      const cause = /[.?!]$/.test(err.message) ? err.message : `${err.message}.`;
      throw new ApiError(503, `${cause} A UI-format workflow is converted with /object_info, and no copy is cached yet: retry shortly, or submit the API format`, { headers: { "Retry-After": "10" } });
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

const isNode = (n: unknown) => !!n && typeof n === "object" && typeof (n as { class_type?: unknown }).class_type === "string";

/** node id -> {class_type, inputs}, at least one node. */
function isApiPrompt(v: unknown): boolean {
  if (!v || typeof v !== "object" || Array.isArray(v)) return false;
  const nodes = Object.values(v);
  return nodes.length > 0 && nodes.every(isNode);
}

/** ComfyUI's verdict on a prompt it refused, as our error message says it (400s and failed workflows). */
export function rejectionMessage(err: ComfyValidationError): string {
  return `ComfyUI rejected the workflow: ${err.body.error?.message ?? "validation failed"}`;
}
