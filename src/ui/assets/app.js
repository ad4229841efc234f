// Dashboard: plain ES modules over the public API (client.js holds the session and the calls).
// EventSource and WebSocket, which cannot send headers, use ?token= and the "Bearer, <key>"
// subprotocol. Nothing protected is called before sign-in.
import { $, api, apiUrl, badge, fmtDuration, guard, h, morphList, newestFirst, noOutputLimit, onSubmit, polled, session, showError, timeLimit } from "./client.js";
import { refreshOutputs } from "./gallery.js";
import { connectEvents, disconnectEvents, refreshWorkflows } from "./queue.js";
import { closeLog, onTasksChanged, openLog, taskShown } from "./task-log.js";
import "./models.js";
import { agentCell, costCell, durationCell, meter, providerLimits, sparkline } from "./cells.js";

const timers = [];
const gpuHistory = new Map();
/** The tasks listed, by id: what their buttons act on. */
const tasksShown = new Map();
/** Running tasks as /v1/status last counted them (null before it answers). */
let activeTasks = null;
/** When the task list was last fetched. */
let tasksRefreshedAt = 0;

// ---- sign-in --------------------------------------------------------------------------------
/** The header's sign-in form and the welcome, or the signed-in panels and the sign-out button. */
function showSignedIn(on) {
  $("#signin").hidden = on;
  $("#welcome").hidden = on;
  $("#signedin").hidden = !on;
  $("#main").hidden = !on;
}

async function signIn(candidate) {
  session.key = candidate;
  await api("/v1/status"); // throws 401/403 for a bad key
  session.remember();
  showError("");
  showSignedIn(true);
  start();
}

function signOut() {
  session.forget();
  for (const t of timers.splice(0)) clearInterval(t);
  disconnectEvents();
  closeLog();
  showSignedIn(false);
}

function refreshAll() {
  refreshStatus();
  refreshTasks();
  refreshWorkflows();
  refreshOutputs();
}

/**
 * The task list every 3 s while a task runs (its duration, its end), else every 10 s: a task started
 * or ended elsewhere shows within 5 s all the same, as /v1/status (every 5 s) counts it (refreshStatus).
 */
const pollTasks = () => {
  const idle = activeTasks === 0 && ![...tasksShown.values()].some(isOpen);
  if (idle && performance.now() - tasksRefreshedAt < 9_500) return;
  refreshTasks();
};

function start() {
  refreshAll();
  connectEvents();
  // 30 requests a minute when idle, 45 to 50 while tasks run (README): two idle tabs take 60 of the
  // default limit of 100 per client.
  timers.push(setInterval(polled(refreshStatus), 5000), setInterval(polled(pollTasks), 3000), setInterval(polled(refreshOutputs), 10000), setInterval(polled(refreshWorkflows), 10000));
}

document.addEventListener("visibilitychange", () => {
  if (!document.hidden && session.key && performance.now() >= session.pausedUntil) refreshAll();
});

// ---- system -----------------------------------------------------------------------------------
/** Provider -> whether its tasks can be continued, from /v1/status (unknown until it answers: the API then decides). */
const providerResumes = new Map();
const canContinue = (t) => !isOpen(t) && !!t.result?.sessionId && providerResumes.get(t.provider) !== false;

