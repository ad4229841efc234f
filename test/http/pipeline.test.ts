/** Errors, request ids, negotiation, caching, compression, CORS and security headers. */
import { brotliDecompressSync } from "node:zlib";
import { afterAll, describe, expect, test } from "bun:test";
import { AUTH, peer, testApp } from "../helpers.ts";

const t = testApp({ BODY_LIMIT: "2048", CORS_ORIGINS: "https://ops.example" });
afterAll(() => t.close());
const json = { ...AUTH, "Content-Type": "application/json" };

describe("errors", () => {
  test("every error has the common shape with the request id", async () => {
    const res = await t.request("/v1/tasks/not-a-uuid", { headers: { ...AUTH, "x-request-id": "abc-123" } });
    expect(res.status).toBe(400);
    expect(res.headers.get("x-request-id")).toBe("abc-123");
    const body = await res.json();
    expect(body).toMatchObject({ error: "Bad Request", statusCode: 400, requestId: "abc-123" });
    expect(body.message).toBe("path/taskId: must be a UUID");
  });
  test("an invalid incoming request id is replaced", async () => {
    const res = await t.request("/health", { headers: { "x-request-id": "bad id with spaces" } });
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });
  test("validation names the field", async () => {
    const cases: [unknown, string][] = [
      [{ task: "x" }, "body must have required property 'agent'"],
      [{ agent: "a", task: "x", extra: 1 }, "body must NOT have additional property 'extra'"],
      [{ agent: "-rf", task: "x" }, "body/agent: must contain only letters, digits, '.', '_' and '-', and not start with '-'"],
      [{ agent: "a", task: "" }, "body/task"],
      [[], "body must be an object, got an array"],
    ];
    for (const [body, message] of cases) {
      const res = await t.request("/v1/tasks", { method: "POST", headers: json, body: JSON.stringify(body) });
      expect(res.status).toBe(400);
      expect((await res.json()).message).toStartWith(message);
    }
  });
  test("a present but invalid field is not reported as missing", async () => {
    const bad = await t.request("/v1/tasks?limit=abc", { headers: AUTH });
    expect(bad.status).toBe(400);
    expect((await bad.json()).message).toBe("query/limit must be a number, got 'abc'");
    const res = await t.request("/v1/tasks", { method: "POST", headers: json, body: JSON.stringify({ agent: 5, task: "x" }) });
    expect((await res.json()).message).toBe("body/agent must be a string, got 5");
    const list = await t.request("/v1/tasks", { method: "POST", headers: json, body: JSON.stringify({ agent: "a", task: ["x"] }) });
    expect((await list.json()).message).toBe("body/task must be a string, got an array");
    // A record (any keys) is an object to a JSON client: labels' values are strings, their whole an object.
    const labels = await t.request("/v1/tasks", { method: "POST", headers: json, body: JSON.stringify({ agent: "a", task: "x", labels: "job=1" }) });
    expect((await labels.json()).message).toBe("body/labels must be an object, got 'job=1'");
    const long = await t.request(`/v1/tasks?limit=${"9x".repeat(50)}`, { headers: AUTH });
    expect((await long.json()).message).toBe(`query/limit must be a number, got '${"9x".repeat(18)}...`);
  });
  test("ranges, choices and whole numbers are worded like the rest, with the value sent", async () => {
    const message = async (path: string, body?: unknown) => {
      const res = await t.request(path, body === undefined ? { headers: AUTH } : { method: "POST", headers: json, body: JSON.stringify(body) });
      expect(res.status).toBe(400);
      return (await res.json()).message;
    };
    expect(await message("/v1/tasks?limit=0")).toBe("query/limit must be at least 1, got '0'");
    expect(await message("/v1/tasks?limit=501")).toBe("query/limit must be at most 500, got '501'");
    expect(await message("/v1/tasks?limit=2.5")).toBe("query/limit must be a whole number, got '2.5'");
    // An empty or blank value is no number, though it coerces to 0.
    expect(await message("/v1/tasks?limit=")).toBe("query/limit must be a number, got ''");
    expect(await message("/v1/tasks?limit=%20")).toBe("query/limit must be a number, got ' '");
    expect(await message("/v1/tasks?status=done")).toBe("query/status must be one of: queued, running, completed, failed, stopped, all; got 'done'");
    expect(await message("/v1/tasks?status=completed,done")).toBe("query/status must be one of: queued, running, completed, failed, stopped, all; got 'completed,done'");
    expect(await message("/v1/comfyui/workflows?status=queued,")).toBe("query/status must be one of: queued, running, completed, cancelled, failed; got 'queued,'");
    expect(await message("/v1/tasks", { agent: "a".repeat(101), task: "x" })).toBe("body/agent must be at most 100 characters, got 101");
    expect(await message("/v1/comfyui/workflow", { workflow: { "1": {} }, priority: "urgent" })).toBe("body/priority must be one of: low, normal, high; got 'urgent'");
  });
  test("malformed JSON is 400", async () => {
    const res = await t.request("/v1/tasks", { method: "POST", headers: json, body: '{"agent":' });
    expect(res.status).toBe(400);
    expect((await res.json()).message).toBe("Malformed JSON in request body");
    const empty = await t.request("/v1/tasks", { method: "POST", headers: json });
    expect(empty.status).toBe(400);
    expect((await empty.json()).message).toBe("Request body is empty; send a JSON object");
  });
  test("a JSON body that is not UTF-8 is 400, not decoded into U+FFFD; UTF-8 with or without a BOM is taken", async () => {
    const send = (bytes: Uint8Array<ArrayBuffer>) => t.request("/v1/tasks", { method: "POST", headers: json, body: bytes });
    const enc = (s: string) => new TextEncoder().encode(s);
    const notUtf8 = [
      Buffer.from('{"agent":"a","task":"caf\xe9","provider":"exit0"}', "latin1"), // Latin-1, as a client sends it that was not told the charset
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('{"agent":"a","task":"x","provider":"exit0"}', "utf16le")]), // UTF-16 with its BOM
      Buffer.concat([enc('{"agent":"a","task":"x'), Buffer.from([0xe2, 0x82]), enc('","provider":"exit0"}')]), // "€" cut short
    ];
    for (const body of notUtf8) {
      const res = await send(body);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ message: "Request body is not valid UTF-8; send JSON encoded as UTF-8" });
    }
    expect((await (await t.request("/v1/tasks?status=all", { headers: AUTH })).json()).count).toBe(0);
    for (const body of [enc('{"agent":"a","task":"café ☕ 日本","provider":"exit0"}'), Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), enc('{"agent":"a","task":"café ☕ 日本","provider":"exit0"}')])]) {
      const res = await send(body);
      expect(res.status).toBe(202);
      const task = await (await t.request(`/v1/tasks/${(await res.json()).taskId}`, { headers: AUTH })).json();
      expect(task.task).toBe("café ☕ 日本");
    }
  });
  test('a "__proto__" key, in any spelling, is 400 rather than dropped without a word; the word in a value is taken', async () => {
    const count = async () => (await (await t.request("/v1/tasks?status=all", { headers: AUTH })).json()).count as number;
    const before = await count();
    for (const body of [
      '{"agent":"a","task":"x","provider":"exit0","labels":{"__proto__":"x","job":"1"}}',
      '{"agent":"a","task":"x","provider":"exit0","labels":{"__\\u0070roto__":"x"}}',
      '{"agent":"a","task":"x","provider":"exit0","__proto__":{"queue":true}}',
    ]) {
      const res = await t.request("/v1/tasks", { method: "POST", headers: json, body });
      expect([res.status, (await res.json()).message]).toEqual([400, 'Request body has a "__proto__" key, which no field takes as a name']);
    }
    expect(await count()).toBe(before);
    const res = await t.request("/v1/tasks", { method: "POST", headers: json, body: '{"agent":"a","task":"explain __proto__ and \\u0070rototypes","provider":"exit0","labels":{"topic":"__proto__"}}' });
    expect(res.status).toBe(202);
    const task = await (await t.request(`/v1/tasks/${(await res.json()).taskId}`, { headers: AUTH })).json();
    expect([task.task, task.labels]).toEqual(["explain __proto__ and prototypes", { topic: "__proto__" }]);
  });
  test("a body that is not JSON is 415, saying what is taken", async () => {
    const res = await t.request("/v1/tasks", { method: "POST", headers: { ...AUTH, "Content-Type": "text/plain" }, body: "hi" });
    expect(res.status).toBe(415);
    expect(await res.json()).toMatchObject({ error: "Unsupported Media Type", message: "Content-Type must be application/json, got text/plain" });
  });
  test("the body's type is application/json in any case and with parameters; the versioned type is for Accept", async () => {
    const body = JSON.stringify({ agent: "a", task: "x", provider: "exit0" });
    for (const type of ["application/json; charset=utf-8", "Application/JSON"]) {
      expect((await t.request("/v1/tasks", { method: "POST", headers: { ...AUTH, "Content-Type": type }, body })).status).toBe(202);
    }
    // The documented body type is application/json only; any other JSON-like type gets the same clear 415.
    for (const type of ["application/vnd.agenticflow.v1+json", "application/merge-patch+json"]) {
      const res = await t.request("/v1/tasks", { method: "POST", headers: { ...AUTH, "Content-Type": type }, body });
      expect(res.status).toBe(415);
      expect((await res.json()).message).toBe(`Content-Type must be application/json, got ${type}`);
    }
  });
  test("the path and the method come before the body's type: 404 and 405 stay so whatever the body", async () => {
    const plain = { ...AUTH, "Content-Type": "text/plain" };
    const cases: [string, string, Record<string, string>, number][] = [
      ["POST", "/v1/nope", AUTH, 404],
      ["POST", "/v1/nope", plain, 404],
      ["PUT", "/v1/tasks", AUTH, 405],
      ["POST", "/v1/status", plain, 405],
      ["PATCH", "/v1/comfyui/upload", AUTH, 405],
    ];
    for (const [method, path, headers, status] of cases) expect([method, path, (await t.request(path, { method, headers, body: "x" })).status]).toEqual([method, path, status]);
  });
  test("a body over BODY_LIMIT is 413", async () => {
    const res = await t.request("/v1/tasks", { method: "POST", headers: json, body: JSON.stringify({ agent: "a", task: "x".repeat(5000) }) });
    expect(res.status).toBe(413);
    expect((await res.json()).error).toBe("Payload Too Large");
  });
  test("an unknown route is 404", async () => {
    const res = await t.request("/v1/unknown", { headers: AUTH });
    expect(res.status).toBe(404);
    expect((await res.json()).error).toBe("Not Found");
  });
  test("a wrong method on an existing path is 405 with Allow; unknown paths stay 404, no token stays 401", async () => {
    const res = await t.request("/v1/tasks", { method: "PUT", headers: AUTH });
    expect(res.status).toBe(405);
    expect(res.headers.get("Allow")).toBe("GET, HEAD, POST, DELETE, OPTIONS");
    expect(await res.json()).toMatchObject({
      error: "Method Not Allowed",
      statusCode: 405,
      message: "Method PUT is not allowed on /v1/tasks; allowed: GET, HEAD, POST, DELETE, OPTIONS",
      details: { allowed: ["GET", "HEAD", "POST", "DELETE", "OPTIONS"] },
    });
    // Patterns match as they do for dispatch, and a body of the right type does not change it.
    const patch = await t.request("/v1/tasks/0b7c4c7e-3f57-4a38-9d55-5c7cbb0b1c11", { method: "PATCH", headers: json, body: "{}" });
    expect([patch.status, patch.headers.get("Allow")]).toEqual([405, "GET, HEAD, DELETE, OPTIONS"]);
    const versioned = await t.request("/status", { method: "DELETE", headers: { ...AUTH, Accept: "application/vnd.agenticflow.v1+json" } });
    expect([versioned.status, versioned.headers.get("Allow")]).toEqual([405, "GET, HEAD, OPTIONS"]);
    expect((await t.request("/v1/tasks/x/y/z", { method: "DELETE", headers: AUTH })).status).toBe(404);
    expect((await t.request("/v1/tasks", { method: "PUT" })).status).toBe(401);
    expect((await t.request("/health", { method: "POST", headers: json, body: "{}" })).status).toBe(405);
    // OPTIONS asks for that list: 204 with Allow, no body.
    const options = await t.request("/v1/tasks", { method: "OPTIONS", headers: AUTH });
    expect([options.status, options.headers.get("Allow"), await options.text()]).toEqual([204, "GET, HEAD, POST, DELETE, OPTIONS", ""]);
    expect((await t.request("/v1/nothing", { method: "OPTIONS", headers: AUTH })).status).toBe(404);
  });
  test("a trailing slash on a path that exists is a 301 to it for GET and HEAD; other methods and unknown paths stay 404", async () => {
    const cases: [string, Record<string, string>, string][] = [
      ["/v1/tasks/", AUTH, "/v1/tasks"],
      ["/v1/status//?x=1", AUTH, "/v1/status?x=1"],
      ["/docs/", {}, "/docs"],
      ["/health/", {}, "/health"],
      ["/tasks/", { ...AUTH, Accept: "application/vnd.agenticflow.v1+json" }, "/tasks"],
    ];
    for (const [path, headers, location] of cases) {
      for (const method of ["GET", "HEAD"]) {
        const res = await t.request(path, { method, headers });
        // Relative, so a client behind a proxy's path stays under it; resolved, it is the path without the slash.
        const to = new URL(res.headers.get("Location")!, `http://x${path}`);
        expect([path, method, res.status, to.pathname + to.search]).toEqual([path, method, 301, location]);
        expect(res.headers.get("Location")).toStartWith("../");
      }
    }
    expect((await t.request("/v1/tasks/", { method: "POST", headers: json, body: "{}" })).status).toBe(404);
    expect((await t.request("/v1/nothing/", { headers: AUTH })).status).toBe(404);
    expect((await t.request("//health/", { headers: AUTH })).status).toBe(404); // never a Location of "//health"
    expect((await t.request("/v1/tasks/")).status).toBe(401); // still no free look without a key
  });
  test("an unexpected exception is a 500 without a stack trace", async () => {
    const fresh = testApp();
    fresh.app.get("/v1/test-explode", () => {
      throw new Error("secret internals at /srv/app.ts:12");
    });
    const res = await fresh.request("/v1/test-explode", { headers: AUTH });
    expect(res.status).toBe(500);
    const body = await res.json();
    expect(body).toMatchObject({ error: "Internal Server Error", statusCode: 500 });
    expect(JSON.stringify(body)).not.toContain("secret internals");
    const metrics = await (await fresh.request("/metrics")).text();
    expect(metrics).toMatch(/api_errors_total\{error_type="internal_server_error",route="\/v1\/test-explode"\} 1/);
    fresh.close();
  });
});

