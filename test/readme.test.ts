/**
 * The README and the OpenAPI document agree: its endpoint table lists every documented operation,
 * and every `METHOD /path` it names anywhere is one of them (or a page the server serves). So a
 * route renamed or added in code fails here until the README says so too.
 */
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { AUTH, testApp } from "./helpers.ts";

const README = await Bun.file(join(import.meta.dir, "..", "README.md")).text();
const t = testApp();
afterAll(() => t.close());

/** Served, but outside the API's OpenAPI document: the document itself, Swagger UI, the dashboard. */
const PAGES = ["GET /docs", "GET /docs/json", "GET /docs/yaml", "GET /ui", "GET /favicon.ico"];
/** Named in the README's prose without being our operations. */
const NOT_OURS = new Set([
  "PUT /v1/tasks", // the example of a method a path does not take (405)
  "POST /queue", // ComfyUI's own API, which a cancellation calls
]);

/** Every documented operation as `METHOD /path`; the WebSocket upgrade is documented as a GET. */
const doc = (await (await t.request("/docs/json")).json()) as { paths: Record<string, Record<string, unknown>> };
const DOCUMENTED = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
/** What the README may name: the documented operations and the pages. */
const KNOWN = new Set([...DOCUMENTED, ...PAGES]);

/** `METHOD /path` with the query left off and a WebSocket's `WS` read as the GET it starts with. */
const operation = (method: string, path: string) => `${method === "WS" ? "GET" : method} ${path.split("?")[0]}`;

test("the endpoint table lists every documented operation and the pages, and nothing else", () => {
  const section = README.slice(README.indexOf("## Endpoints"), README.indexOf("\n## ", README.indexOf("## Endpoints") + 1));
  const listed = new Set<string>();
  for (const row of section.matchAll(/^\| `([A-Z]+) ([^`]+)`((?:, `[^`]+`)*) \|/gm)) {
    const [, method, first, more] = row as unknown as [string, string, string, string];
    // `GET /docs`, `/docs/json`, `/docs/yaml`: further paths of the same method.
    for (const path of [first, ...[...more.matchAll(/`([^`]+)`/g)].map((m) => m[1]!)]) listed.add(operation(method, path));
  }
  expect([...listed].filter((op) => !KNOWN.has(op))).toEqual([]);
  expect([...KNOWN].filter((op) => !listed.has(op))).toEqual([]);
});

test("every `METHOD /path` the README names is a documented operation or a page", () => {
  const named = [...README.matchAll(/`(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS|WS)\s+(\/[^`\s]*)[^`]*`/g)].map((m) => operation(m[1]!, m[2]!));
  expect(named.length).toBeGreaterThan(50);
  expect([...new Set(named)].filter((op) => !KNOWN.has(op) && !NOT_OURS.has(op))).toEqual([]);
});

test("the pages the table lists are served", async () => {
  for (const page of PAGES) {
    const res = await t.request(page.slice("GET ".length), { headers: AUTH });
    expect([page, res.status]).toEqual([page, 200]);
  }
});
