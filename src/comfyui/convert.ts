/**
 * UI-format (litegraph) workflow -> API-format prompt, using the backend's /object_info.
 *
 * - Note / MarkdownNote are dropped; Reroutes are resolved through; PrimitiveNode values are inlined
 *   into every widget they feed.
 * - Muted nodes (mode 2) are dropped with everything that depends on them; bypassed nodes (mode 4)
 *   pass their matching input through, as the frontend does.
 * - Widget values map to input names by `input_order`, skipping `control_after_generate` entries.
 * - Linked inputs are found by the socket's name (both compressed and uncompressed slot styles).
 */
import { z } from "zod";

export type ObjectInfo = Record<string, NodeDef>;
interface NodeDef {
  input?: { required?: Record<string, InputSpec>; optional?: Record<string, InputSpec> };
  input_order?: { required?: string[]; optional?: string[] };
  display_name?: string | null;
  output?: string[];
}
type InputSpec = [unknown, Record<string, unknown>?] | [unknown];

export type ApiPrompt = Record<string, { inputs: Record<string, unknown>; class_type: string; _meta: { title: string } }>;

/** A workflow that cannot be converted; becomes a 400 naming the node. */
export class ConversionError extends Error {}

const id = z.union([z.number(), z.string()]);
/**
 * The fields of a UI workflow the conversion reads, each with the type it relies on (litegraph writes
 * null for many absent values, so those are allowed); anything else a workflow holds passes through.
 */
const UiWorkflowShape = z.looseObject({
  nodes: z.array(
    z.looseObject({
      id,
      type: z.string(),
      mode: z.number().nullish(),
      title: z.string().nullish(),
      inputs: z.array(z.looseObject({ name: z.string(), type: z.unknown(), link: z.number().nullish(), widget: z.looseObject({ name: z.string() }).nullish() })).nullish(),
      widgets_values: z.union([z.array(z.unknown()), z.record(z.string(), z.unknown())]).nullish(),
    }),
  ),
  links: z.array(
    z.union([
      z.tuple([z.number(), id, z.number(), id, z.number()], z.unknown()),
      z.looseObject({ id: z.number(), origin_id: id, origin_slot: z.number(), target_id: id, target_slot: z.number(), type: z.unknown() }),
    ]),
  ),
  definitions: z.looseObject({ subgraphs: z.array(z.looseObject({ id: z.string(), name: z.string().nullish() })).nullish() }).nullish(),
});

/** A UI-format workflow, as far as the conversion reads it. */
export type UiWorkflow = z.infer<typeof UiWorkflowShape>;
type UiNode = UiWorkflow["nodes"][number];
type UiSlot = NonNullable<UiNode["inputs"]>[number];

/** The workflow as the conversion reads it, or a ConversionError naming the first field that is not. */
function checkShape(workflow: unknown): UiWorkflow {
  const result = UiWorkflowShape.safeParse(workflow);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const where = issue.path.length ? issue.path.join("/") : "the workflow";
  throw new ConversionError(`${where}: ${issue.code === "invalid_union" ? "not a link (an array [id, origin, slot, target, slot, type] or an object)" : issue.message}`);
}

const UI_ONLY = new Set(["Note", "MarkdownNote"]);
const MUTED = 2;
const BYPASS = 4;
const WIDGET_TYPES = new Set(["INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"]);

/** Whether a workflow looks like the UI format (as opposed to API format). */
export function isUiWorkflow(w: unknown): boolean {
  return typeof w === "object" && w !== null && Array.isArray((w as { nodes?: unknown }).nodes) && Array.isArray((w as { links?: unknown }).links);
}

function isWidget(spec: InputSpec | undefined): boolean {
  if (!spec) return false;
  const [type, options] = spec;
  if ((options as Record<string, unknown> | undefined)?.forceInput) return false;
  return Array.isArray(type) || (typeof type === "string" && WIDGET_TYPES.has(type));
}

/** Names of a node's widgets, in the order their values are serialised. */
function widgetNames(def: NodeDef): { name: string; extra: number }[] {
  const out: { name: string; extra: number }[] = [];
  for (const group of ["required", "optional"] as const) {
    const specs = def.input?.[group] ?? {};
    const order = def.input_order?.[group] ?? Object.keys(specs);
    for (const name of order) {
      const spec = specs[name];
      if (!isWidget(spec)) continue;
      const o = (spec?.[1] ?? {}) as Record<string, unknown>;
      // The frontend serialises an extra value after these widgets (the control or upload widget).
      const extra = o.control_after_generate || o.image_upload ? 1 : 0;
      out.push({ name, extra });
    }
  }
  return out;
}