describe("versioning", () => {
  test("Accept: vnd v1 on an unversioned path serves the v1 route", async () => {
    const res = await t.request("/tasks", { headers: { ...AUTH, Accept: "application/vnd.agenticflow.v1+json" } });
    expect(res.status).toBe(200);
    expect(await res.json()).toHaveProperty("activeTasks");
    expect((await t.request("/tasks", { headers: AUTH })).status).toBe(404);
  });
  test("an unknown version is 406", async () => {
    const res = await t.request("/v1/tasks", { headers: { ...AUTH, Accept: "application/vnd.agenticflow.v7+json" } });
    expect(res.status).toBe(406);
    expect((await res.json()).error).toBe("Not Acceptable");
  });
});

describe("HEAD", () => {
  test("over a real server: the GET's headers and Content-Length, no body", async () => {
    const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (req, srv) => t.app.fetch(req, srv) });
    try {
      for (const path of ["/health", "/v1/tasks"]) {
        const get = await fetch(`${server.url}${path.slice(1)}`, { headers: AUTH });
        const length = (await get.arrayBuffer()).byteLength;
        // identity: fetch asks for gzip by default, and the compression path sets the length anyway.
        const head = await fetch(`${server.url}${path.slice(1)}`, { method: "HEAD", headers: { ...AUTH, "Accept-Encoding": "identity" } });
        expect([head.status, head.headers.get("Content-Type"), head.headers.get("Content-Length")]).toEqual([200, "application/json", String(length)]);
        expect(head.headers.get("ETag")).toBeTruthy();
        expect(await head.text()).toBe("");
      }
    } finally {
      server.stop(true);
    }
  });
});

