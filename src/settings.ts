/**
 * Every setting the API takes from the environment: its name, help text, default and the zod
 * schema that checks and converts it (config.ts reads the environment against this table).
 */
import { isIP } from "node:net";
import { z } from "zod";
import { ENV_NAME_OR_PREFIX } from "./env-names.ts";
import { webhookSecret } from "./webhooks/signature.ts";

export const DEFAULT_API_KEY = "change-this-secret-key";

/** A whole number from `min` to `max`, as Number() reads it; refused with what was given (no secret is a number). */
const intIn = (min: number, max: number) =>
  z.string().transform((text, ctx) => {
    const n = Number(text.trim());
    if (Number.isInteger(n) && n >= min && n <= max) return n;
    const range = max === Number.MAX_SAFE_INTEGER ? `of ${min} or more` : `from ${min} to ${max}`;
    ctx.addIssue({ code: "custom", message: `"${text}" is not a whole number ${range}` });
    return z.NEVER;
  });
const bool = z
  .enum(["true", "false", "1", "0", "yes", "no", "on", "off", ""])
  .transform((v) => ["true", "1", "yes", "on"].includes(v));
const list = z.string().transform((v) =>
  v
    .split(/[,\n]/) // commas, or one entry per line (a secret file)
    .map((s) => s.trim())
    .filter(Boolean),
);
/** An IP address, or a host name of letters, digits and hyphens ("300.1.1.1" is neither). */
function isHostOrAddress(host: string): boolean {
  if (isIP(host)) return true;
  if (/^[\d.]+$/.test(host)) return false;
  return host.length <= 253 && host.split(".").every((label) => /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(label));
}

/**
 * What an API key may hold: visible ASCII. A Bearer token cannot carry a space, and a header byte
 * outside ASCII reaches the server as something else (curl sends UTF-8, the server reads Latin-1),
 * so a key with either was accepted at start and then refused to every client holding it.
 */
const SENDABLE_KEY = /^[\x21-\x7e]+$/;
const UNSENDABLE_KEY =
  "only visible ASCII characters may be used (letters, digits, punctuation; no spaces, no accented letters): a client cannot send others in an Authorization header";
/** A list of keys, each checked (the key itself is never repeated in a message: it is a secret). */
const keyList = list.superRefine((keys, ctx) => {
  keys.forEach((key, i) => {
    if (!SENDABLE_KEY.test(key)) ctx.addIssue({ code: "custom", message: `key ${i + 1} of ${keys.length}: ${UNSENDABLE_KEY}` });
  });
});
const key = z
  .string()
  .trim()
  .min(1)
  .refine((k) => SENDABLE_KEY.test(k), UNSENDABLE_KEY);

// The value is not repeated in the message: a URL may hold a password.
const url = z.url({ protocol: /^https?$/, error: "not an http:// or https:// URL (e.g. http://127.0.0.1:8188)" }).transform((v) => v.replace(/\/+$/, ""));
/**
 * CORS origins as browsers send them: "*" or scheme://host[:port], normalised ("HTTP://Example.com:80/"
 * becomes "http://example.com"). An entry with a path, or no scheme, could never match an Origin header.
 */
const origins = list.transform((entries, ctx) =>
  entries.map((entry) => {
    if (entry === "*") return entry;
    let parsed: URL | undefined;
    try {
      parsed = new URL(entry);
    } catch {
      // reported below
    }
    if (!parsed || parsed.origin === "null" || parsed.pathname !== "/" || parsed.search || parsed.hash || parsed.username) {
      ctx.addIssue({ code: "custom", message: `"${entry}" is not an origin (scheme://host[:port], e.g. https://ops.example.com)` });
      return entry;
    }
    return parsed.origin;
  }),
);

/** Parses "7d", "12h", "30m", "45s", "1500ms" or a bare number of milliseconds. */
export function parseDuration(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!m) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? "ms"]!;
  return Math.round(Number(m[1]) * unit);
}
const duration = z.string().transform((v, ctx) => {
  const ms = parseDuration(v);
  if (ms === undefined) {
    ctx.addIssue({ code: "custom", message: `"${v}" is not a duration (e.g. 7d, 12h, 30m, 1500)` });
    return z.NEVER;
  }
  return ms;
});
/** A retention or a time limit: a duration, or 0 for none ("keep forever", "no limit": undefined), as 0 means "off" to most tools. */
const durationOrNone = duration.transform((ms) => (ms === 0 ? undefined : ms));

export interface Setting {
  help: string;
  /** Default as the user would write it; absent means unset. */
  default?: string;
  schema: z.ZodType;
  /** Older names accepted for the same setting. */
  aliases?: string[];
  secret?: boolean;
}