const refreshStatus = guard(async () => {
  const s = await api("/v1/status");
  // A task started or ended elsewhere: listed now, not at the list's next tick (3 s on, or 10 s when idle).
  const changed = activeTasks !== null && s.tasks.active !== activeTasks;
  activeTasks = s.tasks.active;
  if (changed) refreshTasks();
  $("#version").textContent = `v${s.api.version} · up ${fmtDuration(s.api.uptime)}`;
  const providerSelect = $("#provider");
  const names = Object.keys(s.taskProviders);
  for (const n of names) providerResumes.set(n, s.taskProviders[n].resumes);
  if (providerSelect.options.length !== names.length) {
    const current = providerSelect.value;
    const p = s.taskProviders;
    providerSelect.replaceChildren(...names.map((n) => h("option", { value: n, title: p[n].description || undefined, selected: n === (current || "demo") }, `${n}${p[n].installed ? "" : " (not installed)"}`)));
  }
  for (const g of s.gpu.available ? s.gpu.gpus : []) {
    const hist = gpuHistory.get(g.uuid) ?? { util: [], mem: [] };
    hist.util = [...hist.util, g.utilization ?? 0].slice(-60);
    hist.mem = [...hist.mem, g.memory.percentUsed ?? 0].slice(-60);
    gpuHistory.set(g.uuid, hist);
  }
  renderGpus(s.gpu);
  const { cpu, memory, disk } = s.system;
  const providers = Object.entries(s.providers).map(([k, v]) => `${k}: ${v}`).join(" · ");
  // Each backend's devices as ComfyUI reports them: for a remote one (salad), the only view of its GPU.
  const devices = (b) => (b.devices ?? []).filter((d) => d.type !== "cpu").map((d) => `, ${d.name.split(" : ")[0]} ${d.vramFree ?? "?"} of ${d.vramTotal ?? "?"} MiB free`).join("");
  const backends = Object.entries(s.comfyui ?? {}).map(([k, b]) => `${k}: ${b.reachable ? `up${b.version ? ` (v${b.version})` : ""}, queue ${b.queueLength}${devices(b)}` : "unreachable"}`).join(" · ") || "none";
  morphList($("#host"), [
    h("div", { class: "card", "data-card": "cpu" }, h("h3", {}, "CPU"), `Load ${cpu.loadAverage.load1} / ${cpu.loadAverage.load5} / ${cpu.loadAverage.load15} (${cpu.cores} cores${cpu.limit === null ? "" : `, limited to ${cpu.limit}`})`),
    h("div", { class: "card", "data-card": "memory" }, h("h3", {}, memory.source === "cgroup" ? "Memory (container limit)" : "Memory"), `${memory.used} / ${memory.total} MiB`, meter(memory.percentUsed, "Memory used")),
    h("div", { class: "card", "data-card": "disk" }, h("h3", {}, "Disk"), `${disk.used} / ${disk.size} (${disk.available} free)`, meter(disk.percentUsed, "Disk used")),
    h("div", { class: "card", "data-card": "providers" }, h("h3", {}, "Providers & ComfyUI"), h("div", { class: "muted" }, providers), h("div", { class: "muted" }, `ComfyUI ${backends}`), h("div", {}, `Active tasks: ${s.tasks.active}${s.tasks.queued ? `, ${s.tasks.queued} queued` : ""}`), providerLimits(s.taskProviders)),
  ], "data-card");
});

/** The GPU section of the last /v1/status, drawn again when the task list changes (it names a GPU's processes). */
let gpuShown;

/** The GPU cards. Patched, not rebuilt, every 5 s: a figure being selected (to copy it) stays so. */
function renderGpus(gpu) {
  gpuShown = gpu;
  const gpus = $("#gpus");
  if (!gpu.available) return morphList(gpus, [h("div", { class: "card", "data-card": "no-gpu" }, h("h3", {}, "GPU"), h("p", { class: "muted" }, `No GPU data: ${gpu.error}`))], "data-card");
  morphList(gpus, gpu.gpus.map((g) => {
    const hist = gpuHistory.get(g.uuid) ?? { util: [], mem: [] };
    return h("div", { class: "card gpu", "data-gpu": g.index, "data-card": `gpu-${g.uuid}` },
      h("h3", {}, `GPU ${g.index} · ${g.name}`),
      h("div", {}, `Utilization ${g.utilization ?? "n/a"}%`), meter(g.utilization, `GPU ${g.index} utilization`), sparkline(hist.util, "#5aa9ff"),
      h("div", {}, `VRAM ${g.memory.used ?? "?"} / ${g.memory.total ?? "?"} MiB`), meter(g.memory.percentUsed, `GPU ${g.index} memory`), sparkline(hist.mem, "#d29922"),
      h("div", { class: "muted" }, `${g.temperature ?? "?"} °C · ${g.power.draw ?? "?"} / ${g.power.limit ?? "?"} W`),
      gpuProcesses(g));
  }), "data-card");
}

