/**
 * The request pipeline. Steps, outermost first:
 *
 *   request id + timer -> compression -> caching/ETag -> CORS -> security headers -> client IP ->
 *   rate limit -> auth -> version check -> JSON body rules -> route
 *
 * and, once the response is known, metrics and the access-log line. Errors thrown by a step or the
 * route become the common error response right there, so the outer steps (CORS, rate-limit
 * headers, log) still apply to it.
 *
 * How it runs: not as a Hono middleware but around the first handler Hono matches (see
 * `pipelinedRouter`), or around the not-found handler when nothing matches. A middleware would
 * make every request asynchronous: Hono's compose awaits each layer, and on Bun one layer that only
 * calls `next()` costs a tenth to a sixth of the raw server's throughput (`npm run bench http`
 * shows Hono with and without one). Here a request that needs none of the wrapping steps stays
 * synchronous from Bun's call to its response.
 * The steps that wrap the rest of the chain (compression, CORS, page headers, rate limiting, body
 * limit) are the libraries' own middleware, entered only when they apply.
 */
import type { Context, Env, MiddlewareHandler, Next, NotFoundHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Router } from "hono/router";
import type { H, RouterRoute } from "hono/types";
import type { Logger } from "pino";
import type { Config } from "../config.ts";
import { recordRequest, type Metrics } from "../metrics.ts";
import { accessLogger } from "./access-log.ts";
import { authenticator } from "./auth.ts";
import { cacheControlFor, completeHeaders, useJsonResponses, type StandardHeaders } from "./caching.ts";
import { compression, MAY_COMPRESS } from "./compression.ts";
import { resolveClientIp } from "./client-ip.ts";
import { corsFor } from "./cors.ts";
import { ApiError, onError } from "./errors.ts";
import { checkNegotiation, hasBody, isUploadPath, readUtf8Body } from "./negotiation.ts";
import { isLimitedPath, rateLimit } from "./rate-limit.ts";
import { requestIdFrom } from "./request-context.ts";
import { routeLabel } from "./route-label.ts";
import { isPage, pageSecurityHeaders } from "./security-headers.ts";
import type { AppEnv } from "./types.ts";

export interface PipelineOptions {
  config: Pick<Config, "apiKeys" | "readOnlyKeys" | "corsOrigins" | "rateLimit" | "bodyLimit" | "uploadLimit">;
  logger: Logger;
  metrics: Metrics;
}

type C = Context<AppEnv>;
/** A response now, or later. */
type Out = Response | Promise<Response>;
/** What a Hono handler returns: its response, or nothing once it has set `c.res` (middleware). */
type Returned = Response | void | Promise<Response | void>;
/** The rest of the chain, as seen by one step. */
type Inner = () => Returned;

/** Runs the pipeline around the rest of the chain of one request. */
export type Pipeline = (c: C, inner: Inner) => Out;

/** The response of a settled handler: the one it returned, or the one it left in `c.res`. */
function settle(c: C, r: Response | void): Response {
  if (r instanceof Response) {
    // `c.res` is only read once set: reading it earlier makes Hono build an empty response.
    if (!c.finalized || c.res !== r) c.res = r;
    return c.res;
  }
  if (!c.finalized) throw new Error("Context is not finalized: the handler returned no response");
  return c.res;
}

/** Runs `inner` and always yields a response: whatever it throws or rejects with becomes the error response. */
function protect(c: C, inner: Inner): Out {
  let r: Returned;
  try {
    r = inner();
  } catch (err) {
    return settle(c, onError(err as Error, c));
  }
  if (r instanceof Promise) return r.then((x) => settle(c, x), (err: Error) => settle(c, onError(err, c)));
  return settle(c, r);
}

/** `inner` as a middleware's `next`: protected, its response left in `c.res`. */
function protectedNext(c: C, inner: Inner): Next {
  return () => Promise.resolve(protect(c, inner)).then(() => undefined);
}

/** Runs a library middleware around `inner`. */
function around(mw: MiddlewareHandler<AppEnv>, c: C, inner: Inner): Promise<Response> {
  return Promise.resolve(mw(c, protectedNext(c, inner))).then((r) => settle(c, r));
}