/** Every environment variable the server reads, with its default and meaning (also `--help`). */
export const SETTINGS = {
  PORT: { help: "TCP port to listen on", default: "9090", schema: intIn(0, 65535), aliases: ["MANAGEMENT_API_PORT"] },
  HOST: {
    help: "Address to bind; the default key is refused on non-loopback addresses",
    default: "127.0.0.1",
    // An IPv6 address may come bracketed, as URLs write it ("[::1]"): the address is what is inside.
    schema: z
      .string()
      .trim()
      .min(1)
      .transform((h) => (/^\[.+\]$/.test(h) ? h.slice(1, -1) : h))
      .refine(isHostOrAddress, { error: (i) => `"${String(i.input)}" is not an IP address or a host name (e.g. 127.0.0.1, 0.0.0.0, ::)` }),
    aliases: ["MANAGEMENT_API_HOST"],
  },
  // Trimmed: a secret mounted from a file often ends in a newline, which no header value can carry.
  MANAGEMENT_API_KEY: { help: "API key accepted as Bearer token or X-API-Key", default: DEFAULT_API_KEY, schema: key, secret: true },
  MANAGEMENT_API_KEYS: { help: "Extra accepted keys, comma-separated (rotate without downtime; set alone, they replace the default key)", default: "", schema: keyList, secret: true },
  MANAGEMENT_API_READONLY_KEYS: {
    help: "Keys that may only read (GET and HEAD: lists, logs, status, files, streams), comma-separated: for dashboards, monitoring and colleagues who watch but do not start or stop work",
    default: "",
    schema: keyList,
    secret: true,
  },
  DATA_DIR: { help: "Directory for state (sqlite), logs and task directories", default: "./data", schema: z.string().min(1) },
  WORKSPACE: { help: "Directory holding task working directories (default DATA_DIR/workspace)", schema: z.string().min(1) },
  LOGS_DIR: { help: "Directory holding task logs (default DATA_DIR/logs)", schema: z.string().min(1) },
  LOG_LEVEL: { help: "fatal, error, warn, info, debug, trace or silent", default: "info", schema: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]) },
  LOG_FORMAT: { help: "json or pretty (default: pretty on a terminal, json otherwise)", schema: z.enum(["json", "pretty"]) },
  CORS_ORIGINS: { help: "Origins allowed by CORS, comma-separated ('*' for any, without credentials)", default: "", schema: origins },
  RATE_LIMIT_MAX: { help: "Requests allowed per client IP per window", default: "100", schema: intIn(1, 10_000_000) },
  RATE_LIMIT_WINDOW_MS: { help: "Rate-limit window in milliseconds", default: "60000", schema: intIn(100, 86_400_000) },
  RATE_LIMIT_IPV6_SUBNET: { help: "IPv6 clients are counted per subnet of this prefix length (a host often holds a /64 or more; 128: per address)", default: "56", schema: intIn(1, 128) },
  RATE_LIMIT_ALLOWLIST: { help: "IPs/CIDRs never rate limited, comma-separated (empty: none); by default this machine, over IPv4 or IPv6", default: "127.0.0.1,::1", schema: z.string() },
  TRUSTED_PROXIES: { help: "IPs/CIDRs of proxies whose X-Forwarded-For is believed", default: "", schema: z.string() },
  BODY_LIMIT: { help: "Largest accepted request body in bytes", default: String(10 * 1024 * 1024), schema: intIn(1, 1024 * 1024 * 1024) },
  UPLOAD_LIMIT: { help: "Largest file upload to ComfyUI's input folder in bytes (ComfyUI's own --max-upload-size is 100 MiB by default)", default: String(100 * 1024 * 1024), schema: intIn(1, 16 * 1024 * 1024 * 1024) },
  SHUTDOWN_GRACE_MS: { help: "Time in-flight requests get to finish on SIGTERM/SIGINT", default: "10000", schema: intIn(0, 600_000) },
  MAX_ACTIVE_TASKS: { help: "Most tasks running at once; more get 503", default: "10", schema: intIn(1, 10_000) },
  TASK_STOP_GRACE_MS: { help: "Time between SIGTERM and SIGKILL when stopping a task", default: "10000", schema: intIn(0, 600_000) },
  TASK_TIMEOUT: { help: "Longest a task may run before it is stopped as failed, unless its request sets timeoutSeconds (e.g. 2h; 0: no limit)", default: "0", schema: durationOrNone },
  TASK_NO_OUTPUT_TIMEOUT: {
    help: "Longest a task may go without new output in its log before it is stopped as failed, unless its request sets noOutputTimeoutSeconds (e.g. 10m; 0: no limit)",
    default: "0",
    schema: durationOrNone,
  },
  TASK_RETENTION: { help: "How long finished tasks and their logs are kept (e.g. 7d, 12h; 0 keeps them forever)", default: "7d", schema: durationOrNone },
  WORKFLOW_TIMEOUT: { help: "Longest a ComfyUI workflow may run (from its start, not its wait in the queue) before it is interrupted and failed, unless its request sets timeoutSeconds (e.g. 30m; 0: no limit)", default: "0", schema: durationOrNone },
  WORKFLOW_RETENTION: { help: "How long finished ComfyUI workflow records (and their output listings) are kept (0: forever)", default: "7d", schema: durationOrNone },
  TASK_MEMORY_MAX_BYTES: {
    help: "Most resident memory a task's processes may hold together; a task holding more is stopped and marked failed, before the kernel's OOM killer picks a process (ComfyUI, the largest, first). 0: no limit",
    default: "0",
    schema: intIn(0, Number.MAX_SAFE_INTEGER),
  },
  TASK_LOG_MAX_BYTES: { help: "Largest task log; a task writing more is stopped and marked failed", default: String(100 * 1024 * 1024), schema: intIn(1024, Number.MAX_SAFE_INTEGER) },
  PROVIDERS_FILE: { help: "JSON file overriding or adding task providers", schema: z.string().min(1) },
  TASK_ENV: {
    help: "Variables every task gets when set, besides the network, machine and GPU settings (HTTPS_PROXY, TMPDIR, CUDA_VISIBLE_DEVICES, HF_HOME and the like): names, or prefixes ending in * (e.g. PIP_*,NPM_CONFIG_*,HF_TOKEN)",
    default: "",
    schema: list.pipe(z.array(ENV_NAME_OR_PREFIX)),
  },
  CLAUDE_PERMISSION_MODE: { help: "Permission mode passed to the claude CLI", default: "acceptEdits", schema: z.enum(["acceptEdits", "auto", "bypassPermissions", "default", "dontAsk", "plan"]) },
  SSE_HEARTBEAT_MS: { help: "Interval of SSE heartbeat comments", default: "30000", schema: intIn(100, 600_000) },
  NVIDIA_SMI_PATH: { help: "nvidia-smi executable (name on PATH or absolute path)", default: "nvidia-smi", schema: z.string().min(1) },
  NVIDIA_SMI_TIMEOUT_MS: { help: "Longest wait for nvidia-smi", default: "2000", schema: intIn(50, 60_000) },
  STATUS_CACHE_MS: { help: "How long one computed /v1/status is reused", default: "5000", schema: intIn(0, 600_000) },
  ENABLE_XINFERENCE: { help: "Whether the xinference provider is enabled", default: "false", schema: bool },
  COMFYUI_URL: { help: "ComfyUI server of the 'local' GPU target (http://user:password@host:port behind basic authentication)", default: "http://127.0.0.1:8188", schema: url },
  SALAD_COMFYUI_URL: { help: "ComfyUI server of the 'salad' target (unset: target disabled)", schema: url },
  SALAD_API_KEY: { help: "Sent as Salad-Api-Key to the salad target", schema: z.string().trim().min(1), secret: true },
  COMFY_ORG_API_KEY: {
    help: "A comfy.org account's API key, for ComfyUI's paid partner (API) nodes: sent with every workflow as extra_data.api_key_comfy_org, which ComfyUI keeps out of its queue and history",
    schema: z.string().trim().min(1),
    secret: true,
    aliases: ["API_KEY_COMFY_ORG"],
  },
  WEBHOOK_URL: {
    help: "Where the end of every task and workflow whose request names no webhookUrl is POSTed, as its own would be (a request's null opts out): a channel for all of them, e.g. a chat bot's",
    schema: z.url({ protocol: /^https?$/, hostname: /./, error: "not an http:// or https:// URL" }),
    secret: true,
  },
  WEBHOOK_SECRET: {
    help: 'Signs every webhook (Standard Webhooks: the webhook-signature header): "whsec_" and the base64 of 24 to 64 random bytes, e.g. "whsec_$(openssl rand -base64 32)" (unset: webhooks go unsigned)',
    schema: webhookSecret,
    secret: true,
  },
  COMFYUI_MODELS_DIR: { help: "ComfyUI models directory, for model file sizes", schema: z.string().min(1) },
  COMFYUI_OUTPUT_DIR: { help: "ComfyUI output directory, for serving outputs from disk", schema: z.string().min(1) },
} satisfies Record<string, Setting>;

export type Settings = typeof SETTINGS;
export type Parsed = { [K in keyof Settings]: z.output<Settings[K]["schema"]> | (Settings[K] extends { default: string } ? never : undefined) };
