/** Time from POST /v1/tasks to the process running, against raw Bun.spawn of the same command. */
import { fmt, KEY, percentile, startApi } from "./lib.ts";

const RUNS = 40;

export async function benchTaskStart() {
  const api = await startApi();
  try {
    const rawMs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const wall = BigInt(Date.now()) * 1_000_000n;
      const p = Bun.spawn(["sh", "-c", "date +%s%N"], { stdout: "pipe" });
      const started = BigInt((await new Response(p.stdout).text()).trim());
      rawMs.push(Number(started - wall) / 1e6);
    }
    const apiMs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const wall = BigInt(Date.now()) * 1_000_000n;
      const res = await fetch(`${api.base}/v1/tasks`, {
        method: "POST",
        headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" },
        body: JSON.stringify({ agent: "bench", task: "x", provider: "stamp" }),
      });
      const { logFile } = (await res.json()) as { logFile: string };
      let text = "";
      while (!(text = await Bun.file(logFile).text()).includes("\n")) await Bun.sleep(1);
      apiMs.push(Number(BigInt(text.trim()) - wall) / 1e6);
    }
    rawMs.sort((a, b) => a - b);
    apiMs.sort((a, b) => a - b);
    const rawP50 = percentile(rawMs, 50);
    const apiP50 = percentile(apiMs, 50);
    console.log(`Task start latency (${RUNS} runs each; from request to the command's first instruction)`);
    console.log(`  raw Bun.spawn (reference)     p50 ${fmt(rawP50, 2)} ms  p99 ${fmt(percentile(rawMs, 99), 2)} ms`);
    console.log(`  POST /v1/tasks                p50 ${fmt(apiP50, 2)} ms  p99 ${fmt(percentile(apiMs, 99), 2)} ms  ratio ${fmt(apiP50 / rawP50, 2)}x`);
    console.log(`  target: within 2x of raw Bun.spawn -> ${apiP50 / rawP50 <= 2 ? "met" : "NOT met"}`);
  } finally {
    await api.stop();
  }
}
