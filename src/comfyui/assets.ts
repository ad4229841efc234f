/** Models and output files of ComfyUI backends. */
import { stat } from "node:fs/promises";
import { join, resolve, sep } from "node:path";
import { ApiError } from "../http/errors.ts";
import { contentDisposition, fileResponse } from "../http/file-response.ts";
import type { BackendName, ComfyBackend } from "./backend.ts";
import { orRetryLater } from "./backend-errors.ts";
import type { OutputRow, WorkflowStore } from "./workflow-store.ts";

/**
 * Model types that are not ComfyUI's folder names: the spec's `upscale`, and the folders that
 * ComfyUI renamed (it still reads the old directories, but GET /models/clip is a 404).
 */
export const MODEL_TYPE_ALIASES: Readonly<Record<string, string>> = { upscale: "upscale_models", clip: "text_encoders", unet: "diffusion_models" };

/** Where ComfyUI also looks for a folder's files, under models/: the directories it had before a rename. */
const LEGACY_DIRS: Readonly<Record<string, readonly string[]>> = { text_encoders: ["clip"], diffusion_models: ["unet"] };

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

/** The type a download is served as, by extension ("x.constructor" is no known one, whatever Object.prototype holds). */
export function contentTypeOf(filename: string): string {
  const ext = filename.split(".").pop()!.toLowerCase();
  return Object.hasOwn(CONTENT_TYPES, ext) ? CONTENT_TYPES[ext]! : "application/octet-stream";
}

/**
 * A file's size, or null when it is not there. Read off the event loop: models and outputs often
 * live on a network volume, where each stat may take milliseconds, and a listing asks for dozens.
 */
const sizeOf = (path: string): Promise<number | null> => stat(path).then((s) => s.size, () => null);

/**
 * The models of a type: any folder ComfyUI has (`checkpoints`, `loras`, `diffusion_models`,
 * `text_encoders`, …) or an alias of one. With COMFYUI_MODELS_DIR, their sizes (read together: a
 * folder holds hundreds). A type ComfyUI has no folder for is a 400 that lists those it has.
 */
export async function listModels(backend: ComfyBackend, type: string, modelsDir: string | undefined) {
  const folder = Object.hasOwn(MODEL_TYPE_ALIASES, type) ? MODEL_TYPE_ALIASES[type]! : type;
  const names = await orRetryLater(backend.models(folder));
  if (!names) throw await unknownModelType(backend, type);
  const dirs = [folder, ...(LEGACY_DIRS[folder] ?? [])];
  const sizeAt = async (name: string) => {
    if (!modelsDir) return null;
    for (const dir of dirs) {
      const size = await sizeOf(join(modelsDir, dir, name));
      if (size !== null) return size;
    }
    return null;
  };
  return Promise.all(names.map(async (name) => ({ name, type, size: await sizeAt(name), hash: null })));
}

/**
 * The 400 for a model type ComfyUI has no folder for, naming the ones it has. A ComfyUI that cannot
 * say (one older than its GET /models) is the backend's failure, not the request's: that is thrown.
 */
async function unknownModelType(backend: ComfyBackend, type: string): Promise<ApiError> {
  const folders = await orRetryLater(backend.modelFolders());
  const message = `query/type must be one of ComfyUI's model folders (${folders.join(", ")}) or ${Object.keys(MODEL_TYPE_ALIASES).join(", ")}; got '${type}'`;
  return new ApiError(400, message, { details: [{ location: "query", path: ["type"], code: "invalid_value", message }] });
}

/**
 * The download URL of one output. The name alone does not say which file it is (ComfyUI numbers
 * files per subfolder and per backend), so the URL carries the subfolder and the backend whenever
 * they differ from ComfyUI's defaults: the root output folder of the local backend.
 */
