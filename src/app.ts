/**
 * createApp(services): the middleware pipeline, the routers and the docs. No I/O and no environment
 * here, so tests build the same app around their own services.
 *
 * Order (outermost first): request id + access log -> metrics -> compression -> caching/ETag ->
 * CORS -> secure headers -> client IP -> rate limit -> auth -> version check -> JSON body rules ->
 * route; errors from any layer go through the one onError.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { compress } from "hono/compress";
import { cors } from "hono/cors";
import { secureHeaders } from "hono/secure-headers";
import { auth } from "./http/auth.ts";
import { caching } from "./http/caching.ts";
import { clientIp } from "./http/client-ip.ts";
import { securityHeaders } from "./http/security-headers.ts";
import { registerDocs } from "./http/docs.ts";
import { ApiError, notFound, onError } from "./http/errors.ts";
import { negotiation, versionedPath } from "./http/negotiation.ts";
import { validationHook } from "./http/openapi.ts";
import { rateLimit } from "./http/rate-limit.ts";
import { requestContext } from "./http/request-context.ts";
import type { AppEnv } from "./http/types.ts";
import { httpMetrics } from "./metrics.ts";
import { systemRoutes } from "./routes/system/index.ts";
import { taskRoutes } from "./routes/tasks/index.ts";
import { statusRoutes } from "./routes/status/index.ts";
import { comfyuiRoutes } from "./routes/comfyui/index.ts";
import { registerDashboard } from "./ui/index.ts";
import type { Services } from "./services.ts";
import { API_NAME, VERSION } from "./version.ts";

const EXPOSED_HEADERS = ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After", "x-request-id", "ETag"];

/** Builds the Hono app for a set of services. */
export function createApp(services: Services) {
  const { config } = services;
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook, getPath: versionedPath });

  app.use("*", requestContext(services.logger));
  app.use("*", httpMetrics(services.metrics));
  const compression = compress({ threshold: 1024 });
  app.use("*", (c, next) => (/gzip|deflate/.test(c.req.header("accept-encoding") ?? "") ? compression(c, next) : next()));
  app.use("*", caching());
  const corsMiddleware = cors({
      origin: (origin) => {
        if (config.corsOrigins.includes("*")) return "*";
        return config.corsOrigins.includes(origin) ? origin : null;
      },
      allowMethods: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
      allowHeaders: ["Content-Type", "Authorization", "X-API-Key", "X-Request-Id", "Last-Event-ID", "If-None-Match", "Accept"],
      exposeHeaders: EXPOSED_HEADERS,
      // Credentials only for explicitly listed origins, never with the wildcard.
      credentials: !config.corsOrigins.includes("*") && config.corsOrigins.length > 0,
      maxAge: 600,
    });
  // CORS headers only mean something to browsers, which always send Origin on cross-origin requests.
  app.use("*", (c, next) => (c.req.header("origin") === undefined ? next() : corsMiddleware(c, next)));
  app.use("*", securityHeaders(
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", "data:", "blob:"],
        connectSrc: ["'self'"],
        fontSrc: ["'self'", "data:"],
        objectSrc: ["'none'"],
        frameAncestors: ["'none'"],
        baseUri: ["'self'"],
      },
      crossOriginResourcePolicy: "same-origin",
    }),
  ));
  app.use("*", clientIp(config.rateLimit.trustedProxies));
  app.use("*", rateLimit(config.rateLimit));
  app.use("*", auth(config.apiKeys));
  app.use("*", negotiation());
  const limitBody = bodyLimit({
    maxSize: config.bodyLimit,
    onError: () => {
      throw new ApiError(413, `Request body exceeds the limit of ${config.bodyLimit} bytes`);
    },
  });
  app.use("*", (c, next) => (c.req.method === "GET" || c.req.method === "HEAD" ? next() : limitBody(c, next)));

  app.route("/", systemRoutes(services));
  if (services.tasks) app.route("/", taskRoutes(services.tasks));
  if (services.status) app.route("/", statusRoutes(services.status));
  if (services.comfyui) {
    const { service, store, hub } = services.comfyui;
    app.route("/", comfyuiRoutes({ comfy: service, store, hub, modelsDir: config.comfyui.modelsDir, outputDir: config.comfyui.outputDir }));
  }

  registerDashboard(app);
  registerDocs(app, {
    title: API_NAME,
    version: VERSION,
    description:
      "HTTP management API for AI-agent tasks, ComfyUI workflows and GPU monitoring. " +
      "Authenticate with `Authorization: Bearer <key>` or `X-API-Key: <key>`.",
  });

  app.notFound(notFound);
  app.onError(onError);
  return app;
}

export type App = ReturnType<typeof createApp>;
