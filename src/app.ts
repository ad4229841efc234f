/**
 * createApp(services): the middleware pipeline, the routers and the docs. No I/O and no environment
 * here, so tests build the same app around their own services.
 *
 * Every request passes the pipeline (http/pipeline.ts: request id, compression, caching, CORS,
 * security headers, client IP, rate limit, auth, version and body rules, metrics, access log) before
 * the first handler it matched, or before not-found; errors from any layer become the one error
 * format.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { RegExpRouter } from "hono/router/reg-exp-router";
import { SmartRouter } from "hono/router/smart-router";
import { TrieRouter } from "hono/router/trie-router";
import type { H, RouterRoute } from "hono/types";
import { registerDocs } from "./http/docs.ts";
import { notFound, onError } from "./http/errors.ts";
import { allowedMethods, otherMethod } from "./http/method-not-allowed.ts";
import { versionedPath } from "./http/negotiation.ts";
import { validationHook } from "./http/openapi.ts";
import { pipeline, pipelinedNotFound, pipelinedRouter } from "./http/pipeline.ts";
import { trailingSlashRedirect } from "./http/trailing-slash.ts";
import type { AppEnv } from "./http/types.ts";
import { systemRoutes } from "./routes/system/index.ts";
import { taskRoutes } from "./routes/tasks/index.ts";
import { statusRoutes } from "./routes/status/index.ts";
import { comfyuiRoutes } from "./routes/comfyui/index.ts";
import { registerDashboard } from "./ui/index.ts";
import type { Services } from "./services.ts";
import { API_NAME, VERSION } from "./version.ts";

/** Builds the Hono app for a set of services. */
export function createApp(services: Services) {
  const { config } = services;
  const run = pipeline({ config, logger: services.logger, metrics: services.metrics });
  // Hono's default router, wrapped so that each request's first matched handler runs the pipeline.
  const router = pipelinedRouter(new SmartRouter<[H, RouterRoute]>({ routers: [new RegExpRouter(), new TrieRouter()] }), run);
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook, getPath: versionedPath, router });

  app.route("/", systemRoutes(services));
  if (services.tasks) app.route("/", taskRoutes(services.tasks, services.idempotency));
  if (services.status) app.route("/", statusRoutes(services.status));
  if (services.comfyui) {
    const { service, store, hub } = services.comfyui;
    app.route("/", comfyuiRoutes({ comfy: service, store, hub, idempotency: services.idempotency, modelsDir: config.comfyui.modelsDir, outputDir: config.comfyui.outputDir, stopping: services.lifecycle.stopping, heartbeatMs: config.tasks.heartbeatMs }));
  }

  registerDashboard(app);
  registerDocs(app, {
    title: API_NAME,
    version: VERSION,
    description:
      "HTTP management API for AI-agent tasks, ComfyUI workflows and GPU monitoring. " +
      "Authenticate with `Authorization: Bearer <key>` or `X-API-Key: <key>`.",
  });

  const methodsFor = allowedMethods(() => app.routes);
  app.notFound(
    pipelinedNotFound(run, (c) => {
      const allowed = methodsFor(c.req.path);
      if (allowed.length > 0) return otherMethod(c, allowed);
      return trailingSlashRedirect(c, (path) => methodsFor(path).includes("GET")) ?? notFound(c);
    }),
  );
  app.onError(onError);
  return app;
}

export type App = ReturnType<typeof createApp>;
