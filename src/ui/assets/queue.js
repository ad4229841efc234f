// The ComfyUI queue panel: workflows as the API lists them, kept live by its WebSocket events;
// queueing and cancelling.
import { $, api, apiUrl, badge, guard, h, morph, morphList, newestFirst, onSubmit, save, session, soon, timeLimit } from "./client.js";
import { refreshOutputsSoon } from "./gallery.js";

/** The workflows the panel knows, by id: the lists last fetched, as events since have changed them. */
const workflows = new Map();

/** Queue order: running, then queued in the order they will run. */
const RANK = { running: 0, queued: 1 };
const unfinished = (w) => w.status in RANK;

/**
 * Every workflow not finished, in the order ComfyUI takes them, then the latest finished ones: at
 * least five, as many as make twenty in all.
 */
function renderQueue() {
  const all = [...workflows.values()];
  const active = all.filter(unfinished).sort((a, b) => RANK[a.status] - RANK[b.status] || (a.queuePosition ?? Infinity) - (b.queuePosition ?? Infinity) || -newestFirst("queuedAt")(a, b));
  const finished = all.filter((w) => !unfinished(w)).sort(newestFirst("queuedAt")).slice(0, Math.max(5, 20 - active.length));
  morphList($("#queue"), [...active, ...finished].map(queueItem), "data-workflow");
}

let renderPending = false;
/** renderQueue once for the events of a frame (a batch's come by the hundred). */
function renderSoon() {
  if (renderPending) return;
  renderPending = true;
  requestAnimationFrame(() => {
    renderPending = false;
    renderQueue();
  });
}

function queueItem(w) {
  return h("li", { "data-workflow": w.workflowId },
    h("div", { class: "head" }, badge(w.status), h("code", {}, w.workflowId.slice(0, 8)), h("span", { class: "muted" }, `${w.priority} · ${w.gpu}${w.queuePosition ? ` · position ${w.queuePosition}` : ""}`),
      unfinished(w) ? h("button", { type: "button", class: "danger", onclick: () => act(w.workflowId) }, "Cancel")
        : w.status === "failed" || w.status === "cancelled" ? h("button", { type: "button", onclick: () => act(w.workflowId) }, "Retry") : null,
      // A kept element keeps its listeners (morph): a button's data-action says which it has.
      w.outputs?.length ? h("button", { type: "button", class: "link", "data-action": "save-all", onclick: () => saveOutputs(w.workflowId) }, "save all") : null),
    h("progress", { max: 100, value: w.progress, "aria-label": `Progress of workflow ${w.workflowId.slice(0, 8)}` }),
    h("div", { class: "muted" }, `${Math.round(w.progress)}%${w.currentNode ? ` · node ${w.currentNode}` : ""}${w.error ? ` · ${w.error}` : ""}${dropped(w)}`));
}

/** Output nodes ComfyUI dropped at validation (the rest ran), with ComfyUI's reason for each. */
function dropped(w) {
  if (!w.nodeErrors) return "";
  const why = Object.entries(w.nodeErrors).map(([id, e]) => `node ${id}: ${e?.errors?.[0]?.message ?? "invalid"}`);
  return ` · outputs dropped at validation (${why.join("; ")})`;
}

/** Pages of unfinished workflows fetched at most: a batch of a thousand queued. */
const ACTIVE_PAGES = 5;

/**
 * The 20 newest workflows and, when there are older ones, every one not finished: a batch queued
 * together runs oldest first, so the one running (and those next) may be older than the 20.
 */
