/**
 * A UI-format (litegraph) workflow as the conversion reads it: the root graph and the subgraph
 * definitions it uses, each with its nodes by id and its links by id.
 *
 * Inside a subgraph definition, links from node -10 come in through the subgraph's inputs and links
 * to node -20 go out through its outputs; a node whose `type` is a definition's id is an instance of it.
 */
import { z } from "zod";

/** A workflow that cannot be converted; becomes a 400 naming the node. */
export class ConversionError extends Error {}

/** The subgraph's own input node and output node, inside a definition. */
export const SUBGRAPH_INPUT = "-10";
export const SUBGRAPH_OUTPUT = "-20";

const id = z.union([z.number(), z.string()]);
const node = z.looseObject({
  id,
  type: z.string(),
  mode: z.number().nullish(),
  title: z.string().nullish(),
  inputs: z.array(z.looseObject({ name: z.string(), type: z.unknown(), link: z.number().nullish(), widget: z.looseObject({ name: z.string() }).nullish() })).nullish(),
  widgets_values: z.union([z.array(z.unknown()), z.record(z.string(), z.unknown())]).nullish(),
  // Written beside widgets_values by newer frontends: the same values, by widget name.
  widgets_values_named: z.record(z.string(), z.unknown()).nullish(),
});
const link = z.union([
  z.tuple([z.number(), id, z.number(), id, z.number()], z.unknown()),
  z.looseObject({ id: z.number(), origin_id: id, origin_slot: z.number(), target_id: id, target_slot: z.number(), type: z.unknown() }),
]);
const slotNames = z.array(z.looseObject({ name: z.string() })).nullish();

/**
 * The fields of a UI workflow the conversion reads, each with the type it relies on (litegraph writes
 * null for many absent values, so those are allowed); anything else a workflow holds passes through.
 */
const UiWorkflowShape = z.looseObject({
  nodes: z.array(node),
  links: z.array(link),
  definitions: z
    .looseObject({
      subgraphs: z.array(z.looseObject({ id: z.string(), name: z.string().nullish(), nodes: z.array(node).nullish(), links: z.array(link).nullish(), inputs: slotNames, outputs: slotNames })).nullish(),
    })
    .nullish(),
});

export type UiNode = z.infer<typeof node>;
export type UiSlot = NonNullable<UiNode["inputs"]>[number];
export interface UiLink {
  origin: string;
  originSlot: number;
  target: string;
  targetSlot: number;
  type: string;
}

/** One graph: the root, or a subgraph definition. */
export interface Graph {
  nodes: Map<string, UiNode>;
  links: Map<number, UiLink>;
}

/** A subgraph definition: its graph, its inputs' names in slot order, and the links at its edges. */
export interface Subgraph extends Graph {
  id: string;
  name: string;
  inputNames: string[];
  /** Input slot -> the links that carry it to nodes inside, in the definition's order. */
  inputLinks: Map<number, number[]>;
  /** Output slot -> the link that brings it from a node inside. */
  outputLink: Map<number, number>;
}

/** A parsed UI workflow. */
export interface UiGraph {
  root: Graph;
  subgraphs: Map<string, Subgraph>;
}

function graphOf(nodes: UiNode[], links: z.infer<typeof link>[]): Graph {
  const byId = new Map<string, UiNode>();
  for (const n of nodes) byId.set(String(n.id), n);
  const linksById = new Map<number, UiLink>();
  for (const l of links) {
    if (Array.isArray(l)) linksById.set(l[0], { origin: String(l[1]), originSlot: l[2], target: String(l[3]), targetSlot: l[4], type: String(l[5] ?? "*") });
    else linksById.set(l.id, { origin: String(l.origin_id), originSlot: l.origin_slot, target: String(l.target_id), targetSlot: l.target_slot, type: String(l.type ?? "*") });
  }
  return { nodes: byId, links: linksById };
}

/** The workflow as the conversion reads it, or a ConversionError naming the first field that is not. */
export function parseUiGraph(workflow: unknown): UiGraph {
  const result = UiWorkflowShape.safeParse(workflow);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const where = issue.path.length ? issue.path.join("/") : "the workflow";
    throw new ConversionError(`${where}: ${issue.code === "invalid_union" ? "not a link (an array [id, origin, slot, target, slot, type] or an object)" : issue.message}`);
  }
  const w = result.data;
  const subgraphs = new Map<string, Subgraph>();
  for (const d of w.definitions?.subgraphs ?? []) {
    const graph = graphOf(d.nodes ?? [], d.links ?? []);
    const inputLinks = new Map<number, number[]>();
    const outputLink = new Map<number, number>();
    for (const [linkId, l] of graph.links) {
      if (l.origin === SUBGRAPH_INPUT) inputLinks.set(l.originSlot, [...(inputLinks.get(l.originSlot) ?? []), linkId]);
      if (l.target === SUBGRAPH_OUTPUT && !outputLink.has(l.targetSlot)) outputLink.set(l.targetSlot, linkId);
    }
    subgraphs.set(d.id, { ...graph, id: d.id, name: d.name ?? d.id, inputNames: (d.inputs ?? []).map((i) => i.name), inputLinks, outputLink });
  }
  return { root: graphOf(w.nodes, w.links), subgraphs };
}

/** Whether a workflow looks like the UI format (as opposed to API format). */
export function isUiWorkflow(w: unknown): boolean {
  return typeof w === "object" && w !== null && Array.isArray((w as { nodes?: unknown }).nodes) && Array.isArray((w as { links?: unknown }).links);
}

/** The input slot of `n` that a link arrives at: the one naming the link, else the slot at its index. */
export function slotOf(n: UiNode, linkId: number, index: number): UiSlot | undefined {
  return n.inputs?.find((s) => s.link === linkId) ?? n.inputs?.[index];
}
