/**
 * A fake ComfyUI v0.8.0 (HTTP + /ws) that behaves as the recorded transcripts in
 * test/fixtures/comfyui-protocol show: message order, who receives what (execution messages only to
 * the prompt's client_id, `status` to everyone), validation error bodies, queue numbers and `front`,
 * interrupt only at the next node boundary, `executing` null after `execution_success`, history
 * written after the run. Nodes take `nodeMs` each; nodes with a `steps` input send `progress`.
 */
import type { ServerWebSocket } from "bun";
import { dependencies, validatePrompt } from "./fake-comfyui-validation.ts";
import { FIXTURES } from "./helpers.ts";

const objectInfo: Record<string, { input?: { required?: Record<string, unknown[]> }; output_node?: boolean }> = await Bun.file(
  `${FIXTURES}/comfyui-protocol/object_info_full.json`,
).json();
const PNG = new Uint8Array(await Bun.file(`${FIXTURES}/comfyui-protocol/02_view_output.png`).arrayBuffer());

/** Stand-ins for media the fake "saves": only their names and types matter to the API. */
const MEDIA = { webm: new TextEncoder().encode("fake webm"), flac: new TextEncoder().encode("fake flac") };
const MIME: Record<string, string> = { png: "image/png", webm: "video/webm", flac: "audio/flac" };

/**
 * The output nodes the fake saves files for, as ComfyUI v0.8 names them: SaveImage and PreviewImage
 * one PNG per image of their batch, SaveWEBM one video of the whole batch (its UI output says
 * `animated`), SaveAudio one FLAC under `audio`.
 */
const SAVERS: Record<string, { type: "output" | "temp"; ext: keyof typeof MIME; key: string; perImage: boolean; extra?: Record<string, unknown> }> = {
  SaveImage: { type: "output", ext: "png", key: "images", perImage: true },
  PreviewImage: { type: "temp", ext: "png", key: "images", perImage: true },
  SaveWEBM: { type: "output", ext: "webm", key: "images", perImage: false, extra: { animated: [true] } },
  SaveAudio: { type: "output", ext: "flac", key: "audio", perImage: false },
};

type Prompt = Record<string, { class_type?: string; inputs?: Record<string, unknown> }>;
interface Item {
  number: number;
  id: string;
  prompt: Prompt;
  extra: Record<string, unknown>;
  outputs: string[];
}
type History = { prompt: unknown[]; outputs: Record<string, unknown>; status: { status_str: string; completed: boolean; messages: [string, unknown][] }; meta: Record<string, unknown> };

export interface FakeComfyOptions {
  port?: number;
  nodeMs?: number;
  models?: Record<string, string[]>;
  /** Stands in for a gateway in front of ComfyUI (Salad's): requests without this Salad-Api-Key get 401. */
  requireApiKey?: string;
  /** Holds POST /prompt's answer this long after queueing, as a slow gateway might: the run's messages come first. */
  promptAnswerDelayMs?: number;
}

export class FakeComfyUI {
  server: ReturnType<typeof Bun.serve> | undefined;
  port = 0;
  nodeMs: number;
  models: Record<string, string[]>;
  queue: Item[] = [];
  running: Item | undefined;
  history = new Map<string, History>();
  files = new Map<string, Uint8Array>();
  clients = new Map<string, Set<ServerWebSocket<{ clientId: string }>>>();
  received: { path: string; body: unknown }[] = [];
  /** Salad-Api-Key (or absence) of every HTTP request and WebSocket upgrade, in order. */
  apiKeys: (string | null)[] = [];
  /** Path of every GET request, in order. */
  gets: string[] = [];
  #counter = 0;
  #interrupt = false;
  /** Cache key -> the node's output (null for nodes without UI output). */
  #cache = new Map<string, Record<string, unknown> | null>();
  /** ComfyUI numbers files per subfolder and prefix (it scans the folder for the highest counter). */
  #fileCounters = new Map<string, number>();
  #loop: Promise<void> | undefined;
  /** Counts crashes: a run started before one never goes on after it (ComfyUI lost it with the process). */
  #life = 0;
  #requireApiKey: string | undefined;
  promptAnswerDelayMs: number;

