/**
 * One ComfyUI server: its HTTP API and one WebSocket with a fixed clientId, reconnected with
 * backoff. ComfyUI does not replay missed messages, so every (re)connect calls `onConnect`, which
 * reconciles with /queue and /history.
 */
import type { Logger } from "pino";
import { ApiError } from "../http/errors.ts";
import { ComfyRefusedError, ComfyUnavailableError, ComfyValidationError, credentialsHint, URL_SETTING } from "./backend-errors.ts";
import { redactUrl, retryAfterMs } from "../outbound.ts";
import type { ObjectInfo } from "./convert.ts";
import { readQueue, readSystemStats, type ComfySystem, type HistoryEntry, type QueueSnapshot } from "./comfy-wire.ts";

export type BackendName = "local" | "salad";

/** How long a status waits for /system_stats: a status must not hang on a busy backend. */
const STATS_TIMEOUT_MS = 2_000;

/** How long an upload to ComfyUI may take: 100 MiB over a slow link to a remote backend. */
const UPLOAD_TIMEOUT_MS = 300_000;

/**
 * How long ComfyUI may take to answer /object_info. It builds the answer on each call, listing
 * every model folder for every node that names one: with many custom nodes that is tens of
 * seconds, sometimes minutes (Comfy-Org/ComfyUI#6372). Cut at the usual 10 s, it never arrived.
 */
const OBJECT_INFO_TIMEOUT_MS = 300_000;
/** How long a conversion waits for /object_info before answering "retry later"; the fetch goes on. */
const OBJECT_INFO_WAIT_MS = 20_000;

export interface BackendOptions {
  name: BackendName;
  url: string;
  apiKey?: string;
  /** A comfy.org API key for ComfyUI's partner nodes, sent with every prompt (ComfyUI keeps it out of its queue and history). */
  comfyOrgApiKey?: string;
  /**
   * The HTTP proxy for its WebSocket: the one the environment names for `url` (proxyFor). Bun's
   * fetch finds it in the environment by itself; its WebSocket goes direct unless told.
   */
  proxy?: string;
  clientId: string;
  logger: Logger;
  onMessage: (backend: ComfyBackend, msg: { type: string; data: Record<string, unknown> }) => void;
  onConnect: (backend: ComfyBackend) => void;
  onDisconnect: (backend: ComfyBackend) => void;
  /** First reconnect delay; doubles up to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
  requestTimeoutMs?: number;
  /** How long objectInfo() waits for a fetch under way (OBJECT_INFO_WAIT_MS; tests shorten it). */
  objectInfoWaitMs?: number;
}

export class ComfyBackend {
  readonly name: BackendName;
  /** The backend's URL as it may be shown: without its password (redactUrl). */
  readonly url: string;
  /** The URL requests go to, credentials included. */
  readonly #baseUrl: string;
  /** Whether the URL carries credentials (a proxy's basic authentication). */
  readonly #withCredentials: boolean;
  /** The proxy requests go through, as it may be shown (undefined: direct). */
  readonly #proxyShown: string | undefined;
  readonly clientId: string;
  #o: BackendOptions;
  #ws: WebSocket | undefined;
  #closed = false;
  #backoff: number;
  #reconnectTimer: Timer | undefined;
  #objectInfo: ObjectInfo | undefined;
  /** Set on every (re)connect: a restarted ComfyUI may have new custom nodes. */
  #objectInfoStale = false;
  /** The fetch of /object_info under way: one at a time, however many conversions wait for it. */
  #objectInfoFetch: Promise<ObjectInfo> | undefined;
  /** Whether the operator has been told the backend is down: said once per outage, not per retry. */
  #reportedDown = false;
  connected = false;
  /** Last queue_remaining ComfyUI reported. */
  queueRemaining = 0;

  constructor(o: BackendOptions) {
    this.#o = o;
    this.name = o.name;
    this.#baseUrl = o.url;
    this.url = redactUrl(o.url);
    const parsed = URL.parse(o.url);
    this.#withCredentials = Boolean(parsed?.username || parsed?.password);
    this.#proxyShown = o.proxy === undefined ? undefined : redactUrl(o.proxy);
    this.clientId = o.clientId;
    this.#backoff = o.backoffMs ?? 250;
  }

