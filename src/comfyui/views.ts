import { outputUrl } from "./assets.ts";
import type { ComfyBackend } from "./backend.ts";
import type { OutputFile, WorkflowRecord } from "./workflow-store.ts";
import type { Delivery } from "../webhooks/webhook-store.ts";
import { webhookView } from "../webhooks/webhook-view.ts";
import { parseLabels } from "../labels.ts";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The public view of a workflow; `delivery`: the notification of its end, if one was made. */
export function workflowView(w: WorkflowRecord, queuePosition: number | null, delivery?: Delivery) {
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
    timeoutSeconds: w.timeoutMs === null ? null : w.timeoutMs / 1000,
    nodeErrors: w.nodeErrors ? (JSON.parse(w.nodeErrors) as Record<string, unknown>) : null,
    labels: parseLabels(w.labels),
    webhook: webhookView(w.webhookUrl, delivery),
  };
}

/** Each backend, for /v1/status and /ready: reachable, its queue, and what it says of itself (null when it cannot say). */
export async function backendsView(backends: Iterable<ComfyBackend>) {
  const entries = await Promise.all(
    [...backends].map(async (b) => {
      const system = b.connected ? await b.systemStats().catch(() => null) : null;
      return [b.name, { url: b.url, reachable: b.connected, queueLength: b.connected ? b.queueRemaining : null, version: system?.version ?? null, devices: system?.devices ?? null }] as const;
    }),
  );
  return Object.fromEntries(entries);
}
