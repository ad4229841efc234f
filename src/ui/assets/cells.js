// Pieces of the dashboard's panels, each a pure function of what the API answered: the task list's
// cells (a task as GET /v1/tasks shows it), and the system panel's meters and sparklines.
import { fmtDuration, h } from "./client.js";

/** What a claude session reported it cost, its turns and tokens on hover; empty for other agents. */
export function costCell(r) {
  if (!r || r.costUsd === null) return h("td", {});
  const u = r.usage;
  const tokens = [["in", u.inputTokens], ["out", u.outputTokens], ["cache read", u.cacheReadInputTokens], ["cache write", u.cacheCreationInputTokens]].filter(([, n]) => n !== null);
  const title = [r.turns !== null && `${r.turns} turns`, tokens.length && `tokens: ${tokens.map(([k, n]) => `${n.toLocaleString()} ${k}`).join(", ")}`].filter(Boolean).join("; ");
  return h("td", title ? { title } : {}, `$${r.costUsd.toFixed(4)}`);
}

/** Silence past this, in a running task, is worth a look: an agent waiting on a prompt, a hung call. */
const QUIET_NOTE_S = 60;

/**
 * How long the task has run and, while it runs, how long it has been quiet, if long: measured on the
 * server's clock alone (its start plus its duration is the server's now), whatever the browser's says.
 */
export function durationCell(t) {
  const quietS = t.lastOutputTime ? (Date.parse(t.startTime) + t.duration * 1000 - Date.parse(t.lastOutputTime)) / 1000 : 0;
  const quiet = quietS >= QUIET_NOTE_S ? h("span", { class: "muted", title: `No output since ${t.lastOutputTime}` }, ` · quiet ${fmtDuration(Math.round(quietS))}`) : null;
  return h("td", {}, fmtDuration(t.duration), quiet);
}

/** The agent, and the labels a script gave the task (the first three shown, all of them on hover). */
export function agentCell(t) {
  const labels = Object.entries(t.labels ?? {}).map(([k, v]) => `${k}=${v}`);
  const title = [...(t.model ? [`model ${t.model}`] : []), ...labels].join("\n");
  return h("td", { class: "agent", ...(title ? { title } : {}) }, t.agent, ...labels.slice(0, 3).map((l) => h("span", { class: "label" }, l)), labels.length > 3 ? h("span", { class: "label" }, `+${labels.length - 3}`) : null);
}

// ---- system panel ------------------------------------------------------------------------------
/** The last readings of a percentage as a line, 0 to 100 bottom to top. */
export function sparkline(values, color) {
  const w = 120, hgt = 30;
  const pts = values.map((v, i) => `${(i / Math.max(1, values.length - 1)) * w},${hgt - (Math.min(100, v ?? 0) / 100) * hgt}`).join(" ");
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${hgt}`);
  svg.setAttribute("class", "spark");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("aria-hidden", "true");
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", pts);
  line.setAttribute("stroke", color);
  svg.append(line);
  return svg;
}
/** A bar filled to `pct` percent, as an ARIA meter named `label`. */
export const meter = (pct, label) => h("div", { class: "meter", role: "meter", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": Math.round(pct ?? 0), "aria-label": label }, h("span", { style: `width:${Math.min(100, pct ?? 0)}%` }));

/** The task providers that cap their own running tasks (maxActive), with how many run now. */
export function providerLimits(taskProviders) {
  const capped = Object.entries(taskProviders).filter(([, p]) => p.maxActive !== null);
  return capped.length ? h("div", { class: "muted", "data-limits": "" }, capped.map(([name, p]) => `${name}: ${p.active} of ${p.maxActive} running`).join(" · ")) : null;
}
