/** WebSocket fan-out: 1,000 sockets subscribed to every workflow event; delay from emit to receipt, server memory. */
import { FakeComfyUI } from "../test/fake-comfyui.ts";
import { fmt, KEY, percentile, rssMiB, startApi, waitForComfyUI } from "./lib.ts";

export async function benchWsFanout(sockets = 1000, workflows = 10) {
  const fake = new FakeComfyUI({ nodeMs: 100 }).start();
  const api = await startApi({ COMFYUI_URL: fake.url, LOG_LEVEL: "warn" });
  try {
    await waitForComfyUI(api.base);
    const rssIdle = await rssMiB(api.proc.pid);
    const delays: number[] = [];
    let received = 0;
    const wsUrl = api.base.replace("http", "ws") + "/v1/comfyui/stream";
    const clients = await Promise.all(
      Array.from({ length: sockets }, (_, i) => new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(wsUrl, ["Bearer", KEY]);
        ws.onopen = () => {
          ws.send(JSON.stringify({ type: "subscribe", workflowId: "*" }));
          resolve(ws);
        };
        ws.onerror = () => reject(new Error("socket failed"));
        ws.onmessage = (e) => {
          const m = JSON.parse(String(e.data));
          if (!m.type?.startsWith("workflow:")) return;
          received++;
          if (i % 10 === 0) delays.push(Date.now() - Date.parse(m.timestamp));
        };
      })),
    );
    await Bun.sleep(300);
    let peak = rssIdle;
    const sampler = setInterval(async () => (peak = Math.max(peak, await rssMiB(api.proc.pid).catch(() => 0))), 100);
    const prompt = (n: number) => ({
      "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color: n } },
      "10": { class_type: "ImageBlur", inputs: { image: ["1", 0], blur_radius: 1, sigma: 1, steps: 10 } },
      "2": { class_type: "SaveImage", inputs: { images: ["10", 0], filename_prefix: "ws" } },
    });
    const ids: string[] = [];
    for (let n = 0; n < workflows; n++) {
      const r = await fetch(`${api.base}/v1/comfyui/workflow`, { method: "POST", headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" }, body: JSON.stringify({ workflow: prompt(n) }) });
      ids.push(((await r.json()) as { workflowId: string }).workflowId);
    }
    for (const id of ids) {
      for (;;) {
        const w = (await (await fetch(`${api.base}/v1/comfyui/workflow/${id}`, { headers: { Authorization: `Bearer ${KEY}` } })).json()) as { status: string };
        if (w.status === "completed" || w.status === "failed") break;
        await Bun.sleep(50);
      }
    }
    await Bun.sleep(300);
    clearInterval(sampler);
    delays.sort((a, b) => a - b);
    console.log(`WebSocket fan-out: ${sockets} sockets subscribed to "*", ${workflows} workflows`);
    console.log(`  events received                  ${received.toLocaleString("en-US")} (${fmt(received / sockets, 1)} per socket)`);
    console.log(`  delay emit -> receipt            p50 ${fmt(percentile(delays, 50), 1)} ms  p99 ${fmt(percentile(delays, 99), 1)} ms (target < 50 ms: ${percentile(delays, 99) < 50 ? "met" : "NOT met"})`);
    console.log(`  server RSS                       idle ${fmt(rssIdle, 0)} MiB  peak ${fmt(peak, 0)} MiB`);
    for (const ws of clients) ws.close();
  } finally {
    await api.stop();
    fake.stop();
  }
}
