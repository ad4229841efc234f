// The outputs gallery: what ComfyUI made, shown as the browser can (images, videos, sounds).
import { $, api, fmtBytes, guard, h, morphList, save, soon } from "./client.js";

/**
 * The files shown in the gallery, as blob URLs by output URL (<img> and <video> cannot send the
 * bearer header). Each is fetched once while it stays listed and released when it leaves the list,
 * so a dashboard left open for days does not keep every image it ever showed. A file that cannot
 * be fetched (deleted from ComfyUI's folder, backend away) shows as unavailable, alone, and is
 * tried again at the next refresh.
 */
const media = new Map();

/**
 * The largest file the gallery shows. What it shows is fetched whole into the tab, so 24 long videos
 * or huge images would take gigabytes of its memory; a bigger file is a download button instead,
 * fetched when pressed.
 */
const PREVIEW_MAX_BYTES = 32 * 1024 * 1024;

/** The body as a Blob, or null (the rest left unread) when it is over `max` bytes. */
async function blobUpTo(res, max) {
  if (Number(res.headers.get("Content-Length")) > max) {
    await res.body?.cancel();
    return null;
  }
  const reader = res.body.getReader();
  const chunks = [];
  for (let n = 0; ;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.byteLength;
    if (n > max) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  return new Blob(chunks, { type: res.headers.get("Content-Type") ?? "" });
}

/** Images shown by their preview: not GIF or WebP, which may be animated (a preview is one frame). */
const STILL = /\.(png|jpe?g)$/i;
const previewOf = (url) => `${url}${url.includes("?") ? "&" : "?"}preview=webp`;

/**
 * An image is fetched as ComfyUI's WebP preview, a fraction of its size (the file itself is a press
 * away); where ComfyUI cannot make one just now (a 503) but the file can be had, the file.
 */
const fetchShown = (o) =>
  STILL.test(o.filename)
    ? api(previewOf(o.url), { raw: true }).catch((err) => (err.status === 503 ? api(o.url, { raw: true }) : Promise.reject(err)))
    : api(o.url, { raw: true });

async function mediaOf(o) {
  if (!media.has(o.url)) {
    const res = await fetchShown(o);
    const blob = await blobUpTo(res, PREVIEW_MAX_BYTES);
    // Bun sends a relayed (streamed) download without its length: then only the listing may know it.
    const size = Number(res.headers.get("Content-Length")) || o.size || null;
    media.set(o.url, blob ? { src: URL.createObjectURL(blob), type: blob.type } : { src: null, type: res.headers.get("Content-Type") ?? "", size });
  }
  return media.get(o.url);
}

/**
 * An output as the browser can show it: an image (its preview; pressed, the file is saved), a video,
 * a sound, else a download link; too big to show, a download button.
 */
function mediaElement(m, name, url) {
  const saveFile = guard(() => save(url, name.split("/").pop()));
  if (!m.src) return h("button", { type: "button", class: "link file", onclick: saveFile }, `download (${m.size ? fmtBytes(m.size) : `over ${fmtBytes(PREVIEW_MAX_BYTES)}`})`);
  const kind = m.type.split("/")[0];
  const label = `Output ${name}`;
  if (kind === "image") return h("button", { type: "button", class: "still", title: "Save the full-size file", onclick: saveFile }, h("img", { src: m.src, alt: label, loading: "lazy" }));
  if (kind === "video") return h("video", { src: m.src, "aria-label": label, controls: true, muted: true, loop: true, playsinline: true, preload: "metadata" });
  if (kind === "audio") return h("audio", { src: m.src, "aria-label": label, controls: true, preload: "metadata" });
  return h("a", { href: m.src, download: name, class: "file" }, "download");
}

async function renderGallery() {
  const { outputs } = await api("/v1/comfyui/outputs?limit=24");
  const figures = await Promise.all(outputs.map(async (o) => {
    const name = o.subfolder ? `${o.subfolder}/${o.filename}` : o.filename;
    const shown = await mediaOf(o).then((m) => mediaElement(m, name, o.url), (err) => h("span", { class: "unavailable", title: err.message }, "unavailable"));
    return h("figure", { "data-output": o.url }, shown, h("figcaption", {}, name));
  }));
  // Kept, not rebuilt: a video or sound being played would stop at every refresh.
  morphList($("#gallery"), figures, "data-output");
  const listed = new Set(outputs.map((o) => o.url));
  for (const [url, m] of media) if (!listed.has(url)) { if (m.src) URL.revokeObjectURL(m.src); media.delete(url); }
}

// One refresh at a time: an older list rendered after a newer one would show files it released.
let galleryRun = Promise.resolve();
let lastRefresh = 0;
export const refreshOutputs = () => {
  lastRefresh = performance.now();
  return (galleryRun = galleryRun.then(guard(renderGallery)));
};

/** Least time between refreshes for completed workflows. */
const EVENT_GAP_MS = 3000;
/**
 * A refresh for a workflow that completed: at once, or, within 3 s of the last refresh, once those
 * 3 s are up. A batch completes a workflow every second or faster (ComfyUI answers a repeated one
 * from its cache), and a refresh each would spend the client's rate limit.
 */
export const refreshOutputsSoon = soon(refreshOutputs, () => lastRefresh + EVENT_GAP_MS - performance.now());