/**
 * Who holds a GPU's memory: each process, the largest first, named by its task when it is one; then
 * what no listed process holds, past the driver's own few MiB (another container's processes).
 */
const UNLISTED_SHOWN_MIB = 64;
function gpuProcesses(g) {
  const processes = g.processes ?? [];
  const unlisted = (g.unlistedMemory ?? 0) >= UNLISTED_SHOWN_MIB
    ? [h("li", { class: "muted", title: "Memory no process listed here holds: processes outside this container's PID namespace (ComfyUI in its own container), and the driver's own" }, `not listed here · ${g.unlistedMemory} MiB`)]
    : [];
  if (!processes.length && !unlisted.length) return null;
  const named = (p) => {
    const task = p.taskId && tasksShown.get(p.taskId);
    // The program's own name: the first word (a command line may follow), without its folder.
    const base = p.name.split(" ")[0].split("/").pop();
    return p.taskId ? `task ${task ? task.agent : p.taskId.slice(0, 8)} (${base})` : base;
  };
  const sorted = [...processes].sort((a, b) => (b.memory ?? -1) - (a.memory ?? -1));
  return h("ul", { class: "procs" }, ...sorted.map((p) => h("li", { title: `pid ${p.pid}: ${p.name}` }, `${named(p)} · ${p.memory === null ? "?" : p.memory} MiB`)), ...unlisted);
}

// ---- tasks ------------------------------------------------------------------------------------
const isRunning = (x) => x.status === "running";
/** Yet to end: running, or waiting in the queue for a slot. */
const isOpen = (x) => x.status === "running" || x.status === "queued";

/** Tasks a list shows at first, and how many more each "Show more" adds (up to the API's 500). */
const TASK_PAGE = 50;
const TASK_LIMIT_MAX = 500;
let taskLimit = TASK_PAGE;

/** The list's filter as query parameters: the status picked, and a label (name=value) if given. */
function taskFilter() {
  const label = $("#task-label").value.trim();
  return { status: $("#task-status").value, label: label ? `&label=${encodeURIComponent(label)}` : "" };
}

/** Task list requests made so far: an answer to one that a later one overtook is stale. */
let tasksAsked = 0;
/** Whether the API refused the label filter (its error is shown until a list comes back). */
let labelRefused = false;

/**
 * The newest tasks the filter lets through (50, more on request), and unfiltered, every running one
 * however old (an agent may run for hours while dozens of short tasks start after it): those are
 * asked for only when /v1/status counts more running tasks than the page shows, so the usual refresh
 * stays one request. (With a label, "running or queued" lists them all.) Open tasks come first.
 */
