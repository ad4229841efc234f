// The dashboard's link to the API: the session (key and rate-limit pause), calls, errors, and the
// small DOM helpers every panel uses.
export const $ = (sel) => document.querySelector(sel);
const KEY_STORE = "mapi.key";

/**
 * The key lives in this tab's sessionStorage and is sent as a bearer header. The dashboard's
 * polling shares the client's rate limit (RATE_LIMIT_MAX per window) with everything else from
 * this address: it stops while the tab is hidden, and after a 429 until Retry-After
 * (`pausedUntil`, on performance.now(): the page times its polling by the monotonic clock, so a
 * computer's clock set back does not stall it). `onUnauthorized` is what a 401 or 403 does (sign out), unless the 403 only
 * says the key is read-only.
 */
export const session = {
  key: sessionStorage.getItem(KEY_STORE),
  pausedUntil: 0,
  onUnauthorized: () => {},
  remember() { sessionStorage.setItem(KEY_STORE, this.key); },
  forget() { sessionStorage.removeItem(KEY_STORE); this.key = null; },
};

// ---- errors and API calls -------------------------------------------------------------------
/**
 * Where the API is: the folder the page (…/ui) is in. Paths as the API writes them ("/v1/…", also
 * in the `url` of an output) are taken below it, so the dashboard works behind a proxy that serves
 * the API under a path of its own, as well as at the root.
 */
const API_ROOT = new URL(".", location.href);
export const apiUrl = (path, protocol) => {
  const url = new URL(path.replace(/^\/+/, ""), API_ROOT);
  if (protocol) url.protocol = protocol;
  return url.href;
};

export function showError(message) {
  const el = $("#alert");
  el.textContent = message;
  el.hidden = !message;
}

export async function api(path, options = {}) {
  // A FormData body (an upload) brings its own multipart Content-Type.
  const headers = { Authorization: `Bearer ${session.key}`, ...(typeof options.body === "string" ? { "Content-Type": "application/json" } : {}), ...options.headers };
  let res;
  try {
    // Always revalidate (ETag makes that cheap): the API's max-age would otherwise show stale lists.
    res = await fetch(apiUrl(path), { cache: "no-cache", ...options, headers });
  } catch {
    throw new Error("The API cannot be reached. Is the server running?");
  }
  if (res.ok) return !options.raw && res.headers.get("Content-Type")?.includes("json") ? res.json() : res;
  let body = {};
  try { body = await res.json(); } catch {}
  if (res.status === 429) session.pausedUntil = performance.now() + 1000 * Number(res.headers.get("Retry-After") ?? body.retryAfter ?? 10);
  // A read-only key (MANAGEMENT_API_READONLY_KEYS) is a good key that may not change anything: it stays signed in.
  const readOnly = res.status === 403 && body.details?.keyAccess === "read-only";
  const hint = readOnly
    ? "Sign in with a full key to change anything."
    : ({ 401: "Sign in with a valid API key.", 403: "This API key is not accepted.", 429: `Too many requests; retry in ${body.retryAfter ?? "a few"} s.` }[res.status] ?? "");
  const err = new Error(`${res.status} ${body.error ?? res.statusText}: ${body.message ?? "request failed"}${hint ? ` — ${hint}` : ""}`);
  err.status = res.status;
  err.readOnly = readOnly;
  err.details = body.details;
  throw err;
}

