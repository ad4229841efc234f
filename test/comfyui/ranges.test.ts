/** Byte ranges of outputs (a video player seeking, a download resuming), through /view and from disk. */
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { AUTH, tempDir } from "../helpers.ts";
import { comfyStack } from "./helpers.ts";

const VIDEO = {
  "1": { class_type: "EmptyImage", inputs: { width: 64, height: 64, batch_size: 4, color: 1 } },
  "2": { class_type: "SaveWEBM", inputs: { images: ["1", 0], filename_prefix: "seek", codec: "vp9", fps: 24, crf: 32 } },
};
// Large enough that Bun streams it from ComfyUI rather than holding it whole: a few MiB.
const SIZE = 3_000_000;
const BYTES = new Uint8Array(SIZE).map((_, i) => i % 251);

const outDir = tempDir("comfy-out-");
const viaView = await comfyStack();
const fromDisk = await comfyStack({ env: { COMFYUI_OUTPUT_DIR: outDir } });
afterAll(async () => {
  await viaView.close();
  await fromDisk.close();
});

/** Makes a video output whose bytes are BYTES, in ComfyUI's folder (the fake's) and on disk; returns its URL. */
async function video(s: typeof viaView) {
  const { body } = await s.submit(VIDEO);
  const out = (await s.until(body.workflowId, ["completed"])).outputs[0];
  s.fake.files.set(`output//${out.filename}`, BYTES);
  writeFileSync(join(outDir, out.filename), BYTES);
  return `${s.base}${out.url}`;
}

describe.each([
  ["through ComfyUI's /view", viaView],
  ["from COMFYUI_OUTPUT_DIR", fromDisk],
] as const)("output ranges %s", (_name, s) => {
  test("a Range gets that part with 206 and Content-Range; no Range the whole file, saying ranges are accepted and how long it is", async () => {
    const url = await video(s);
    const whole = await fetch(url, { headers: AUTH });
    // The length lets a browser show a download's size and progress.
    expect([whole.status, whole.headers.get("Accept-Ranges"), whole.headers.get("Content-Type"), whole.headers.get("Content-Length")]).toEqual([200, "bytes", "video/webm", String(SIZE)]);
    expect(new Uint8Array(await whole.arrayBuffer())).toEqual(BYTES);
    const last = SIZE - 1;
    for (const [range, from, to] of [["bytes=100-199", 100, 199], [`bytes=${SIZE - 10}-`, SIZE - 10, last], ["bytes=-10", SIZE - 10, last], [`bytes=${SIZE - 100}-${SIZE + 5000}`, SIZE - 100, last], ["bytes=0-", 0, last]] as const) {
      const part = await fetch(url, { headers: { ...AUTH, Range: range } });
      expect([range, part.status, part.headers.get("Content-Range"), part.headers.get("Content-Length")]).toEqual([range, 206, `bytes ${from}-${to}/${SIZE}`, String(to - from + 1)]);
      expect(new Uint8Array(await part.arrayBuffer())).toEqual(BYTES.slice(from, to + 1));
    }
  });

  test("a range past the end is 416 in the common error format, saying how long the file is", async () => {
    const url = await video(s);
    const res = await fetch(url, { headers: { ...AUTH, Range: `bytes=${SIZE + 5000}-${SIZE + 6000}` } });
    expect([res.status, res.headers.get("Content-Range")]).toEqual([416, `bytes */${SIZE}`]);
    expect(await res.json()).toMatchObject({ error: "Range Not Satisfiable", statusCode: 416 });
  });
});