const refreshTasks = guard(async () => {
  const asked = ++tasksAsked;
  const { status, label } = taskFilter();
  let recent;
  try {
    recent = await api(`/v1/tasks?status=${status}&limit=${taskLimit}${label}`);
  } catch (err) {
    if (err.status === 400 && label && asked === tasksAsked) {
      // A label the API refuses: nothing listed, rather than the rows of the filter before passing for its answer.
      labelRefused = true;
      $("#task-label").setAttribute("aria-invalid", "true");
      tasksShown.clear();
      morphList($("#task-table tbody"), [], "data-task");
    }
    throw err;
  }
  if (labelRefused) {
    labelRefused = false;
    $("#task-label").removeAttribute("aria-invalid");
    showError("");
  }
  let tasks = recent.tasks;
  if (status === "all" && !label && recent.nextCursor && (activeTasks === null || activeTasks > tasks.filter(isRunning).length)) {
    const shown = new Set(tasks.map((t) => t.taskId));
    const { tasks: older } = await api(`/v1/tasks?status=running&limit=${TASK_LIMIT_MAX}`);
    tasks = tasks.concat(older.filter((t) => !shown.has(t.taskId)));
  }
  // A poll under way when a task was stopped or started answers after the refresh that followed it:
  // drawn, it would show the list as it was before.
  if (asked !== tasksAsked) return;
  tasks.sort((a, b) => isOpen(b) - isOpen(a) || newestFirst("startTime")(a, b));
  tasksRefreshedAt = performance.now();
  tasksShown.clear();
  for (const t of tasks) tasksShown.set(t.taskId, t);
  // A GPU process of a task just listed is named by its agent now, not at the next status in up to 5 s.
  if (gpuShown) renderGpus(gpuShown);
  $("#tasks-more").hidden = !recent.nextCursor || taskLimit >= TASK_LIMIT_MAX;
  $("#tasks-none").hidden = tasks.length > 0;
  const shown = (id, act) => () => tasksShown.has(id) && act(tasksShown.get(id));
  morphList($("#task-table tbody"), tasks.map((t) => h("tr", { "data-task": t.taskId },
    agentCell(t), h("td", {}, t.provider), h("td", t.error ? { title: t.error } : {}, badge(t.status)), durationCell(t), h("td", {}, t.signal ?? (t.exitCode ?? "")), costCell(t.result),
    h("td", {}, h("button", { type: "button", "data-action": "log", onclick: shown(t.taskId, openLog) }, "Log"), " ",
      isOpen(t) ? h("button", { type: "button", class: "danger", "data-action": "stop", onclick: shown(t.taskId, stopTask) }, "Stop") : null,
      canContinue(t) ? h("button", { type: "button", "data-action": "continue", onclick: shown(t.taskId, continueTask) }, "Continue") : null))), "data-task");
});

onTasksChanged(refreshTasks);

/** The ended statuses the filter shows ("all tasks": every ended one), or null for running or queued. */
const ENDED = ["completed", "failed", "stopped"];
const endedShown = (status) => (status === "all" ? ENDED.join(",") : ENDED.includes(status) ? status : null);

/**
 * A new filter starts again from the first page; a label is taken once typed (Enter, or leaving the
 * field). "Delete these" is offered for a filter of ended tasks, not for the whole unfiltered list.
 */
const refilter = () => {
  taskLimit = TASK_PAGE;
  const { status, label } = taskFilter();
  $("#tasks-purge").hidden = !endedShown(status) || (status === "all" && !label);
  $("#tasks-purged").textContent = "";
  refreshTasks();
};
$("#task-status").addEventListener("change", refilter);
$("#task-label").addEventListener("change", refilter);
$("#tasks-more").addEventListener("click", () => {
  taskLimit = Math.min(TASK_LIMIT_MAX, taskLimit + TASK_PAGE);
  refreshTasks();
});

$("#stop-running").addEventListener("click", guard(async () => {
  const open = [...tasksShown.values()].filter(isOpen).length;
  if (!confirm(`Stop every running or queued task${open ? ` (${open} listed here)` : ""}? Their processes get SIGTERM, then SIGKILL.`)) return;
  await api("/v1/tasks?status=running,queued", { method: "DELETE" });
  await refreshTasks();
}));

// Every ended task the filter shows, past the rows listed too (the API deletes them all at once).
$("#tasks-purge").addEventListener("click", guard(async () => {
  const { status, label } = taskFilter();
  const statuses = endedShown(status);
  const labelText = $("#task-label").value.trim();
  const listed = [...tasksShown.values()].filter((t) => !isOpen(t)).length;
  if (!statuses || !confirm(`Delete every ${statuses.replaceAll(",", ", ")} task${labelText ? ` labelled ${labelText}` : ""} (${listed} listed here, and any past the list): their records, logs and folders? This cannot be undone.`)) return;
  $("#tasks-purged").textContent = "";
  // Some deleted and some kept (their files would not go) is a 500 that lists both.
  const deleted = (ids) => ids?.includes(taskShown()) && closeLog();
  try {
    const purged = await api(`/v1/tasks?status=${statuses}&purge=true${label}`, { method: "DELETE" });
    deleted(purged.taskIds);
    $("#tasks-purged").textContent = `Deleted ${purged.purged} task${purged.purged === 1 ? "" : "s"}.`;
  } catch (err) {
    deleted(err.details?.purged);
    throw err;
  } finally {
    refreshTasks();
  }
}));

