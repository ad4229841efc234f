/** `inputs` of a submission and a retry: one saved workflow run with new values, nodes named by id or title. */
import { afterAll, describe, expect, test } from "bun:test";
import { FIXTURES } from "../helpers.ts";
import { BASIC, comfyStack, json } from "./helpers.ts";

const s = await comfyStack();
afterAll(() => s.close());
const load = (f: string) => Bun.file(`${FIXTURES}/${f}`).json();
const sentPrompt = (id: string) =>
  (s.fake.received.find((r) => r.path === "/prompt" && (r.body as { prompt_id?: string }).prompt_id === id)!.body as { prompt: Record<string, { inputs: Record<string, unknown> }> }).prompt;

describe("input values", () => {
  test("by node id on an API prompt, by title on a UI workflow, by flattened id inside a subgraph", async () => {
    const api = await s.submit(BASIC, { inputs: { "2": { filename_prefix: "overridden" }, "1": { width: 32 } } });
    expect(api.res.status).toBe(202);
    const done = await s.until(api.body.workflowId, ["completed"]);
    expect(done.outputs[0].filename).toMatch(/^overridden_/);
    expect(sentPrompt(api.body.workflowId)["1"]!.inputs).toEqual({ width: 32, height: 64, batch_size: 1, color: 0 });
    // What the caller sent is left as it was.
    expect(BASIC["2"].inputs.filename_prefix).toBe("basic");

    // blur_chain's ImageBlur is titled "Blur 3px".
    const ui = await s.submit(await load("comfyui-workflows/blur_chain_ui.json"), { inputs: { "Blur 3px": { sigma: 2.5 } } });
    expect(ui.res.status).toBe(202);
    expect(sentPrompt(ui.body.workflowId)["2"]!.inputs).toMatchObject({ sigma: 2.5, image: ["1", 0] });

    const sub = await s.submit(await load("comfyui-subgraphs/subgraph_basic_ui.json"), { inputs: { "5:1": { blur_radius: 9 } } });
    expect(sub.res.status).toBe(202);
    expect(sentPrompt(sub.body.workflowId)["5:1"]!.inputs).toMatchObject({ blur_radius: 9, sigma: 2.5 });
  });

  test("an unknown node, a title two nodes share, or a bare list is a 400, and nothing is queued", async () => {
    const twins = {
      "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color: 0 } },
      "2": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "a" }, _meta: { title: "Save" } },
      "3": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "b" }, _meta: { title: "Save" } },
    };
    const before = s.fake.received.filter((r) => r.path === "/prompt").length;
    const cases: [unknown, Record<string, unknown>, string][] = [
      [BASIC, { "9": { x: 1 } }, "body/inputs/9: no node of the workflow has that id or title"],
      [twins, { Save: { filename_prefix: "c" } }, "body/inputs/Save: that title names nodes 2, 3; name one by its id"],
      [BASIC, { "2": { filename_prefix: ["1", 0] } }, 'body/inputs/2/filename_prefix is a list, which ComfyUI reads as a link: send a list value as {"__value__": [...]}'],
      [BASIC, { "2": [] }, "body/inputs/2"],
    ];
    for (const [workflow, inputs, message] of cases) {
      const { res, body } = await s.submit(workflow, { inputs });
      expect([res.status, body.message]).toEqual([400, expect.stringContaining(message)]);
    }
    expect(s.fake.received.filter((r) => r.path === "/prompt").length).toBe(before);
    // Named by id, a title shared or not does not matter.
    expect((await s.submit(twins, { inputs: { "3": { filename_prefix: "c" } } })).res.status).toBe(202);
  });

  test("a retry takes inputs too: the same workflow again with a new value", async () => {
    const first = (await s.submit(BASIC)).body.workflowId;
    await s.until(first, ["completed"]);
    const res = await fetch(`${s.base}/v1/comfyui/workflow/${first}/retry`, { method: "POST", headers: json, body: JSON.stringify({ inputs: { "2": { filename_prefix: "retried" } } }) });
    expect(res.status).toBe(202);
    const again = await s.until((await res.json()).workflowId, ["completed"]);
    expect(again.outputs[0].filename).toMatch(/^retried_/);
  });
});
