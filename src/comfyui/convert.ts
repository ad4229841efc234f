/**
 * UI-format (litegraph) workflow -> API-format prompt, using the backend's /object_info, as ComfyUI's
 * own frontend builds it when it queues a workflow.
 *
 * - Note / MarkdownNote are dropped; Reroutes are resolved through; PrimitiveNode values are inlined
 *   into every widget they feed.
 * - Muted nodes (mode 2) are dropped with everything that depends on them; bypassed nodes (mode 4)
 *   pass their matching input through, as the frontend does.
 * - Widget values map to input names by `input_order`, skipping `control_after_generate` entries (or
 *   by name, where the frontend wrote `widgets_values_named`). An array value is sent boxed as
 *   `{"__value__": [...]}`, as the frontend sends it: a bare array would be read as a link.
 * - Linked inputs are found by the socket's name (both compressed and uncompressed slot styles).
 * - Subgraphs are flattened: a node inside an instance gets the id `<instance id>:<node id>` (nested:
 *   `10:3:8`), links through the subgraph's inputs and outputs are followed to what really feeds
 *   them, and an input nothing is linked to takes the instance's own widget value, else the value of
 *   the widget inside that it stands for. A muted or bypassed instance is muted or bypassed whole.
 */
import { ConversionError, type Graph, parseUiGraph, slotOf, type Subgraph, SUBGRAPH_INPUT, type UiGraph, type UiNode } from "./ui-graph.ts";

export { ConversionError, isUiWorkflow } from "./ui-graph.ts";

export type ObjectInfo = Record<string, NodeDef>;
interface NodeDef {
  input?: { required?: Record<string, InputSpec>; optional?: Record<string, InputSpec> };
  input_order?: { required?: string[]; optional?: string[] };
  display_name?: string | null;
  output?: string[];
}
type InputSpec = [unknown, Record<string, unknown>?] | [unknown];

export type ApiPrompt = Record<string, { inputs: Record<string, unknown>; class_type: string; _meta: { title: string } }>;

const UI_ONLY = new Set(["Note", "MarkdownNote"]);
const MUTED = 2;
const BYPASS = 4;
const WIDGET_TYPES = new Set(["INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"]);
/** Links followed for one input, through Reroutes, bypassed nodes and subgraph edges: more is a cycle. */
const MAX_HOPS = 512;
/** Subgraphs inside subgraphs; real ones nest a few deep. */
const MAX_NESTING = 32;
/** Nodes a workflow may flatten to: a few subgraphs of subgraphs could otherwise multiply into millions. */
const MAX_NODES = 10_000;

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
      const spec = Object.hasOwn(specs, name) ? specs[name] : undefined;
      if (!isWidget(spec)) continue;
      const o = (spec?.[1] ?? {}) as Record<string, unknown>;
      // The frontend serialises an extra value after these widgets (the control or upload widget).
      const extra = o.control_after_generate || o.image_upload ? 1 : 0;
      out.push({ name, extra });
    }
  }
  return out;
}

/** A widget value as POST /prompt takes it: ComfyUI reads any array as a link, so arrays go boxed. */
const literal = (value: unknown) => (Array.isArray(value) ? { __value__: value } : value);

type Source = { kind: "node"; id: string; slot: number } | { kind: "value"; value: unknown } | { kind: "dropped" } | { kind: "none" };
const NONE: Source = { kind: "none" };

/** A subgraph instance, and the scope it sits in. */
interface Host {
  node: UiNode;
  subgraph: Subgraph;
  scope: Scope;
}

/** Where a graph's nodes sit: the root (prefix ""), or inside an instance (prefix "10:", "10:3:"). */
interface Scope {
  graph: Graph;
  prefix: string;
  host?: Host;
  /** The subgraphs this scope is inside, so that one containing itself is caught. */
  within: ReadonlySet<string>;
}

/** A promoted input of a subgraph: one whose links inside reach a widget. */
interface Promoted {
  slot: number;
  target: UiNode;
  /** The widget's name on that node (for a nested instance, its input's name). */
  widget: string;
}

class Conversion {
  readonly #info: ObjectInfo;
  readonly #ui: UiGraph;
  readonly #built = new Map<string, { node: UiNode; def: NodeDef; inputs: Record<string, unknown>; deps: string[]; dropped: boolean }>();
  readonly #promoted = new Map<Subgraph, Promoted[]>();
  #expanded = 0;

  constructor(info: ObjectInfo, ui: UiGraph) {
    this.#info = info;
    this.#ui = ui;
  }

  /** Own entries only: a node typed "constructor" is not a node ComfyUI has. */
  #defOf(type: string): NodeDef | undefined {
    return Object.hasOwn(this.#info, type) ? this.#info[type] : undefined;
  }

