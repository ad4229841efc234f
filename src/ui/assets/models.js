// The models on ComfyUI, by folder: the exact file names a workflow's loader nodes take, on the
// target the workflow form names (as Upload and Free VRAM use). Asked for only while the panel is
// open (never polled): a folder may hold hundreds.
import { $, api, fmtBytes, guard, h } from "./client.js";

/** The target and folder of the list asked for last: an answer for one picked before is not drawn. */
let asked = "";

const showModels = guard(async () => {
  const type = $("#model-type").value;
  const gpu = $("#wf-form").elements.gpu.value;
  const key = `${gpu}/${type}`;
  asked = key;
  $("#model-list").setAttribute("aria-busy", "true");
  let models;
  try {
    ({ models } = await api(`/v1/comfyui/models?type=${encodeURIComponent(type)}&gpu=${gpu}`));
  } catch (err) {
    // Its error is shown; the list of what was picked before is not left to pass for the answer.
    if (asked === key) $("#model-list").replaceChildren();
    throw err;
  } finally {
    if (asked === key) $("#model-list").removeAttribute("aria-busy");
  }
  if (asked !== key) return;
  const items = models.map((m) => h("li", {}, h("code", {}, m.name), m.size === null ? "" : ` ${fmtBytes(m.size)}`));
  $("#model-list").replaceChildren(...(items.length ? items : [h("li", { class: "muted" }, `No files in ComfyUI's ${type} folder.`)]));
});

$("#models").addEventListener("toggle", () => $("#models").open && showModels());
$("#model-type").addEventListener("change", showModels);
$("#wf-form").elements.gpu.addEventListener("change", () => $("#models").open && showModels());
$("#models-refresh").addEventListener("click", showModels);
