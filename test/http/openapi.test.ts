/**
 * The OpenAPI document against the server: every documented operation is driven with generated
 * valid and invalid input; no answer may be a 5xx or undocumented, and bodies must match their schema.
 */
import { afterAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { ZodType } from "zod";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { AGENTS, AUTH, tempDir, testApp, waitFor } from "../helpers.ts";
import { FakeComfyUI } from "../fake-comfyui.ts";

// Every provider installed (a missing CLI is a deliberate, documented 500, tested in tasks tests).
const providersFile = join(tempDir(), "providers.json");
// Each takes the task as an argument, as the real CLIs do.
const quick = { command: [join(AGENTS, "exit0.sh"), "{agent}", "{task}"] };
writeFileSync(providersFile, JSON.stringify({ "claude-flow": quick, gemini: quick, openai: quick, exit0: quick }));
// A reachable ComfyUI too: an unreachable one is a deliberate, documented 503 (tested in comfyui tests).
const fake = new FakeComfyUI({ nodeMs: 1 }).start();
// No cap on running tasks: valid bodies start many, and a full house (503) is tested in tasks tests.
const t = testApp({ MAX_ACTIVE_TASKS: "10000", PROVIDERS_FILE: providersFile, COMFYUI_URL: fake.url });
await waitFor(() => t.services.comfyui!.service.backends.get("local")!.connected);
afterAll(() => {
  t.close();
  fake.stop();
});

type RouteDef = {
  method: string;
  path: string;
  request?: { params?: ZodType; query?: ZodType; body?: { content: Record<string, { schema: ZodType }> } };
  responses: Record<string, { content?: Record<string, { schema: ZodType }> }>;
  security?: unknown[];
};
const routes = t.app.openAPIRegistry.definitions.filter((d) => d.type === "route").map((d) => (d as unknown as { route: RouteDef }).route);

describe("document", () => {
  test("is OpenAPI 3.1 with both security schemes and every route", async () => {
    const doc = await (await t.request("/docs/json")).json();
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.info.version).toBe((await import("../../package.json")).version);
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(["apiKeyAuth", "bearerAuth"]);
    expect(doc.components.securitySchemes.apiKeyAuth).toMatchObject({ type: "apiKey", in: "header", name: "X-API-Key" });
    for (const r of routes) expect(doc.paths[r.path.replace(/:(\w+)/g, "{$1}")]?.[r.method]).toBeDefined();
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>)) {
      for (const [method, op] of Object.entries(item)) {
        const statuses = Object.keys(op.responses);
        expect(statuses.some((s) => s.startsWith("2") || (s === "101" && path.endsWith("/stream")))).toBe(true);
        expect(statuses).toContain("500");
        if (!["/", "/health", "/ready", "/metrics"].includes(path)) expect(statuses).toEqual(expect.arrayContaining(["401", "403", "429"]));
        void method;
      }
    }
    const yaml = await (await t.request("/docs/yaml")).text();
    expect(yaml).toContain("openapi: 3.1.0");
    // Swagger UI revalidates the large document instead of fetching it again.
    for (const path of ["/docs/json", "/docs/yaml"]) {
      const etag = (await t.request(path)).headers.get("ETag");
      expect(etag).toMatch(/^W\/".+"$/);
      const again = await t.request(path, { headers: { "If-None-Match": etag! } });
      expect([again.status, await again.text()]).toEqual([304, ""]);
    }
  });
});

const UUID = fc.uuid();
// Any code point in strings: control characters and NUL included (a NUL in a task once got a 500).
// Object.prototype's names too: a provider "toString" once found Object.prototype.toString (a 500).
const PROTOTYPE_NAMES = fc.constantFrom("toString", "__proto__", "constructor", "hasOwnProperty");
const anyValue = fc.oneof(fc.string({ unit: "binary", maxLength: 20 }), fc.integer(), fc.boolean(), fc.constant(null), fc.constant("demo"), fc.constant(""), PROTOTYPE_NAMES, fc.array(fc.string(), { maxLength: 2 }));
/** Nested far past any real workflow (storing one this deep once overflowed JSON.stringify). */
const deeplyNested = (levels: number) => JSON.parse("[".repeat(levels) + "]".repeat(levels)) as unknown;

