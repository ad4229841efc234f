/**
 * A fake ComfyUI v0.8.0 (HTTP + /ws) that behaves as the recorded transcripts in
 * test/fixtures/comfyui-protocol show: message order, who receives what (execution messages only to
 * the prompt's client_id, `status` to everyone), validation error bodies, queue numbers and `front`,
 * interrupt only at the next node boundary, `executing` null after `execution_success`, history
 * written after the run. Nodes take `nodeMs` each; nodes with a `steps` input send `progress`.
 */
import type { ServerWebSocket } from "bun";
import { dependencies, validatePrompt } from "./fake-comfyui-validation.ts";
import { FakeFiles, previewResponse, SAVERS, viewResponse } from "./fake-comfyui-files.ts";
import { FIXTURES } from "./helpers.ts";

const objectInfo: Record<string, { input?: { required?: Record<string, unknown[]> }; output_node?: boolean }> = await Bun.file(
  `${FIXTURES}/comfyui-protocol/object_info_full.json`,
).json();
/** GET /system_stats as recorded (ComfyUI 0.8.0 on a CPU machine). */
const RECORDED_SYSTEM_STATS = ((await Bun.file(`${FIXTURES}/comfyui-protocol/01_rest_info.json`).json()) as { events: { kind: string; request?: { path: string }; response?: { json?: unknown } }[] }).events.find(
  (e) => e.kind === "http" && e.request?.path === "/system_stats",
)!.response!.json as Record<string, unknown>;

type Prompt = Record<string, { class_type?: string; inputs?: Record<string, unknown> }>;
interface Item {
  number: number;
  id: string;
  prompt: Prompt;
  extra: Record<string, unknown>;
  outputs: string[];
  /** extra_data's credentials for partner nodes, which ComfyUI keeps apart: never in /queue or /history. */
  sensitive: Record<string, unknown>;
}

/** ComfyUI 0.8.0's model folders, as its GET /models lists them (fixtures/comfyui-protocol/01). */
export const COMFY_MODEL_FOLDERS = ["checkpoints", "configs", "loras", "vae", "text_encoders", "diffusion_models", "clip_vision", "style_models", "embeddings", "diffusers", "vae_approx", "controlnet", "gligen", "upscale_models", "latent_upscale_models", "custom_nodes", "hypernetworks", "photomaker", "classifiers", "model_patches", "audio_encoders"];

/** ComfyUI's execution.SENSITIVE_EXTRA_DATA_KEYS. */
const SENSITIVE_KEYS = ["auth_token_comfy_org", "api_key_comfy_org"];
type History = { prompt: unknown[]; outputs: Record<string, unknown>; status: { status_str: string; completed: boolean; messages: [string, unknown][] }; meta: Record<string, unknown> };

export interface FakeComfyOptions {
  port?: number;
  nodeMs?: number;
  /** The files of model folders (every folder of COMFY_MODEL_FOLDERS is there, empty unless named here). */
  models?: Record<string, string[]>;
  /** Stands in for a gateway in front of ComfyUI (Salad's): requests without this Salad-Api-Key get 401. */
  requireApiKey?: string;
  /**
   * Stands in for a proxy with HTTP basic authentication in front of ComfyUI (nginx's auth_basic):
   * requests without these "user:password" credentials get its 401 page.
   */
  requireBasicAuth?: string;
  /** Holds POST /prompt's answer this long after queueing, as a slow gateway might: the run's messages come first. */
  promptAnswerDelayMs?: number;
  /** ComfyUI's --max-upload-size: a larger request body gets 413 (100 MiB by default). */
  maxUploadBytes?: number;
}

export class FakeComfyUI {
  server: ReturnType<typeof Bun.serve> | undefined;
  port = 0;
  nodeMs: number;
  models: Record<string, string[]>;
  queue: Item[] = [];
  running: Item | undefined;
  history = new Map<string, History>();
  files = new FakeFiles();
  clients = new Map<string, Set<ServerWebSocket<{ clientId: string }>>>();
  /** Every POST, with when it came (epoch ms). */
  received: { path: string; body: unknown; at: number }[] = [];
  /** Salad-Api-Key (or absence) of every HTTP request and WebSocket upgrade, in order. */
  apiKeys: (string | null)[] = [];
  /** Authorization header (or absence) of every HTTP request and WebSocket upgrade, in order. */
  authorizations: (string | null)[] = [];
  /** Path of every GET request, in order. */
  gets: string[] = [];
  #counter = 0;
  #interrupt = false;
  /** Cache key -> the node's output (null for nodes without UI output). */
  #cache = new Map<string, Record<string, unknown> | null>();
  #loop: Promise<void> | undefined;
  /** Counts crashes: a run started before one never goes on after it (ComfyUI lost it with the process). */
  #life = 0;
  #requireApiKey: string | undefined;
  #requireBasicAuth: string | undefined;
  promptAnswerDelayMs: number;

