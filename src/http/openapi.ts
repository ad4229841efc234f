/** Shared OpenAPI pieces: the error schema, error responses for route definitions, the validation hook. */
import { z } from "@hono/zod-openapi";
import type { Hook } from "@hono/zod-openapi";
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
  413: "Request body larger than BODY_LIMIT",
  415: "Request body is not application/json",
  426: "Not a WebSocket upgrade request",
  502: "The backend answered with an error",
  429: "Rate limit exceeded",
  500: "Unexpected server error",
  503: "Temporarily unavailable",
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

const TARGET_NAMES: Record<string, string> = { json: "body", query: "query", param: "path", header: "header" };

type Issue = { code: string; path: PropertyKey[]; message: string; input?: unknown; keys?: string[]; expected?: string };

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
  if (issue.code === "invalid_type") {
    const value = valueAt(input, issue.path);
    if (value === undefined && issue.path.length > 0) return `${parent} must have required property '${last}'`;
    if (value !== undefined && issue.expected) return `${where.join("/")} must be ${article(issue.expected)}, got ${preview(value)}`;
  }
  if (issue.code === "unrecognized_keys") {
    const keys = issue.keys ?? [];
    return `${where.join("/")} must NOT have additional ${keys.length > 1 ? "properties" : "property"} ${keys.map((k) => `'${k}'`).join(", ")}`;
  }
  return `${where.join("/")}: ${issue.message}`;
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
