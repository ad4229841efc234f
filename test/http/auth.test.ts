/** The auth matrix runs against every protected operation of the OpenAPI document, so new routes are covered. */
import { afterAll, describe, expect, test } from "bun:test";
import { openApiDocument } from "../../src/http/docs.ts";
import { AUTH, KEY, testApp } from "../helpers.ts";

const READ_ONLY_KEY = "read-only-key-0123456789";
const t = testApp({ MANAGEMENT_API_KEYS: "rotated-key-2", MANAGEMENT_API_READONLY_KEYS: READ_ONLY_KEY });
afterAll(() => t.close());

const doc = openApiDocument(t.app, { title: "t", version: "0", description: "" });
const SAMPLE_ID = "00000000-0000-4000-8000-000000000000";
const operations = Object.entries(doc.paths ?? {}).flatMap(([path, item]) =>
  Object.entries(item as Record<string, { security?: unknown[] }>)
    .filter(([m]) => ["get", "post", "put", "patch", "delete"].includes(m))
    .map(([method, op]) => ({ method: method.toUpperCase(), path: path.replace(/\{[^}]+\}/g, SAMPLE_ID), open: Array.isArray(op.security) && op.security.length === 0 })),
);
const isStreaming = (p: string) => /\/logs\/stream$|\/comfyui\/stream$|\/comfyui\/workflow\/[^/]+\/events$|^\/v1\/tasks\/events$/.test(p);
const protectedOps = operations.filter((o) => !o.open);

test("the document lists protected and public operations", () => {
  expect(protectedOps.length).toBeGreaterThanOrEqual(6);
  expect(operations.filter((o) => o.open).map((o) => o.path)).toEqual(expect.arrayContaining(["/", "/health", "/ready", "/metrics"]));
});

describe.each(protectedOps)("$method $path", ({ method, path }) => {
  const body = method === "GET" || method === "DELETE" ? undefined : "{}";
  const headers = (h: Record<string, string>) => ({ ...(body ? { "Content-Type": "application/json" } : {}), ...h });

  test("no credentials -> 401", async () => {
    const res = await t.request(path, { method, body, headers: headers({}) });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: "Unauthorized", message: "Missing Authorization header", statusCode: 401 });
  });
  test("malformed Authorization -> 401", async () => {
    for (const value of ["Basic abc", "Bearer", "Bearer a b", "token"]) {
      const res = await t.request(path, { method, body, headers: headers({ Authorization: value }) });
      expect(res.status).toBe(401);
      expect((await res.json()).message).toBe("Invalid Authorization format. Expected: Bearer <token>");
    }
  });
  test("wrong token -> 403", async () => {
    for (const h of [{ Authorization: "Bearer nope" }, { "X-API-Key": "nope" }, { Authorization: `Bearer ${KEY}x` }]) {
      const res = await t.request(path, { method, body, headers: headers(h as unknown as Record<string, string>) });
      expect(res.status).toBe(403);
      expect(await res.json()).toMatchObject({ error: "Forbidden", message: "Invalid API token", statusCode: 403 });
    }
  });
  test("valid token passes auth (Bearer any case, X-API-Key, rotated key)", async () => {
    for (const h of [AUTH, { Authorization: `bEaReR ${KEY}` }, { "X-API-Key": KEY }, { Authorization: "Bearer rotated-key-2" }]) {
      const res = await t.request(path, { method, body, headers: headers(h as unknown as Record<string, string>) });
      expect([401, 403]).not.toContain(res.status);
      await res.body?.cancel();
    }
  });
  const reads = method === "GET" || method === "HEAD";
  test(`a read-only key ${reads ? "passes auth" : "-> 403, before anything is done"}`, async () => {
    for (const h of [{ Authorization: `Bearer ${READ_ONLY_KEY}` }, { "X-API-Key": READ_ONLY_KEY }] as Record<string, string>[]) {
      const res = await t.request(path, { method, body, headers: headers(h) });
      if (reads) {
        expect([401, 403]).not.toContain(res.status);
        await res.body?.cancel();
      } else {
        expect(res.status).toBe(403);
        expect(await res.json()).toMatchObject({ error: "Forbidden", message: `This API key is read-only: ${method} is not allowed (only GET and HEAD)`, statusCode: 403 });
      }
    }
    if (reads && isStreaming(path)) {
      const res = await t.request(`${path}?token=${READ_ONLY_KEY}`, { method });
      expect([401, 403]).not.toContain(res.status);
      await res.body?.cancel();
    }
  });
  test(`?token= is accepted ${isStreaming(path) ? "here (streaming route)" : "only on streaming routes"}`, async () => {
    const res = await t.request(`${path}?token=${KEY}`, { method, body, headers: headers({}) });
    if (isStreaming(path)) expect([401, 403]).not.toContain(res.status);
    else expect(res.status).toBe(401);
    await res.body?.cancel();
  });
  test("path tricks do not bypass auth", async () => {
    const variants = [path + "/", path.toUpperCase(), "/" + path, path.replace("/v1/", "/v1//"), path.replace(/t/, "%74"), path + "/..", path + "?x=/health"];
    for (const v of variants) {
      for (const m of [method, "HEAD"]) {
        const res = await t.request(v, { method: m, body: m === "HEAD" ? undefined : body, headers: headers({}) });
        expect(res.status).toBe(401);
      }
    }
  });
});