  get #headers(): Record<string, string> {
    return this.#o.apiKey ? { "Salad-Api-Key": this.#o.apiKey } : {};
  }

  /** Opens the WebSocket (and keeps it open until close()). */
  start() {
    this.#closed = false;
    this.#connect();
  }

  #connect() {
    if (this.#closed) return;
    const wsUrl = `${this.#baseUrl.replace(/^http/, "ws")}/ws?clientId=${encodeURIComponent(this.clientId)}`;
    let ws: WebSocket;
    try {
      ws = new WebSocket(wsUrl, { headers: this.#headers, proxy: this.#o.proxy } as never);
    } catch {
      this.#scheduleReconnect();
      return;
    }
    ws.binaryType = "arraybuffer";
    this.#ws = ws;
    ws.onopen = () => {
      if (this.#closed) return ws.close();
      this.connected = true;
      this.#reportedDown = false;
      this.#objectInfoStale = true;
      this.#backoff = this.#o.backoffMs ?? 250;
      this.#o.logger.info({ backend: this.name, url: this.url }, "connected to ComfyUI");
      this.#o.onConnect(this);
    };
    ws.onmessage = (ev) => {
      if (this.#closed || typeof ev.data !== "string") return; // binary previews and text frames: not used
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return void this.#o.logger.warn({ backend: this.name, message: ev.data.slice(0, 200) }, "unparseable ComfyUI message");
      }
      if (!msg || typeof msg.type !== "string") return;
      try {
        if (msg.type === "status") this.queueRemaining = Number(msg.data?.status?.exec_info?.queue_remaining ?? 0);
        this.#o.onMessage(this, msg);
      } catch (err) {
        // Handling one message must not end the socket's event loop, nor be mistaken for ComfyUI's fault.
        this.#o.logger.error({ backend: this.name, type: msg.type, err }, "handling a ComfyUI message failed");
      }
    };
    let failure: string | undefined;
    ws.onclose = () => {
      const was = this.connected;
      this.connected = false;
      this.#ws = undefined;
      if (was && !this.#closed) {
        this.#o.logger.warn({ backend: this.name }, "lost the ComfyUI WebSocket; reconnecting");
        this.#reportedDown = true;
        this.#o.onDisconnect(this);
      } else if (!this.#closed && !this.#reportedDown) {
        // A wrong COMFYUI_URL, or ComfyUI not started yet: say so once, with why, and keep trying.
        this.#o.logger.warn({ backend: this.name, url: this.url, proxy: this.#proxyShown, error: failure }, "cannot reach ComfyUI; retrying in the background");
        this.#reportedDown = true;
      }
      this.#scheduleReconnect();
    };
    ws.onerror = (ev) => {
      // onclose follows and reconnects; Bun's error event says why ("Expected 101 status code: 200").
      failure = (ev as ErrorEvent).message || undefined;
    };
  }

  #scheduleReconnect() {
    if (this.#closed || this.#reconnectTimer) return;
    const delay = this.#backoff;
    this.#backoff = Math.min(this.#backoff * 2, this.#o.maxBackoffMs ?? 5000);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      this.#connect();
    }, delay);
  }

  close() {
    this.#closed = true;
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    this.#ws?.close();
  }

  /**
   * One request to ComfyUI, bounded by `requestTimeoutMs`. `until: "headers"` bounds only the wait
   * for the response head: a file body relayed to a slow client may take longer than any fixed
   * timeout, and aborting it would cut the download short (a client that stalls is closed by
   * Bun's idle timeout, which cancels the relay).
   */
  async #fetch(path: string, init: RequestInit = {}, until: "body" | "headers" = "body", ms = this.#o.requestTimeoutMs ?? 10_000): Promise<Response> {
    const headersOnly = until === "headers" ? new AbortController() : undefined;
    const timer = headersOnly && setTimeout(() => headersOnly.abort(new DOMException("The operation timed out.", "TimeoutError")), ms);
    try {
      return await fetch(`${this.#baseUrl}${path}`, {
        ...init,
        // A FormData body brings its own multipart Content-Type.
        headers: { ...this.#headers, ...(typeof init.body === "string" ? { "Content-Type": "application/json" } : {}), ...(init.headers as Record<string, string>) },
        signal: headersOnly?.signal ?? AbortSignal.timeout(ms),
        proxy: this.#o.proxy,
      });
    } catch (err) {
      const via = this.#proxyShown ? ` through the proxy ${this.#proxyShown} (NO_PROXY may need to name its host)` : "";
      throw new ComfyUnavailableError(`ComfyUI (${this.name}) at ${this.url} is unreachable${via}: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The error for a non-2xx answer to `request`: "try again later" (ComfyUnavailableError) for a 5xx,
   * 408 or 429, else ComfyRefusedError, which retrying will not fix.
   */
  #failure(res: Response, request: string, detail = ""): Error {
    const { status } = res;
    if (status >= 500 || status === 408 || status === 429) {
      return new ComfyUnavailableError(`ComfyUI (${this.name}) answered ${status} to ${request}${detail}`, retryAfterMs(res.headers.get("retry-after")));
    }
    return new ComfyRefusedError(this.name, status, request, credentialsHint(this.name, status, this.#withCredentials));
  }

  async #json<T>(path: string, init?: RequestInit, timeoutMs?: number): Promise<T> {
    const res = await this.#fetch(path, init, "body", timeoutMs);
    const request = `${init?.method ?? "GET"} ${path}`;
    if (!res.ok) throw this.#failure(res, request);
    const text = await res.text();
    return (text ? this.#parse(res, text, request) : undefined) as T;
  }

  /**
   * A 2xx body as JSON. Anything else means the URL does not lead to ComfyUI's API (a web page, a
   * proxy's sign-in form): a 502 saying so, where JSON.parse's SyntaxError would be a bare 500.
   */
  #parse(res: Response, text: string, request: string): unknown {
    try {
      return JSON.parse(text);
    } catch {
      const type = res.headers.get("content-type")?.split(";")[0] || "a body";
      throw new ComfyRefusedError(this.name, res.status, request, ` with ${type}, not JSON: is ${URL_SETTING[this.name]} (${this.url}) a ComfyUI server?`);
    }
  }

  /** Queues a prompt with our id and queue number; ComfyUI's validation errors throw ComfyValidationError. */
  async submit(body: { prompt: unknown; promptId: string; number: number; extraData?: Record<string, unknown> }) {
    const res = await this.#fetch("/prompt", {
      method: "POST",
      body: JSON.stringify({ prompt: body.prompt, client_id: this.clientId, prompt_id: body.promptId, number: body.number, extra_data: this.#extraData(body.extraData) }),
    });
    const text = await res.text();
    if (!res.ok) {
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(text);
      } catch {
        // ComfyUI answers malformed input with text/plain 500
      }
      if (res.status === 400) throw new ComfyValidationError(json as never);
      throw this.#failure(res, "POST /prompt", `: ${text.slice(0, 200)}`);
    }
    return this.#parse(res, text, "POST /prompt") as { prompt_id: string; number: number; node_errors: Record<string, unknown> };
  }

  #extraData(given: Record<string, unknown> = {}): Record<string, unknown> {
    const key = this.#o.comfyOrgApiKey;
    return key ? { ...given, api_key_comfy_org: key } : given;
  }

  /** ComfyUI's queue, in run order; `timeoutMs` bounds the wait (the request timeout by default). */
  async queue(timeoutMs?: number): Promise<QueueSnapshot> {
    const start = performance.now();
    const raw = await this.#json<Parameters<typeof readQueue>[0]>("/queue", undefined, timeoutMs);
    return readQueue(raw, performance.now() - start);
  }

  async history(promptId: string): Promise<HistoryEntry | undefined> {
    const h = await this.#json<Record<string, HistoryEntry>>(`/history/${encodeURIComponent(promptId)}`);
    return h?.[promptId];
  }

  async deleteQueued(promptIds: string[]) {
    await this.#json("/queue", { method: "POST", body: JSON.stringify({ delete: promptIds }) });
  }

  async interrupt(promptId: string) {
    await this.#json("/interrupt", { method: "POST", body: JSON.stringify({ prompt_id: promptId }) });
  }

  /** ComfyUI's /free: flags its worker reads when idle, at once, or after the prompt it is running. */
  async free(flags: { unload_models: boolean; free_memory: boolean }) {
    await this.#json("/free", { method: "POST", body: JSON.stringify(flags) });
  }

  /**
   * /object_info, cached: it changes only when ComfyUI restarts (after installing custom nodes, say),
   * so the cache is fetched again once after each reconnect. While ComfyUI is unreachable the last
   * copy still serves, so UI workflows can be converted and wait in our queue.
   *
   * A slow answer is waited for up to OBJECT_INFO_WAIT_MS (a client is waiting), then the last
   * copy serves, or with none yet a ComfyUnavailableError says to retry; the fetch goes on, so the
   * retry finds it. Conversions asking meanwhile share that one fetch.
   */
  async objectInfo(): Promise<ObjectInfo> {
    if (this.#objectInfo && !this.#objectInfoStale) return this.#objectInfo;
    const fetching = (this.#objectInfoFetch ??= this.#json<ObjectInfo>("/object_info", undefined, OBJECT_INFO_TIMEOUT_MS)
      .then((fresh) => {
        this.#objectInfo = fresh;
        this.#objectInfoStale = false;
        return fresh;
      })
      .finally(() => (this.#objectInfoFetch = undefined)));
    const waitMs = this.#o.objectInfoWaitMs ?? OBJECT_INFO_WAIT_MS;
    let timer: Timer | undefined;
    const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), waitMs)));
    try {
      const fresh = await Promise.race([fetching, late]);
      if (fresh) return fresh;
      if (this.#objectInfo) return this.#objectInfo;
      throw new ComfyUnavailableError(
        `ComfyUI (${this.name}) has not finished answering /object_info after ${Math.round(waitMs / 1000)} s (it takes long with many custom nodes); it is still being fetched`,
      );
    } catch (err) {
      if (this.#objectInfo && err instanceof ComfyUnavailableError) return this.#objectInfo;
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * ComfyUI's own view of its machine (GET /system_stats): its version and its devices with their
   * memory in bytes. For a remote backend (salad) this is the only view of its GPU: nvidia-smi sees
   * this machine's. Asked with a short timeout, as part of a status.
   */
  async systemStats(): Promise<ComfySystem> {
    const res = await this.#fetch("/system_stats", {}, "body", STATS_TIMEOUT_MS);
    if (!res.ok) throw this.#failure(res, "GET /system_stats");
    return readSystemStats(this.#parse(res, await res.text(), "GET /system_stats"));
  }

  /** The model folders ComfyUI knows (GET /models): checkpoints, loras, text_encoders, diffusion_models, … */
  async modelFolders(): Promise<string[]> {
    return this.#json<string[]>("/models");
  }

  /** Model file names in a ComfyUI models folder; undefined when ComfyUI has no such folder. */
  async models(folder: string): Promise<string[] | undefined> {
    const res = await this.#fetch(`/models/${encodeURIComponent(folder)}`);
    if (res.status === 404) return undefined;
    if (!res.ok) throw this.#failure(res, `GET /models/${folder}`);
    return this.#parse(res, await res.text(), `GET /models/${folder}`) as string[];
  }

  /**
   * Stores a file in ComfyUI's input folder (POST /upload/image), where LoadImage and its kin find
   * it. Without `overwrite` ComfyUI keeps an existing file of that name and saves this one as
   * "name (1).png", unless the two are the same image. Uploads get minutes, not the usual seconds:
   * a large file to a remote backend takes its time.
   */
  async upload(file: File, subfolder: string, overwrite: boolean): Promise<{ name: string; subfolder: string; type: string }> {
    const form = new FormData();
    form.set("image", file, file.name);
    form.set("type", "input");
    form.set("subfolder", subfolder);
    form.set("overwrite", overwrite ? "true" : "false");
    const res = await this.#fetch("/upload/image", { method: "POST", body: form }, "body", UPLOAD_TIMEOUT_MS);
    if (res.status === 413) throw new ApiError(413, `ComfyUI (${this.name}) refused ${file.name} as too large (its --max-upload-size)`);
    if (!res.ok) throw this.#failure(res, "POST /upload/image");
    return this.#parse(res, await res.text(), "POST /upload/image") as { name: string; subfolder: string; type: string };
  }

  /**
   * An output file through ComfyUI's /view; only the wait for its head is timed (see #fetch). A
   * `range` (a Range header) is passed on: ComfyUI's /view answers it with 206, as a file server does.
   */
  view(file: { filename: string; subfolder: string; type: string }, range?: string, preview?: string): Promise<Response> {
    const q = new URLSearchParams({ filename: file.filename, subfolder: file.subfolder, type: file.type });
    if (preview) q.set("preview", preview); // "webp;90": ComfyUI re-encodes the image
    return this.#fetch(`/view?${q}`, range ? { headers: { Range: range } } : {}, "headers");
  }
}
