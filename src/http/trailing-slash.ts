/**
 * `/docs/`, `/v1/tasks/`: a trailing slash on a path that exists without one. Hono matches paths
 * strictly, so these were 404s; a GET or HEAD is now sent on to the path without the slash (301,
 * as Hono's trimTrailingSlash does). This runs only where no route matched, so it costs matched
 * requests nothing; other methods keep their 404, since a redirected POST would lose its body.
 */
import type { Context } from "hono";
import type { AppEnv } from "./types.ts";

/** A 301 to the same URL without its trailing slashes, when `exists(path)` says that path has a GET route. */
export function trailingSlashRedirect(c: Context<AppEnv>, exists: (path: string) => boolean): Response | undefined {
  if (c.req.method !== "GET" && c.req.method !== "HEAD") return undefined;
  const routed = c.req.path; // as routed (an unversioned path asked for as v1 is /v1/...)
  if (routed.length < 2 || !routed.endsWith("/")) return undefined;
  const trimmed = routed.replace(/\/+$/, "");
  if (!trimmed || !exists(trimmed)) return undefined;
  const url = new URL(c.req.url);
  const target = url.pathname.replace(/\/+$/, "");
  // Never "//host": a browser reads that Location as another site.
  if (target.startsWith("//")) return undefined;
  // Relative ("../tasks" from "/v1/tasks/"), so that behind a proxy serving the API under a path of
  // its own the client stays under that path: one "../" per trailing slash, then the last segment.
  const slashes = url.pathname.length - target.length;
  return c.redirect(`${"../".repeat(slashes)}${target.slice(target.lastIndexOf("/") + 1)}${url.search}`, 301);
}
