/** Per-client-IP rate limiting (hono-rate-limiter) with X-RateLimit-* headers and the common 429 body. */
import type { Context } from "hono";
import { rateLimiter } from "hono-rate-limiter";
import { errorResponse } from "./errors.ts";
import { subnetKey, type CidrMatcher } from "./cidr.ts";
import { MonotonicMemoryStore } from "./rate-limit-store.ts";
import type { AppEnv } from "./types.ts";

/** Probes are never limited: an orchestrator polling them must not lock out real clients. */
const UNLIMITED_PATHS = new Set(["/health", "/ready", "/metrics"]);

export interface RateLimitOptions {
  max: number;
  windowMs: number;
  /** IPv6 clients are counted per subnet of this prefix length. */
  ipv6Subnet: number;
  allowlist: CidrMatcher;
}

type Info = { limit: number; remaining: number; resetTime?: Date };

/** Whether requests to `path` are subject to limits at all (the client's address is not needed otherwise). */
export function isLimitedPath(path: string): boolean {
  return !UNLIMITED_PATHS.has(path);
}

export interface RateLimit {
  /** Whether a request from `ip` counts against a limit (allowlisted addresses do not). */
  appliesTo(ip: string): boolean;
  /** Counts the request (failed authentication too); runs `next` or answers 429; sets X-RateLimit-*. */
  run(c: Context<AppEnv>, next: () => Promise<void>): Promise<void>;
}

export function rateLimit(options: RateLimitOptions): RateLimit {
  const limiter = rateLimiter<AppEnv>({
    windowMs: options.windowMs,
    limit: options.max,
    standardHeaders: false,
    store: new MonotonicMemoryStore(),
    keyGenerator: (c) => subnetKey(c.get("clientIp"), options.ipv6Subnet),
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
  return {
    appliesTo: (ip) => !options.allowlist.has(ip),
    async run(c, next) {
      const limited = await limiter(c, next);
      if (limited) c.res = limited;
      const info = c.get("rateLimit" as never) as Info | undefined;
      if (!info) return;
      // Every response is built by this server (proxied ComfyUI files are rewrapped), so its headers are mutable.
      const h = c.res.headers;
      const reset = info.resetTime ?? new Date(Date.now() + options.windowMs);
      h.set("X-RateLimit-Limit", String(info.limit));
      h.set("X-RateLimit-Remaining", String(info.remaining));
      h.set("X-RateLimit-Reset", String(Math.ceil(reset.getTime() / 1000)));
    },
  };
}