/** Saves what the API serves at `path` as a file called `name` (a bearer header, so no plain link). */
export async function save(path, name) {
  const res = await api(path, { raw: true });
  const url = URL.createObjectURL(await res.blob());
  // In the document while clicked: some browsers ignore a click on a detached link.
  const link = h("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** A refresh for a timer: skipped while the tab is hidden or the rate limit asks us to wait, and once signed out. */
export const polled = (refresh) => () => {
  if (!session.key || document.hidden || performance.now() < session.pausedUntil) return;
  refresh();
};

/**
 * `refresh`, polled, `delayMs()` after the first call of a burst; calls meanwhile join it, and a
 * delay of 0 or less runs it at once. For refreshes that events ask for, which come by the hundred.
 */
export function soon(refresh, delayMs) {
  let pending;
  return () => {
    if (pending) return;
    const wait = delayMs();
    if (wait <= 0) return void polled(refresh)();
    pending = setTimeout(() => {
      pending = undefined;
      polled(refresh)();
    }, wait);
  };
}

export const guard = (fn) => async (...args) => {
  try { await fn(...args); } catch (err) {
    showError(err.message);
    if (err.status === 401 || (err.status === 403 && !err.readOnly)) session.onUnauthorized();
  }
};

/**
 * A form's submit handler, guarded, with its submit button disabled until the request is answered:
 * a double click would otherwise start the task (or queue the workflow) twice.
 */
export const onSubmit = (form, fn) => form.addEventListener("submit", guard(async (e) => {
  e.preventDefault();
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try { await fn(new FormData(form)); } finally { button.disabled = false; }
}));

/** A form's field of minutes (`name`) as the API's `key` in seconds: empty for the server's default, 0 for none. */
const minutesAs = (form, name, key) => {
  const minutes = form.get(name);
  return minutes === "" || minutes === null ? {} : { [key]: Math.round(Number(minutes) * 60) };
};

/** A form's "Time limit (min)" as the API takes it. */
export const timeLimit = (form) => minutesAs(form, "timeout", "timeoutSeconds");

/** A task form's "No output limit (min)": how long its agent may stay silent. */
export const noOutputLimit = (form) => minutesAs(form, "noOutputTimeout", "noOutputTimeoutSeconds");

export const h = (tag, attrs = {}, ...children) => {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) el.setAttribute(k, v === true ? "" : v);
  }
  el.append(...children.filter((c) => c !== null && c !== undefined));
  return el;
};
/**
 * Makes `el` match `next` (built afresh by h()), keeping `el` and each descendant whose tag matches
 * at its place. Lists are redrawn on every poll and progress event: swapping a button for a new one
 * while the mouse is pressed on it loses the click. Listeners stay those `el` was built with, so
 * they must look data up by id rather than hold what may change.
 */
export function morph(el, next) {
  // A morphed element keeps its listeners: one that does something else (its data-action says what) is replaced.
  if (el.nodeType !== next.nodeType || el.nodeName !== next.nodeName || el.dataset?.action !== next.dataset?.action) return void el.replaceWith(next);
  if (el.nodeType === Node.TEXT_NODE) {
    if (el.data !== next.data) el.data = next.data;
    return;
  }
  for (const { name } of [...el.attributes]) if (!next.hasAttribute(name)) el.removeAttribute(name);
  for (const { name, value } of [...next.attributes]) if (el.getAttribute(name) !== value) el.setAttribute(name, value);
  const kids = [...el.childNodes];
  const nextKids = [...next.childNodes];
  nextKids.forEach((k, i) => (i < kids.length ? morph(kids[i], k) : el.append(k)));
  for (const k of kids.slice(nextKids.length)) k.remove();
}

/** Redraws `container` as the elements `next`, each keyed by its `attr`: one already shown for a key is kept and morphed. */
export function morphList(container, next, attr) {
  const shown = new Map([...container.children].map((el) => [el.getAttribute(attr), el]));
  next.forEach((n, i) => {
    const key = n.getAttribute(attr);
    const el = shown.get(key);
    shown.delete(key);
    if (el) morph(el, n);
    const node = el ?? n;
    // Moved only when out of place: the same order (most redraws) moves nothing.
    if (container.children[i] !== node) container.insertBefore(node, container.children[i] ?? null);
  });
  for (const el of shown.values()) el.remove();
}

export const badge = (status) => h("span", { class: `badge ${status}` }, status);
export const newestFirst = (key) => (a, b) => Date.parse(b[key]) - Date.parse(a[key]);
export const fmtBytes = (n) => (n < 1024 * 1024 ? `${Math.ceil(n / 1024)} KiB` : n < 1024 ** 3 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : `${(n / 1024 ** 3).toFixed(1)} GiB`);
export const fmtDuration = (s) => (s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`);
