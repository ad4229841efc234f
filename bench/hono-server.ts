/** A second reference: bare Hono (the framework this API is built on) with one JSON route. */
import { Hono } from "hono";

const app = new Hono();
app.get("/health", (c) => c.json({ status: "healthy", timestamp: new Date().toISOString() }));
const server = Bun.serve({ port: Number(Bun.argv[2] ?? 0), hostname: "127.0.0.1", fetch: app.fetch });
console.log(server.port);
