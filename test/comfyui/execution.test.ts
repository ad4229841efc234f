/** What ComfyUI's execution messages mean for a workflow: the files an output names, progress. */
import { describe, expect, test } from "bun:test";
import { contentTypeOf, fileInside, outputUrl } from "../../src/comfyui/assets.ts";
import { filesOf, progressOf } from "../../src/comfyui/execution.ts";

describe("filesOf", () => {
  test("names as ComfyUI writes them are kept, any character a prefix may hold included", () => {
    const output = {
      images: [
        { filename: "café_00001_.png", subfolder: "", type: "output" },
        { filename: "my [test], v2_00002_.png", subfolder: "2026-11-27/run1", type: "output" },
      ],
      gifs: [{ filename: "日本_00001.mp4", subfolder: "video", type: "output", format: "video/h264-mp4" }],
      text: ["not a file"],
    };
    expect(filesOf("9", output)).toEqual([
      { filename: "café_00001_.png", subfolder: "", type: "output", node: "9" },
      { filename: "my [test], v2_00002_.png", subfolder: "2026-11-27/run1", type: "output", node: "9" },
      { filename: "日本_00001.mp4", subfolder: "video", type: "output", node: "9" },
    ]);
  });

  test("a name or subfolder that would leave the output folder is never recorded", () => {
    const bad = [
      { filename: "passwd", subfolder: "../../etc" },
      { filename: "x.png", subfolder: "/etc" },
      { filename: "x.png", subfolder: "a/../../b" },
      { filename: "../x.png", subfolder: "" },
      { filename: "a/b.png", subfolder: "" },
      { filename: ".hidden", subfolder: "" },
      { filename: "x.png", subfolder: 5 },
    ];
    expect(filesOf("1", { images: bad.map((f) => ({ ...f, type: "output" })) })).toEqual([]);
  });
});

describe("fileInside", () => {
  test("joins below the folder, and refuses anything that leads out of it", () => {
    expect(fileInside("/srv/out", "video", "a.png")).toBe("/srv/out/video/a.png");
    expect(fileInside("/srv/out", "", "café.png")).toBe("/srv/out/café.png");
    for (const [sub, name] of [["..", "a.png"], ["../out2", "a.png"], ["", ".."], ["", "a/b"], ["/etc", "passwd"]]) {
      expect(fileInside("/srv/out", sub!, name!)).toBeUndefined();
    }
  });
});

describe("progressOf", () => {
  test("nodes that really execute, the running one by value/max, 99 at most until success", () => {
    const run = { total: 5, cached: new Set(["1"]), started: new Set(["2", "3"]), value: 5, max: 10, outputs: [] };
    expect(progressOf(run)).toBe(37.5);
    expect(progressOf({ ...run, started: new Set(["2", "3", "4", "5"]), value: 10 })).toBe(99);
  });
  test("whatever value/max a node reports, progress is a number from 0 to 99", () => {
    const run = { total: 2, cached: new Set<string>(), started: new Set(["1"]), value: 0, max: 1, outputs: [] };
    for (const [value, max] of [[NaN, 1], [Number("abc"), 4], [-5, 10], [50, 10], [1, 0], [Infinity, Infinity]]) {
      const p = progressOf({ ...run, value: value!, max: max! });
      expect(Number.isFinite(p) && p >= 0 && p <= 50).toBe(true);
    }
  });
});

describe("download types", () => {
  test("known extensions in any case; anything else, Object.prototype's names included, is octet-stream", () => {
    expect(["a.PNG", "b.webp", "c.mp4", "d.txt"].map(contentTypeOf)).toEqual(["image/png", "image/webp", "video/mp4", "text/plain; charset=utf-8"]);
    for (const name of ["x.constructor", "x.__proto__", "x.toString", "noext", "x.bin"]) expect(contentTypeOf(name)).toBe("application/octet-stream");
  });
});

describe("output URLs", () => {
  test("carry subfolder and backend only where they are not the defaults, and read back exactly", () => {
    expect(outputUrl({ filename: "img_00001_.png", subfolder: "", backend: "local" })).toBe("/v1/comfyui/output/img_00001_.png");
    for (const o of [
      { filename: "a b+c_00001_.png", subfolder: "my run+1/été", backend: "salad" as const },
      { filename: "x#?&=_00001_.png", subfolder: "100%/a&b=c", backend: "local" as const },
    ]) {
      const url = new URL(outputUrl(o), "http://h");
      expect(decodeURIComponent(url.pathname.slice("/v1/comfyui/output/".length))).toBe(o.filename);
      expect(url.searchParams.get("subfolder")).toBe(o.subfolder);
      expect(url.searchParams.get("gpu")).toBe(o.backend === "local" ? null : o.backend);
    }
  });
});
