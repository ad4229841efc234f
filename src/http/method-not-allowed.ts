/**
 * 405 for a path that exists under other methods: `DELETE /v1/tasks` is a wrong method, not an
 * unknown route. RFC 9110 §15.5.6 asks for an `Allow` header listing the methods the path has.
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
 * HEAD comes with GET, as Hono answers HEAD from GET handlers.
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
    return allowed;
  };
}

/** The 405 response in the common error format, with `Allow`. */
export function methodNotAllowed(c: Context<AppEnv>, allowed: string[]) {
  return errorResponse(c, 405, `Method ${c.req.method} is not allowed on ${c.req.path}; allowed: ${allowed.join(", ")}`, {
    headers: { Allow: allowed.join(", ") },
    details: { allowed },
  });
}
