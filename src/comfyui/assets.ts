/** Models and output files of ComfyUI backends. */
import { statSync } from "node:fs";
import { join, resolve, sep } from "node:path";
import { ApiError } from "../http/errors.ts";
import { ComfyUnavailableError, type ComfyBackend } from "./backend.ts";
import type { WorkflowStore } from "./workflow-store.ts";

export const MODEL_FOLDERS = { checkpoints: "checkpoints", loras: "loras", vae: "vae", controlnet: "controlnet", upscale: "upscale_models" } as const;
export type ModelType = keyof typeof MODEL_FOLDERS;

/**
 * A plain file name as ComfyUI writes them: a filename_prefix may hold any character (accents, CJK,
 * brackets, commas), so only what could leave a folder or fool a header is refused: path separators,
 * control characters and a leading dot (which also rules out "." and "..").
 */
export const SAFE_FILENAME = /^(?!\.)[^/\\\u0000-\u001f\u007f]{1,255}$/;

/** A subfolder below ComfyUI's output folder ("", "video", "2026-11-27/run1"): relative, no ".." step. */
export function isSafeSubfolder(subfolder: string): boolean {
  if (subfolder === "") return true;
  if (subfolder.startsWith("/") || /[\\\u0000-\u001f\u007f]/.test(subfolder)) return false;
  return subfolder.split("/").every((step) => step !== "" && step !== "." && step !== "..");
}

/** `dir/subfolder/filename`, or undefined when the parts would lead outside `dir`. */
export function fileInside(dir: string, subfolder: string, filename: string): string | undefined {
  if (!SAFE_FILENAME.test(filename) || !isSafeSubfolder(subfolder)) return undefined;
  const root = resolve(dir);
  const path = resolve(root, subfolder, filename);
  return path.startsWith(root + sep) ? path : undefined;
}

const CONTENT_TYPES: Record<string, string> = {
  png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg", webp: "image/webp", gif: "image/gif",
  mp4: "video/mp4", webm: "video/webm", mov: "video/quicktime", wav: "audio/wav", mp3: "audio/mpeg",
  flac: "audio/flac", json: "application/json", txt: "text/plain; charset=utf-8", glb: "model/gltf-binary",
};

export function contentTypeOf(filename: string): string {
  return CONTENT_TYPES[filename.split(".").pop()!.toLowerCase()] ?? "application/octet-stream";
}

function sizeOf(path: string): number | null {
  try {
    return statSync(path).size;
  } catch {
    return null;
  }
}

export async function listModels(backend: ComfyBackend, type: ModelType, modelsDir: string | undefined) {
  const folder = MODEL_FOLDERS[type];
  let names: string[] | undefined;
  try {
    names = await backend.models(folder);
  } catch (err) {
    if (err instanceof ComfyUnavailableError) throw new ApiError(503, err.message, { headers: { "Retry-After": "10" } });
    throw err;
  }
  return (names ?? []).map((name) => ({ name, type, size: modelsDir ? sizeOf(join(modelsDir, folder, name)) : null, hash: null }));
}

function sizeOnDisk(outputDir: string | undefined, o: { subfolder: string; filename: string }): number | null {
  const path = outputDir ? fileInside(outputDir, o.subfolder, o.filename) : undefined;
  return path ? sizeOf(path) : null;
}

export function listOutputs(store: WorkflowStore, q: { workflowId?: string; limit: number }, outputDir: string | undefined) {
  return store.outputs(q).map((o) => ({
    filename: o.filename,
    workflowId: o.workflowId,
    type: o.type,
    size: o.size ?? sizeOnDisk(outputDir, o),
    createdAt: new Date(o.createdAt).toISOString(),
    url: `/v1/comfyui/output/${encodeURIComponent(o.filename)}`,
  }));
}

/** The file itself: from COMFYUI_OUTPUT_DIR when set, else through the backend's /view. */
export async function outputFile(store: WorkflowStore, backends: Map<string, ComfyBackend>, filename: string, outputDir: string | undefined): Promise<Response> {
  if (!SAFE_FILENAME.test(filename)) throw new ApiError(400, "path/filename must be a plain file name (no path separators, control characters or leading dot)");
  const row = store.output(filename);
  if (!row) throw new ApiError(404, `No output named ${filename}`);
  const headers = { "Content-Type": contentTypeOf(filename), "Cache-Control": "private, max-age=30", "X-Content-Type-Options": "nosniff" };
  if (outputDir) {
    const path = fileInside(outputDir, row.subfolder, filename);
    const file = path ? Bun.file(path) : undefined;
    if (!file || !(await file.exists())) throw new ApiError(404, `Output ${filename} is no longer on disk`);
    return new Response(file, { headers });
  }
  const backend = backends.get(row.backend);
  if (!backend) throw new ApiError(404, `Output ${filename} came from backend ${row.backend}, which is not configured`);
  let res: Response;
  try {
    res = await backend.view(row);
  } catch (err) {
    if (err instanceof ComfyUnavailableError) throw new ApiError(503, err.message, { headers: { "Retry-After": "10" } });
    throw err;
  }
  if (res.status === 404) throw new ApiError(404, `ComfyUI no longer has ${filename}`);
  if (!res.ok) throw new ApiError(502, `ComfyUI answered ${res.status} for ${filename}`);
  const len = res.headers.get("Content-Length");
  return new Response(res.body, { headers: { ...headers, ...(len ? { "Content-Length": len } : {}) } });
}
