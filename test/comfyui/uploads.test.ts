/** Input files: POST /v1/comfyui/upload into ComfyUI's input folder, then workflows that load them. */
import { afterAll, describe, expect, test } from "bun:test";
import { AUTH } from "../helpers.ts";
import { comfyStack } from "./helpers.ts";

const s = await comfyStack();
afterAll(() => s.close());

const PNG = new Uint8Array(await Bun.file(`${import.meta.dir}/../fixtures/comfyui-protocol/02_view_output.png`).arrayBuffer());

/** Posts a multipart form, as `curl -F` does. */
async function upload(fields: Record<string, string | File>, base = s.base) {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.set(k, v);
  const res = await fetch(`${base}/v1/comfyui/upload`, { method: "POST", headers: AUTH, body: form });
  return { res, body: await res.json() };
}
const file = (name: string, bytes: Uint8Array<ArrayBuffer> = PNG) => new File([bytes], name, { type: "image/png" });
const loadAndPreview = (image: string) => ({
  "1": { class_type: "LoadImage", inputs: { image } },
  "2": { class_type: "PreviewImage", inputs: { images: ["1", 0] } },
});

describe("uploading input files", () => {
  test("a workflow can load a file once it is uploaded, under the path the answer gives", async () => {
    const before = await s.submit(loadAndPreview("cat.png"));
    expect(before.res.status).toBe(400);
    expect(JSON.stringify(before.body.details)).toContain("Invalid image file: cat.png");

    const { res, body } = await upload({ image: file("cat.png") });
    expect(res.status).toBe(201);
    expect(body).toEqual({ name: "cat.png", subfolder: "", type: "input", gpu: "local", size: PNG.byteLength, path: "cat.png" });
    expect(s.fake.files.get("input//cat.png")).toEqual(PNG);
    const after = await s.submit(loadAndPreview(body.path));
    expect(after.res.status).toBe(202);
    await s.until(after.body.workflowId, ["completed"]);

    const inFolder = await upload({ image: file("café mask.png"), subfolder: "masks/2026" });
    expect(inFolder.body).toMatchObject({ name: "café mask.png", subfolder: "masks/2026", path: "masks/2026/café mask.png" });
    expect((await s.submit(loadAndPreview(inFolder.body.path))).res.status).toBe(202);
  });

  test("a name already taken: another file is saved beside it, the same file is not saved twice, overwrite replaces", async () => {
    const first = await upload({ image: file("dog.png") });
    const other = new Uint8Array([...PNG, 0]);
    expect((await upload({ image: file("dog.png", other) })).body.name).toBe("dog (1).png");
    expect((await upload({ image: file("dog.png") })).body.name).toBe("dog.png");
    const replaced = await upload({ image: file("dog.png", other), overwrite: "true" });
    expect([first.body.name, replaced.body.name]).toEqual(["dog.png", "dog.png"]);
    expect(s.fake.files.get("input//dog.png")).toEqual(other);
  });

  test("bad uploads are 4xx naming the field, and nothing reaches ComfyUI", async () => {
    const kept = s.fake.inputFiles().length;
    const cases: [Record<string, string | File>, number, string][] = [
      [{}, 400, "form must have required property 'image'"],
      [{ image: "not a file" }, 400, "form/image"],
      [{ image: file(".hidden.png") }, 400, "form/image"],
      [{ image: file("a\\b.png") }, 400, "form/image"],
      [{ image: file("x.png"), subfolder: "../../models" }, 400, "form/subfolder"],
      [{ image: file("x.png"), subfolder: "/etc" }, 400, "form/subfolder"],
      [{ image: file("empty.png", new Uint8Array()) }, 400, "form/image is empty"],
      [{ image: file("x.png"), overwrite: "yes" }, 400, "form/overwrite"],
      [{ image: file("x.png"), type: "output" }, 400, "type"],
      [{ image: file("x.png"), gpu: "salad" }, 400, "SALAD_COMFYUI_URL"],
    ];
    for (const [fields, status, says] of cases) {
      const { res, body } = await upload(fields);
      expect([res.status, body.message]).toEqual([status, expect.stringContaining(says)]);
    }
    const asJson = await fetch(`${s.base}/v1/comfyui/upload`, { method: "POST", headers: { ...AUTH, "Content-Type": "application/json" }, body: "{}" });
    expect([asJson.status, (await asJson.json()).message]).toEqual([415, expect.stringContaining("multipart/form-data")]);
    expect(s.fake.inputFiles().length).toBe(kept);
  });
});

describe("limits and an absent backend", () => {
  test("over UPLOAD_LIMIT is 413 naming it; over ComfyUI's own limit is 413 saying so; BODY_LIMIT does not apply", async () => {
    const small = await comfyStack({ env: { UPLOAD_LIMIT: "4096", BODY_LIMIT: "100" } });
    try {
      const big = await upload({ image: file("big.png", new Uint8Array(8192)) }, small.base);
      expect([big.res.status, big.body.message]).toEqual([413, expect.stringContaining("UPLOAD_LIMIT")]);
      // Under UPLOAD_LIMIT, though over BODY_LIMIT: uploads have their own limit.
      expect((await upload({ image: file("fits.png") }, small.base)).res.status).toBe(201);
      small.fake.maxUploadBytes = 100;
      const refused = await upload({ image: file("fits2.png") }, small.base);
      expect([refused.res.status, refused.body.message]).toEqual([413, expect.stringContaining("too large")]);
    } finally {
      await small.close();
    }
  });

  test("ComfyUI unreachable: 503 with Retry-After", async () => {
    const down = await comfyStack();
    down.fake.stop();
    try {
      const { res, body } = await upload({ image: file("later.png") }, down.base);
      expect([res.status, res.headers.get("Retry-After")]).toEqual([503, "10"]);
      expect(body.message).toContain("unreachable");
    } finally {
      await down.close();
    }
  });
});
