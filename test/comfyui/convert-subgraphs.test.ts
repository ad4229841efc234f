/**
 * UI workflows with subgraphs, flattened as ComfyUI's frontend flattens them when it queues one
 * (`<instance id>:<node id>`), and widget values in the forms newer frontends write.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { convertUiWorkflow, ConversionError, isUiWorkflow } from "../../src/comfyui/convert.ts";
import { FIXTURES } from "../helpers.ts";
import { convertsOrRefuses } from "./damage.ts";

const load = (f: string) => Bun.file(`${FIXTURES}/${f}`).json();
const info = await load("comfyui-protocol/object_info_full.json");
const basicUi = await load("comfyui-subgraphs/subgraph_basic_ui.json");
const nestedUi = await load("comfyui-subgraphs/subgraph_nested_ui.json");
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const copy = (w: Json): Json => structuredClone(w);
const nodeOf = (graph: Json, id: number) => graph.nodes.find((n: Json) => n.id === id);

describe("subgraphs", () => {
  test.each(["subgraph_basic", "subgraph_nested"])("%s converts exactly", async (name) => {
    const ui = await load(`comfyui-subgraphs/${name}_ui.json`);
    expect(isUiWorkflow(ui)).toBe(true);
    expect(convertUiWorkflow(ui, info)).toEqual(await load(`comfyui-subgraphs/${name}_expected_api.json`));
  });

  test("an instance with no values of its own takes those of the widgets inside; one left null too", () => {
    const ui = copy(basicUi);
    delete nodeOf(ui, 5).widgets_values;
    expect(convertUiWorkflow(ui, info)["5:1"]!.inputs).toEqual({ blur_radius: 1, sigma: 1.5, image: ["1", 0] });
    nodeOf(ui, 5).widgets_values = [4, null];
    expect(convertUiWorkflow(ui, info)["5:1"]!.inputs).toEqual({ blur_radius: 4, sigma: 1.5, image: ["1", 0] });
  });

  test("an instance's values by name (widgets_values_named) win over its positional ones", () => {
    const ui = copy(basicUi);
    nodeOf(ui, 5).widgets_values_named = { sigma: 0.8 };
    expect(convertUiWorkflow(ui, info)["5:1"]!.inputs).toMatchObject({ blur_radius: 3, sigma: 0.8 });
  });

  test("an input linked outside feeds the node inside; an instance whose unlinked widget inputs were left out still maps by name", () => {
    const ui = copy(basicUi);
    ui.nodes.push({ id: 8, type: "PrimitiveFloat", mode: 0, inputs: [], outputs: [{ name: "FLOAT", type: "FLOAT", links: [3] }], widgets_values: [0.6] });
    ui.links.push([3, 8, 0, 5, 2, "FLOAT"]);
    // The frontend's compressed form drops unlinked widget sockets: blur_radius goes, and sigma moves up.
    const [image, , sigma] = nodeOf(ui, 5).inputs;
    nodeOf(ui, 5).inputs = [image, { ...sigma, link: 3 }];
    expect(convertUiWorkflow(ui, info)["5:1"]!.inputs).toEqual({ blur_radius: 3, sigma: ["8", 0], image: ["1", 0] });
  });

  test("two instances of one subgraph are separate nodes, each with its own values", () => {
    const ui = copy(basicUi);
    ui.nodes.push({ ...copy(nodeOf(ui, 5)), id: 6, widgets_values: [7, 0.3], outputs: [{ name: "IMAGE", type: "IMAGE", links: [3] }] });
    ui.nodes.push({ ...copy(nodeOf(ui, 2)), id: 7, inputs: [{ name: "images", type: "IMAGE", link: 3 }], widgets_values: ["second"] });
    nodeOf(ui, 6).inputs[0].link = 4;
    nodeOf(ui, 1).outputs[0].links.push(4);
    ui.links.push([3, 6, 0, 7, 0, "IMAGE"], [4, 1, 0, 6, 0, "IMAGE"]);
    const out = convertUiWorkflow(ui, info);
    expect(out["5:1"]!.inputs).toMatchObject({ blur_radius: 3, sigma: 2.5 });
    expect(out["6:1"]!.inputs).toMatchObject({ blur_radius: 7, sigma: 0.3, image: ["1", 0] });
    expect(out["7"]!.inputs).toEqual({ filename_prefix: "second", images: ["6:2", 0] });
    expect(out["2"]!.inputs.images).toEqual(["5:2", 0]);
  });

  test("a muted instance is dropped with what depends on it; a bypassed one passes its matching input through", () => {
    const muted = copy(basicUi);
    nodeOf(muted, 5).mode = 2;
    expect(Object.keys(convertUiWorkflow(muted, info))).toEqual(["1"]);
    const bypassed = copy(basicUi);
    nodeOf(bypassed, 5).mode = 4;
    const out = convertUiWorkflow(bypassed, info);
    expect(Object.keys(out).sort()).toEqual(["1", "2"]);
    expect(out["2"]!.inputs.images).toEqual(["1", 0]);
  });

  test("older frontends wrote a promoted seed's control value too; it is skipped", () => {
    const ui = copy(nestedUi);
    // Unlink seed (it then takes the instance's value), and promote strength as a second input.
    ui.links = ui.links.filter((l: Json) => l[0] !== 2);
    ui.nodes = ui.nodes.filter((n: Json) => n.id !== 2);
    const host = nodeOf(ui, 3);
    host.inputs[1].link = null;
    host.inputs.push({ name: "strength", type: "FLOAT", widget: { name: "strength" }, link: null });
    const noise = ui.definitions.subgraphs[0];
    noise.inputs.push({ id: "strength-input", name: "strength", type: "FLOAT", linkIds: [6], pos: [100, 60] });
    noise.links.push({ id: 6, origin_id: -10, origin_slot: 2, target_id: 1, target_slot: 2, type: "FLOAT" });
    nodeOf(noise, 1).inputs.push({ name: "strength", type: "FLOAT", widget: { name: "strength" }, link: 6 });
    for (const values of [
      [42, 0.75],
      [42, "randomize", 0.75],
    ]) {
      host.widgets_values = values;
      expect(convertUiWorkflow(ui, info)["3:1"]!.inputs).toEqual({ seed: 42, strength: 0.75, image: ["1", 0] });
    }
  });

  test("the shared template: what it defines is flattened, and the instance of a subgraph it lacks is named", async () => {
    const ui = await load("comfyui-workflows/subgraph_template_ui.json");
    const templateInfo = await load("comfyui-workflows/subgraph_object_info.json");
    expect(() => convertUiWorkflow(ui, templateInfo)).toThrow(
      `Node 19:3 has type "6d92985e-3e1e-49e2-acea-91c5259d86a8", which this ComfyUI does not have (not in /object_info), nor is it one of the workflow's subgraphs`,
    );
    ui.nodes = ui.nodes.filter((n: Json) => n.id !== 19);
    const out = convertUiWorkflow(ui, templateInfo);
    expect(Object.keys(out).sort()).toEqual(["10:3:1", "10:3:2", "10:3:3", "10:3:6", "10:3:7", "10:3:8", "10:3:9", "10:8", "10:9", "5"]);
    // The image model's prompt comes out of the nested subgraph's output; its aspect ratio, linked to
    // nothing outside, from the widget inside; its seed's control value is skipped.
    expect(out["10:9"]!.inputs).toMatchObject({ prompt: ["10:3:1", 0], aspect_ratio: "16:9", seed: 1, resolution: "2K" });
    expect(out["10:3:1"]!.inputs).toMatchObject({ string: ["10:3:7", 0], regex_pattern: ["10:3:8", 0], mode: "First Group" });
    expect(out["10:3:7"]!.inputs).toEqual({ value: "" });
    expect(out["10:8"]!.inputs).toEqual({ "images.image1": ["10:9", 0] });
  });

  test("a subgraph inside itself, or one that multiplies past 10,000 nodes, is a ConversionError", () => {
    const ui = copy(basicUi);
    const def = ui.definitions.subgraphs[0];
    def.nodes.push({ id: 9, type: def.id, mode: 0, inputs: [], outputs: [] });
    expect(() => convertUiWorkflow(ui, info)).toThrow('Node 5:9 is an instance of subgraph "Blur and invert" inside itself');

    // Five levels of ten instances each: 100,000 EmptyImages from a few kilobytes.
    const levels = Array.from({ length: 5 }, (_, i) => ({
      id: `level-${i}`,
      name: `level ${i}`,
      nodes: Array.from({ length: 10 }, (_, j) => ({ id: j + 1, type: i === 4 ? "EmptyImage" : `level-${i + 1}`, mode: 0, widgets_values: [8, 8, 1, 0] })),
      links: [],
    }));
    const bomb = { nodes: [{ id: 1, type: "level-0", mode: 0 }], links: [], definitions: { subgraphs: levels } };
    expect(() => convertUiWorkflow(bomb, info)).toThrow("The workflow flattens to more than 10000 nodes");
  });

  test.each([
    ["subgraph_basic", basicUi],
    ["subgraph_nested", nestedUi],
  ])("%s with up to three values replaced: converted, or a ConversionError", (_name, ui) => {
    const junk = fc.oneof(fc.constantFrom(null, undefined, [], {}, "", "*", -10, -20, "Reroute", "IMAGE", ui.definitions.subgraphs[0].id), fc.integer({ min: -21, max: 12 }));
    convertsOrRefuses(ui, info, junk);
  });
});

describe("widget values", () => {
  test("by name (widgets_values_named) where the frontend wrote them, taking only the node's inputs", async () => {
    const ui = await load("comfyui-workflows/basic_ui.json");
    ui.nodes[0].widgets_values_named = { width: 128, control_after_generate: "fixed", constructor: 1 };
    expect(convertUiWorkflow(ui, info)["1"]!.inputs).toEqual({ width: 128, height: 64, batch_size: 1, color: 0 });
  });

  test("an array value goes boxed as {__value__}, as the frontend sends it, never as a link", async () => {
    const ui = await load("comfyui-workflows/basic_ui.json");
    ui.nodes[1].widgets_values = [["2", 0]];
    expect(convertUiWorkflow(ui, info)["2"]!.inputs.filename_prefix).toEqual({ __value__: ["2", 0] });
    const primitive = await load("comfyui-workflows/primitive_ui.json");
    const node = primitive.nodes.find((n: Json) => n.type === "PrimitiveNode" && n.widgets_values[0] === "primitive");
    node.widgets_values = [["a", "b"]];
    expect(convertUiWorkflow(primitive, info)["2"]!.inputs.filename_prefix).toEqual({ __value__: ["a", "b"] });
  });
});
