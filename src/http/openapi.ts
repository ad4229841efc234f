/** Shared OpenAPI pieces: the error schema, error responses for route definitions, the validation hook. */
import { z } from "@hono/zod-openapi";
import type { Hook } from "@hono/zod-openapi";
import { decodeCursor } from "../db.ts";
import { ApiError, STATUS_TEXT } from "./errors.ts";
import type { AppEnv } from "./types.ts";

export const ErrorSchema = z
  .object({
    error: z.string().openapi({ example: "Bad Request" }),
    message: z.string().openapi({ example: "body must have required property 'agent'" }),
    statusCode: z.number().int().openapi({ example: 400 }),
    requestId: z.string().openapi({ example: "4b0c8f7e-6a55-4f0b-9d1a-2f1e6f1b9c3a" }),
    details: z.unknown().optional(),
    currentStatus: z.string().optional().openapi({ description: "On 409: the resource's current status" }),
    retryAfter: z.number().int().optional().openapi({ description: "On 429: seconds until the window resets" }),
  })
  .openapi("Error");

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: "Invalid input",
  401: "Missing or malformed credentials",
  403: "Invalid API token",
  404: "Not found",
  406: "Unsupported API version requested in Accept",
  409: "Conflict with the resource's current state",
  413: "Request body larger than BODY_LIMIT (UPLOAD_LIMIT for an upload)",
  415: "Request body is not application/json (multipart/form-data for an upload)",
  416: "The byte range asked for is not in the file",
  422: "The Idempotency-Key was used for a different request",
  426: "Not a WebSocket upgrade request",
  502: "The backend answered with an error",
  429: "Rate limit exceeded",
  500: "Unexpected server error",
  503: "Temporarily unavailable",
  507: "No space left on the server's disk",
};

/** Statuses every protected route can answer with, whatever it does. */
export const PROTECTED_ERRORS = [401, 403, 406, 429, 500] as const;

/** Error responses for `createRoute({ responses })`, each with the common error schema. */
export function errorResponses(...statuses: number[]) {
  const out: Record<number, { description: string; content: { "application/json": { schema: typeof ErrorSchema } } }> = {};
  for (const s of statuses) {
    out[s] = { description: ERROR_DESCRIPTIONS[s] ?? STATUS_TEXT[s] ?? "Error", content: { "application/json": { schema: ErrorSchema } } };
  }
  return out;
}

/** A JSON response entry for `createRoute({ responses })`. */
export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}

/** The 200 of a Server-Sent Events route. */
export const eventStreamDoc = { description: "An event stream", content: { "text/event-stream": { schema: z.string() } } };

const TARGET_NAMES: Record<string, string> = { json: "body", query: "query", param: "path", header: "header" };

type Issue = {
  code: string;
  path: PropertyKey[];
  message: string;
  input?: unknown;
  keys?: string[];
  expected?: string;
  values?: unknown[];
  origin?: string;
  minimum?: number | bigint;
  maximum?: number | bigint;
  inclusive?: boolean;
  /** An invalid_key issue's own: what the record's key schema said of the key. */
  issues?: { message: string }[];
};

const UNITS: Record<string, string> = { string: "characters", array: "items", set: "items", file: "bytes" };

/** "at least 1", "at most 10000 characters", "more than 0" for a too_small / too_big issue. */
function limitText(issue: Issue): string | undefined {
  const small = issue.code === "too_small";
  const limit = small ? issue.minimum : issue.maximum;
  if (limit === undefined) return undefined;
  const relation = issue.inclusive === false ? (small ? "more than" : "less than") : small ? "at least" : "at most";
  const unit = UNITS[issue.origin ?? ""];
  return unit ? `${relation} ${limit} ${unit}` : `${relation} ${limit}`;
}

/** What a message says the client sent: a length for strings and arrays checked by size. */
function sent(issue: Issue, value: unknown): string {
  if (issue.origin === "string" && typeof value === "string") return `${value.length}`;
  if (issue.origin === "array" && Array.isArray(value)) return `${value.length}`;
  return preview(value);
}