/** Converts a UI workflow. Throws ConversionError for graphs it cannot express. */
export function convertUiWorkflow(input: unknown, objectInfo: ObjectInfo): ApiPrompt {
  const workflow = checkShape(input);
  // Own entries only: a node typed "constructor" is not a node ComfyUI has.
  const defOf = (type: string): NodeDef | undefined => (Object.hasOwn(objectInfo, type) ? objectInfo[type] : undefined);
  const nodes = new Map<string, UiNode>();
  for (const n of workflow.nodes) nodes.set(String(n.id), n);
  const links = new Map<number, { origin: string; originSlot: number; type: string }>();
  for (const l of workflow.links ?? []) {
    if (Array.isArray(l)) links.set(l[0], { origin: String(l[1]), originSlot: l[2], type: String(l[5] ?? "*") });
    else links.set(l.id, { origin: String(l.origin_id), originSlot: l.origin_slot, type: String(l.type ?? "*") });
  }

  for (const n of nodes.values()) {
    if (n.type === "Reroute" || n.type === "PrimitiveNode" || UI_ONLY.has(n.type)) continue;
    if (n.mode === MUTED) continue;
    if (!defOf(n.type)) {
      const subgraph = workflow.definitions?.subgraphs?.find((d) => d.id === n.type);
      if (subgraph) {
        throw new ConversionError(
          `Node ${n.id} is a subgraph ("${subgraph.name ?? subgraph.id}"), which this API does not convert; submit the API format instead (in ComfyUI: Workflow > Export (API))`,
        );
      }
      throw new ConversionError(`Node ${n.id} has type "${n.type}", which this ComfyUI does not have (not in /object_info)`);
    }
  }

  type Source = { kind: "node"; id: string; slot: number } | { kind: "value"; value: unknown } | { kind: "dropped" } | { kind: "none" };

  /** Follows a link through Reroutes and bypassed nodes to what really feeds it. */
  const resolve = (linkId: number | null | undefined, wantType: string | undefined, depth = 0): Source => {
    if (linkId === null || linkId === undefined) return { kind: "none" };
    if (depth > 256) throw new ConversionError("Link cycle through Reroute or bypassed nodes");
    const link = links.get(linkId);
    if (!link) return { kind: "none" };
    const src = nodes.get(link.origin);
    if (!src) return { kind: "none" };
    if (src.mode === MUTED) return { kind: "dropped" };
    if (src.type === "PrimitiveNode") {
      const values = Array.isArray(src.widgets_values) ? src.widgets_values : [];
      return values.length ? { kind: "value", value: values[0] } : { kind: "none" };
    }
    if (src.type === "Reroute") return resolve(src.inputs?.[0]?.link, wantType ?? link.type, depth + 1);
    if (src.mode === BYPASS) {
      const type = wantType ?? link.type;
      const ins = src.inputs ?? [];
      const matches = (s: UiSlot) => s.link != null && (type === "*" || s.type === type || s.type === "*");
      const preferred = ins[link.originSlot];
      const pick = preferred && matches(preferred) ? preferred : ins.find(matches);
      return pick ? resolve(pick.link, type, depth + 1) : { kind: "none" };
    }
    return { kind: "node", id: link.origin, slot: link.originSlot };
  };

  const prompt: ApiPrompt = {};
  const dropped = new Set<string>();
  // Muted nodes drop what depends on them; repeat until nothing more drops.
  let changed = true;
  const built = new Map<string, { inputs: Record<string, unknown>; deps: string[] }>();
  for (const [id, n] of nodes) {
    if (n.mode === MUTED || n.mode === BYPASS || n.type === "Reroute" || n.type === "PrimitiveNode" || UI_ONLY.has(n.type)) continue;
    const def = defOf(n.type)!;
    const inputs: Record<string, unknown> = {};
    const values = n.widgets_values;
    if (Array.isArray(values)) {
      let i = 0;
      for (const w of widgetNames(def)) {
        if (i < values.length) inputs[w.name] = values[i];
        i += 1 + w.extra;
      }
    } else if (values && typeof values === "object") {
      for (const w of widgetNames(def)) if (w.name in values) inputs[w.name] = (values as Record<string, unknown>)[w.name];
    }
    const deps: string[] = [];
    let isDropped = false;
    for (const slot of n.inputs ?? []) {
      if (slot.link == null) continue;
      const src = resolve(slot.link, typeof slot.type === "string" ? slot.type : undefined);
      const name = slot.widget?.name ?? slot.name;
      if (src.kind === "dropped") isDropped = true;
      else if (src.kind === "value") inputs[name] = src.value;
      else if (src.kind === "node") {
        // A linked widget is an input, not a widget value: it moves after the widgets.
        delete inputs[name];
        inputs[name] = [src.id, src.slot];
        deps.push(src.id);
      }
    }
    if (isDropped) dropped.add(id);
    built.set(id, { inputs, deps });
  }
  while (changed) {
    changed = false;
    for (const [id, b] of built) {
      if (!dropped.has(id) && b.deps.some((d) => dropped.has(d) || !built.has(d))) {
        dropped.add(id);
        changed = true;
      }
    }
  }
  for (const [id, b] of built) {
    if (dropped.has(id)) continue;
    const n = nodes.get(id)!;
    const def = defOf(n.type)!;
    prompt[id] = { inputs: b.inputs, class_type: n.type, _meta: { title: n.title ?? def.display_name ?? n.type } };
  }
  return prompt;
}
