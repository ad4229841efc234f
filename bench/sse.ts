/** One chatty task followed by many SSE clients: per-client line rate, write-to-receipt delay, server memory. */
import { fmt, KEY, percentile, rssMiB, startApi } from "./lib.ts";

/** Starts a bench provider's task printing `lines` lines; it waits for a "go" file in its directory. */
async function startWaitingTask(base: string, provider: "chatty" | "runaway", lines: number) {
  const res = await fetch(`${base}/v1/tasks`, {
    method: "POST",
    headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" },
    body: JSON.stringify({ agent: "bench", task: String(lines), provider }),
  });
  return (await res.json()) as { taskId: string; taskDir: string };
}

export async function benchSseFanout(clients = 1000, lines = 3000) {
  const api = await startApi();
  try {
    const { taskId, taskDir } = await startWaitingTask(api.base, "chatty", lines);
    let connected = 0;
    const rssBefore = await rssMiB(api.proc.pid);
    const delays: number[] = [];
    const perClient: { lines: number; first: number; last: number }[] = [];
    let peakRss = rssBefore;
    const sampler = setInterval(async () => (peakRss = Math.max(peakRss, await rssMiB(api.proc.pid).catch(() => 0))), 200);
    const follow = async (sample: boolean) => {
      const r = await fetch(`${api.base}/v1/tasks/${taskId}/logs/stream?token=${KEY}`);
      const reader = r.body!.getReader();
      const decoder = new TextDecoder();
      const stats = { lines: 0, first: 0, last: 0 };
      let carry = "";
      let counted = false;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        if (!counted) {
          counted = true;
          connected++;
        }
        const now = Date.now();
        const text = carry + decoder.decode(value, { stream: true });
        const cut = text.lastIndexOf("\n\n");
        carry = text.slice(cut + 2);
        let i = 0;
        while ((i = text.indexOf('"line":"', i)) !== -1 && i < cut) {
          const stampNs = Number(text.slice(i + 8, text.indexOf(" ", i + 8)));
          if (!stats.first) stats.first = now;
          stats.last = now;
          stats.lines++;
          if (sample) delays.push(now - stampNs / 1e6);
          i += 8;
        }
        if (text.includes("event: task-complete")) break;
      }
      perClient.push(stats);
    };
    // Every 10th client records every delay; all count lines.
    const all = Array.from({ length: clients }, (_, i) => follow(i % 10 === 0));
    while (connected < clients) await Bun.sleep(20);
    await Bun.write(`${taskDir}/go`, "");
    await Promise.all(all);
    clearInterval(sampler);
    delays.sort((a, b) => a - b);
    const complete = perClient.filter((c) => c.lines === lines).length;
    const rates = perClient.map((c) => (c.lines / Math.max(1, c.last - c.first)) * 1000).sort((a, b) => a - b);
    console.log(`SSE fan-out: 1 chatty task (${lines} lines), ${clients} clients`);
    console.log(`  clients with every line          ${complete}/${clients}`);
    console.log(`  lines/s per client               p50 ${fmt(percentile(rates, 50), 0)}  min ${fmt(rates[0] ?? 0, 0)}`);
    console.log(`  delay write -> receipt           p50 ${fmt(percentile(delays, 50), 1)} ms  p99 ${fmt(percentile(delays, 99), 1)} ms (target < 100 ms: ${percentile(delays, 99) < 100 ? "met" : "NOT met"})`);
    console.log(`  server RSS                       idle ${fmt(rssBefore, 0)} MiB  peak ${fmt(peakRss, 0)} MiB (target < 300 MiB: ${peakRss < 300 ? "met" : "NOT met"})`);
  } finally {
    await api.stop();
  }
}

/**
 * A task printing as fast as it can, followed by a few fast clients: what the server holds while
 * it encodes and fans out lines faster than anyone could read them. The reference is the same
 * server's idle memory; a client more than 16 MiB behind is dropped by design (EventSource would
 * reconnect and resume), so the bench counts those too.
 */
export async function benchSseRunaway(clients = 4, lines = 1_000_000) {
  const api = await startApi();
  try {
    const { taskId, taskDir } = await startWaitingTask(api.base, "runaway", lines);
    const rssBefore = await rssMiB(api.proc.pid);
    let peakRss = rssBefore;
    const sampler = setInterval(async () => (peakRss = Math.max(peakRss, await rssMiB(api.proc.pid).catch(() => 0))), 50);
    const follow = async () => {
      const r = await fetch(`${api.base}/v1/tasks/${taskId}/logs/stream?token=${KEY}`);
      const reader = r.body!.getReader();
      let bytes = 0;
      let complete = false;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        bytes += value.length;
        // The end event comes last, in the last chunk or the one before.
        if (Buffer.from(value.subarray(-200)).toString("latin1").includes("event: task-complete")) complete = true;
      }
      return { bytes, complete };
    };
    const started = performance.now();
    const all = Array.from({ length: clients }, follow);
    await Bun.sleep(200);
    await Bun.write(`${taskDir}/go`, "");
    const results = await Promise.all(all);
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    const mib = results.reduce((n, r) => n + r.bytes, 0) / 1048576;
    console.log(`SSE runaway: 1 task printing ${fmt(lines, 0)} lines as fast as it can, ${clients} clients`);
    console.log(`  clients to the end (others lagged 16 MiB and were dropped)  ${results.filter((r) => r.complete).length}/${clients}`);
    console.log(`  delivered                        ${fmt(mib, 0)} MiB in ${fmt(seconds, 1)} s (${fmt(mib / seconds, 0)} MiB/s, all clients)`);
    console.log(`  server RSS                       idle ${fmt(rssBefore, 0)} MiB  peak ${fmt(peakRss, 0)} MiB  ratio ${fmt(peakRss / rssBefore, 2)}x idle`);
  } finally {
    await api.stop();
  }
}