  #subgraphOf(n: UiNode): Subgraph | undefined {
    return this.#defOf(n.type) ? undefined : this.#ui.subgraphs.get(n.type);
  }

  #enter(scope: Scope, node: UiNode, subgraph: Subgraph): Scope {
    const where = `${scope.prefix}${node.id}`;
    if (scope.within.has(subgraph.id)) throw new ConversionError(`Node ${where} is an instance of subgraph "${subgraph.name}" inside itself`);
    if (scope.within.size >= MAX_NESTING) throw new ConversionError(`Node ${where}: subgraphs nest more than ${MAX_NESTING} deep`);
    return { graph: subgraph, prefix: `${where}:`, host: { node, subgraph, scope }, within: new Set([...scope.within, subgraph.id]) };
  }

  /** Follows a link through Reroutes, bypassed nodes and subgraph edges to what really feeds it. */
  #resolve(scope: Scope, linkId: number | null | undefined, wantType: string | undefined, hops = 0): Source {
    if (linkId === null || linkId === undefined) return NONE;
    if (hops > MAX_HOPS) throw new ConversionError("Link cycle through Reroute, bypassed or subgraph nodes");
    const link = scope.graph.links.get(linkId);
    if (!link) return NONE;
    if (link.origin === SUBGRAPH_INPUT && scope.host) return this.#fromHost(scope.host, link.originSlot, wantType ?? link.type, hops + 1);
    const src = scope.graph.nodes.get(link.origin);
    if (!src) return NONE;
    if (src.mode === MUTED) return { kind: "dropped" };
    if (src.type === "PrimitiveNode") {
      const values = Array.isArray(src.widgets_values) ? src.widgets_values : [];
      return values.length ? { kind: "value", value: values[0] } : NONE;
    }
    if (src.type === "Reroute") return this.#resolve(scope, src.inputs?.[0]?.link, wantType ?? link.type, hops + 1);
    if (src.mode === BYPASS) {
      const type = wantType ?? link.type;
      const ins = src.inputs ?? [];
      const matches = (s: (typeof ins)[number]) => s.link != null && (type === "*" || s.type === type || s.type === "*");
      const preferred = ins[link.originSlot];
      const pick = preferred && matches(preferred) ? preferred : ins.find(matches);
      return pick ? this.#resolve(scope, pick.link, type, hops + 1) : NONE;
    }
    const subgraph = this.#subgraphOf(src);
    if (subgraph) {
      const inner = subgraph.outputLink.get(link.originSlot);
      return inner === undefined ? NONE : this.#resolve(this.#enter(scope, src, subgraph), inner, wantType ?? link.type, hops + 1);
    }
    return { kind: "node", id: `${scope.prefix}${link.origin}`, slot: link.originSlot };
  }

  /** What feeds input `slot` of an instance: the link to it outside, else its widget's value. */
  #fromHost(host: Host, slot: number, wantType: string, hops: number): Source {
    const name = host.subgraph.inputNames[slot];
    // By name: a frontend may leave out an instance's unlinked widget inputs, which shifts the rest.
    const input = name === undefined ? host.node.inputs?.[slot] : host.node.inputs?.find((s) => s.name === name);
    if (input?.link != null && host.scope.graph.links.has(input.link)) return this.#resolve(host.scope, input.link, wantType, hops + 1);
    const value = this.#promotedValue(host.node, host.subgraph, slot, 0);
    return value === undefined ? NONE : { kind: "value", value };
  }

  #promotedOf(subgraph: Subgraph): Promoted[] {
    let promoted = this.#promoted.get(subgraph);
    if (promoted) return promoted;
    promoted = [];
    for (const [slot, linkIds] of [...subgraph.inputLinks].sort(([a], [b]) => a - b)) {
      for (const linkId of linkIds) {
        const link = subgraph.links.get(linkId)!;
        const target = subgraph.nodes.get(link.target);
        const input = target && slotOf(target, linkId, link.targetSlot);
        if (target && input?.widget) {
          promoted.push({ slot, target, widget: this.#subgraphOf(target) ? input.name : input.widget.name });
          break;
        }
      }
    }
    this.#promoted.set(subgraph, promoted);
    return promoted;
  }

  /**
   * The value an instance gives its input `slot` when nothing is linked to it: its own widget's value
   * (`widgets_values`, one per promoted input, or by name), else that of the widget inside.
   */
  #promotedValue(node: UiNode, subgraph: Subgraph, slot: number, nesting: number): unknown {
    const promoted = this.#promotedOf(subgraph);
    const at = promoted.findIndex((p) => p.slot === slot);
    if (at < 0 || nesting > MAX_NESTING) return undefined;
    const name = subgraph.inputNames[slot];
    const named = node.widgets_values_named;
    if (named && name !== undefined && Object.hasOwn(named, name) && named[name] != null) return named[name];
    const values = node.widgets_values;
    if (Array.isArray(values)) {
      // Older frontends also wrote the value of a promoted widget's control (control_after_generate).
      const withControls = values.length > promoted.length;
      let i = 0;
      for (const p of promoted.slice(0, at)) i += withControls && this.#hasControl(p) ? 2 : 1;
      // A host value left unset is null: the widget inside supplies it.
      if (values[i] != null) return values[i];
    }
    const { target, widget } = promoted[at]!;
    const inner = this.#subgraphOf(target);
    if (inner) return this.#promotedValue(target, inner, inner.inputNames.indexOf(widget), nesting + 1);
    const def = this.#defOf(target.type);
    return def ? this.#widgetValues(target, def)[widget] : undefined;
  }

  #hasControl(p: Promoted): boolean {
    return !!widgetNames(this.#defOf(p.target.type) ?? {}).find((w) => w.name === p.widget && w.extra);
  }

  /** A node's widget values by input name. */
  #widgetValues(n: UiNode, def: NodeDef): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const values = n.widgets_values;
    const named = n.widgets_values_named;
    const widgets = widgetNames(def);
    if (Array.isArray(values)) {
      let i = 0;
      for (const w of widgets) {
        if (i < values.length) out[w.name] = values[i];
        i += 1 + w.extra;
      }
    } else if (values) {
      for (const w of widgets) if (Object.hasOwn(values, w.name)) out[w.name] = values[w.name];
    }
    if (named) for (const w of widgets) if (Object.hasOwn(named, w.name)) out[w.name] = named[w.name];
    return out;
  }

  /** Builds every node that runs in `scope`, instances' insides included. */
  emit(scope: Scope): void {
    for (const [id, n] of scope.graph.nodes) {
      if (n.type === "Reroute" || n.type === "PrimitiveNode" || UI_ONLY.has(n.type) || n.mode === MUTED) continue;
      if (++this.#expanded > MAX_NODES) throw new ConversionError(`The workflow flattens to more than ${MAX_NODES} nodes`);
      const def = this.#defOf(n.type);
      if (!def) {
        const subgraph = this.#ui.subgraphs.get(n.type);
        if (!subgraph) {
          const also = this.#ui.subgraphs.size ? ", nor is it one of the workflow's subgraphs" : "";
          throw new ConversionError(`Node ${scope.prefix}${id} has type "${n.type}", which this ComfyUI does not have (not in /object_info)${also}`);
        }
        if (n.mode !== BYPASS) this.emit(this.#enter(scope, n, subgraph));
        continue;
      }
      if (n.mode === BYPASS) continue;
      const inputs: Record<string, unknown> = {};
      for (const [name, value] of Object.entries(this.#widgetValues(n, def))) inputs[name] = literal(value);
      const deps: string[] = [];
      let dropped = false;
      for (const slot of n.inputs ?? []) {
        if (slot.link == null) continue;
        const src = this.#resolve(scope, slot.link, typeof slot.type === "string" ? slot.type : undefined);
        const name = slot.widget?.name ?? slot.name;
        if (src.kind === "dropped") dropped = true;
        else if (src.kind === "value") inputs[name] = literal(src.value);
        else if (src.kind === "node") {
          // A linked widget is an input, not a widget value: it moves after the widgets.
          delete inputs[name];
          inputs[name] = [src.id, src.slot];
          deps.push(src.id);
        }
      }
      this.#built.set(`${scope.prefix}${id}`, { node: n, def, inputs, deps, dropped });
    }
  }

  /** The prompt: what was built, less what a muted node drops (and what depends on that, onwards). */
  prompt(): ApiPrompt {
    const dropped = new Set([...this.#built].filter(([, b]) => b.dropped).map(([id]) => id));
    for (let changed = true; changed; ) {
      changed = false;
      for (const [id, b] of this.#built) {
        if (!dropped.has(id) && b.deps.some((d) => dropped.has(d) || !this.#built.has(d))) {
          dropped.add(id);
          changed = true;
        }
      }
    }
    const prompt: ApiPrompt = {};
    for (const [id, { node, def, inputs }] of this.#built) {
      if (!dropped.has(id)) prompt[id] = { inputs, class_type: node.type, _meta: { title: node.title ?? def.display_name ?? node.type } };
    }
    return prompt;
  }
}

/** Converts a UI workflow. Throws ConversionError for graphs it cannot express. */
export function convertUiWorkflow(input: unknown, objectInfo: ObjectInfo): ApiPrompt {
  const ui = parseUiGraph(input);
  const conversion = new Conversion(objectInfo, ui);
  conversion.emit({ graph: ui.root, prefix: "", within: new Set() });
  return conversion.prompt();
}
