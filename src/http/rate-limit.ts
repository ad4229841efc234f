/** Per-client-IP rate limiting (hono-rate-limiter) with X-RateLimit-* headers and the common 429 body. */
import type { MiddlewareHandler } from "hono";
import { rateLimiter } from "hono-rate-limiter";
import { errorResponse } from "./errors.ts";
import type { CidrMatcher } from "./cidr.ts";
import type { AppEnv } from "./types.ts";

const UNLIMITED_PATHS = new Set(["/health", "/ready", "/metrics"]);

export interface RateLimitOptions {
  max: number;
  windowMs: number;
  allowlist: CidrMatcher;
}

type Info = { limit: number; remaining: number; resetTime?: Date };

function setHeaders(headers: Headers, info: Info, windowMs: number) {
  const reset = info.resetTime ?? new Date(Date.now() + windowMs);
  headers.set("X-RateLimit-Limit", String(info.limit));
  headers.set("X-RateLimit-Remaining", String(info.remaining));
  headers.set("X-RateLimit-Reset", String(Math.ceil(reset.getTime() / 1000)));
}

/** Counts every request (failed authentication too) against the client's IP. */
export function rateLimit(options: RateLimitOptions): MiddlewareHandler<AppEnv> {
  const limiter = rateLimiter<AppEnv>({
    windowMs: options.windowMs,
    limit: options.max,
    standardHeaders: false,
    keyGenerator: (c) => c.get("clientIp"),
    skip: (c) => UNLIMITED_PATHS.has(c.req.path) || options.allowlist.has(c.get("clientIp")),
    handler: (c) => {
      const info = c.get("rateLimit" as never) as Info;
      const reset = info.resetTime ?? new Date(Date.now() + options.windowMs);
      const retryAfter = Math.max(1, Math.ceil((reset.getTime() - Date.now()) / 1000));
      return errorResponse(c, 429, "Rate limit exceeded", {
        extra: { retryAfter },
        headers: { "Retry-After": String(retryAfter) },
      });
    },
  });
  return async function rateLimitMiddleware(c, next) {
    const limited = await limiter(c, next);
    if (limited) c.res = limited;
    const info = c.get("rateLimit" as never) as Info | undefined;
    // Every response is built here (proxied ComfyUI files are rewrapped), so its headers are mutable.
    if (info) setHeaders(c.res.headers, info, options.windowMs);
  };
}
