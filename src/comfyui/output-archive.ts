/**
 * Everything a workflow saved, as one .tar.gz (GET /v1/comfyui/workflow/{id}/archive): a batch of
 * images in one request. Each file comes from COMFYUI_OUTPUT_DIR when set (local backend), else
 * through its backend's /view, one at a time as the client reads. One that is gone, or that its
 * backend will not give, is left out rather than failing the rest (the log says which).
 */
import { stat } from "node:fs/promises";
import type { Logger } from "pino";
import { fileBytes, tar, tarGzResponse, type Entry } from "../tasks/tar.ts";
import { fileInside } from "./assets.ts";
import type { ComfyBackend } from "./backend.ts";
import type { OutputRow, WorkflowStore } from "./workflow-store.ts";

/** Most outputs one archive holds: a batch of thousands is fetched page by page with /outputs. */
const MAX_OUTPUTS = 10_000;
/** A file /view sends without its length is held whole to learn it, up to this; larger ones are left out. */
const MAX_UNSIZED_BYTES = 256 * 1024 * 1024;

/**
 * A file of COMFYUI_OUTPUT_DIR as an archive member, with the size it has now; undefined if it is no
 * file. Its bytes are read when the archive gets to it: one deleted meanwhile (ComfyUI's own output
 * cleaning, someone's `rm`) is padded with zeros, as a task archive does, where the download was cut.
 */
export async function localFileEntry(path: string, name: string): Promise<Entry | undefined> {
  const st = await stat(path);
  if (!st.isFile()) return undefined;
  return { name, type: "0", mode: 0o644, size: st.size, mtime: st.mtimeMs, body: () => fileBytes(path) };
}

/** The download of `workflowId`'s outputs, each under `<workflowId>/<subfolder>/`. */
export function outputsArchive(d: { store: WorkflowStore; backends: Map<string, ComfyBackend>; outputDir: string | undefined; logger: Logger }, workflowId: string) {
  const rows = d.store.outputs({ workflowId, limit: MAX_OUTPUTS }).outputs.reverse();
  async function* entries(): AsyncGenerator<Entry> {
    const seen = new Set<string>();
    for (const row of rows) {
      // The same name on two backends: the other backend's goes under its name.
      const where = [row.backend === "local" ? "" : row.backend, row.subfolder].filter(Boolean).join("/");
      const name = `${workflowId}/${where ? `${where}/` : ""}${row.filename}`;
      if (seen.has(name)) continue;
      seen.add(name);
      const entry = await fileEntry(d, row, name).catch((err: Error) => {
        d.logger.warn({ workflowId, filename: row.filename, backend: row.backend, err: err.message }, "an output left out of the archive");
        return undefined;
      });
      if (entry) yield entry;
    }
  }
  return tarGzResponse(tar(entries()), workflowId);
}

async function fileEntry(d: { backends: Map<string, ComfyBackend>; outputDir: string | undefined }, row: OutputRow, name: string): Promise<Entry | undefined> {
  if (d.outputDir && row.backend === "local") {
    const path = fileInside(d.outputDir, row.subfolder, row.filename);
    return path ? localFileEntry(path, name) : undefined;
  }
  const backend = d.backends.get(row.backend);
  if (!backend) throw new Error(`backend ${row.backend} is not configured`);
  const res = await backend.view(row);
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`ComfyUI answered ${res.status}`);
  }
  const mtime = Date.parse(res.headers.get("Last-Modified") ?? "") || row.createdAt;
  const length = Number(res.headers.get("Content-Length") ?? NaN);
  if (Number.isFinite(length)) return { name, type: "0", mode: 0o644, size: length, mtime, body: () => res.body! };
  const whole = new Uint8Array(await res.arrayBuffer());
  if (whole.length > MAX_UNSIZED_BYTES) throw new Error("too large to hold without its length");
  return { name, type: "0", mode: 0o644, size: whole.length, mtime, body: async function* () { yield whole; } };
}
