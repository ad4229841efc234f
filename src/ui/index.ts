/** The dashboard at /ui: static files embedded in the binary (no CDN), using only the public API. */
import type { Hono } from "hono";
import htmlPath from "./assets/index.html" with { type: "file" };
import jsPath from "./assets/app.js" with { type: "file" };
import clientPath from "./assets/client.js" with { type: "file" };
import galleryPath from "./assets/gallery.js" with { type: "file" };
import queuePath from "./assets/queue.js" with { type: "file" };
import agentLogPath from "./assets/agent-log.js" with { type: "file" };
import cellsPath from "./assets/cells.js" with { type: "file" };
import taskLogPath from "./assets/task-log.js" with { type: "file" };
import modelsPath from "./assets/models.js" with { type: "file" };
import cssPath from "./assets/app.css" with { type: "file" };
import type { AppEnv } from "../http/types.ts";

const FILES: [string, string, string][] = [
  // Imported `with { type: "file" }`: a path (bun-types describes .html imports as HTML bundles).
  ["/ui", htmlPath as unknown as string, "text/html; charset=utf-8"],
  ["/ui/app.js", jsPath, "text/javascript; charset=utf-8"],
  ["/ui/client.js", clientPath, "text/javascript; charset=utf-8"],
  ["/ui/gallery.js", galleryPath, "text/javascript; charset=utf-8"],
  ["/ui/queue.js", queuePath, "text/javascript; charset=utf-8"],
  ["/ui/agent-log.js", agentLogPath, "text/javascript; charset=utf-8"],
  ["/ui/cells.js", cellsPath, "text/javascript; charset=utf-8"],
  ["/ui/task-log.js", taskLogPath, "text/javascript; charset=utf-8"],
  ["/ui/models.js", modelsPath, "text/javascript; charset=utf-8"],
  ["/ui/app.css", cssPath, "text/css; charset=utf-8"],
];

export function registerDashboard(app: Hono<AppEnv>) {
  for (const [route, path, type] of FILES) {
    app.get(route, () => new Response(Bun.file(path), { headers: { "Content-Type": type, "Cache-Control": "no-cache" } }));
  }
}
