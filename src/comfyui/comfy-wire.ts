/** What ComfyUI's HTTP API answers, read into the shapes this API uses. */

/** ComfyUI's queue (GET /queue): the running prompt, and the pending ones in run order. */
export interface QueueSnapshot {
  running: { number: number; promptId: string }[];
  pending: { number: number; promptId: string }[];
  /** When it was read, on the monotonic clock (performance.now()). */
  at: number;
  /** How long fetching and reading it took, in ms: /queue carries every queued prompt whole. */
  fetchMs: number;
}

/** One prompt's entry in GET /history/{id}. */
export type HistoryEntry = {
  outputs?: Record<string, Record<string, unknown>>;
  status?: { status_str?: string; completed?: boolean; messages?: [string, Record<string, unknown>][] };
};

/** What /system_stats says: the version, and each device's memory in bytes. */
export interface ComfySystem {
  version: string | null;
  devices: { name: string; type: string; vramTotal: number | null; vramFree: number | null }[];
}

/** GET /queue's `[number, prompt_id, prompt, extra_data, outputs]` tuples, pending sorted by number (ComfyUI lists them in its heap's order). */
export function readQueue(q: { queue_running?: unknown[][]; queue_pending?: unknown[][] }, fetchMs = 0): QueueSnapshot {
  const item = (e: unknown[]) => ({ number: Number(e[0]), promptId: String(e[1]) });
  return {
    running: (q.queue_running ?? []).map(item),
    pending: (q.queue_pending ?? []).map(item).sort((a, b) => a.number - b.number),
    at: performance.now(), // its age is measured on the monotonic clock
    fetchMs,
  };
}

/** GET /system_stats, whatever of it is there: a field missing or of the wrong type is null. */
export function readSystemStats(raw: unknown): ComfySystem {
  const s = raw as { system?: { comfyui_version?: unknown }; devices?: Record<string, unknown>[] };
  const bytes = (v: unknown) => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : null);
  return {
    version: typeof s?.system?.comfyui_version === "string" ? s.system.comfyui_version : null,
    devices: (Array.isArray(s?.devices) ? s.devices : []).map((d) => ({
      name: String(d.name ?? "unknown"),
      type: String(d.type ?? "unknown"),
      vramTotal: bytes(d.vram_total),
      vramFree: bytes(d.vram_free),
    })),
  };
}