  constructor(o: FakeComfyOptions = {}) {
    this.nodeMs = o.nodeMs ?? 30;
    this.models = o.models ?? { checkpoints: ["sd15.safetensors", "sdxl/base.safetensors"], upscale_models: ["4x.pth"], diffusion_models: ["flux1-dev.safetensors"], text_encoders: ["t5xxl_fp16.safetensors", "clip_l.safetensors"] };
    this.port = o.port ?? 0;
    this.#requireApiKey = o.requireApiKey;
    this.#requireBasicAuth = o.requireBasicAuth;
    this.promptAnswerDelayMs = o.promptAnswerDelayMs ?? 0;
    this.maxUploadBytes = o.maxUploadBytes ?? 100 * 1024 * 1024;
  }

  maxUploadBytes: number;
  /** What GET /system_stats answers (a test may give the fake a GPU). */
  systemStats: Record<string, unknown> = structuredClone(RECORDED_SYSTEM_STATS);
  /** Path -> how many of the next POSTs to it get a gateway's 503 and do nothing (Salad's, nginx's while ComfyUI is busy). */
  unavailable: Record<string, number> = {};
  /** How those POSTs are refused: a gateway's 503 by default, or a rate limit's 429, with a Retry-After when given. */
  refusal: { status: number; retryAfter?: string } = { status: 503 };
  /** Path -> how long a GET of it takes to answer (/object_info: tens of seconds with many custom nodes). */
  getDelayMs: Record<string, number> = {};
  /** The `preview` of each /view that asked for one (`webp;90`). */
  previews: string[] = [];
  /** GET routes this ComfyUI lacks (an older one): aiohttp's 404 for a path it has no route for. */
  withoutRoutes = new Set<string>();

  /** Files in the input folder as LoadImage names them ("masks/cat.png"). */
  inputFiles(): string[] {
    return this.files.inputNames();
  }