/** A received value as an error message quotes it: a string quoted, a structure only named, at most 40 characters. */
export function preview(v: unknown): string {
  if (Array.isArray(v)) return "an array";
  if (v !== null && typeof v === "object") return "an object";
  const text = typeof v === "string" ? `'${v}'` : String(v);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

const article = (word: string) => (/^[aeiou]/.test(word) ? `an ${word}` : `a ${word}`);

/** The value at `path` in the input, or undefined where it is absent. */
function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let v = input;
  for (const key of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

/**
 * Formats one zod issue as "body must have required property 'agent'" and friends. `input` is what
 * was validated: a field is reported missing only when it is absent there. zod reports a present
 * value of the wrong type with the same code, and for a coerced one (`?limit=abc`) says it
 * "received NaN"; the message names the value the client sent instead.
 */
export function describeIssue(target: string, issue: Issue, input?: unknown): string {
  const where = [TARGET_NAMES[target] ?? target, ...issue.path.map(String)];
  const parent = where.slice(0, -1).join("/");
  const last = where[where.length - 1];
  const field = where.join("/");
  const value = valueAt(input, issue.path);
  // A missing field fails its type check, or a custom one (a form's file): either way it is missing.
  if ((issue.code === "invalid_type" || issue.code === "custom") && value === undefined && issue.path.length > 0) return `${parent} must have required property '${last}'`;
  if (issue.code === "invalid_type") {
    if (issue.expected === "int" && typeof value !== "object") return `${field} must be a whole number, got ${preview(value)}`;
    // JSON has objects; "record" is zod's word for one with any keys.
    const expected = issue.expected === "record" ? "object" : issue.expected;
    if (value !== undefined && expected) return `${field} must be ${article(expected)}, got ${preview(value)}`;
  }
  if (issue.code === "invalid_value" && issue.values?.length && value !== undefined) {
    const options = issue.values.map((v) => String(v)).join(", ");
    return `${field} must be ${issue.values.length === 1 ? options : `one of: ${options}`}; got ${preview(value)}`;
  }
  if ((issue.code === "too_small" || issue.code === "too_big") && value !== undefined) {
    // A coerced query value: "?limit=" or "?limit= " reads as 0, which is no number the client wrote.
    if (issue.origin === "number" && typeof value === "string" && value.trim() === "") return `${field} must be a number, got ${preview(value)}`;
    const range = limitText(issue);
    if (range) return `${field} must be ${range}, got ${sent(issue, value)}`;
  }
  // A record's key its key schema refused: zod says only "Invalid key in record"; the rule is inside.
  if (issue.code === "invalid_key") return `${parent}: '${last}' is not allowed as a name: ${issue.issues?.[0]?.message ?? issue.message}`;
  if (issue.code === "unrecognized_keys") {
    const keys = issue.keys ?? [];
    return `${field} must NOT have additional ${keys.length > 1 ? "properties" : "property"} ${keys.map((k) => `'${k}'`).join(", ")}`;
  }
  return `${field}: ${issue.message}`;
}

/** The one validation hook: failed request validation becomes a 400 naming the field. */
export const validationHook: Hook<unknown, AppEnv, string, unknown> = (result) => {
  if (result.success) return;
  // @hono/zod-validator passes the validated input as `data` on failure too; its types omit it.
  const { target, data } = result as unknown as { target: string; data: unknown };
  const issues = (result.error as { issues: Issue[] }).issues;
  const messages = issues.map((i) => describeIssue(target, i, data));
  throw new ApiError(400, messages[0] ?? "Invalid request", {
    details: issues.map((i, n) => ({ location: TARGET_NAMES[target] ?? target, path: i.path.map(String), code: i.code, message: messages[n] })),
  });
};

/**
 * The `?status=` of a list: one status, or several separated by commas (`?status=queued,running`;
 * a repeated `?status=` adds to them), as OpenAPI's form style without explode describes it.
 */
export function statusListQuery<const T extends readonly [string, ...string[]]>(statuses: T, description: string) {
  return statusList(statuses).optional().openapi({ param: { style: "form", explode: false }, description, example: [statuses[0]] as never });
}

/** A `?status=` list that must be given (what a bulk operation applies to). */
export function requiredStatusListQuery<const T extends readonly [string, ...string[]]>(statuses: T, description: string) {
  return statusList(statuses).openapi({ param: { style: "form", explode: false }, description, example: [statuses[0]] as never });
}

function statusList<const T extends readonly [string, ...string[]]>(statuses: T) {
  const items = (v: unknown) => (typeof v === "string" ? v.split(",") : Array.isArray(v) ? v.flatMap((x) => (typeof x === "string" ? x.split(",") : [x])) : v);
  const known = new Set<string>(statuses);
  const list = z.array(z.string().openapi({ enum: [...statuses] })).min(1).superRefine((values, ctx) => {
    // Reported on the field, as for a single status: the message quotes the value as sent.
    if (values.some((v) => !known.has(v))) ctx.addIssue({ code: "invalid_value", values: [...statuses], path: [], message: "unknown status" });
  });
  return z.preprocess(items, list as unknown as z.ZodType<T[number][]>);
}

/** The `?cursor=` of a paged list: only a `nextCursor` this API gave (see db.ts) passes. */
export const cursorQuery = z
  .string()
  .max(200)
  .refine((c) => decodeCursor(c) !== undefined, "not a cursor returned by this API")
  .optional()
  .openapi({ description: "nextCursor of the previous page" });

/** 30 days: a longer time limit is a typo more often than a plan. */
const MAX_TIMEOUT_SECONDS = 30 * 86_400;

/** The `timeoutSeconds` of a request that starts something: a time limit, 0 for none, absent for the setting's default. */
export function timeoutSecondsField(description: string) {
  return z.number().int().min(0).max(MAX_TIMEOUT_SECONDS).optional().openapi({ description, example: 3600 });
}
