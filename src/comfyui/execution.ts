/** What ComfyUI's execution messages and history entries mean for a workflow (pure functions). */
import { isSafeSubfolder, SAFE_FILENAME } from "./assets.ts";
import type { HistoryEntry } from "./comfy-wire.ts";
import type { OutputFile, WorkflowStatus } from "./workflow-store.ts";

/** Live execution state of a running prompt (not persisted: rebuilt from messages). */
export interface Run {
  total: number;
  cached: Set<string>;
  started: Set<string>;
  value: number;
  max: number;
  outputs: OutputFile[];
}

/** Progress over the nodes that really execute (cached ones excluded), with the running node's value/max; 99 at most until success. */
export function progressOf(run: Run): number {
  const total = Math.max(1, run.total - run.cached.size);
  const done = Math.max(0, run.started.size - 1);
  // A custom node may report any value/max (a string, a negative, value past max): the node's share stays in [0, 1].
  const share = run.value / run.max;
  const node = Number.isFinite(share) ? Math.min(1, Math.max(0, share)) : 0;
  const pct = Math.min(99, ((done + node) / total) * 100);
  return Math.round(pct * 10) / 10;
}

/** The final status a /history entry records. */
export function verdictFromHistory(h: HistoryEntry): { status: WorkflowStatus; outputs: OutputFile[]; error?: string } {
  const messages = h.status?.messages ?? [];
  // Files saved before an error or an interrupt are there too.
  const outputs = Object.entries(h.outputs ?? {}).flatMap(([node, out]) => filesOf(node, out));
  if (h.status?.status_str === "success") return { status: "completed", outputs };
  const error = messages.find(([t]) => t === "execution_error");
  if (error) return { status: "failed", outputs, error: describeError(error[1]) };
  if (messages.some(([t]) => t === "execution_interrupted")) return { status: "cancelled", outputs };
  return { status: "failed", outputs, error: `ComfyUI reported status ${h.status?.status_str ?? "unknown"}` };
}

/** Files named in an `executed` output or a history entry: images, gifs, videos... */
export function filesOf(node: string, output: Record<string, unknown> | undefined): OutputFile[] {
  const files: OutputFile[] = [];
  for (const value of Object.values(output ?? {})) {
    if (!Array.isArray(value)) continue;
    for (const f of value) {
      if (f && typeof f === "object" && typeof (f as OutputFile).filename === "string") {
        const { filename, subfolder = "", type = "output" } = f as OutputFile;
        // Only names ComfyUI's own /view would serve: a custom node's "../x" never becomes a path here.
        if (typeof subfolder !== "string" || typeof type !== "string" || !SAFE_FILENAME.test(filename) || !isSafeSubfolder(subfolder)) continue;
        files.push({ filename, subfolder, type, node });
      }
    }
  }
  return files;
}

export function describeError(d: Record<string, unknown>): string {
  const where = d.node_type ? `${d.node_type} (node ${d.node_id})` : `node ${d.node_id ?? "?"}`;
  const what = [d.exception_type, String(d.exception_message ?? "").trim()].filter(Boolean).join(": ");
  return `${where} failed: ${what || "execution error"}`;
}