describe("caching and compression", () => {
  test("Cache-Control per route", async () => {
    expect((await t.request("/health")).headers.get("Cache-Control")).toBe("public, max-age=10");
    expect((await t.request("/v1/tasks", { headers: AUTH })).headers.get("Cache-Control")).toBe("no-store");
    expect((await t.request("/v1/status", { headers: AUTH })).headers.get("Cache-Control")).toBe("public, max-age=5");
  });
  test("ETag and If-None-Match -> 304", async () => {
    const first = await t.request("/", {});
    const tag = first.headers.get("ETag");
    expect(tag).toMatch(/^W\/".+"$/);
    const again = await t.request("/", { headers: { "If-None-Match": tag! } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe("");
    expect(again.headers.get("ETag")).toBe(tag);
    expect(again.headers.get("x-request-id")).toBeTruthy();
    // Weak comparison: the tag without W/, or within a list, matches too; another tag does not.
    for (const inm of [tag!.slice(2), `"other", ${tag}`]) expect((await t.request("/", { headers: { "If-None-Match": inm } })).status).toBe(304);
    expect((await t.request("/", { headers: { "If-None-Match": '"other"' } })).status).toBe(200);
  });
  test("JSON built with other headers (CORS, a handler's own) keeps them beside the ETag and the standard set", async () => {
    const browser = await t.request("/health", { headers: { Origin: "https://ops.example", "x-request-id": "cors-1" } });
    const status = await t.request("/v1/status", { headers: { ...AUTH, "x-request-id": "age-1" } });
    for (const [res, id] of [[browser, "cors-1"], [status, "age-1"]] as const) {
      expect(res.status).toBe(200);
      expect(res.headers.get("ETag")).toMatch(/^W\/".+"$/);
      expect(res.headers.get("x-request-id")).toBe(id);
      expect(res.headers.get("Content-Type")).toBe("application/json");
      expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
    }
    expect(browser.headers.get("Access-Control-Allow-Origin")).toBe("https://ops.example");
    expect(browser.headers.get("Cache-Control")).toBe("public, max-age=10");
    expect(status.headers.get("Age")).toMatch(/^\d+$/);
    expect(status.headers.get("Cache-Control")).toBe("public, max-age=5");
  });
  test("responses over 1 KiB are compressed when the client accepts gzip", async () => {
    const res = await t.request("/docs/json", { headers: { "Accept-Encoding": "gzip" } });
    expect(res.headers.get("Content-Encoding")).toBe("gzip");
    const small = await t.request("/health", { headers: { "Accept-Encoding": "gzip" } });
    expect(small.headers.get("Content-Encoding")).toBeNull();
  });
  test("br too, as the client prefers it: q-values honoured, br first among equals, same body", async () => {
    const plain = await (await t.request("/docs/json")).text();
    const encodingFor = async (accept: string, method = "GET") => {
      const res = await t.request("/docs/json", { method, headers: { "Accept-Encoding": accept } });
      const encoding = res.headers.get("Content-Encoding");
      if (encoding === "br") {
        expect(brotliDecompressSync(Buffer.from(await res.arrayBuffer())).toString()).toBe(plain);
        expect([res.headers.get("Vary"), res.headers.get("ETag")?.startsWith("W/"), res.headers.get("Content-Length")]).toEqual(["Accept-Encoding", true, null]);
      }
      return encoding;
    };
    expect(await encodingFor("br")).toBe("br");
    expect(await encodingFor("gzip, deflate, br, zstd")).toBe("br"); // what browsers send
    expect(await encodingFor("br;q=0.5, gzip")).toBe("gzip");
    expect(await encodingFor("br;q=0")).toBeNull();
    expect(await encodingFor("*")).toBe("br");
    expect(await encodingFor("br", "HEAD")).toBeNull();
    const small = await t.request("/health", { headers: { "Accept-Encoding": "br" } });
    expect(small.headers.get("Content-Encoding")).toBeNull();
  });
});

describe("CORS and security headers", () => {
  test("a listed origin is allowed with credentials; others get no CORS grant", async () => {
    const ok = await t.request("/health", { headers: { Origin: "https://ops.example" } });
    expect(ok.headers.get("Access-Control-Allow-Origin")).toBe("https://ops.example");
    expect(ok.headers.get("Access-Control-Allow-Credentials")).toBe("true");
    expect(ok.headers.get("Access-Control-Expose-Headers")).toContain("X-RateLimit-Remaining");
    const bad = await t.request("/health", { headers: { Origin: "https://evil.example" } });
    expect(bad.headers.get("Access-Control-Allow-Origin")).toBeNull();
    const pre = await t.request("/v1/tasks", { method: "OPTIONS", headers: { Origin: "https://ops.example", "Access-Control-Request-Method": "POST" } });
    expect(pre.headers.get("Access-Control-Allow-Methods")).toContain("DELETE");
    expect(pre.headers.get("Access-Control-Allow-Headers")).toContain("Authorization");
  });
  test("API responses, errors and files a handler builds itself all get the request id and API headers", async () => {
    for (const [path, init] of [["/health", {}], ["/v1/tasks", {}], ["/v1/nope", { headers: AUTH }], ["/v1/tasks", { method: "POST", headers: json, body: "{" }]] as const) {
      const res = await t.request(path, init);
      expect(res.headers.get("x-request-id")).toBeTruthy();
      expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
      expect(res.headers.get("Content-Security-Policy")).toBe("default-src 'none'; frame-ancestors 'none'");
      if (res.status >= 400) expect(res.headers.get("Cache-Control")).toBe("no-store");
    }
    // A file response (built with `new Response`, not Hono's helpers) gets the request id too.
    const file = await t.request("/ui/app.js", { headers: { "x-request-id": "file-1" } });
    expect(file.headers.get("x-request-id")).toBe("file-1");
    expect(file.headers.get("Cache-Control")).toBe("no-cache");
  });
  test("a browser's failed request keeps its CORS grant, so the page can read the error", async () => {
    const res = await t.request("/v1/tasks", { headers: { Origin: "https://ops.example" } });
    expect(res.status).toBe(401);
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("https://ops.example");
    expect((await res.json()).requestId).toBe(res.headers.get("x-request-id")!);
  });
  test("secure headers with a CSP that serves Swagger UI's own files", async () => {
    const res = await t.request("/docs");
    const csp = res.headers.get("Content-Security-Policy")!;
    expect(csp).toContain("script-src 'self'");
    expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
    const html = await res.text();
    expect(html).toContain('src="docs/swagger-ui-bundle.js"'); // relative: works under a proxy's path too
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<script>[^<]/); // no inline script, CSP forbids it
    const js = await t.request("/docs/swagger-ui-bundle.js");
    expect(js.status).toBe(200);
    expect((await js.arrayBuffer()).byteLength).toBeGreaterThan(100_000);
  });
});

describe("how the pipeline runs", () => {
  /** `http_requests_total` for one route and status. */
  const served = async (route: string, status: number, method = "GET") => {
    const text = await t.services.metrics.registry.getSingleMetricAsString("http_requests_total");
    const line = text.split("\n").find((l) => l.includes(`route="${route}"`) && l.includes(`status_code="${status}"`) && l.includes(`method="${method}"`));
    return line ? Number(line.split(" ").pop()) : 0;
  };

  test("a route with no middleware of its own is answered synchronously, with every header", () => {
    const out = t.app.fetch(new Request("http://localhost/health", { headers: { "x-request-id": "sync-1" } }), peer("127.0.0.1"));
    expect(out).toBeInstanceOf(Response);
    const res = out as Response;
    expect(res.status).toBe(200);
    expect(res.headers.get("x-request-id")).toBe("sync-1");
    expect(res.headers.get("Cache-Control")).toBe("public, max-age=10");
    expect(res.headers.get("ETag")).toStartWith('W/"');
    expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
  });

  test("it runs once per request, however many handlers match (body validators + handler, not found)", async () => {
    const before = [await served("/v1/tasks", 400, "POST"), await served("unmatched", 404)];
    expect((await t.request("/v1/tasks", { method: "POST", headers: json, body: JSON.stringify({ task: "x" }) })).status).toBe(400);
    expect((await t.request("/v1/no-such-route", { headers: AUTH })).status).toBe(404);
    expect([await served("/v1/tasks", 400, "POST"), await served("unmatched", 404)]).toEqual([before[0]! + 1, before[1]! + 1]);
  });

  test("a handler that returns no response is a 500 in the common format", async () => {
    const { app } = testApp();
    app.get("/v1/broken", (() => undefined) as never);
    const res = await app.request("/v1/broken", { headers: AUTH }, peer("127.0.0.1"));
    expect(res.status).toBe(500);
    expect(await res.json()).toMatchObject({ statusCode: 500, error: "Internal Server Error" });
  });
});

describe("service routes", () => {
  test("GET / describes the API truthfully", async () => {
    const body = await (await t.request("/")).json();
    expect(body.version).toBe((await import("../../package.json")).version);
    expect(body.authentication.alternative).toContain("X-API-Key");
    const doc = await (await t.request("/docs/json")).json();
    const listed = (Object.values(body.endpoints) as Record<string, string>[]).flatMap((group) => Object.values(group));
    for (const ep of listed) {
      const [method, path] = ep.split(" ");
      if (method === "WS") continue;
      expect(doc.paths[path!]?.[method!.toLowerCase()]).toBeDefined();
    }
    // And the other way: every documented operation is in the map (the WebSocket as WS).
    const documented = Object.entries(doc.paths as Record<string, object>).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    const inMap = new Set(listed.map((ep) => ep.replace(/^WS /, "GET ")));
    expect(documented.filter((ep) => !inMap.has(ep))).toEqual([]);
  });
  test("/ready is 503 while starting and while stopping", async () => {
    const other = testApp();
    expect((await other.request("/ready")).status).toBe(200);
    other.services.lifecycle.beginShutdown();
    const res = await other.request("/ready");
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ ready: false, activeTasks: 0 });
    other.close();
  });
});
