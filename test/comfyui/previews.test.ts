/** Output previews: an image as ComfyUI renders it in WebP (its /view with `preview=`), for thumbnails and slow links. */
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { PNG, PNG_PREVIEW } from "../fake-comfyui-files.ts";
import { AUTH, tempDir } from "../helpers.ts";
import { comfyStack, mediaPrompt } from "./helpers.ts";

const outDir = tempDir("comfy-out-");
const s = await comfyStack({ env: { COMFYUI_OUTPUT_DIR: outDir } });
afterAll(() => s.close());

/** An image, a video and a sound made by one workflow, with the image's bytes on disk too. */
async function outputs() {
  const { body } = await s.submit(mediaPrompt(1, { image: "thumb", video: "clip", sound: "tone" }));
  const done = await s.until(body.workflowId, ["completed"]);
  const byExt = (ext: string) => done.outputs.find((o: { filename: string }) => o.filename.endsWith(ext)) as { filename: string; url: string };
  const image = byExt(".png");
  writeFileSync(join(outDir, image.filename), PNG);
  return { image, video: byExt(".webm") };
}
const get = (url: string, query: string, headers: Record<string, string> = {}) => fetch(`${s.base}${url}${url.includes("?") ? "&" : "?"}${query}`, { headers: { ...AUTH, ...headers } });

describe("output previews", () => {
  test("preview=webp: the image as ComfyUI renders it, named .webp; quality passed on (90 by default); from ComfyUI though the file is on disk", async () => {
    const { image } = await outputs();
    const asked = s.fake.previews.length;
    const res = await get(image.url, "preview=webp");
    const named = (await get(image.url, "")).headers.get("content-disposition")!.replaceAll(".png", ".webp");
    expect([res.status, res.headers.get("content-type"), res.headers.get("content-disposition")]).toEqual([200, "image/webp", named]);
    expect(named).toContain("thumb_");
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(PNG_PREVIEW);
    expect((await get(image.url, "preview=webp&quality=75")).status).toBe(200);
    expect(s.fake.previews.slice(asked)).toEqual(["webp;90", "webp;75"]);
    // A range is for the file: a preview comes whole.
    const ranged = await get(image.url, "preview=webp", { Range: "bytes=0-9" });
    expect([ranged.status, (await ranged.arrayBuffer()).byteLength]).toEqual([200, PNG_PREVIEW.byteLength]);
    // Without preview, the file itself, from disk.
    const file = await get(image.url, "");
    expect([file.headers.get("content-type"), new Uint8Array(await file.arrayBuffer())]).toEqual(["image/png", PNG]);
  });

  test("not an image, a format or quality it cannot be, or a quality alone: 400, and ComfyUI is not asked", async () => {
    const { image, video } = await outputs();
    const asked = s.fake.previews.length;
    const refused = async (url: string, query: string) => {
      const res = await get(url, query);
      return [query, res.status, (await res.json()).message];
    };
    expect(await refused(video.url, "preview=webp")).toEqual(["preview=webp", 400, `query/preview is for images (PNG, JPEG, WebP, GIF); ${video.filename} is video/webm`]);
    expect(await refused(image.url, "quality=80")).toEqual(["quality=80", 400, "query/quality is the preview's: give preview=webp with it"]);
    for (const query of ["preview=png", "preview=webp&quality=0", "preview=webp&quality=101", "preview=webp&quality=high"]) {
      const [, status] = await refused(image.url, query);
      expect([query, status]).toEqual([query, 400]);
    }
    expect(s.fake.previews.length).toBe(asked);
  });

  test("ComfyUI away: a preview is a 503 to retry, while the file itself still comes from disk", async () => {
    const { image } = await outputs();
    s.fake.stop();
    try {
      const res = await get(image.url, "preview=webp");
      expect([res.status, res.headers.get("retry-after")]).toEqual([503, "10"]);
      expect((await get(image.url, "")).status).toBe(200);
    } finally {
      s.fake.start();
    }
  });
});