export const refreshWorkflows = guard(async () => {
  const recent = await api("/v1/comfyui/workflows?limit=20");
  const list = [...recent.workflows];
  let cursor = recent.nextCursor ? "" : null;
  for (let page = 0; cursor !== null && page < ACTIVE_PAGES; page++) {
    const more = await api(`/v1/comfyui/workflows?status=queued,running&limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    list.push(...more.workflows);
    cursor = more.nextCursor;
  }
  workflows.clear();
  for (const w of list) workflows.set(w.workflowId, w);
  renderQueue();
});

/**
 * A list refresh for events about workflows the panel does not hold (one older than it fetched, say):
 * one per burst of them, a second after its first, and skipped like a poll while the tab is hidden
 * or the rate limit asks to wait.
 */
const refreshWorkflowsSoon = soon(refreshWorkflows, () => 1000);

const cancelWorkflow = guard(async (id) => {
  if (!confirm(`Cancel workflow ${id.slice(0, 8)}?`)) return;
  workflows.set(id, await api(`/v1/comfyui/workflow/${id}`, { method: "DELETE" }));
  renderQueue();
});

// A batch gone wrong, in one request (one DELETE each would use up the rate limit).
$("#cancel-queued").addEventListener("click", guard(async () => {
  const waiting = [...workflows.values()].filter((w) => w.status === "queued").length;
  if (!confirm(`Cancel every queued workflow${waiting ? ` (${waiting} listed here)` : ""}? The running one goes on.`)) return;
  await api("/v1/comfyui/workflows?status=queued", { method: "DELETE" });
  await refreshWorkflows();
}));

/**
 * An item's one button: Cancel while its workflow waits or runs, Retry once it failed or was
 * cancelled. morph() turns the one into the other in place, keeping the listener the button was
 * made with, so the listener looks the workflow's status up when pressed.
 */
const act = (id) => (unfinished(workflows.get(id) ?? { status: "queued" }) ? cancelWorkflow(id) : retryWorkflow(id));

// Queued again as a new workflow, with its own settings (the API keeps its prompt).
/** Every file the workflow saved, as one .tar.gz. */
const saveOutputs = guard((id) => save(`/v1/comfyui/workflow/${id}/archive`, `${id}.tar.gz`));

const retryWorkflow = guard(async (id) => {
  const w = await api(`/v1/comfyui/workflow/${id}/retry`, { method: "POST", body: "{}" });
  workflows.set(w.workflowId, w);
  renderQueue();
});

let socket;

/** Follows every workflow's events over the API's WebSocket, reconnecting while signed in. */
export function connectEvents() {
  const url = apiUrl("/v1/comfyui/stream", location.protocol === "https:" ? "wss:" : "ws:");
  socket = new WebSocket(url, ["Bearer", session.key]);
  socket.onopen = () => socket.send(JSON.stringify({ type: "subscribe", workflowId: "*" }));
  socket.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (!m.type?.startsWith("workflow:")) return;
    // What it made goes to the gallery, whoever queued it and however quickly it ran.
    if (m.type === "workflow:completed") refreshOutputsSoon();
    const w = workflows.get(m.workflowId);
    if (m.type === "workflow:queued") {
      // Listed from the event itself: a script queueing a batch sends hundreds of these, and a list
      // request for each would spend the rate limit. The next poll brings the rest of its details.
      if (!w) workflows.set(m.workflowId, { workflowId: m.workflowId, status: "queued", priority: m.data.priority, gpu: m.data.gpu, queuePosition: m.data.queuePosition ?? null, progress: 0, currentNode: null, error: null, queuedAt: m.timestamp });
      return void renderSoon();
    }
    if (!w) return void refreshWorkflowsSoon();
    // Progress of a workflow already running moves nothing: only its own item is redrawn (a batch
    // may list a thousand, and progress comes many times a second).
    const item = $("#queue").querySelector(`li[data-workflow="${CSS.escape(w.workflowId)}"]`);
    const inPlace = m.type === "workflow:progress" && w.status === "running" && item;
    const status = { "workflow:started": "running", "workflow:progress": "running", "workflow:completed": "completed", "workflow:failed": "failed", "workflow:cancelled": "cancelled" }[m.type];
    Object.assign(w, { status, queuePosition: status === "running" ? 0 : w.queuePosition });
    if (m.type === "workflow:progress") Object.assign(w, { progress: m.data.progress, currentNode: m.data.currentNode });
    if (status !== "running") w.currentNode = null;
    if (m.type === "workflow:completed") Object.assign(w, { progress: 100, outputs: m.data.outputs ?? w.outputs });
    if (m.type === "workflow:failed") w.error = m.data.error;
    if (inPlace) morph(item, queueItem(w));
    else renderSoon();
  };
  socket.onclose = () => { if (session.key) setTimeout(connectEvents, 2000); };
}

onSubmit($("#wf-form"), async (f) => {
  const file = f.get("file");
  const text = file && file.size ? await file.text() : f.get("workflow");
  let workflow;
  try { workflow = JSON.parse(text); } catch { throw new Error("The workflow is not valid JSON."); }
  const w = await api("/v1/comfyui/workflow", { method: "POST", body: JSON.stringify({ workflow, priority: f.get("priority"), gpu: f.get("gpu"), ...timeLimit(f) }) });
  workflows.set(w.workflowId, w);
  renderQueue();
});

export function disconnectEvents() {
  socket?.close();
}