export function outputUrl(o: { filename: string; subfolder: string; backend: BackendName }): string {
  const q = new URLSearchParams();
  if (o.subfolder) q.set("subfolder", o.subfolder);
  if (o.backend !== "local") q.set("gpu", o.backend);
  const query = q.size ? `?${q.toString().replaceAll("+", "%20")}` : "";
  return `/v1/comfyui/output/${encodeURIComponent(o.filename)}${query}`;
}

/** COMFYUI_OUTPUT_DIR is the local ComfyUI's folder: another backend's files are never read from it. */
function diskPath(outputDir: string | undefined, o: { backend: BackendName; subfolder: string; filename: string }): string | undefined {
  return outputDir && o.backend === "local" ? fileInside(outputDir, o.subfolder, o.filename) : undefined;
}

/** A page of outputs, newest first; sizes from the record, else read from COMFYUI_OUTPUT_DIR together. */
export async function listOutputs(store: WorkflowStore, q: { workflowId?: string; limit: number; cursor?: string }, outputDir: string | undefined) {
  const { outputs, nextCursor } = store.outputs(q);
  const views = await Promise.all(outputs.map(async (o) => {
    const path = diskPath(outputDir, o);
    return {
      filename: o.filename,
      subfolder: o.subfolder,
      workflowId: o.workflowId,
      type: o.type,
      size: o.size ?? (path ? await sizeOf(path) : null),
      createdAt: new Date(o.createdAt).toISOString(),
      url: outputUrl(o),
    };
  }));
  return { outputs: views, nextCursor };
}

/** Which output a download means: `subfolder` and `gpu` as given, else ComfyUI's defaults. */
export interface OutputRef {
  filename: string;
  subfolder?: string;
  gpu?: BackendName;
  /** A WebP rendering of the image at this quality (1-100), rather than the file. */
  preview?: { format: "webp"; quality: number };
}

/** The headers an output is served with: typed as `type`, shown inline under `name`, cached briefly. */
const servedHeaders = (type: string, name: string) => ({
  "Content-Type": type,
  "Cache-Control": "private, max-age=30",
  "X-Content-Type-Options": "nosniff",
  "Content-Disposition": contentDisposition("inline", name),
});

/** The backend that made an output; a 404 when it is no longer configured. */
function backendOf(backends: Map<string, ComfyBackend>, row: OutputRow): ComfyBackend {
  const backend = backends.get(row.backend);
  if (!backend) throw new ApiError(404, `Output ${row.filename} came from backend ${row.backend}, which is not configured`);
  return backend;
}

/** Images ComfyUI can render as a preview (PIL opens them; of an animated GIF or WebP, its first frame). */
const PREVIEWABLE = new Set(["image/png", "image/jpeg", "image/webp", "image/gif"]);

/**
 * An output image as ComfyUI renders it for a preview (its /view with `preview=webp;<quality>`):
 * a fraction of a PNG's size, for a thumbnail or a slow link. ComfyUI makes it, so it comes from
 * the backend even where COMFYUI_OUTPUT_DIR holds the file. Whole, never a range.
 */
async function outputPreview(backends: Map<string, ComfyBackend>, row: OutputRow, preview: NonNullable<OutputRef["preview"]>): Promise<Response> {
  const type = contentTypeOf(row.filename);
  if (!PREVIEWABLE.has(type)) throw new ApiError(400, `query/preview is for images (PNG, JPEG, WebP, GIF); ${row.filename} is ${type}`);
  const res = await orRetryLater(backendOf(backends, row).view(row, undefined, `${preview.format};${preview.quality}`));
  if (res.status === 404) throw new ApiError(404, `ComfyUI no longer has ${row.filename}`);
  if (!res.ok) {
    await res.body?.cancel();
    throw new ApiError(502, `ComfyUI answered ${res.status} when asked for a preview of ${row.filename}`);
  }
  const name = `${row.filename.replace(/\.[^.]*$/, "")}.${preview.format}`;
  return new Response(await res.arrayBuffer(), { headers: servedHeaders(`image/${preview.format}`, name) });
}