/** Bodies near the schema: known keys with good and bad values, sometimes extra keys, sometimes junk. */
function bodyArb(r: RouteDef) {
  const schema = r.request?.body?.content["application/json"]?.schema as unknown as { shape?: Record<string, unknown> } | undefined;
  const keys = Object.keys(schema?.shape ?? {});
  const good: Record<string, fc.Arbitrary<unknown>> = {
    agent: fc.constantFrom("coder", "a.b_c-1", "-bad", "", "x".repeat(101)),
    task: fc.constantFrom("say hi", "", "x".repeat(10_001), "nul\u0000byte", "two\nlines"),
    provider: fc.oneof(fc.constantFrom("exit0", "demo", "nope", ""), PROTOTYPE_NAMES),
    workflow: fc.constantFrom(
      { "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color: 0 } } },
      { "1": { class_type: "EmptyImage", inputs: { width: deeplyNested(1_000) } } },
      { nodes: [], links: [] },
    ),
    priority: fc.constantFrom("low", "normal", "high", "urgent"),
  };
  if (keys.length === 0) return fc.jsonValue().map((v) => v as unknown);
  const record = fc.dictionary(fc.constantFrom(...keys, "extra"), fc.oneof(anyValue, ...keys.map((k) => good[k] ?? anyValue)), { maxKeys: keys.length + 1 });
  // A valid body with one field changed: each field's edge values reach the handler beside valid others.
  const valid: Record<string, unknown> = { agent: "coder", task: "say hi", provider: "exit0", workflow: { "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color: 0 } } } };
  const template = Object.fromEntries(keys.filter((k) => k in valid).map((k) => [k, valid[k]]));
  const oneChanged = fc.constantFrom(...keys).chain((k) => fc.oneof(good[k] ?? anyValue, anyValue).map((v) => ({ ...template, [k]: v })));
  return fc.oneof(record, oneChanged, fc.jsonValue().map((v) => v as unknown));
}

/** Names a file may be sent under: ordinary, accented, and the ones that must be refused. */
const FILE_NAMES = fc.constantFrom("cat.png", "café [v2].png", ".hidden", "a/b.png", "a\\b.png", "..", "nul\u0000.png", "x".repeat(300));

/** Multipart forms near the schema: known fields, sometimes a file where text belongs or the reverse, sometimes extra ones. */
function formArb(r: RouteDef) {
  const schema = r.request?.body?.content["multipart/form-data"]?.schema as unknown as { shape?: Record<string, unknown> };
  const keys = Object.keys(schema.shape ?? {});
  const file = fc.record({ name: fc.oneof(FILE_NAMES, PROTOTYPE_NAMES), bytes: fc.uint8Array({ maxLength: 64 }) }).map(({ name, bytes }) => new File([bytes], name));
  const text = fc.oneof(anyValue.map(String), fc.constantFrom("true", "false", "local", "salad", "", "masks", "../up", "/abs"));
  const anyFields = fc.dictionary(fc.constantFrom(...keys, "type", "extra"), fc.oneof(file, text), { maxKeys: keys.length + 1 });
  // A valid upload with one field changed (or none): the handler's own checks and ComfyUI's answer.
  const valid = fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => ({ image: new File([bytes], "cat.png") }));
  const oneChanged = fc.tuple(valid, fc.constantFrom(...keys, "none"), fc.oneof(file, text)).map(([v, k, x]) => (k === "none" ? v : { ...v, [k]: x }));
  return fc.oneof(anyFields, oneChanged).map((fields) => {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.set(k, v);
    return form;
  });
}

function urlArb(r: RouteDef) {
  // Not "", "." or "..": URLs resolve them away ("/v1/tasks/." is "/v1/tasks/", the list with a
  // trailing slash, a 301), so no client can send them as a parameter.
  const params = fc.oneof(
    UUID,
    fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !s.includes("/") && !s.includes("?") && !s.includes("#") && s !== "." && s !== ".."),
  );
  const query = fc.dictionary(
    fc.constantFrom("status", "limit", "cursor", "type", "lastEventId", "workflowId", "subfolder", "gpu", "path", "tail", "zzz"),
    fc.oneof(fc.constantFrom("all", "running", "5", "0", "-1", "abc", "salad", "..", "../../etc/passwd", "src/main.go", "leak"), PROTOTYPE_NAMES, fc.string({ maxLength: 8 })),
    { maxKeys: 3 },
  );
  return fc.record({ id: params, query }).map(({ id, query }) => {
    const path = r.path.replace(/\{\w+\}|:\w+/g, encodeURIComponent(id));
    const qs = new URLSearchParams(query as Record<string, string>).toString();
    return path + (qs ? `?${qs}` : "");
  });
}

describe.each(routes.map((r) => [`${r.method.toUpperCase()} ${r.path}`, r] as const))("%s", (_name, r) => {
  test("generated input never gets a 5xx or an undocumented status, and bodies match the schema", async () => {
    const streaming = r.path.endsWith("/stream");
    const multipart = Boolean(r.request?.body?.content["multipart/form-data"]);
    await fc.assert(
      fc.asyncProperty(urlArb(r), multipart ? formArb(r) : bodyArb(r), async (url, body) => {
        const init: RequestInit = { method: r.method.toUpperCase(), headers: { ...AUTH } };
        if (multipart) init.body = body as FormData;
        else if (r.request?.body) {
          init.body = JSON.stringify(body);
          (init.headers as Record<string, string>)["Content-Type"] = "application/json";
        }
        const res = await t.request(url, init);
        const status = String(res.status);
        expect(res.status).toBeLessThan(500);
        expect(Object.keys(r.responses)).toContain(status);
        if (streaming && res.status === 200) {
          await res.body?.cancel();
          return;
        }
        const schema = r.responses[status]?.content?.["application/json"]?.schema;
        if (schema) {
          const json = await res.json();
          const parsed = schema.safeParse(json);
          if (!parsed.success) throw new Error(`${status} body does not match its schema: ${JSON.stringify(json).slice(0, 300)}`);
        } else await res.body?.cancel();
      }),
      { numRuns: 60 },
    );
  });
});
