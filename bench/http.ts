/**
 * Full stack vs raw Bun.serve, measured by wrk on loopback. The targets take turns, round after
 * round, and the ratio is the median of each round's ratio: a shared machine's speed drifts by tens
 * of percent within a minute, and only what ran side by side compares.
 */
import { join } from "node:path";
import { cpuSeconds, fmt, freePort, KEY, percentile, ROOT, startApi } from "./lib.ts";

const ROUNDS = 5;
const SECONDS = 2;

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

interface WrkResult { rps: number; p50: number; p99: number; requests: number }

function parseMs(v: string): number {
  const m = /([\d.]+)(us|ms|s)/.exec(v);
  if (!m) return NaN;
  return Number(m[1]) * (m[2] === "us" ? 0.001 : m[2] === "s" ? 1000 : 1);
}

function wrk(bin: string, url: string, headers: Record<string, string> = {}, seconds = SECONDS): WrkResult {
  const args = [bin, "-t1", "-c32", `-d${seconds}s`, "--latency", ...Object.entries(headers).flatMap(([k, v]) => ["-H", `${k}: ${v}`]), url];
  const run = Bun.spawnSync(args, { stdout: "pipe", stderr: "pipe" });
  const out = run.stdout.toString();
  if (!/Requests\/sec/.test(out)) console.error(`wrk failed for ${url}: ${out}${run.stderr.toString()}`);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN),
    p50: parseMs(/50%\s+(\S+)/.exec(out)?.[1] ?? "0ms"),
    p99: parseMs(/99%\s+(\S+)/.exec(out)?.[1] ?? "0ms"),
    requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN),
  };
}

// A round wrk could not time (no latency line) is left out rather than turning the median into NaN.
const median = (xs: number[]) => percentile(xs.filter(Number.isFinite).sort((a, b) => a - b), 50);

interface Target { name: string; url: string; pid: number; headers?: Record<string, string>; reference: string }

/** One timed run of a target: wrk's figures and the server's CPU time per request, in µs. */
interface Run extends WrkResult { cpuUs: number }

function measure(bin: string, t: Target): Run {
  const before = cpuSeconds(t.pid);
  const r = wrk(bin, t.url, t.headers);
  return { ...r, cpuUs: ((cpuSeconds(t.pid) - before) * 1e6) / r.requests };
}

async function waitForPort(port: number) {
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`http://127.0.0.1:${port}/health`);
      return;
    } catch {
      await Bun.sleep(50);
    }
  }
}

