/**
 * `inputs` of a submission or a retry: values set on the prompt's nodes, named by id or by title,
 * so that a script runs one saved workflow with a new prompt text, seed or size without editing its
 * JSON: `{"inputs": {"Positive prompt": {"text": "a red fox"}, "3": {"seed": 42}}}`.
 */
import { ApiError } from "../http/errors.ts";

/** Node (id or title) -> input name -> value. */
export type InputOverrides = Record<string, Record<string, unknown>>;

type PromptNode = { class_type: string; inputs?: unknown; _meta?: { title?: unknown } };

/** The id of the node `key` names: its id, else the one node with that title. A 400 says why there is none. */
function nodeNamed(prompt: Record<string, PromptNode>, key: string): string {
  if (Object.hasOwn(prompt, key)) return key;
  const titled = Object.keys(prompt).filter((id) => prompt[id]?._meta?.title === key);
  if (titled.length === 1) return titled[0]!;
  if (!titled.length) throw new ApiError(400, `body/inputs/${key}: no node of the workflow has that id or title`);
  throw new ApiError(400, `body/inputs/${key}: that title names nodes ${titled.join(", ")}; name one by its id`);
}

/** `prompt` with the overrides set (a copy; the prompt itself is left as it is). */
export function applyInputs(prompt: Record<string, unknown>, overrides: InputOverrides | undefined): Record<string, unknown> {
  if (!overrides || Object.keys(overrides).length === 0) return prompt;
  const out = structuredClone(prompt) as Record<string, PromptNode>;
  for (const [key, values] of Object.entries(overrides)) {
    const node = out[nodeNamed(out, key)]!;
    if (node.inputs === undefined) node.inputs = {};
    if (!node.inputs || typeof node.inputs !== "object" || Array.isArray(node.inputs)) throw new ApiError(400, `body/inputs/${key}: that node's inputs are not an object`);
    for (const [name, value] of Object.entries(values)) {
      // As the frontend does it: ComfyUI reads any list as a link to another node.
      if (Array.isArray(value)) throw new ApiError(400, `body/inputs/${key}/${name} is a list, which ComfyUI reads as a link: send a list value as {"__value__": [...]}`);
      (node.inputs as Record<string, unknown>)[name] = value;
    }
  }
  return out;
}