/** A follow-up for a finished agent session: a new task resumes it in the same folder. */
const continueTask = guard(async (t) => {
  const task = prompt(`Follow-up for ${t.agent} (${t.taskId.slice(0, 8)}), in its session and folder:`);
  if (!task?.trim()) return;
  const next = await api(`/v1/tasks/${t.taskId}/continue`, { method: "POST", body: JSON.stringify({ task }) });
  await refreshTasks();
  openLog({ taskId: next.taskId, agent: t.agent, status: "running" });
});

const stopTask = guard(async (t) => {
  if (!confirm(`Stop task ${t.agent} (${t.taskId.slice(0, 8)})? Its processes get SIGTERM, then SIGKILL.`)) return;
  await api(`/v1/tasks/${t.taskId}`, { method: "DELETE" });
  await refreshTasks();
});

/** The files picked for a task, as POST /v1/tasks takes them (base64: any file, text or not). */
async function inputFiles(form) {
  const picked = form.getAll("files").filter((file) => file.name);
  return Promise.all(picked.map(async (file) => {
    const bytes = new Uint8Array(await file.arrayBuffer());
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return { path: file.name, content: btoa(binary), encoding: "base64" };
  }));
}

onSubmit($("#task-form"), async (f) => {
  const files = await inputFiles(f);
  const body = { agent: f.get("agent"), task: f.get("task"), provider: f.get("provider"), ...(f.get("model").trim() ? { model: f.get("model").trim() } : {}), ...timeLimit(f), ...noOutputLimit(f), ...(files.length ? { files } : {}), ...(f.get("queue") ? { queue: true } : {}) };
  const t = await api("/v1/tasks", { method: "POST", body: JSON.stringify(body) });
  await refreshTasks();
  openLog({ taskId: t.taskId, agent: f.get("agent"), status: "running" });
});

// ---- ComfyUI ----------------------------------------------------------------------------------
// ComfyUI's models and cache, unloaded for an agent's own model; the target the workflow form names.
onSubmit($("#free-form"), async () => {
  const freed = await api("/v1/comfyui/free", { method: "POST", body: JSON.stringify({ gpu: $("#wf-form").elements.gpu.value }) });
  $("#free-result").textContent = `${freed.message} (${freed.gpu})`;
});

onSubmit($("#upload-form"), async (form) => {
  if (!form.get("subfolder")) form.delete("subfolder");
  form.set("gpu", $("#wf-form").elements.gpu.value); // the target the workflow form names
  $("#upload-result").textContent = "Uploading…";
  try {
    const saved = await api("/v1/comfyui/upload", { method: "POST", body: form });
    $("#upload-result").textContent = `Uploaded: LoadImage's image is "${saved.path}"`;
  } catch (err) {
    $("#upload-result").textContent = "";
    throw err;
  }
});

// ---- boot -------------------------------------------------------------------------------------
$("#signin").addEventListener("submit", (e) => {
  e.preventDefault();
  signIn($("#key").value.trim()).catch((err) => { session.key = null; showError(err.message); });
});
$("#signout").addEventListener("click", signOut);
session.onUnauthorized = signOut;
fetch(apiUrl("/")).then((r) => r.json()).then((info) => ($("#version").textContent = `v${info.version}`), () => {});
if (session.key) {
  $("#welcome").hidden = true; // a reload while signed in: no flash of the welcome while the key is checked
  signIn(session.key).catch((err) => { signOut(); showError(err.message); });
}