describe("exempt routes", () => {
  test.each(["/", "/health", "/ready", "/metrics", "/docs", "/docs/json", "/docs/yaml", "/docs/swagger-ui.css", "/health?x=1", "/favicon.ico"])("%s needs no token", async (p) => {
    const res = await t.request(p);
    expect(res.status).toBe(200);
  });
  test("non-GET methods on exempt paths still need a token", async () => {
    const res = await t.request("/health", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
    expect(res.status).toBe(401);
  });
  test("a read-only key reads, asks OPTIONS, and is refused any change, even to a path that does not exist", async () => {
    const ro = { Authorization: `Bearer ${READ_ONLY_KEY}` };
    expect((await t.request("/v1/tasks", { headers: ro })).status).toBe(200);
    expect((await t.request("/v1/tasks", { method: "HEAD", headers: ro })).status).toBe(200);
    expect((await t.request("/v1/tasks", { method: "OPTIONS", headers: ro })).status).toBe(204);
    expect((await t.request("/v1/nothing-here", { headers: ro })).status).toBe(404);
    const post = await t.request("/v1/nothing-here", { method: "POST", headers: { ...ro, "Content-Type": "application/json" }, body: "{}" });
    expect(post.status).toBe(403);
    // A task asked for with it is not started.
    const start = await t.request("/v1/tasks", { method: "POST", headers: { ...ro, "Content-Type": "application/json" }, body: JSON.stringify({ agent: "a", task: "x", provider: "exit0" }) });
    expect(start.status).toBe(403);
    expect((await (await t.request("/v1/tasks?status=all", { headers: AUTH })).json()).count).toBe(0);
  });
  test("unknown paths need a token before they 404", async () => {
    expect((await t.request("/v1/nothing-here")).status).toBe(401);
    expect((await t.request("/docs/../v1/tasks")).status).toBe(401);
    expect((await t.request("/v1/nothing-here", { headers: AUTH })).status).toBe(404);
  });
  test("OPTIONS: a browser preflight is answered by CORS; without Origin it needs a token", async () => {
    const pre = await t.request("/v1/tasks", { method: "OPTIONS", headers: { Origin: "https://x.example", "Access-Control-Request-Method": "GET" } });
    expect(pre.status).toBe(204);
    expect(await pre.text()).toBe("");
    expect((await t.request("/v1/tasks", { method: "OPTIONS" })).status).toBe(401);
  });
});
