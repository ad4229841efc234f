/** Property check for the UI -> API conversion: a workflow with a few of its values replaced by junk. */
import fc from "fast-check";
import { convertUiWorkflow, ConversionError, isUiWorkflow, type ObjectInfo } from "../../src/comfyui/convert.ts";

/** Every path inside a JSON value, for replacing what is there. */
function paths(o: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []) {
  if (o && typeof o === "object") {
    for (const [k, v] of Object.entries(o)) {
      const p = [...prefix, Array.isArray(o) ? Number(k) : k];
      out.push(p);
      paths(v, p, out);
    }
  }
  return out;
}

function withValueAt(w: unknown, path: (string | number)[], value: unknown) {
  const copy = structuredClone(w) as Record<string | number, unknown>;
  let o: unknown = copy;
  for (const key of path.slice(0, -1)) o = o && typeof o === "object" ? (o as Record<string | number, unknown>)[key] : undefined;
  if (o && typeof o === "object") (o as Record<string | number, unknown>)[path.at(-1)!] = value;
  return copy;
}

/** With up to three of its values replaced by `junk`, `ui` converts or is a ConversionError: never a TypeError (a 500). */
export function convertsOrRefuses(ui: unknown, info: ObjectInfo, junk: fc.Arbitrary<unknown>, numRuns = 1000) {
  const places = paths(ui);
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.constantFrom(...places), junk), { minLength: 1, maxLength: 3 }), (changes) => {
      const damaged = changes.reduce<unknown>((w, [path, value]) => withValueAt(w, path, value), ui);
      if (!isUiWorkflow(damaged)) return;
      try {
        convertUiWorkflow(damaged, info);
      } catch (err) {
        if (!(err instanceof ConversionError)) throw err;
      }
    }),
    { numRuns },
  );
}
