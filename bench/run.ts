/**
 * npm run bench: every benchmark, each printing its figures and a ratio against a same-run reference.
 * `npm run bench -- ws sse` runs only those; a number sets the clients of the fan-out benches (1000).
 */
import { benchHttp } from "./http.ts";
import { benchIdle } from "./idle.ts";
import { benchSoak } from "./soak.ts";
import { benchSseFanout, benchSseRunaway } from "./sse.ts";
import { benchTaskStart } from "./tasks.ts";
import { benchWsFanout } from "./ws.ts";

const BENCHES = ["http", "tasks", "sse", "ws", "idle", "soak"];
const args = Bun.argv.slice(2);
const names = args.filter((a) => !/^\d+$/.test(a));
const unknown = names.filter((n) => !BENCHES.includes(n));
if (unknown.length) {
  console.error(`Unknown benchmark ${unknown.join(", ")}; choose from ${BENCHES.join(", ")}, and optionally a client count`);
  process.exit(2);
}
const clients = Number(args.find((a) => /^\d+$/.test(a)) ?? 1000);
const run = (name: string) => names.length === 0 || names.includes(name);
if (run("http")) await benchHttp();
if (run("tasks")) await benchTaskStart();
if (run("sse")) {
  await benchSseFanout(clients);
  await benchSseRunaway();
}
if (run("ws")) await benchWsFanout(clients);
if (run("idle")) await benchIdle();
if (run("soak")) await benchSoak();
