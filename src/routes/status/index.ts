import { apiRouter } from "../../http/api-router.ts";
import type { AppEnv } from "../../http/types.ts";
import type { StatusService } from "../../system/status-service.ts";
import { statusRoute } from "./status.routes.ts";

export function statusRoutes(status: StatusService) {
  return apiRouter<AppEnv>().openapi(statusRoute, async (c) => {
    const value = await status.get();
    c.header("Age", String(status.cacheAge));
    return c.json(value, 200);
  });
}