export async function benchHttp() {
  const bin = ensureWrk();
  const children: { name: string; port: number; proc: ReturnType<typeof Bun.spawn> }[] = [];
  for (const [name, script, extra] of [["raw", "bench/raw-server.ts", [KEY]], ["hono", "bench/hono-server.ts", []], ["hono+mw", "bench/hono-server.ts", ["middleware"]]] as const) {
    const port = freePort();
    children.push({ name, port, proc: Bun.spawn([process.execPath, join(ROOT, script), String(port), ...extra], { stdout: "pipe" }) });
  }
  for (const c of children) await waitForPort(c.port);
  const api = await startApi();
  const child = (name: string) => children.find((c) => c.name === name)!;
  const url = (name: string, path: string) => `http://127.0.0.1:${child(name).port}${path}`;
  const pid = (name: string) => child(name).proc.pid;
  const targets: Target[] = [
    { name: "raw Bun.serve GET /health", url: url("raw", "/health"), pid: pid("raw"), reference: "" },
    { name: "bare Hono, one route", url: url("hono", "/health"), pid: pid("hono"), reference: "raw Bun.serve GET /health" },
    { name: "Hono + one no-op middleware", url: url("hono+mw", "/health"), pid: pid("hono+mw"), reference: "raw Bun.serve GET /health" },
    { name: "raw Bun.serve + the API's headers", url: url("raw", "/health/with-api-headers"), pid: pid("raw"), reference: "raw Bun.serve GET /health" },
    { name: "full stack GET /health", url: `${api.base}/health`, pid: api.proc.pid, reference: "raw Bun.serve GET /health" },
    { name: "raw Bun.serve GET /v1/tasks", url: url("raw", "/v1/tasks"), pid: pid("raw"), reference: "" },
    { name: "raw Bun.serve + peer address", url: url("raw", "/v1/tasks/with-peer-address"), pid: pid("raw"), reference: "raw Bun.serve GET /v1/tasks" },
    { name: "raw Bun.serve + spec minimum", url: url("raw", "/v1/tasks/spec-minimum"), pid: pid("raw"), headers: { Authorization: `Bearer ${KEY}` }, reference: "raw Bun.serve GET /v1/tasks" },
    { name: "full stack GET /v1/tasks (auth)", url: `${api.base}/v1/tasks`, pid: api.proc.pid, headers: { Authorization: `Bearer ${KEY}` }, reference: "raw Bun.serve GET /v1/tasks" },
  ];
  try {
    // The API answers the same JSON as the reference (an empty task list) before anything is timed.
    const body = await (await fetch(`${api.base}/v1/tasks`, { headers: { Authorization: `Bearer ${KEY}` } })).json();
    const reference = await (await fetch(url("raw", "/v1/tasks"))).json();
    if (JSON.stringify(body) !== JSON.stringify(reference)) throw new Error(`GET /v1/tasks differs from the reference: ${JSON.stringify(body)}`);
    // The spec-minimum row really checks the token: it must refuse a wrong one.
    const specMinimumStatus = (token: string) => fetch(url("raw", "/v1/tasks/spec-minimum"), { headers: { Authorization: `Bearer ${token}` } }).then((r) => r.status);
    if ((await specMinimumStatus(KEY)) !== 200 || (await specMinimumStatus(`${KEY}x`)) !== 403) throw new Error("the spec-minimum reference does not check the token");
    for (const t of targets) wrk(bin, t.url, t.headers, 1); // warm-up
    const runs = new Map<string, Run[]>(targets.map((t) => [t.name, []]));
    for (let round = 0; round < ROUNDS; round++) for (const t of targets) runs.get(t.name)!.push(measure(bin, t));

    console.log(`HTTP throughput (wrk -t1 -c32, ${ROUNDS} interleaved rounds of ${SECONDS} s, logging on; medians)`);
    const ratios = new Map<string, number>();
    const cpuRatios = new Map<string, number>();
    for (const t of targets) {
      const r = runs.get(t.name)!;
      const ref = t.reference ? runs.get(t.reference)! : r;
      const ratio = median(r.map((x, i) => x.rps / ref[i]!.rps));
      // Server CPU per request, as a speed ratio: the reference's cost over this target's.
      const cpuRatio = median(r.map((x, i) => ref[i]!.cpuUs / x.cpuUs));
      ratios.set(t.name, ratio);
      cpuRatios.set(t.name, cpuRatio);
      const label = t.reference ? `ratio ${fmt(ratio, 2)}x  cpu ratio ${fmt(cpuRatio, 2)}x` : "reference";
      const cpu = `server cpu ${fmt(median(r.map((x) => x.cpuUs)), 1).padStart(5)} us/req`;
      console.log(`  ${t.name.padEnd(35)} ${fmt(median(r.map((x) => x.rps)), 0).padStart(9)} req/s  p50 ${fmt(median(r.map((x) => x.p50)), 2)} ms  p99 ${fmt(median(r.map((x) => x.p99)), 2)} ms  ${cpu}  ${label}`);
    }
    const verdict = (name: string) => `${fmt(ratios.get(name)!, 2)}x (${ratios.get(name)! >= 0.6 ? "met" : "NOT met"}; cpu ratio ${fmt(cpuRatios.get(name)!, 2)}x)`;
    console.log(`  target: full stack >= 0.60x raw -> /health ${verdict("full stack GET /health")}, /v1/tasks ${verdict("full stack GET /v1/tasks (auth)")}`);
    const minimum = "raw Bun.serve + spec minimum";
    console.log(`  what the spec requires of an authenticated route, alone (peer address, token check, headers): ${fmt(ratios.get(minimum)!, 2)}x of raw (cpu ratio ${fmt(cpuRatios.get(minimum)!, 2)}x)`);
  } finally {
    for (const c of children) c.proc.kill();
    await api.stop();
  }
}
