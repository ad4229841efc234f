/**
 * Labels: a client's own names for a task or workflow (`{"job": "1234", "repo": "shop"}`), kept with
 * it, shown with it (in its webhook too), and used to find or stop the ones that carry them
 * (`?label=job=1234`). Stored as a JSON object in a TEXT column, NULL for none.
 */
import { z } from "@hono/zod-openapi";

export type Labels = Record<string, string>;

export const MAX_LABELS = 32;
const KEY = /^[A-Za-z0-9][A-Za-z0-9_.\/-]{0,62}$/;
const KEY_RULE = "a label's name is 1 to 63 letters, digits, '_', '.', '/' or '-', starting with a letter or digit";

/** The request field. */
export function labelsField(description: string) {
  return z
    .record(z.string().regex(KEY, KEY_RULE), z.string().max(256))
    .refine((l) => Object.keys(l).length <= MAX_LABELS, `at most ${MAX_LABELS} labels`)
    .nullable()
    .optional()
    .openapi({ description, example: { job: "1234", repo: "shop" } });
}

/** `?label=name=value`, repeatable: those that carry every one of them. */
export const labelQuery = z
  .preprocess(
    (v) => (typeof v === "string" ? [v] : v),
    z
      .array(z.string().regex(new RegExp(`^${KEY.source.slice(1, -1)}=`), "must be name=value, the name as labels take it").max(400))
      .max(MAX_LABELS),
  )
  .transform((pairs) => Object.fromEntries(pairs.map((p) => [p.slice(0, p.indexOf("=")), p.slice(p.indexOf("=") + 1)])) as Labels)
  .optional()
  .openapi({
    param: { style: "form", explode: true },
    description: "Only those labelled so: `name=value`, repeatable (each must match)",
    example: ["job=1234"] as never,
  });

/** The labels of a record's column: {} for none. */
export function parseLabels(stored: string | null): Labels {
  return stored === null ? {} : (JSON.parse(stored) as Labels);
}

/** The column's value for a request's labels: null for none. */
export function storeLabels(labels: Labels | null | undefined): string | null {
  return labels && Object.keys(labels).length ? JSON.stringify(labels) : null;
}

/** Whether a record's labels carry every label of `wanted`. */
export function hasLabels(stored: string | null, wanted: Labels | undefined): boolean {
  if (!wanted) return true;
  const have = parseLabels(stored);
  return Object.entries(wanted).every(([k, v]) => have[k] === v);
}

/** The SQL condition and parameters that keep the rows labelled as `wanted` (names as KEY allows them, so no quoting issues). */
export function labelsWhere(wanted: Labels | undefined): { sql: string[]; params: Record<string, string> } {
  const sql: string[] = [];
  const params: Record<string, string> = {};
  Object.entries(wanted ?? {}).forEach(([k, v], i) => {
    sql.push(`json_extract(labels, $labelPath${i}) = $labelValue${i}`);
    params[`labelPath${i}`] = `$."${k}"`;
    params[`labelValue${i}`] = v;
  });
  return { sql, params };
}
