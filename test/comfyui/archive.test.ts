/** GET /v1/comfyui/workflow/{id}/archive: every file a workflow saved, as one .tar.gz. */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { localFileEntry } from "../../src/comfyui/output-archive.ts";
import { tar } from "../../src/tasks/tar.ts";
import { AUTH, tempDir } from "../helpers.ts";
import { BASIC, comfyStack, mediaPrompt } from "./helpers.ts";

/** The archive unpacked by GNU tar: relative path -> bytes. */
async function unpack(res: Response): Promise<Record<string, Buffer>> {
  const dir = tempDir("wf-archive-");
  writeFileSync(join(dir, "a.tar.gz"), new Uint8Array(await res.arrayBuffer()));
  const out = join(dir, "out");
  Bun.spawnSync(["mkdir", out]);
  const tar = Bun.spawnSync(["tar", "-xzf", join(dir, "a.tar.gz"), "-C", out], { stderr: "pipe" });
  if (tar.exitCode !== 0) throw new Error(tar.stderr.toString());
  const files: Record<string, Buffer> = {};
  const walk = (at: string, rel: string) => {
    for (const e of readdirSync(at, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(at, e.name), `${rel}${e.name}/`);
      else files[`${rel}${e.name}`] = readFileSync(join(at, e.name));
    }
  };
  walk(out, "");
  return files;
}

describe("a workflow's outputs as one archive", () => {
  test("a file of COMFYUI_OUTPUT_DIR deleted once the archive has begun keeps its size, zero-padded: the archive stays whole", async () => {
    const dir = tempDir("wf-archive-gone-");
    writeFileSync(join(dir, "a.png"), "made by ComfyUI");
    writeFileSync(join(dir, "b.png"), "the next one");
    const entries = [(await localFileEntry(join(dir, "a.png"), "w/a.png"))!, (await localFileEntry(join(dir, "b.png"), "w/b.png"))!];
    rmSync(join(dir, "a.png")); // after its header was made, before its bytes are read
    const chunks: Uint8Array[] = [];
    for await (const chunk of tar((async function* () { yield* entries; })())) chunks.push(chunk);
    const out = tempDir("wf-archive-gone-out-");
    writeFileSync(join(out, "a.tar"), Buffer.concat(chunks));
    const unpacked = Bun.spawnSync(["tar", "-xf", join(out, "a.tar"), "-C", out]);
    expect(unpacked.exitCode).toBe(0);
    expect(readFileSync(join(out, "w", "a.png"))).toEqual(Buffer.alloc(15));
    expect(readFileSync(join(out, "w", "b.png"), "utf8")).toBe("the next one");
  });

  test("through ComfyUI's /view: images, video and sound, each as its own download gives it", async () => {
    const s = await comfyStack();
    try {
      const { body } = await s.submit(mediaPrompt(3, { image: "arch/img", video: "arch/vid", sound: "arch/snd" }));
      const done = await s.until(body.workflowId, ["completed"]);
      const res = await fetch(`${s.base}/v1/comfyui/workflow/${body.workflowId}/archive`, { headers: AUTH });
      expect([res.status, res.headers.get("Content-Type")]).toEqual([200, "application/gzip"]);
      const files = await unpack(res);
      const expected = done.outputs.filter((o: { type: string }) => o.type === "output");
      expect(Object.keys(files).sort()).toEqual(expected.map((o: { subfolder: string; filename: string }) => `${body.workflowId}/${o.subfolder}/${o.filename}`).sort());
      for (const o of expected) {
        const one = Buffer.from(await (await fetch(`${s.base}${o.url}`, { headers: AUTH })).arrayBuffer());
        expect(files[`${body.workflowId}/${o.subfolder}/${o.filename}`]).toEqual(one);
      }
      expect((await fetch(`${s.base}/v1/comfyui/workflow/00000000-0000-4000-8000-000000000000/archive`, { headers: AUTH })).status).toBe(404);
    } finally {
      await s.close();
    }
  });

  test("from COMFYUI_OUTPUT_DIR, and an output gone from it is left out rather than failing the rest", async () => {
    const outDir = tempDir("wf-archive-out-");
    const s = await comfyStack({ env: { COMFYUI_OUTPUT_DIR: outDir } });
    try {
      const { body } = await s.submit({ ...BASIC, "1": { ...BASIC["1"], inputs: { ...BASIC["1"].inputs, batch_size: 2 } } });
      const done = await s.until(body.workflowId, ["completed"]);
      const [a, b] = done.outputs.map((o: { filename: string }) => o.filename);
      writeFileSync(join(outDir, a), "first on disk");
      writeFileSync(join(outDir, b), "second on disk");
      rmSync(join(outDir, a));
      const files = await unpack(await fetch(`${s.base}/v1/comfyui/workflow/${body.workflowId}/archive`, { headers: AUTH }));
      expect(files).toEqual({ [`${body.workflowId}/${b}`]: Buffer.from("second on disk") });
    } finally {
      await s.close();
    }
  });
});
