/** apiRouter: query and path parameters checked synchronously, exactly as @hono/zod-openapi checks them. */
import { describe, expect, test } from "bun:test";
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { apiRouter } from "../../src/http/api-router.ts";
import { onError } from "../../src/http/errors.ts";
import { validationHook } from "../../src/http/openapi.ts";
import type { AppEnv } from "../../src/http/types.ts";
import { AUTH, peer, testApp } from "../helpers.ts";

const listRoute = createRoute({
  method: "get",
  path: "/things/{id}",
  request: {
    params: z.object({ id: z.string().uuid() }),
    query: z.object({
      limit: z.coerce.number().int().min(1).max(10).optional(),
      status: z.enum(["running", "failed"]).optional(),
      tag: z.union([z.string(), z.array(z.string())]).optional(),
    }).strict(),
  },
  responses: { 200: { description: "ok", content: { "application/json": { schema: z.object({}).passthrough() } } } },
});
const handler = (c: any) => c.json({ query: c.req.valid("query"), param: c.req.valid("param") }, 200);

function build(app: OpenAPIHono<AppEnv>) {
  app.openapi(listRoute, handler);
  app.onError(onError);
  return app;
}
const ours = build(apiRouter<AppEnv>());
const theirs = build(new OpenAPIHono<AppEnv>({ defaultHook: validationHook }));
const ID = "3f1c2f4e-8a1b-4c3d-9e5f-0a1b2c3d4e5f";

describe("apiRouter", () => {
  test("answers every query and path exactly as the library's validators do", async () => {
    const paths = [
      `/things/${ID}`,
      `/things/${ID}?limit=3&status=failed`,
      `/things/${ID}?limit=abc`,
      `/things/${ID}?limit=`,
      `/things/${ID}?limit=2.5`,
      `/things/${ID}?limit=11`,
      `/things/${ID}?status=done`,
      `/things/${ID}?status=running&status=failed`,
      `/things/${ID}?tag=a&tag=b`,
      `/things/${ID}?tag=%E2%9C%93`,
      `/things/${ID}?other=1`,
      `/things/not-a-uuid?limit=0`,
      `/things/%20`,
    ];
    for (const path of paths) {
      const [a, b] = [await ours.request(path), await theirs.request(path)];
      expect({ path, status: a.status, body: await a.json() }).toEqual({ path, status: b.status, body: await b.json() });
    }
  });

  test("a route checked this way is a single synchronous handler", () => {
    const out = ours.fetch(new Request(`http://localhost/things/${ID}?limit=2`));
    expect(out).toBeInstanceOf(Response);
    expect(ours.fetch(new Request("http://localhost/things/x"))).toBeInstanceOf(Response);
  });

  test("the route is documented as the library documents it", () => {
    const doc = (app: OpenAPIHono<AppEnv>) => app.getOpenAPI31Document({ openapi: "3.1.0", info: { title: "t", version: "1" } });
    expect(doc(ours)).toEqual(doc(theirs));
  });

  test("in the API, GET /v1/tasks answers without a promise, valid or not, and so does a malformed task id", () => {
    const t = testApp();
    try {
      const get = (path: string) => t.app.fetch(new Request(`http://localhost${path}`, { headers: AUTH }), peer("127.0.0.1"));
      const list = get("/v1/tasks?limit=5");
      expect(list).toBeInstanceOf(Response);
      expect((list as Response).status).toBe(200);
      const bad = get("/v1/tasks?limit=abc");
      expect(bad).toBeInstanceOf(Response);
      expect((bad as Response).status).toBe(400);
      const badId = get("/v1/tasks/not-a-uuid");
      expect(badId).toBeInstanceOf(Response);
      expect((badId as Response).status).toBe(400);
    } finally {
      t.close();
    }
  });
});