  constructor(o: FakeComfyOptions = {}) {
    this.nodeMs = o.nodeMs ?? 30;
    this.models = o.models ?? { checkpoints: ["sd15.safetensors", "sdxl/base.safetensors"], loras: [], vae: [], controlnet: [], upscale_models: ["4x.pth"] };
    this.port = o.port ?? 0;
    this.#requireApiKey = o.requireApiKey;
    this.promptAnswerDelayMs = o.promptAnswerDelayMs ?? 0;
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  start() {
    this.server = Bun.serve<{ clientId: string }>({
      port: this.port,
      hostname: "127.0.0.1",
      fetch: (req, srv) => this.#fetch(req, srv),
      websocket: {
        open: (ws) => {
          let set = this.clients.get(ws.data.clientId);
          if (!set) this.clients.set(ws.data.clientId, (set = new Set()));
          set.add(ws);
          ws.send(JSON.stringify({ type: "status", data: { status: { exec_info: { queue_remaining: this.#remaining() } }, sid: ws.data.clientId } }));
        },
        message: () => {},
        close: (ws) => {
          this.clients.get(ws.data.clientId)?.delete(ws);
        },
      },
    });
    this.port = this.server.port!;
    return this;
  }

  /** A crash: sockets drop, the queue and anything running are lost (history survives on disk). */
  stop() {
    this.#life++;
    this.#loop = undefined;
    this.server?.stop(true);
    this.server = undefined;
    this.clients.clear();
    this.queue = [];
    this.running = undefined;
  }

  restart() {
    this.stop();
    return this.start();
  }

  #remaining() {
    return this.queue.length + (this.running ? 1 : 0);
  }

  #send(clientId: string | undefined, msg: unknown) {
    if (!clientId) return;
    const text = JSON.stringify(msg);
    for (const ws of this.clients.get(clientId) ?? []) ws.send(text);
  }

  #broadcastStatus() {
    const text = JSON.stringify({ type: "status", data: { status: { exec_info: { queue_remaining: this.#remaining() } } } });
    for (const set of this.clients.values()) for (const ws of set) ws.send(text);
  }

  async #fetch(req: Request, srv: { upgrade(r: Request, o: { data: { clientId: string } }): boolean }): Promise<Response | undefined> {
    const url = new URL(req.url);
    const p = url.pathname;
    this.apiKeys.push(req.headers.get("salad-api-key"));
    if (this.#requireApiKey !== undefined && req.headers.get("salad-api-key") !== this.#requireApiKey) {
      return Response.json({ error: "Unauthorized" }, { status: 401 });
    }
    if (p === "/ws") {
      const clientId = url.searchParams.get("clientId") ?? crypto.randomUUID().replaceAll("-", "");
      if (srv.upgrade(req, { data: { clientId } })) return undefined;
      return new Response("upgrade failed", { status: 400 });
    }
    if (req.method === "GET") {
      this.gets.push(p);
      if (p === "/object_info") return Response.json(objectInfo);
      if (p === "/queue") return Response.json({ queue_running: this.running ? [this.#tuple(this.running)] : [], queue_pending: this.queue.map((i) => this.#tuple(i)) });
      if (p.startsWith("/history/")) {
        const id = decodeURIComponent(p.slice(9));
        const h = this.history.get(id);
        return Response.json(h ? { [id]: h } : {});
      }
      if (p.startsWith("/models/")) {
        const list = this.models[p.slice(8)];
        return list ? Response.json(list) : new Response("404: Not Found", { status: 404 });
      }
      if (p === "/view") {
        const name = url.searchParams.get("filename") ?? "";
        if (name.includes("..") || name.startsWith("/")) return new Response("", { status: 400 });
        const file = this.files.get(`${url.searchParams.get("type") ?? "output"}/${url.searchParams.get("subfolder") ?? ""}/${name}`);
        const mime = MIME[name.split(".").pop()!] ?? "application/octet-stream";
        return file ? new Response(file as BodyInit, { headers: { "Content-Type": mime } }) : new Response("", { status: 404 });
      }
      if (p === "/system_stats") return Response.json({ system: { comfyui_version: "0.8.0" }, devices: [] });
    }
    if (req.method === "POST") {
      const text = await req.text();
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(text);
      } catch {
        return new Response("500 Internal Server Error\n\nServer got itself in trouble", { status: 500, headers: { "Content-Type": "text/plain" } });
      }
      this.received.push({ path: p, body });
      if (p === "/prompt") {
        const answer = this.#postPrompt(body);
        if (this.promptAnswerDelayMs) await Bun.sleep(this.promptAnswerDelayMs);
        return answer;
      }
      if (p === "/queue") {
        if (body.clear) this.queue = [];
        if (Array.isArray(body.delete)) this.queue = this.queue.filter((i) => !(body.delete as string[]).includes(i.id));
        this.#broadcastStatus();
        return new Response("", { status: 200 });
      }
      if (p === "/interrupt") {
        const id = body.prompt_id;
        if (this.running && (id === undefined || id === this.running.id)) this.#interrupt = true;
        return new Response("", { status: 200 });
      }
    }
    return new Response("404: Not Found", { status: 404 });
  }

  /** ComfyUI's widget validation: type conversion, min/max, combo lists. */
  #tuple(i: Item) {
    return [i.number, i.id, i.prompt, i.extra, i.outputs];
  }

  #postPrompt(body: Record<string, unknown>): Response {
    const err = (type: string, message: string, details = "", node_errors: Record<string, unknown> = {}) =>
      Response.json({ error: { type, message, details, extra_info: {} }, node_errors }, { status: 400 });
    const prompt = body.prompt as Prompt | undefined;
    if (!prompt || typeof prompt !== "object") return err("no_prompt", "No prompt provided", "No prompt provided");
    for (const [id, n] of Object.entries(prompt)) {
      if (!n.class_type) return err("invalid_prompt", "Cannot execute because a node is missing the class_type property.", `Node ID '#${id}'`);
      if (!Object.hasOwn(objectInfo, n.class_type)) return err("invalid_prompt", `Cannot execute because node ${n.class_type} does not exist.`, `Node ID '#${id}'`);
    }
    const { outputs, good, nodeErrors } = validatePrompt(prompt, objectInfo);
    if (!outputs.length) return err("prompt_no_outputs", "Prompt has no outputs");
    if (!good.length) {
      const first = Object.values(nodeErrors)[0]!;
      return err("prompt_outputs_failed_validation", "Prompt outputs failed validation", `${first.errors[0]!.message}: ${first.errors[0]!.details}`, nodeErrors);
    }
    let number: number;
    if (body.number !== undefined) number = Number(body.number);
    else {
      number = body.front ? -this.#counter : this.#counter;
      this.#counter++;
    }
    const id = typeof body.prompt_id === "string" ? body.prompt_id : crypto.randomUUID();
    const extra = { ...((body.extra_data as Record<string, unknown>) ?? {}), client_id: body.client_id, create_time: Date.now() };
    // Only the outputs that passed run; the answer names the errors of the others.
    this.queue.push({ number, id, prompt, extra, outputs: good });
    this.queue.sort((a, b) => a.number - b.number);
    this.#broadcastStatus();
    if (!this.#loop) {
      const loop: Promise<void> = this.#run(this.#life).finally(() => {
        if (this.#loop === loop) this.#loop = undefined;
      });
      this.#loop = loop;
    }
    return Response.json({ prompt_id: id, number, node_errors: nodeErrors });
  }

  async #run(life: number) {
    await Bun.sleep(5);
    while (this.#life === life && this.queue.length) {
      const item = this.queue.shift()!;
      this.running = item;
      this.#interrupt = false;
      await this.#execute(item, life);
      if (this.#life !== life) return;
      this.running = undefined;
      this.#broadcastStatus();
      this.#send(item.extra.client_id as string, { type: "executing", data: { node: null, prompt_id: item.id } });
    }
  }

  /** The nodes the outputs need, in dependency order (others never run, as in ComfyUI). */
  #order(prompt: Prompt, outputs: string[]): string[] {
    const needed = new Set(outputs.flatMap((o) => [...dependencies(prompt, o)]));
    const seen = new Set<string>();
    const out: string[] = [];
    const visit = (id: string) => {
      if (seen.has(id)) return;
      seen.add(id);
      for (const v of Object.values(prompt[id]?.inputs ?? {})) if (Array.isArray(v) && typeof v[0] === "string" && prompt[v[0]]) visit(v[0]);
      out.push(id);
    };
    for (const id of Object.keys(prompt).sort((a, b) => Number(a) - Number(b))) if (needed.has(id)) visit(id);
    return out;
  }

  /** How many images reach node `id`: the `batch_size` of the first node up its first link that has one. */
  #batchOf(prompt: Prompt, id: string, seen = new Set<string>()): number {
    const inputs = prompt[id]?.inputs ?? {};
    if (typeof inputs.batch_size === "number") return inputs.batch_size;
    seen.add(id);
    const link = Object.values(inputs).find((v) => Array.isArray(v) && typeof v[0] === "string" && prompt[v[0]] && !seen.has(v[0])) as [string, number] | undefined;
    return link ? this.#batchOf(prompt, link[0], seen) : 1;
  }

  async #execute(item: Item, life: number) {
    const client = item.extra.client_id as string;
    const send = (type: string, data: Record<string, unknown>) => this.#send(client, { type, data: { ...data, prompt_id: item.id, ...(type.startsWith("execution_") ? { timestamp: Date.now() } : {}) } });
    const messages: [string, unknown][] = [];
    send("execution_start", {});
    messages.push(["execution_start", { prompt_id: item.id }]);
    // Cache keys cover a node and everything upstream of it, as ComfyUI's do.
    const sigs = new Map<string, string>();
    const sig = (id: string): string => {
      let s = sigs.get(id);
      if (s === undefined) {
        const n = item.prompt[id]!;
        const inputs = Object.entries(n.inputs ?? {}).map(([k, v]) => [k, Array.isArray(v) && typeof v[0] === "string" && item.prompt[v[0]] ? sig(v[0]) + ":" + v[1] : v]);
        sigs.set(id, (s = JSON.stringify([n.class_type, inputs])));
      }
      return s;
    };
    const cached = this.#order(item.prompt, item.outputs).filter((id) => this.#cache.has(sig(id)));
    send("execution_cached", { nodes: cached });
    const outputs: Record<string, unknown> = {};
    const executed: string[] = [...cached];
    for (const id of this.#order(item.prompt, item.outputs)) {
      if (this.#life !== life) return;
      if (cached.includes(id)) {
        // Cached output nodes replay their `executed` message.
        const output = this.#cache.get(sig(id));
        if (output) {
          outputs[id] = output;
          this.#send(client, { type: "executed", data: { node: id, display_node: id, output, prompt_id: item.id } });
        }
        continue;
      }
      const node = item.prompt[id]!;
      this.#send(client, { type: "executing", data: { node: id, display_node: id, prompt_id: item.id } });
      if (this.#interrupt) {
        const data = { prompt_id: item.id, node_id: id, node_type: node.class_type, executed, timestamp: Date.now() };
        this.#send(client, { type: "execution_interrupted", data });
        messages.push(["execution_interrupted", data]);
        this.history.set(item.id, { prompt: this.#tuple(item), outputs: {}, status: { status_str: "error", completed: false, messages }, meta: {} });
        return;
      }
      if (node.class_type === "LoadImage" && node.inputs?.image === "corrupt.png") {
        const data = { prompt_id: item.id, node_id: id, node_type: "LoadImage", executed, exception_message: "cannot identify image file '<comfyui>/input/corrupt.png'\n", exception_type: "PIL.UnidentifiedImageError", traceback: [], current_inputs: {}, current_outputs: {}, timestamp: Date.now() };
        this.#send(client, { type: "execution_error", data });
        messages.push(["execution_error", data]);
        this.history.set(item.id, { prompt: this.#tuple(item), outputs: {}, status: { status_str: "error", completed: false, messages }, meta: {} });
        return;
      }
      const steps = Number(node.inputs?.steps ?? 0);
      if (steps > 0) {
        for (let s = 1; s <= steps; s++) {
          await Bun.sleep(this.nodeMs / steps);
          if (this.#life !== life) return;
          this.#send(client, { type: "progress", data: { value: s, max: steps, prompt_id: item.id, node: id } });
        }
      } else await Bun.sleep(this.nodeMs);
      if (this.#life !== life) return;
      executed.push(id);
      this.#cache.set(sig(id), null);
      if (node.class_type === "PreviewAny") {
        const output = { text: ["64"] };
        outputs[id] = output;
        this.#cache.set(sig(id), output);
        this.#send(client, { type: "executed", data: { node: id, display_node: id, output, prompt_id: item.id } });
      }
      const saver = SAVERS[node.class_type ?? ""];
      if (saver) {
        const { type, ext } = saver;
        // As folder_paths.get_save_image_path: a prefix "a/b" saves b_00001_.png in subfolder "a".
        const fullPrefix = type === "output" ? String(node.inputs?.filename_prefix ?? "ComfyUI") : "ComfyUI_temp";
        const cut = fullPrefix.lastIndexOf("/");
        const [subfolder, prefix] = cut === -1 ? ["", fullPrefix] : [fullPrefix.slice(0, cut), fullPrefix.slice(cut + 1)];
        const files = [];
        for (let i = 0; i < (saver.perImage ? this.#batchOf(item.prompt, id) : 1); i++) {
          const counter = (this.#fileCounters.get(`${type}/${subfolder}/${prefix}`) ?? 0) + 1;
          this.#fileCounters.set(`${type}/${subfolder}/${prefix}`, counter);
          const filename = `${prefix}_${String(counter).padStart(5, "0")}_.${ext}`;
          this.files.set(`${type}/${subfolder}/${filename}`, ext === "png" ? PNG : MEDIA[ext as keyof typeof MEDIA]);
          files.push({ filename, subfolder, type });
        }
        const output = { [saver.key]: files, ...saver.extra };
        outputs[id] = output;
        this.#cache.set(sig(id), output);
        this.#send(client, { type: "executed", data: { node: id, display_node: id, output, prompt_id: item.id } });
      }
    }
    send("execution_success", {});
    messages.push(["execution_success", { prompt_id: item.id }]);
    this.history.set(item.id, { prompt: this.#tuple(item), outputs, status: { status_str: "success", completed: true, messages }, meta: {} });
  }
}