  /** /object_info as ComfyUI makes it on each call: LoadImage's list is the input folder now. */
  objectInfo(): typeof objectInfo {
    const load = objectInfo.LoadImage!;
    const [, options] = load.input!.required!.image!;
    return { ...objectInfo, LoadImage: { ...load, input: { ...load.input, required: { ...load.input!.required, image: [this.inputFiles(), options] } } } };
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

  /**
   * Its WebSocket connections drop, and new ones are refused for `ms`, while HTTP goes on and so
   * does the queue (a proxy's hiccup): what it says meanwhile reaches no one.
   */
  dropWebSockets(ms: number) {
    this.#wsRefusedUntil = Date.now() + ms;
    for (const set of this.clients.values()) for (const ws of set) ws.close();
  }

  #wsRefusedUntil = 0;

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
    this.authorizations.push(req.headers.get("authorization"));
    if (this.#requireBasicAuth !== undefined && req.headers.get("authorization") !== `Basic ${btoa(this.#requireBasicAuth)}`) {
      const page = "<html>\r\n<head><title>401 Authorization Required</title></head>\r\n<body>\r\n<center><h1>401 Authorization Required</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
      return new Response(page, { status: 401, headers: { "Content-Type": "text/html", "WWW-Authenticate": 'Basic realm="ComfyUI"' } });
    }
    if (p === "/ws") {
      if (Date.now() < this.#wsRefusedUntil) return new Response("502 Bad Gateway", { status: 502 });
      const clientId = url.searchParams.get("clientId") ?? crypto.randomUUID().replaceAll("-", "");
      if (srv.upgrade(req, { data: { clientId } })) return undefined;
      return new Response("upgrade failed", { status: 400 });
    }
    if (req.method === "GET") {
      this.gets.push(p);
      if (this.getDelayMs[p]) await Bun.sleep(this.getDelayMs[p]);
      if (this.withoutRoutes.has(p)) return new Response("404: Not Found", { status: 404, headers: { "Content-Type": "text/plain; charset=utf-8" } });
      if (p === "/object_info") return Response.json(this.objectInfo());
      if (p === "/queue") return Response.json({ queue_running: this.running ? [this.#tuple(this.running)] : [], queue_pending: this.queue.map((i) => this.#tuple(i)) });
      if (p.startsWith("/history/")) {
        const id = decodeURIComponent(p.slice(9));
        const h = this.history.get(id);
        return Response.json(h ? { [id]: h } : {});
      }
      const folders = [...new Set([...COMFY_MODEL_FOLDERS, ...Object.keys(this.models)])];
      if (p === "/models") return Response.json(folders);
      if (p.startsWith("/models/")) {
        const folder = p.slice(8);
        // An unknown folder: 404 with an empty body, as recorded.
        return folders.includes(folder) ? Response.json(this.models[folder] ?? []) : new Response(null, { status: 404, headers: { "Content-Type": "application/octet-stream" } });
      }
      if (p === "/view") {
        const name = url.searchParams.get("filename") ?? "";
        if (name.includes("..") || name.startsWith("/")) return new Response("", { status: 400 });
        const file = this.files.get(`${url.searchParams.get("type") ?? "output"}/${url.searchParams.get("subfolder") ?? ""}/${name}`);
        if (!file) return new Response("", { status: 404 });
        const preview = url.searchParams.get("preview");
        if (preview !== null) this.previews.push(preview);
        return preview !== null ? previewResponse(name, preview) : viewResponse(file, name, req.headers.get("range"));
      }
      if (p === "/system_stats") return Response.json(this.systemStats);
    }
    if (req.method === "POST" && this.unavailable[p]) {
      this.unavailable[p]--;
      // A gateway in front refuses before ComfyUI sees anything; what was sent is kept for the tests.
      const text = await req.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // an upload's multipart body, kept as text
      }
      this.received.push({ path: p, body, at: Date.now() });
      const { status, retryAfter } = this.refusal;
      const headers: Record<string, string> = { "Content-Type": "text/html", ...(retryAfter ? { "Retry-After": retryAfter } : {}) };
      return new Response(`<html><body><h1>${status} ${status === 429 ? "Too Many Requests" : "Service Temporarily Unavailable"}</h1></body></html>`, { status, headers });
    }
    if (req.method === "POST" && p === "/upload/image") return this.files.upload(req, this.maxUploadBytes);
    if (req.method === "POST") {
      const text = await req.text();
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(text);
      } catch {
        return new Response("500 Internal Server Error\n\nServer got itself in trouble", { status: 500, headers: { "Content-Type": "text/plain" } });
      }
      this.received.push({ path: p, body, at: Date.now() });
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
      // Flags its worker reads when idle (at once), or after the running prompt: the answer is the same.
      if (p === "/free") return new Response("", { status: 200 });
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
    const info = this.objectInfo();
    for (const [id, n] of Object.entries(prompt)) {
      if (!n.class_type) return err("invalid_prompt", "Cannot execute because a node is missing the class_type property.", `Node ID '#${id}'`);
      if (!Object.hasOwn(info, n.class_type)) return err("invalid_prompt", `Cannot execute because node ${n.class_type} does not exist.`, `Node ID '#${id}'`);
    }
    const { outputs, good, nodeErrors } = validatePrompt(prompt, info, new Set(this.inputFiles()));
    if (!outputs.length) return err("prompt_no_outputs", "Prompt has no outputs");
    if (!good.length) {
      // As validate_prompt: the details list the output nodes' own errors; an output that fails only
      // through a node it depends on adds none (its node's errors are in node_errors).
      const details = outputs.flatMap((o) => nodeErrors[o]?.errors ?? []).map((e) => `${e.message}: ${e.details}`).join("\n");
      return err("prompt_outputs_failed_validation", "Prompt outputs failed validation", details, nodeErrors);
    }
    let number: number;
    if (body.number !== undefined) number = Number(body.number);
    else {
      number = body.front ? -this.#counter : this.#counter;
      this.#counter++;
    }
    const id = typeof body.prompt_id === "string" ? body.prompt_id : crypto.randomUUID();
    const extra: Record<string, unknown> = { ...((body.extra_data as Record<string, unknown>) ?? {}), client_id: body.client_id };
    const sensitive: Record<string, unknown> = {};
    for (const key of SENSITIVE_KEYS) {
      if (!(key in extra)) continue;
      sensitive[key] = extra[key];
      delete extra[key];
    }
    extra.create_time = Date.now();
    // Only the outputs that passed run; the answer names the errors of the others.
    this.queue.push({ number, id, prompt, extra, outputs: good, sensitive });
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
    // Cache keys cover a node and everything upstream of it, as ComfyUI's do. An upstream node enters
    // by the hash of its key: its key itself, quoted into each key below it, would double in length
    // with every node of a chain.
    const sigs = new Map<string, string>();
    const sig = (id: string): string => {
      let s = sigs.get(id);
      if (s === undefined) {
        const n = item.prompt[id]!;
        const inputs = Object.entries(n.inputs ?? {}).map(([k, v]) => [k, Array.isArray(v) && typeof v[0] === "string" && item.prompt[v[0]] ? `${Bun.hash(sig(v[0])).toString(36)}:${v[1]}` : v]);
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
        const fullPrefix = saver.type === "output" ? String(node.inputs?.filename_prefix ?? "ComfyUI") : "ComfyUI_temp";
        const files = Array.from({ length: saver.perImage ? this.#batchOf(item.prompt, id) : 1 }, () => this.files.save(saver.type, fullPrefix, saver.ext));
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