/** Builds the pipeline for a configuration. */
export function pipeline({ config, logger, metrics }: PipelineOptions): Pipeline {
  const compressing = compression(1024);
  const cors = corsFor(config.corsOrigins);
  const pageHeaders = pageSecurityHeaders();
  const limits = rateLimit(config.rateLimit);
  const authenticate = authenticator(config.apiKeys, config.readOnlyKeys);
  const limitTo = (maxSize: number, setting: string) =>
    bodyLimit({
      maxSize,
      onError: () => {
        throw new ApiError(413, `Request body exceeds the limit of ${maxSize} bytes (${setting})`);
      },
    });
  const limitBody = limitTo(config.bodyLimit, "BODY_LIMIT");
  const limitUpload = limitTo(config.uploadLimit, "UPLOAD_LIMIT");
  const trustedProxies = config.rateLimit.trustedProxies;
  const logAccess = accessLogger(logger);

  /** Auth, version and body rules, then the route. Throws the request's ApiError. */
  const guarded = (c: C, inner: Inner): Returned => {
    authenticate(c);
    // The body's type matters only to a route that takes it: an unknown path stays a 404, and a
    // method the path does not take a 405, whatever the body.
    const routed = !(c as C & Marked)[UNROUTED];
    checkNegotiation(c, routed);
    const method = c.req.method;
    if (method === "GET" || method === "HEAD") return inner();
    if (isUploadPath(c.req.path)) return around(limitUpload, c, inner);
    return around(limitBody, c, routed && hasBody(method) ? () => readUtf8Body(c).then(inner) : inner);
  };

  /** Client IP and rate limit; probes need neither, allowlisted clients skip the count. */
  const limited = (c: C, inner: Inner): Returned => {
    if (!isLimitedPath(c.req.path)) return guarded(c, inner);
    const ip = resolveClientIp(c, trustedProxies);
    c.set("clientIp", ip);
    if (!limits.appliesTo(ip)) return guarded(c, inner);
    // Protected inside, so a 401 still counts and still carries the X-RateLimit-* headers.
    return limits.run(c, protectedNext(c, () => guarded(c, inner))).then(() => c.res);
  };

  /** Security headers: hono/secure-headers on pages; the lean API set comes with the standard headers. */
  const secured = (c: C, inner: Inner): Returned => {
    if (isPage(c.req.path)) return around(pageHeaders, c, () => limited(c, inner));
    return limited(c, inner);
  };

  /** CORS for browsers, which always send Origin on cross-origin requests; a preflight ends here. */
  const headed = (c: C, inner: Inner): Returned => {
    if (c.req.header("origin") === undefined) return secured(c, inner);
    return around(cors, c, () => secured(c, inner));
  };

  return function runPipeline(c, inner) {
    const start = performance.now();
    const req = c.req.raw;
    const requestId = requestIdFrom(req.headers.get("x-request-id"));
    c.set("requestId", requestId);
    c.set("logger", logger);
    const method = req.method;
    const path = c.req.path;
    const std: StandardHeaders = { requestId, cacheControl: cacheControlFor(path), api: !isPage(path) };
    const mayCompress = MAY_COMPRESS.test(req.headers.get("accept-encoding") ?? "");
    if (method === "GET" || method === "HEAD") useJsonResponses(c, std, mayCompress);

    const finish = (answer: Response): Response => {
      const res = method === "HEAD" ? withoutBody(answer) : answer;
      const status = res.status;
      if (res !== std.complete) completeHeaders(res.headers, std, status);
      const route = routeLabel(c);
      const ms = performance.now() - start;
      recordRequest(metrics, method, route, status, ms / 1000);
      logAccess({ reqId: requestId, method, route, path, status, responseTime: ms, ip: c.get("clientIp") });
      return res;
    };
    const out = protect(c, mayCompress ? () => around(compressing, c, () => headed(c, inner)) : () => headed(c, inner));
    return out instanceof Promise ? out.then(finish) : finish(out);
  };
}

/**
 * A HEAD answer: the GET handler's response without its body, which is cancelled. Hono drops the
 * body too but never cancels it, so a stream (an SSE log follower) would stay subscribed, queueing
 * every line for a reader that never comes.
 */
function withoutBody(res: Response): Response {
  if (!res.body) return res;
  res.body.cancel().catch(() => {});
  return new Response(null, res);
}

/** Marks a request's context once the pipeline runs for it. */
const PIPELINE_RAN = Symbol("pipeline ran");
/** Marks a request no route took (the not-found handler answers it). */
const UNROUTED = Symbol("unrouted");
type Marked = { [PIPELINE_RAN]?: true; [UNROUTED]?: true };

/** `handler`, with the pipeline around it unless an earlier handler of the same request ran it. */
function entry<H extends (c: C, next: Next) => Returned>(run: Pipeline, handler: H): H {
  return ((c: C & Marked, next: Next) => {
    if (c[PIPELINE_RAN]) return handler(c, next);
    c[PIPELINE_RAN] = true;
    return run(c, () => handler(c, next));
  }) as H;
}

/**
 * Wraps a Hono router so that every handler it hands out runs the pipeline first, once per request:
 * the first handler matched for a request runs it around the whole chain after it. Hono calls a
 * single matched handler directly, without composing, so a route with no middleware of its own
 * answers synchronously.
 */
export function pipelinedRouter(router: Router<[H, RouterRoute]>, run: Pipeline): Router<[H, RouterRoute]> {
  return {
    name: `pipelined ${router.name}`,
    add(method, path, [handler, route]) {
      router.add(method, path, [entry(run, handler as never), route]);
    },
    // Read on each call: SmartRouter replaces its own `match` with the router it picks.
    match: (method, path) => router.match(method, path),
  };
}

/** The not-found handler, with the pipeline around it (so unknown paths still need a token). */
export function pipelinedNotFound<E extends Env>(run: Pipeline, handler: NotFoundHandler<E>): NotFoundHandler<E> {
  const answer = entry(run, (c: C) => handler(c as never) as Returned);
  return ((c: C & Marked) => {
    c[UNROUTED] = true;
    return answer(c);
  }) as never;
}