/**
 * The recorded output a download names. Subfolder and backend default to "" and local, as in the
 * URLs this API hands out; a URL built from the name alone (neither given) still finds the file
 * when only one output has that name. Several candidates are a 409 listing their URLs, never a guess.
 */
function pickOutput(store: WorkflowStore, ref: OutputRef): OutputRow {
  const named = store.outputsNamed(ref.filename);
  const exact = named.find((o) => o.subfolder === (ref.subfolder ?? "") && o.backend === (ref.gpu ?? "local"));
  if (exact) return exact;
  const open = ref.subfolder === undefined && ref.gpu === undefined;
  if (open && named.length === 1) return named[0]!;
  const where = [ref.subfolder ? `in subfolder ${ref.subfolder}` : "", ref.gpu ? `on ${ref.gpu}` : ""].filter(Boolean).join(" ");
  if (!open || named.length === 0) throw new ApiError(404, `No output named ${ref.filename}${where ? ` ${where}` : ""}`);
  throw new ApiError(409, `${named.length} outputs are named ${ref.filename}: say which with ?subfolder= and ?gpu=`, {
    details: named.map((o) => ({ subfolder: o.subfolder, gpu: o.backend, workflowId: o.workflowId, url: outputUrl(o) })),
  });
}

/** The largest download relayed from ComfyUI with its length (it is held in memory meanwhile). */
const RELAY_WHOLE_BYTES = 16 * 1024 * 1024;

/**
 * The file itself: a local output from COMFYUI_OUTPUT_DIR when set, else through its backend's
 * /view. A `range` (the request's Range header) gets the part asked for, 206, so players can seek
 * in a video and downloads can resume; through /view, ComfyUI answers it.
 */
export async function outputFile(store: WorkflowStore, backends: Map<string, ComfyBackend>, ref: OutputRef, outputDir: string | undefined, range?: string): Promise<Response> {
  const { filename } = ref;
  if (!SAFE_FILENAME.test(filename)) throw new ApiError(400, "path/filename must be a plain file name (no path separators, control characters or leading dot)");
  const row = pickOutput(store, ref);
  if (ref.preview) return outputPreview(backends, row, ref.preview);
  const headers = servedHeaders(contentTypeOf(filename), filename);
  if (outputDir && row.backend === "local") {
    const path = diskPath(outputDir, row);
    const file = path ? Bun.file(path) : undefined;
    if (!file || !(await file.exists())) throw new ApiError(404, `Output ${filename} is no longer on disk`);
    return fileResponse(file, range, headers, filename);
  }
  const res = await orRetryLater(backendOf(backends, row).view(row, range));
  if (res.status === 404) throw new ApiError(404, `ComfyUI no longer has ${filename}`);
  // Accept-Ranges only as ComfyUI says it: a gateway in front of it may not pass ranges on.
  const relayed = ["Content-Length", "Content-Range", "Accept-Ranges"].flatMap((h) => (res.headers.get(h) ? [[h, res.headers.get(h)!] as const] : []));
  if (res.status === 416) {
    await res.body?.cancel();
    throw new ApiError(416, `The range ${range} is not in ${filename}`, { headers: Object.fromEntries(relayed) });
  }
  if (!res.ok) throw new ApiError(502, `ComfyUI answered ${res.status} for ${filename}`);
  // Bun sends a streamed body chunked and drops the Content-Length it is given (oven-sh/bun#10507),
  // so a browser could not show a download's size or progress. A file up to RELAY_WHOLE_BYTES is
  // read whole first (from a ComfyUI nearby, quickly), which lets its length go with it.
  const length = Number(res.headers.get("Content-Length") ?? NaN);
  const body = length <= RELAY_WHOLE_BYTES ? await res.arrayBuffer() : res.body;
  return new Response(body, { status: res.status === 206 ? 206 : 200, headers: { ...headers, ...Object.fromEntries(relayed) } });
}
