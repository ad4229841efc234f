/**
 * More references: bare Hono (the framework this API is built on) with one JSON route, and with
 * one middleware that does nothing but `await next()` (what any middleware at all costs).
 */
import { Hono } from "hono";

const withMiddleware = Bun.argv[3] === "middleware";
const app = new Hono();
if (withMiddleware) app.use("*", async (_c, next) => await next());
app.get("/health", (c) => c.json({ status: "healthy", timestamp: new Date().toISOString() }));
const server = Bun.serve({ port: Number(Bun.argv[2] ?? 0), hostname: "127.0.0.1", fetch: app.fetch });
console.log(server.port);
