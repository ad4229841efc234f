/**
 * OpenAPI document (JSON and YAML) and Swagger UI, with Swagger UI's assets embedded in the binary:
 * the sidecar often runs without internet, so nothing comes from a CDN.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { swaggerUI } from "@hono/swagger-ui";
import { stringify } from "yaml";
import cssPath from "swagger-ui-dist/swagger-ui.css" with { type: "file" };
import bundlePath from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "file" };
import faviconPath from "swagger-ui-dist/favicon-32x32.png" with { type: "file" };
import { etagFor, matchesEtag } from "./caching.ts";
import type { AppEnv } from "./types.ts";

export interface DocInfo {
  title: string;
  version: string;
  description: string;
}

/** The OpenAPI 3.1 object for an app (also used by tests to drive every operation). */
export function openApiDocument(app: OpenAPIHono<AppEnv>, info: DocInfo) {
  return app.getOpenAPI31Document({
    openapi: "3.1.0",
    info: { ...info, license: { name: "MIT", url: "https://opensource.org/licenses/MIT" } },
    servers: [{ url: "/", description: "This server" }],
    security: [{ bearerAuth: [] }, { apiKeyAuth: [] }],
    tags: [
      { name: "System", description: "Service information, health and metrics" },
      { name: "Tasks", description: "AI-agent tasks run as supervised processes: start one (with its files, or queued), wait for its end and answer, follow its log, give it a follow-up, stop it, take what it made" },
      { name: "Status", description: "Machine, GPU and provider status" },
      { name: "ComfyUI", description: "ComfyUI workflows (UI format with subgraphs, or API format; new input values by node), their progress, models and outputs" },
    ],
  });
}

const ASSETS: Record<string, { path: string; type: string }> = {
  "swagger-ui.css": { path: cssPath, type: "text/css; charset=utf-8" },
  "swagger-ui-bundle.js": { path: bundlePath, type: "text/javascript; charset=utf-8" },
  "favicon-32x32.png": { path: faviconPath, type: "image/png" },
};

/**
 * Served as a file rather than inline so the Content-Security-Policy can forbid inline scripts.
 * Behind a proxy that serves the API under a path of its own (…/proxy/9090/docs), the document's
 * server "/" would send Try it out to the site's root: calls are sent under the page's folder instead.
 */
const INITIALIZER = `window.addEventListener("load", function () {
  var root = new URL(".", location.href);
  window.ui = SwaggerUIBundle({
    url: "docs/json",
    dom_id: "#swagger-ui",
    persistAuthorization: true,
    deepLinking: true,
    requestInterceptor: function (req) {
      var url = new URL(req.url, location.href);
      if (url.origin === location.origin && !url.pathname.startsWith(root.pathname)) req.url = new URL(url.pathname.slice(1) + url.search, root).href;
      return req;
    },
  });
});
`;

/** Registers /docs, /docs/json, /docs/yaml and the Swagger UI assets. */
export function registerDocs(app: OpenAPIHono<AppEnv>, info: DocInfo) {
  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    description: "Authorization: Bearer <MANAGEMENT_API_KEY>. A key from MANAGEMENT_API_READONLY_KEYS may only GET and HEAD (403 otherwise)",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "apiKeyAuth", {
    type: "apiKey",
    in: "header",
    name: "X-API-Key",
    description: "Legacy header carrying the API key",
  });
  type Text = { body: string; etag: string };
  let cached: { json: Text; yaml: Text } | undefined;
  const doc = () => {
    if (!cached) {
      const d = openApiDocument(app, info);
      const json = JSON.stringify(d);
      const yaml = stringify(d);
      cached = { json: { body: json, etag: etagFor(json) }, yaml: { body: yaml, etag: etagFor(yaml) } };
    }
    return cached;
  };
  // The document is large and Swagger UI fetches it on every load: an ETag lets it revalidate with a 304.
  const serve = (c: Context, text: Text, type: string) => {
    const headers = { "Content-Type": type, "Cache-Control": "public, max-age=60", ETag: text.etag };
    return matchesEtag(c, text.etag) ? c.body(null, 304, headers) : c.body(text.body, 200, headers);
  };
  app.get("/docs/json", (c) => serve(c, doc().json, "application/json; charset=utf-8"));
  app.get("/docs/yaml", (c) => serve(c, doc().yaml, "application/yaml; charset=utf-8"));
  // The page names its files relative to itself (…/docs), as the dashboard does, so both work behind
  // a proxy that serves the API under a path of its own.
  app.get(
    "/docs",
    swaggerUI({
      url: "/docs/json",
      manuallySwaggerUIHtml: () => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8" />
<meta name="viewport" content="width=device-width, initial-scale=1" />
<title>${info.title} ${info.version}</title>
<link rel="icon" type="image/png" href="docs/favicon-32x32.png" />
<link rel="stylesheet" href="docs/swagger-ui.css" />
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/swagger-initializer.js"></script>
</body>
</html>`,
    }),
  );
  app.get("/docs/swagger-initializer.js", (c) => c.body(INITIALIZER, 200, { "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "public, max-age=3600" }));
  // One static route per file (a `/docs/:asset` pattern would push Hono onto its slower router).
  const file = (asset: { path: string; type: string }) => () => new Response(Bun.file(asset.path), { headers: { "Content-Type": asset.type, "Cache-Control": "public, max-age=86400" } });
  for (const [name, asset] of Object.entries(ASSETS)) app.get(`/docs/${name}`, file(asset));
  // Browsers ask every site for /favicon.ico, whatever the page names: without it, each visit to the
  // docs or the dashboard logged a failed authentication (and counted against the client's limit).
  app.get("/favicon.ico", file(ASSETS["favicon-32x32.png"]!));
}
