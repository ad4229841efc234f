/** Every UI -> API pair of the shared vectors (copied into test/fixtures/comfyui-workflows) converts exactly. */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { convertUiWorkflow, ConversionError, isUiWorkflow } from "../../src/comfyui/convert.ts";
import { FIXTURES } from "../helpers.ts";
import { convertsOrRefuses } from "./damage.ts";

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

  test("a node type the backend lacks is a clear error", async () => {
    const ui = await load("basic_ui.json");
    ui.nodes[0].type = "NoSuchNode";
    expect(() => convertUiWorkflow(ui, fullObjectInfo)).toThrow(ConversionError);
    expect(() => convertUiWorkflow(ui, fullObjectInfo)).toThrow('Node 1 has type "NoSuchNode"');
    // Nor does it have the names every JavaScript object answers to.
    for (const type of ["constructor", "toString", "__proto__"]) {
      ui.nodes[0].type = type;
      expect(() => convertUiWorkflow(ui, fullObjectInfo)).toThrow(`Node 1 has type "${type}", which this ComfyUI does not have`);
    }
  });

  test("a malformed workflow names the field, never a TypeError (which would be a 500)", async () => {
    const ui = await load("basic_ui.json");
    ui.nodes[1] = null;
    expect(() => convertUiWorkflow(ui, fullObjectInfo)).toThrow("nodes/1: Invalid input: expected object, received null");
    const links = await load("basic_ui.json");
    links.links[0] = [1, 2];
    expect(() => convertUiWorkflow(links, fullObjectInfo)).toThrow("links/0: not a link (an array [id, origin, slot, target, slot, type] or an object)");
  });
});

describe("UI -> API conversion of damaged workflows", () => {
  const junk = fc.oneof(
    fc.constantFrom(null, undefined, [], {}, "", "*", "Reroute", "PrimitiveNode", "EmptyImage", "IMAGE", "INT"),
    fc.integer({ min: -3, max: 12 }),
    fc.array(fc.integer({ min: -1, max: 12 }), { maxLength: 6 }),
  );
  test.each(["primitive", "muted_bypassed", "seed_control"])("%s with up to three values replaced: converted, or a ConversionError", async (name) => {
    convertsOrRefuses(await load(`${name}_ui.json`), fullObjectInfo, junk);
  });
});
