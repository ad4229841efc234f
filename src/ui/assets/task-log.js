// The log panel of the dashboard: one task's log followed live over SSE (EventSource, ?token=),
// the files the task left, and Download / Delete / Close. The task list (app.js) is told when a
// task it shows ends or goes.
import { $, api, apiUrl, badge, guard, h, save, session } from "./client.js";
import { readable } from "./agent-log.js";

let logSource;
/** Called when the task shown ends or is deleted here: the task list redraws. */
let tasksChanged = () => {};
/** Registers what to call when the task shown ends or is deleted here. */
export function onTasksChanged(fn) {
  tasksChanged = fn;
}

/**
 * The log view keeps the last LOG_LINES lines: a chatty agent writes hundreds of thousands, which
 * would leave the tab crawling; the whole log is a download away. The stream starts there too
 * (?tail=), so opening a huge log does not fetch all of it. Lines arriving together are drawn once
 * per frame.
 */
const LOG_LINES = 2000;
const utf8 = new TextEncoder();
// redraw: the last line ended in a CR (a progress bar), so the next takes its place; dropLast: that
// line is already drawn, and goes at the next frame.
const newLogView = (task) => ({ task, raw: $("#log-raw").checked, pending: [], earlier: false, drawing: false, redraw: false, dropLast: false });
let logView = newLogView(null);

function drawLog() {
  const v = logView;
  v.drawing = false;
  const log = $("#log");
  const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  // A text node a line, added to what is there: rewriting the whole text would drop the reader's
  // selection (to copy a line) with every line that arrives. Past LOG_LINES the oldest go.
  if (v.dropLast) log.lastChild?.remove();
  v.dropLast = false;
  log.append(...v.pending.map((line) => `${line}\n`));
  v.pending = [];
  for (let extra = log.childNodes.length - LOG_LINES; extra > 0; extra--) {
    log.firstChild.remove();
    v.earlier = true;
  }
  $("#log-trimmed").hidden = !v.earlier;
  $("#log-trimmed").textContent = `Only the last ${LOG_LINES} lines are shown here: download the log for all of it.`;
  if (atBottom) log.scrollTop = log.scrollHeight;
}

/** Shows task `t` ({taskId, agent, status}) in the log panel, following its log from the tail. */
export function openLog(t) {
  logSource?.close();
  logView = newLogView(t);
  $("#log").replaceChildren();
  drawLog();
  $("#log-panel").hidden = false;
  $("#log-title").textContent = `Log · ${t.agent} · ${t.taskId.slice(0, 8)}`;
  $("#log-status").replaceChildren(badge(t.status));
  $("#log-delete").hidden = true; // until the stream says the task has ended
  $("#task-files").replaceChildren();
  showTaskFiles(t.taskId);
  const view = logView;
  let lastId = -1;
  // EventSource reconnects by itself and sends Last-Event-ID, so the stream resumes without gaps;
  // ids are byte offsets, so anything at or before the last one seen is a duplicate.
  logSource = new EventSource(apiUrl(`/v1/tasks/${t.taskId}/logs/stream?tail=${LOG_LINES}&token=${encodeURIComponent(session.key)}`));
  logSource.onmessage = (ev) => {
    const id = Number(ev.lastEventId);
    if (id <= lastId || view !== logView) return;
    const { line } = JSON.parse(ev.data);
    // Ids are where lines end: a first line that ends past its own length had lines before it.
    if (lastId === -1 && id > utf8.encode(line).length + 2) view.earlier = true;
    lastId = id;
    // A line ending in a CR is a progress bar's redraw: the next line takes its place, as on a terminal.
    const redrawn = line.endsWith("\r");
    const text = redrawn ? line.slice(0, -1) : line;
    // claude's stream-json events read as text unless Raw is ticked; some show nothing at all.
    const shown = view.raw ? text : readable(text);
    if (shown === null) return;
    if (view.redraw) {
      if (view.pending.length) view.pending.pop();
      else view.dropLast = true;
    }
    view.redraw = redrawn;
    view.pending.push(shown);
    // A hidden tab draws no frames: what could never be shown is let go at once.
    if (view.pending.length >= 2 * LOG_LINES) {
      view.earlier = true;
      view.pending = view.pending.slice(-LOG_LINES);
    }
    if (!view.drawing) {
      view.drawing = true;
      requestAnimationFrame(drawLog);
    }
  };
  logSource.addEventListener("task-complete", (ev) => {
    const d = JSON.parse(ev.data);
    // Why it failed, where the task says (a claude session's reason included); else how it exited.
    $("#log-status").replaceChildren(badge(d.status), d.error ? ` ${d.error}` : d.exitCode !== null ? ` exit ${d.exitCode}` : d.signal ? ` ${d.signal}` : "");
    logSource.close();
    $("#log-delete").hidden = view !== logView;
    tasksChanged();
    showTaskFiles(view.task.taskId);
  });
  logSource.onerror = () => $("#log-status").replaceChildren(badge("reconnecting"));
}
/** Saves what an authenticated GET answers, under `name` (a link cannot send the bearer header). */
$("#log-download").addEventListener("click", guard(() => save(`/v1/tasks/${logView.task.taskId}/logs`, `${logView.task.taskId}.log`)));

/** The files the task has left in its directory (what the agent wrote), each a download. */
const showTaskFiles = guard(async (taskId) => {
  const { files, truncated } = await api(`/v1/tasks/${taskId}/files`);
  if (taskId !== logView.task?.taskId) return;
  const items = files.filter((f) => f.type === "file").map((f) =>
    h("li", {}, h("button", { type: "button", class: "link", onclick: guard(() => save(`/v1/tasks/${taskId}/file?path=${encodeURIComponent(f.path)}`, f.path.split("/").pop())) }, f.path), ` ${f.size} bytes`));
  if (!items.length) items.push(h("li", { class: "muted" }, "none yet"));
  if (truncated) items.push(h("li", { class: "muted" }, "… and more"));
  $("#task-files").replaceChildren(...items);
});
$("#files-archive").addEventListener("click", guard(() => save(`/v1/tasks/${logView.task.taskId}/archive`, `${logView.task.taskId}.tar.gz`)));
$("#log-close").addEventListener("click", closeLog);
$("#log-delete").addEventListener("click", guard(async () => {
  const t = logView.task;
  if (!confirm(`Delete task ${t.agent} (${t.taskId.slice(0, 8)}) now: its record, its log and the files in its folder?`)) return;
  await api(`/v1/tasks/${t.taskId}?purge=true`, { method: "DELETE" });
  $("#log-panel").hidden = true;
  tasksChanged();
}));
// The log is shown again from its tail the other way.
$("#log-raw").addEventListener("change", () => logView.task && openLog(logView.task));

/** Stops following the log and hides the panel (signed out, or its task deleted). */
export function closeLog() {
  logSource?.close();
  $("#log-panel").hidden = true;
}

/** The id of the task the log panel shows, if it is open. */
export const taskShown = () => ($("#log-panel").hidden ? undefined : logView.task?.taskId);
