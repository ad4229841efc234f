// The outputs gallery: what ComfyUI made, shown as the browser can (images, videos, sounds).
import { $, api, guard, h, morphList } from "./client.js";

/**
 * The files shown in the gallery, as blob URLs by output URL (<img> and <video> cannot send the
 * bearer header). Each is fetched once while it stays listed and released when it leaves the list,
 * so a dashboard left open for days does not keep every image it ever showed. A file that cannot
 * be fetched (deleted from ComfyUI's folder, backend away) shows as unavailable, alone, and is
 * tried again at the next refresh.
 */
const media = new Map();

async function mediaOf(o) {
  if (!media.has(o.url)) {
    const res = await api(o.url, { raw: true });
    const blob = await res.blob();
    media.set(o.url, { src: URL.createObjectURL(blob), type: blob.type });
  }
  return media.get(o.url);
}

/** An output as the browser can show it: image, video, sound, else a download link. */
function mediaElement(m, name) {
  const kind = m.type.split("/")[0];
  const label = `Output ${name}`;
  if (kind === "image") return h("img", { src: m.src, alt: label, loading: "lazy" });
  if (kind === "video") return h("video", { src: m.src, "aria-label": label, controls: true, muted: true, loop: true, playsinline: true, preload: "metadata" });
  if (kind === "audio") return h("audio", { src: m.src, "aria-label": label, controls: true, preload: "metadata" });
  return h("a", { href: m.src, download: name, class: "file" }, "download");
}

async function renderGallery() {
  const { outputs } = await api("/v1/comfyui/outputs?limit=24");
  const figures = await Promise.all(outputs.map(async (o) => {
    const name = o.subfolder ? `${o.subfolder}/${o.filename}` : o.filename;
    const shown = await mediaOf(o).then((m) => mediaElement(m, name), (err) => h("span", { class: "unavailable", title: err.message }, "unavailable"));
    return h("figure", { "data-output": o.url }, shown, h("figcaption", {}, name));
  }));
  // Kept, not rebuilt: a video or sound being played would stop at every refresh.
  morphList($("#gallery"), figures, "data-output");
  const listed = new Set(outputs.map((o) => o.url));
  for (const [url, m] of media) if (!listed.has(url)) { URL.revokeObjectURL(m.src); media.delete(url); }
}

// One refresh at a time: an older list rendered after a newer one would show files it released.
let galleryRun = Promise.resolve();
export const refreshOutputs = () => (galleryRun = galleryRun.then(guard(renderGallery)));
