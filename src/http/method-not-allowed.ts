/**
 * 405 for a path that exists under other methods: `DELETE /v1/tasks` is a wrong method, not an
 * unknown route. RFC 9110 §15.5.6 asks for an `Allow` header listing the methods the path has, and
 * §9.3.7 lets OPTIONS ask for that list.
 */
import type { Context } from "hono";
import { TrieRouter } from "hono/router/trie-router";
import type { RouterRoute } from "hono/types";
import { errorResponse } from "./errors.ts";
import type { AppEnv } from "./types.ts";

/**
 * Builds a lookup from a path to the methods registered for it, matched with Hono's own router so
 * that `/v1/tasks/:taskId` patterns match as they do for dispatch. The table is built on the first
 * lookup: Hono's router takes no routes after its first match either, so the set is final by then.
 * HEAD comes with GET, as Hono answers HEAD from GET handlers, and OPTIONS with any path that exists.
 */
export function allowedMethods(routes: () => RouterRoute[]): (path: string) => string[] {
  let table: { router: TrieRouter<string>; methods: string[] } | undefined;
  const build = () => {
    const router = new TrieRouter<string>();
    const methods = new Set<string>();
    for (const r of routes()) {
      if (r.method === "ALL") continue; // middleware, not an endpoint
      router.add(r.method, r.path, r.method);
      methods.add(r.method);
    }
    return { router, methods: [...methods] };
  };
  return function methodsFor(path) {
    const { router, methods } = (table ??= build());
    const allowed = methods.filter((m) => router.match(m, path)[0].length > 0);
    if (allowed.includes("GET")) allowed.splice(allowed.indexOf("GET") + 1, 0, "HEAD");
    if (allowed.length > 0) allowed.push("OPTIONS");
    return allowed;
  };
}

/**
 * The answer for a path that exists under other methods: OPTIONS (without CORS preflight headers,
 * which the CORS step answers earlier) gets 204 with `Allow`; any other method a 405 in the common
 * format with `Allow` and `details.allowed`.
 */
export function otherMethod(c: Context<AppEnv>, allowed: string[]) {
  const allow = allowed.join(", ");
  if (c.req.method === "OPTIONS") return c.body(null, 204, { Allow: allow });
  return errorResponse(c, 405, `Method ${c.req.method} is not allowed on ${c.req.path}; allowed: ${allow}`, {
    headers: { Allow: allow },
    details: { allowed },
  });
}
