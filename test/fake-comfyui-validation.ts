/**
 * The fake ComfyUI's prompt validation, as ComfyUI's execution.validate_prompt does it: each
 * output node is validated with the nodes it depends on; outputs with an error are dropped, and
 * their errors reported in `node_errors` (each naming its `dependent_outputs`). With no output
 * left the prompt is refused (400); otherwise it is queued with the good outputs only, and the
 * answer still carries `node_errors` for the dropped ones.
 */
type Prompt = Record<string, { class_type?: string; inputs?: Record<string, unknown> }>;
type NodeInfo = Record<string, { input?: { required?: Record<string, unknown[]> }; output_node?: boolean }>;
type NodeError = { type: string; message: string; details: string; extra_info: Record<string, unknown> };

export interface Validation {
  outputs: string[];
  good: string[];
  nodeErrors: Record<string, { errors: NodeError[]; dependent_outputs: string[]; class_type: string }>;
}

function checkWidget(name: string, v: unknown, spec: unknown[]): NodeError | undefined {
  const [type, opts = {}] = spec as [unknown, { min?: number; max?: number }];
  const extra_info = { input_name: name, input_config: spec, received_value: v };
  if (Array.isArray(type)) {
    if (!type.includes(v)) return { type: "value_not_in_list", message: "Value not in list", details: `${name}: '${v}' not in [${type.map((t) => `'${t}'`).join(", ")}]`, extra_info };
    return undefined;
  }
  if (type === "INT" || type === "FLOAT") {
    const n = type === "INT" ? (typeof v === "number" ? Math.trunc(v) : /^-?\d+$/.test(String(v)) ? Number(v) : NaN) : Number(v);
    if (Number.isNaN(n) || typeof v === "boolean") {
      const why = type === "INT" ? `invalid literal for int() with base 10: '${v}'` : `could not convert string to float: '${v}'`;
      return { type: "invalid_input_type", message: `Failed to convert an input value to a ${type} value`, details: `${name}, ${v}, ${why}`, extra_info };
    }
    if (opts.min !== undefined && n < opts.min) return { type: "value_smaller_than_min", message: `Value ${n} smaller than min of ${opts.min}`, details: name, extra_info };
    if (opts.max !== undefined && n > opts.max) return { type: "value_bigger_than_max", message: `Value ${n} bigger than max of ${opts.max}`, details: name, extra_info };
  }
  return undefined;
}

/**
 * Inputs a node checks with its own VALIDATE_INPUTS rather than its combo list: LoadImage's `image`
 * must be a file in the input folder ("name" or "subfolder/name", optionally annotated " [input]").
 */
const INPUT_FILE_INPUTS: Record<string, string> = { LoadImage: "image", LoadImageMask: "image" };

function checkInputFile(name: string, v: unknown, inputFiles: Set<string>): NodeError | undefined {
  if (inputFiles.has(String(v).replace(/ \[input\]$/, ""))) return undefined;
  return { type: "custom_validation_failed", message: "Custom validation failed for node", details: `${name} - Invalid image file: ${v}`, extra_info: { input_name: name } };
}

/** The node itself and every node it takes an input from, transitively. */
export function dependencies(prompt: Prompt, id: string, seen = new Set<string>()): Set<string> {
  if (seen.has(id)) return seen;
  seen.add(id);
  for (const v of Object.values(prompt[id]?.inputs ?? {})) if (Array.isArray(v) && typeof v[0] === "string" && prompt[v[0]]) dependencies(prompt, v[0], seen);
  return seen;
}

/** Validates a prompt whose nodes all have a known class_type. */
export function validatePrompt(prompt: Prompt, info: NodeInfo, inputFiles: Set<string>): Validation {
  const outputs = Object.entries(prompt).filter(([, n]) => info[n.class_type!]!.output_node).map(([id]) => id);
  const errorsOf = new Map<string, NodeError[]>();
  for (const [id, n] of Object.entries(prompt)) {
    const required = info[n.class_type!]!.input?.required ?? {};
    for (const [name, spec] of Object.entries(required)) {
      const v = n.inputs?.[name];
      let e: NodeError | undefined;
      if (v === undefined) e = { type: "required_input_missing", message: "Required input is missing", details: name, extra_info: { input_name: name } };
      else if (Array.isArray(v) && typeof v[0] === "string" && !prompt[v[0]]) e = { type: "exception_during_validation", message: "Exception when validating node", details: `'${v[0]}'`, extra_info: {} };
      else if (!Array.isArray(v)) e = INPUT_FILE_INPUTS[n.class_type!] === name ? checkInputFile(name, v, inputFiles) : checkWidget(name, v, spec);
      if (e) errorsOf.set(id, [e]);
    }
  }
  const good: string[] = [];
  const nodeErrors: Validation["nodeErrors"] = {};
  for (const o of outputs) {
    const failing = [...dependencies(prompt, o)].filter((id) => errorsOf.has(id));
    if (!failing.length) good.push(o);
    for (const id of failing) (nodeErrors[id] ??= { errors: errorsOf.get(id)!, dependent_outputs: [], class_type: prompt[id]!.class_type! }).dependent_outputs.push(o);
  }
  return { outputs, good, nodeErrors };
}
