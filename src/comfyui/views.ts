import { outputUrl } from "./assets.ts";
import type { OutputFile, WorkflowRecord } from "./workflow-store.ts";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The public view of a workflow. */
export function workflowView(w: WorkflowRecord, queuePosition: number | null) {
  const outputs = (JSON.parse(w.outputs) as OutputFile[]).map((o) => ({
    ...o,
    url: o.type === "output" ? outputUrl({ ...o, backend: w.backend }) : null,
  }));
  return {
    workflowId: w.workflowId,
    status: w.status,
    priority: w.priority,
    gpu: w.backend,
    progress: w.progress,
    currentNode: w.currentNode,
    queuePosition,
    queuedAt: iso(w.queuedAt)!,
    startTime: iso(w.startTime),
    completionTime: iso(w.completionTime),
    outputs,
    error: w.error,
    nodeErrors: w.nodeErrors ? (JSON.parse(w.nodeErrors) as Record<string, unknown>) : null,
  };
}
