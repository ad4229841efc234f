/** A real API server wired to a fake ComfyUI, plus a WebSocket client that collects events. */
import type { Logger } from "pino";
import { createServer, type BuildOptions } from "../../src/server.ts";
import { FakeComfyUI } from "../fake-comfyui.ts";
import { AUTH, KEY, silentLogger, testConfig, waitFor } from "../helpers.ts";

export const json = { ...AUTH, "Content-Type": "application/json" };

export const BASIC = {
  "1": { class_type: "EmptyImage", inputs: { width: 64, height: 64, batch_size: 1, color: 0 } },
  "2": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "basic" } },
};

/** A prompt whose nodes take time: EmptyImage -> n blurs -> SaveImage. */
export function chain(blurs: number, prefix = "chain") {
  const p: Record<string, { class_type: string; inputs: Record<string, unknown> }> = {
    "1": { class_type: "EmptyImage", inputs: { width: 64, height: 64, batch_size: 1, color: Math.floor(Math.random() * 1e6) } },
  };
  for (let i = 0; i < blurs; i++) p[String(10 + i)] = { class_type: "ImageBlur", inputs: { image: [i === 0 ? "1" : String(9 + i), 0], blur_radius: 3, sigma: 1 } };
  p["2"] = { class_type: "SaveImage", inputs: { images: [blurs ? String(9 + blurs) : "1", 0], filename_prefix: prefix } };
  return p;
}

/** One output of each kind: a batch of `images` saved a PNG each, the same batch as a WebM video, and a sound. */
export function mediaPrompt(images: number, prefix: { image: string; video: string; sound: string }) {
  return {
    "1": { class_type: "EmptyImage", inputs: { width: 64, height: 64, batch_size: images, color: 7 } },
    "2": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: prefix.image } },
    "3": { class_type: "SaveWEBM", inputs: { images: ["1", 0], filename_prefix: prefix.video, codec: "vp9", fps: 24, crf: 32 } },
    "4": { class_type: "EmptyAudio", inputs: { duration: 1, sample_rate: 44100, channels: 2 } },
    "5": { class_type: "SaveAudio", inputs: { audio: ["4", 0], filename_prefix: prefix.sound } },
  };
}

export async function comfyStack(opts: { nodeMs?: number; env?: Record<string, string>; fake?: FakeComfyUI; logger?: Logger; server?: BuildOptions } = {}) {
  const fake = opts.fake ?? new FakeComfyUI({ nodeMs: opts.nodeMs ?? 20 }).start();
  const config = testConfig({ COMFYUI_URL: fake.url, ...opts.env });
  const server = await createServer(config, opts.logger ?? silentLogger, { comfyBackoffMs: 50, ...opts.server });
  const base = `http://127.0.0.1:${server.port}`;
  await waitFor(() => server.services.comfyui!.service.backends.get("local")!.connected || !fake.server);
  const submit = async (workflow: unknown, extra: Record<string, unknown> = {}) => {
    const res = await fetch(`${base}/v1/comfyui/workflow`, { method: "POST", headers: json, body: JSON.stringify({ workflow, ...extra }) });
    return { res, body: await res.json() };
  };
  const get = async (id: string) => (await fetch(`${base}/v1/comfyui/workflow/${id}`, { headers: AUTH })).json();
  const until = (id: string, statuses: string[], ms = 10_000) =>
    waitFor(async () => {
      const w = await get(id);
      return statuses.includes(w.status) ? w : undefined;
    }, ms);
  return { fake, config, server, base, submit, get, until, close: async () => { await server.shutdown(); fake.stop(); } };
}

/** Opens the event WebSocket and records every message. */
export async function eventSocket(base: string, how: "protocol" | "query" = "protocol") {
  const url = base.replace("http", "ws") + "/v1/comfyui/stream" + (how === "query" ? `?token=${KEY}` : "");
  const ws = how === "protocol" ? new WebSocket(url, ["Bearer", KEY]) : new WebSocket(url);
  const messages: { type: string; workflowId?: string; data?: Record<string, unknown>; message?: string }[] = [];
  ws.onmessage = (e) => messages.push(JSON.parse(String(e.data)));
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error("WebSocket failed to open"));
  });
  return { ws, messages, send: (m: unknown) => ws.send(typeof m === "string" ? m : JSON.stringify(m)) };
}
