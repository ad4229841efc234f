/**
 * The fake ComfyUI's folders: input, output and temp, as one map from "type/subfolder/name" to
 * bytes. Output nodes save into it as ComfyUI v0.8 names files, /upload/image stores into it as
 * ComfyUI's image_upload does, and /view reads from it.
 */
import { FIXTURES } from "./helpers.ts";

export const PNG = new Uint8Array(await Bun.file(`${FIXTURES}/comfyui-protocol/02_view_output.png`).arrayBuffer());
/** What /view answered for that PNG with `preview=webp;90`: ComfyUI's WebP rendering of it. */
export const PNG_PREVIEW = new Uint8Array(await Bun.file(`${FIXTURES}/comfyui-protocol/02_view_output_preview.webp`).arrayBuffer());
/** Stand-ins for media the fake "saves": only their names and types matter to the API. */
const MEDIA: Record<string, Uint8Array> = { png: PNG, webm: new TextEncoder().encode("fake webm"), flac: new TextEncoder().encode("fake flac") };
const MIME: Record<string, string> = { png: "image/png", webm: "video/webm", flac: "audio/flac" };

/**
 * The output nodes the fake saves files for, as ComfyUI v0.8 names them: SaveImage and PreviewImage
 * one PNG per image of their batch, SaveWEBM one video of the whole batch (its UI output says
 * `animated`), SaveAudio one FLAC under `audio`.
 */
export const SAVERS: Record<string, { type: "output" | "temp"; ext: string; key: string; perImage: boolean; extra?: Record<string, unknown> }> = {
  SaveImage: { type: "output", ext: "png", key: "images", perImage: true },
  PreviewImage: { type: "temp", ext: "png", key: "images", perImage: true },
  SaveWEBM: { type: "output", ext: "webm", key: "images", perImage: false, extra: { animated: [true] } },
  SaveAudio: { type: "output", ext: "flac", key: "audio", perImage: false },
};

/** The Content-Type /view answers with, by extension (ComfyUI guesses it the same way). */
export const mimeOf = (name: string) => MIME[name.split(".").pop()!] ?? "application/octet-stream";

/**
 * A /view answer as aiohttp's FileResponse gives it: the whole file, or for a `Range: bytes=a-b`
 * (also `a-` and `-n`) that part with 206 and Content-Range; a range outside the file, or one it
 * cannot parse (several ranges included), is 416 with `Content-Range: bytes *\/size`.
 */
export function viewResponse(bytes: Uint8Array, name: string, range: string | null): Response {
  const headers = { "Content-Type": mimeOf(name), "Accept-Ranges": "bytes" };
  if (!range) return new Response(bytes as BodyInit, { headers });
  const size = bytes.byteLength;
  const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
  let [start, end] = m ? (m[1] === "" ? [size - Number(m[2]), size - 1] : [Number(m[1]), m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1)]) : [NaN, NaN];
  if (m && m[1] === "") start = Math.max(0, start);
  if (!m || (m[1] === "" && m[2] === "") || !(start <= end) || start >= size) {
    return new Response("416: Range Not Satisfiable", { status: 416, headers: { "Content-Range": `bytes */${size}` } });
  }
  return new Response(bytes.slice(start, end + 1) as BodyInit, { status: 206, headers: { ...headers, "Content-Range": `bytes ${start}-${end}/${size}` } });
}

/**
 * A /view answer with `preview=<format>;<quality>`, as ComfyUI's view_image gives it: the image
 * re-encoded by PIL (here, the recorded WebP, whatever the image), typed `image/<format>` (webp
 * unless jpeg), with the original name. A file PIL cannot open as an image fails with aiohttp's 500.
 */
export function previewResponse(name: string, preview: string): Response {
  if (!mimeOf(name).startsWith("image/")) return new Response("500 Internal Server Error\n\nServer got itself in trouble", { status: 500, headers: { "Content-Type": "text/plain; charset=utf-8" } });
  const format = preview.split(";")[0] === "jpeg" ? "jpeg" : "webp";
  return new Response(PNG_PREVIEW as BodyInit, { headers: { "Content-Type": `image/${format}`, "Content-Disposition": `filename="${name}"` } });
}

export class FakeFiles extends Map<string, Uint8Array> {
  /** ComfyUI numbers files per subfolder and prefix (it scans the folder for the highest counter). */
  readonly #counters = new Map<string, number>();

  constructor() {
    super();
    // The input folder the recordings were made with: LoadImage listed these two.
    for (const name of ["corrupt.png", "example.png"]) this.set(`input//${name}`, PNG);
  }

  /** Files in the input folder as LoadImage names them ("masks/cat.png"), sorted as ComfyUI lists them. */
  inputNames(): string[] {
    return [...this.keys()]
      .filter((k) => k.startsWith("input/"))
      .map((k) => k.slice("input/".length).replace(/^\//, ""))
      .sort();
  }

  /** Saves the next file for `fullPrefix` as folder_paths.get_save_image_path names it: "a/b" saves b_00001_.png in subfolder "a". */
  save(type: string, fullPrefix: string, ext: string) {
    const cut = fullPrefix.lastIndexOf("/");
    const [subfolder, prefix] = cut === -1 ? ["", fullPrefix] : [fullPrefix.slice(0, cut), fullPrefix.slice(cut + 1)];
    const counter = (this.#counters.get(`${type}/${subfolder}/${prefix}`) ?? 0) + 1;
    this.#counters.set(`${type}/${subfolder}/${prefix}`, counter);
    const filename = `${prefix}_${String(counter).padStart(5, "0")}_.${ext}`;
    this.set(`${type}/${subfolder}/${filename}`, MEDIA[ext]!);
    return { filename, subfolder, type };
  }

  /**
   * POST /upload/image as ComfyUI's image_upload does it: `type` input (default), temp or output; a
   * subfolder may not lead out; without overwrite an existing file of that name is kept and the new
   * one saved as "name (1).ext", unless the two are the same bytes. Past `maxBytes` (its
   * --max-upload-size) aiohttp answers 413.
   */
  async upload(req: Request, maxBytes: number): Promise<Response> {
    if (Number(req.headers.get("content-length") ?? 0) > maxBytes) return new Response("413: Request Entity Too Large", { status: 413 });
    const form = await req.formData().catch(() => undefined);
    const image = form?.get("image");
    if (!form || !(image instanceof File) || !image.name) return new Response("", { status: 400 });
    const type = String(form.get("type") ?? "input") || "input";
    const subfolder = String(form.get("subfolder") ?? "");
    if (!["input", "temp", "output"].includes(type) || subfolder.split("/").includes("..") || subfolder.startsWith("/") || image.name.includes("/")) return new Response("", { status: 400 });
    const overwrite = ["true", "1"].includes(String(form.get("overwrite") ?? ""));
    const bytes = new Uint8Array(await image.arrayBuffer());
    const dot = image.name.lastIndexOf(".");
    const [stem, ext] = dot > 0 ? [image.name.slice(0, dot), image.name.slice(dot)] : [image.name, ""];
    let name = image.name;
    for (let i = 1; !overwrite && this.has(`${type}/${subfolder}/${name}`); i++) {
      if (Buffer.from(this.get(`${type}/${subfolder}/${name}`)!).equals(bytes)) break; // the same image: kept, not saved again
      name = `${stem} (${i})${ext}`;
    }
    this.set(`${type}/${subfolder}/${name}`, bytes);
    return Response.json({ name, subfolder, type });
  }
}
