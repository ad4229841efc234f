/** Every UI -> API pair of the shared vectors (copied into test/fixtures/comfyui-workflows) converts exactly. */
import { describe, expect, test } from "bun:test";
import { convertUiWorkflow, ConversionError, isUiWorkflow } from "../../src/comfyui/convert.ts";
import { FIXTURES } from "../helpers.ts";

const dir = `${FIXTURES}/comfyui-workflows`;
const load = (f: string) => Bun.file(`${dir}/${f}`).json();
const fullObjectInfo = await Bun.file(`${FIXTURES}/comfyui-protocol/object_info_full.json`).json();

describe("UI -> API conversion", () => {
  test.each(["basic", "blur_chain", "muted_bypassed", "primitive", "seed_control"])("%s", async (name) => {
    const ui = await load(`${name}_ui.json`);
    expect(isUiWorkflow(ui)).toBe(true);
    expect(convertUiWorkflow(ui, fullObjectInfo)).toEqual(await load(`${name}_expected_api.json`));
  });

  test("sd15 template (comfy-cli fixture) with its own object_info", async () => {
    const out = convertUiWorkflow(await load("sd15_ui_workflow.json"), await load("sd15_object_info.json"));
    expect(out).toEqual(await load("sd15_expected_api.json"));
  });

  test("an API-format prompt is not mistaken for a UI workflow", async () => {
    expect(isUiWorkflow(await load("basic_expected_api.json"))).toBe(false);
  });

  test("a workflow with subgraphs says so, rather than calling the subgraph a missing node type", async () => {
    const ui = await load("subgraph_template_ui.json");
    expect(isUiWorkflow(ui)).toBe(true);
    expect(() => convertUiWorkflow(ui, fullObjectInfo)).toThrow(
      'Node 10 is a subgraph ("New Subgraph"), which this API does not convert; submit the API format instead (in ComfyUI: Workflow > Export (API))',
    );
  });

  test("a node type the backend lacks is a clear error", async () => {
    const ui = await load("basic_ui.json");
    ui.nodes[0].type = "NoSuchNode";
    expect(() => convertUiWorkflow(ui, fullObjectInfo)).toThrow(ConversionError);
    expect(() => convertUiWorkflow(ui, fullObjectInfo)).toThrow('Node 1 has type "NoSuchNode"');
  });
});
