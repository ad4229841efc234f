// The models on the local ComfyUI, by folder: the exact file names a workflow's loader nodes take.
// Asked for only while the panel is open (never polled): a folder may hold hundreds.
import { $, api, fmtBytes, guard, h } from "./client.js";

/** The folder of the list shown, so an answer for a folder picked before is not drawn. */
let asked = "";

const showModels = guard(async () => {
  const type = $("#model-type").value;
  asked = type;
  $("#model-list").setAttribute("aria-busy", "true");
  let models;
  try {
    ({ models } = await api(`/v1/comfyui/models?type=${encodeURIComponent(type)}`));
  } finally {
    if (asked === type) $("#model-list").removeAttribute("aria-busy");
  }
  if (asked !== type) return;
  const items = models.map((m) => h("li", {}, h("code", {}, m.name), m.size === null ? "" : ` ${fmtBytes(m.size)}`));
  $("#model-list").replaceChildren(...(items.length ? items : [h("li", { class: "muted" }, `No files in ComfyUI's ${type} folder.`)]));
});

$("#models").addEventListener("toggle", () => $("#models").open && showModels());
$("#model-type").addEventListener("change", showModels);
$("#models-refresh").addEventListener("click", showModels);
