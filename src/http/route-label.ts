import type { Context } from "hono";

/**
 * The matched route pattern (e.g. `/v1/tasks/:taskId`) for logs and metric labels. Requests that
 * match no route share one label, so random paths cannot grow the metric's label set.
 */
export function routeLabel(c: Context): string {
  const routes = c.req.matchedRoutes;
  for (let i = routes.length - 1; i >= 0; i--) {
    const r = routes[i]!;
    if (r.method !== "ALL" && r.path !== "*" && r.path !== "/*") return r.path;
  }
  return "unmatched";
}
