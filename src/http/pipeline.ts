/**
 * The request pipeline, as one Hono middleware. Steps, outermost first:
 *
 *   request id + timer -> compression -> caching/ETag -> CORS -> security headers -> client IP ->
 *   rate limit -> auth -> version check -> JSON body rules -> route
 *
 * and, once the response is known, metrics and the access-log line. Errors thrown by a step become
 * the common error response right there, so the outer steps (CORS, headers, log) still apply to it.
 *
 * Why one middleware and not eleven: on Bun each Hono middleware costs one to two microseconds per
 * request even when it only calls `next()` (`npm run bench http` shows bare Hono with and without
 * one), and eleven of them cost more than everything else a /health request does. Each concern still lives in its own module; the steps that wrap the rest
 * of the chain (compression, CORS, page headers, rate limiting, body limit) are entered only when
 * they apply to the request.
 */
import type { Context, MiddlewareHandler, Next } from "hono";
import { bodyLimit } from "hono/body-limit";
import { compress } from "hono/compress";
import type { Logger } from "pino";
import type { Config } from "../config.ts";
import { recordRequest, type Metrics } from "../metrics.ts";
import { accessLogger } from "./access-log.ts";
import { authenticator } from "./auth.ts";
import { cacheControlFor, useEtags } from "./caching.ts";
import { resolveClientIp } from "./client-ip.ts";
import { corsFor } from "./cors.ts";
import { ApiError, onError } from "./errors.ts";
import { checkNegotiation } from "./negotiation.ts";
import { isLimitedPath, rateLimit } from "./rate-limit.ts";
import { requestIdFrom } from "./request-context.ts";
import { routeLabel } from "./route-label.ts";
import { API_SECURITY_HEADERS, isPage, pageSecurityHeaders } from "./security-headers.ts";
import type { AppEnv } from "./types.ts";

export interface PipelineOptions {
  config: Pick<Config, "apiKeys" | "corsOrigins" | "rateLimit" | "bodyLimit">;
  logger: Logger;
  metrics: Metrics;
}

type Step = (c: Context<AppEnv>, next: Next) => Promise<void>;

/** Runs `step`, turning a thrown error into the response, so the step wrapping it can finish its work. */
async function settled(c: Context<AppEnv>, step: Step, next: Next) {
  try {
    await step(c, next);
  } catch (err) {
    c.res = await onError(err as Error, c);
  }
}

const COMPRESSIBLE = /gzip|deflate/;

/** Builds the pipeline middleware for a configuration. */
export function pipeline({ config, logger, metrics }: PipelineOptions): MiddlewareHandler<AppEnv> {
  const compression = compress({ threshold: 1024 });
  const cors = corsFor(config.corsOrigins);
  const pageHeaders = pageSecurityHeaders();
  const limits = rateLimit(config.rateLimit);
  const authenticate = authenticator(config.apiKeys);
  const limitBody = bodyLimit({
    maxSize: config.bodyLimit,
    onError: () => {
      throw new ApiError(413, `Request body exceeds the limit of ${config.bodyLimit} bytes`);
    },
  });
  const trustedProxies = config.rateLimit.trustedProxies;
  const logAccess = accessLogger(logger);

  // The steps below are plain functions returning the inner step's promise: no async frame of
  // their own, so a request that needs none of the wrapping steps pays for none of them.

  /** Auth, version and body rules, then the route. Throws the request's ApiError. */
  const guarded: Step = (c, next) => {
    authenticate(c);
    checkNegotiation(c);
    const method = c.req.method;
    return method === "GET" || method === "HEAD" ? next() : (limitBody(c, next) as Promise<void>);
  };

  /** Client IP and rate limit; probes need neither, allowlisted clients skip the count. */
  const limited: Step = (c, next) => {
    if (!isLimitedPath(c.req.path)) return guarded(c, next);
    const ip = resolveClientIp(c, trustedProxies);
    c.set("clientIp", ip);
    // Settled inside, so a 401 still counts and still carries the X-RateLimit-* headers.
    return limits.appliesTo(ip) ? limits.run(c, () => settled(c, guarded, next)) : guarded(c, next);
  };

  /** Security headers: hono/secure-headers on pages, the lean API set (prepared, see below) elsewhere. */
  const secured: Step = (c, next) => {
    if (isPage(c.req.path)) return pageHeaders(c, () => settled(c, limited, next)) as Promise<void>;
    for (const [k, v] of API_SECURITY_HEADERS) c.header(k, v);
    return limited(c, next);
  };

  /** CORS for browsers, which always send Origin on cross-origin requests; a preflight ends here. */
  const headed: Step = (c, next) => {
    if (c.req.header("origin") === undefined) return secured(c, next);
    return (cors(c, () => secured(c, next)) as Promise<Response | void>).then((preflight) => {
      if (preflight) c.res = preflight;
    });
  };

  return async function pipelineMiddleware(c, next) {
    const start = performance.now();
    const req = c.req.raw;
    const requestId = requestIdFrom(req.headers.get("x-request-id"));
    c.set("requestId", requestId);
    c.set("logger", logger);
    const method = req.method;
    const path = c.req.path;
    // Set before the handler runs, so they are part of the response it builds (cheaper than
    // changing it afterwards); responses a handler builds itself get them below.
    c.header("x-request-id", requestId);
    const cacheControl = cacheControlFor(path);
    if (cacheControl) c.header("Cache-Control", cacheControl);
    const compressing = COMPRESSIBLE.test(req.headers.get("accept-encoding") ?? "");
    if (method === "GET" || method === "HEAD") useEtags(c, compressing);
    try {
      await (compressing ? compression(c, () => headed(c, next)) : headed(c, next));
    } catch (err) {
      c.res = await onError(err as Error, c);
    }

    const res = c.res;
    const status = res.status;
    if (res.headers.get("x-request-id") !== requestId) {
      completeHeaders(res.headers, { requestId, cacheControl: status < 400 ? cacheControl : "no-store", api: !isPage(path) });
    }
    const route = routeLabel(c);
    const ms = performance.now() - start;
    recordRequest(metrics, method, route, status, ms / 1000);
    logAccess({ reqId: requestId, method, route, path, status, responseTime: ms, ip: c.get("clientIp") });
  };
}

/** Adds what the pipeline prepared to a response a handler built itself (a file, a stream). */
function completeHeaders(h: Headers, o: { requestId: string; cacheControl: string | undefined; api: boolean }) {
  h.set("x-request-id", o.requestId);
  if (o.cacheControl && !h.has("Cache-Control")) h.set("Cache-Control", o.cacheControl);
  // Pages got theirs from hono/secure-headers, which sets them on whatever response comes back.
  if (o.api) for (const [k, v] of API_SECURITY_HEADERS) if (!h.has(k)) h.set(k, v);
}
