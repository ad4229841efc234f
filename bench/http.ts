/** Full stack vs raw Bun.serve, measured by wrk on loopback. */
import { fmt, freePort, KEY, ROOT, startApi } from "./lib.ts";
import { join } from "node:path";

function ensureWrk(): string {
  const found = Bun.which("wrk");
  if (found) return found;
  console.log("wrk not found: installing it from Debian (apt-get install wrk)");
  Bun.spawnSync(["apt-get", "update", "-qq"], { stdout: "inherit", stderr: "inherit" });
  Bun.spawnSync(["apt-get", "install", "-y", "-qq", "wrk"], { stdout: "inherit", stderr: "inherit" });
  const again = Bun.which("wrk");
  if (!again) throw new Error("wrk could not be installed");
  return again;
}

interface WrkResult { rps: number; p50: number; p99: number }

function parseMs(v: string): number {
  const m = /([\d.]+)(us|ms|s)/.exec(v);
  if (!m) return NaN;
  return Number(m[1]) * (m[2] === "us" ? 0.001 : m[2] === "s" ? 1000 : 1);
}

async function wrk(bin: string, url: string, headers: Record<string, string> = {}, seconds = 5): Promise<WrkResult> {
  const args = [bin, "-t1", "-c32", `-d${seconds}s`, "--latency", ...Object.entries(headers).flatMap(([k, v]) => ["-H", `${k}: ${v}`]), url];
  const run = Bun.spawnSync(args, { stdout: "pipe", stderr: "pipe" });
  const out = run.stdout.toString();
  if (!/Requests\/sec/.test(out)) console.error(`wrk failed for ${url}: ${out}${run.stderr.toString()}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const p50 = parseMs(/50%\s+(\S+)/.exec(out)?.[1] ?? "0ms");
  const p99 = parseMs(/99%\s+(\S+)/.exec(out)?.[1] ?? "0ms");
  return { rps, p50, p99 };
}

export async function benchHttp() {
  const bin = ensureWrk();
  const port = freePort();
  const raw = Bun.spawn([process.execPath, join(ROOT, "bench/raw-server.ts"), String(port)], { stdout: "pipe" });
  const honoPort = freePort();
  const hono = Bun.spawn([process.execPath, join(ROOT, "bench/hono-server.ts"), String(honoPort)], { stdout: "pipe" });
  await Bun.sleep(500);
  const api = await startApi();
  try {
    await wrk(bin, `http://127.0.0.1:${port}/`, {}, 1); // warm-up
    await wrk(bin, `${api.base}/health`, {}, 1);
    const rawR = await wrk(bin, `http://127.0.0.1:${port}/`);
    const honoR = await wrk(bin, `http://127.0.0.1:${honoPort}/health`);
    const health = await wrk(bin, `${api.base}/health`);
    const authed = await wrk(bin, `${api.base}/v1/tasks`, { Authorization: `Bearer ${KEY}` });
    const row = (name: string, r: WrkResult) =>
      console.log(`  ${name.padEnd(28)} ${fmt(r.rps, 0).padStart(9)} req/s  p50 ${fmt(r.p50, 2)} ms  p99 ${fmt(r.p99, 2)} ms  ratio ${fmt(r.rps / rawR.rps, 2)}x`);
    console.log("HTTP throughput (wrk -t1 -c32, 5 s each, logging on)");
    row("raw Bun.serve (reference)", rawR);
    row("bare Hono, one route", honoR);
    row("full stack GET /health", health);
    row("full stack GET /v1/tasks (auth)", authed);
    console.log(`  target: full stack >= 0.60x raw -> /health ${health.rps / rawR.rps >= 0.6 ? "met" : "NOT met"}, /v1/tasks ${authed.rps / rawR.rps >= 0.6 ? "met" : "NOT met"}`);
  } finally {
    raw.kill();
    hono.kill();
    await api.stop();
  }
}
