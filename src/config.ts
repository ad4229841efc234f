/**
 * Configuration: every setting comes from the environment and is validated here, once, at start.
 * This is the only module that reads environment variables; everything else receives a `Config`.
 */
import { resolve, join } from "node:path";
import { accessSync, constants, readFileSync } from "node:fs";
import { isFolder } from "./data-folders.ts";
import { parseCidrList, type CidrMatcher } from "./http/cidr.ts";
import { loopbackNoProxy, proxyFor } from "./proxy-env.ts";
import { API_KEY_VARIABLES } from "./env-names.ts";
import { DEFAULT_API_KEY, SETTINGS, type Parsed, type Setting } from "./settings.ts";


/** The validated configuration every service is built from. */
export interface Config {
  port: number;
  host: string;
  apiKeys: string[];
  /** Keys accepted for GET and HEAD only. */
  readOnlyKeys: string[];
  usingDefaultKey: boolean;
  dataDir: string;
  workspaceDir: string;
  logsDir: string;
  dbPath: string;
  logLevel: Parsed["LOG_LEVEL"];
  logFormat: "json" | "pretty" | undefined;
  corsOrigins: string[];
  rateLimit: { max: number; windowMs: number; ipv6Subnet: number; allowlist: CidrMatcher; trustedProxies: CidrMatcher };
  bodyLimit: number;
  /** Largest multipart body of an upload route. */
  uploadLimit: number;
  shutdownGraceMs: number;
  tasks: {
    maxActive: number;
    stopGraceMs: number;
    /** Finished tasks older than this are deleted; undefined keeps them forever. */
    retentionMs: number | undefined;
    /** Time limit of a task whose request sets none; undefined: no limit. */
    timeoutMs: number | undefined;
    /** No-output limit of a task whose request sets none; undefined: no limit. */
    noOutputTimeoutMs: number | undefined;
    logMaxBytes: number;
    /** Most resident memory a task's processes may hold together; undefined: no limit. */
    memoryMaxBytes: number | undefined;
    providersFile: string | undefined;
    /** TASK_ENV: names or "PREFIX_*" entries every task gets when set. */
    taskEnv: string[];
    claudePermissionMode: string;
    heartbeatMs: number;
  };
  system: { nvidiaSmiPath: string; nvidiaSmiTimeoutMs: number; statusCacheMs: number; enableXinference: boolean };
  comfyui: {
    /** Finished workflow records older than this are deleted (the files stay in ComfyUI's folder); undefined keeps them. */
    retentionMs: number | undefined;
    /** Time limit of a workflow whose request sets none; undefined: no limit. */
    timeoutMs: number | undefined;
    localUrl: string;
    saladUrl: string | undefined;
    /** The proxies the environment names for those URLs (proxyFor), for their WebSockets. */
    localProxy: string | undefined;
    saladProxy: string | undefined;
    saladApiKey: string | undefined;
    /** For ComfyUI's partner nodes, sent with each workflow (COMFY_ORG_API_KEY). */
    comfyOrgApiKey: string | undefined;
    modelsDir: string | undefined;
    outputDir: string | undefined;
  };
  /** Where an end goes when its request names no webhookUrl (WEBHOOK_URL); undefined: nowhere. */
  webhookDefaultUrl: string | undefined;
  /** WEBHOOK_SECRET's bytes, which sign each webhook; undefined: unsigned. */
  webhookSecret: Uint8Array | undefined;
  /** Environment of this process minus our own secrets: providers pick the variables they name. */
  childEnvSource: Readonly<Record<string, string>>;
}

export type ConfigResult = { ok: true; config: Config; warnings: string[] } | { ok: false; errors: string[] };

/** Below this many characters a key is reported as easy to guess. */
const MIN_KEY_LENGTH = 16;

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/i;

/** Where a process on this machine reaches the server: its address, or loopback when it binds every address. */
export function localUrl(config: Pick<Config, "host" | "port">): string {
  const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
  return `http://${host.includes(":") ? `[${host}]` : host}:${config.port}/`;
}

/** True when `host` only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  return LOOPBACK.test(host);
}

/** Whether `path` is a folder this process can list. */
function readableFolder(path: string): boolean {
  try {
    accessSync(path, constants.R_OK | constants.X_OK);
    return isFolder(path);
  } catch {
    return false;
  }
}

/**
 * ComfyUI's folders, read from disk when set: one this process cannot read (a path of ComfyUI's own
 * container, not mounted in the API's) otherwise shows only later, as outputs "no longer on disk".
 */
function comfyFolderWarnings(outputDir: string | undefined, modelsDir: string | undefined): string[] {
  const warnings: string[] = [];
  if (outputDir && !readableFolder(outputDir)) {
    warnings.push(`COMFYUI_OUTPUT_DIR: ${outputDir} is not a folder this user can read, so the local ComfyUI's outputs will be answered 404. Mount ComfyUI's output folder there, or unset it to fetch outputs from ComfyUI over HTTP.`);
  }
  if (modelsDir && !readableFolder(modelsDir)) {
    warnings.push(`COMFYUI_MODELS_DIR: ${modelsDir} is not a folder this user can read, so model sizes will be missing. Mount ComfyUI's models folder there, or unset it.`);
  }
  return warnings;
}

/**
 * Validates the environment; reports every problem at once, each with the variable's name. A secret
 * may instead come from a file named by NAME_FILE (Docker and Kubernetes secrets are mounted as files).
 * `runtime` is what the warnings need to know of this process: the user it runs as.
 */
export function loadConfig(given: Record<string, string | undefined>, runtime: { uid?: number } = {}): ConfigResult {
  const errors: string[] = [];
  const raw: Record<string, unknown> = {};
  const env = { ...given };
  for (const [name, setting] of Object.entries(SETTINGS) as [string, Setting][]) {
    const file = setting.secret ? env[`${name}_FILE`] : undefined;
    if (!file) continue;
    if (env[name]) errors.push(`${name}_FILE: set either ${name} or ${name}_FILE, not both`);
    else {
      try {
        env[name] = readFileSync(file, "utf8");
      } catch (err) {
        errors.push(`${name}_FILE: cannot read ${file}: ${(err as Error).message}`);
      }
    }
  }
  for (const [name, setting] of Object.entries(SETTINGS) as [string, Setting][]) {
    const given = [name, ...(setting.aliases ?? [])].find((n) => env[n] !== undefined && env[n] !== "");
    // Surrounding whitespace is never meant (a secret file's newline, a CRLF .env, `KEY= value`):
    // untrimmed, " info" failed as a log level and " ./data" became a folder named so. A value of
    // whitespace only is still a value given (an empty secret file is refused, not taken as unset).
    const value = given ? env[given]!.trim() : setting.default;
    if (value === undefined) continue;
    const result = setting.schema.safeParse(value);
    if (result.success) raw[name] = result.data;
    else errors.push(`${given ?? name}: ${result.error.issues.map((i) => i.message).join("; ")}`);
  }
  const allowlist = parseCidrList(String(env.RATE_LIMIT_ALLOWLIST ?? SETTINGS.RATE_LIMIT_ALLOWLIST.default));
  const proxies = parseCidrList(String(env.TRUSTED_PROXIES ?? ""));
  for (const bad of allowlist.invalid) errors.push(`RATE_LIMIT_ALLOWLIST: "${bad}" is not an IP address or CIDR`);
  for (const bad of proxies.invalid) errors.push(`TRUSTED_PROXIES: "${bad}" is not an IP address or CIDR`);
  if (errors.length) return { ok: false, errors };

  const s = raw as Parsed;
  const warnings: string[] = [];
  // The built-in default applies only when no key is configured at all: an operator who lists keys in
  // MANAGEMENT_API_KEYS alone does not also mean to accept the well-known default.
  const primary = env.MANAGEMENT_API_KEY?.trim() || s.MANAGEMENT_API_KEYS.length === 0 ? [s.MANAGEMENT_API_KEY] : [];
  const apiKeys = [...new Set([...primary, ...s.MANAGEMENT_API_KEYS])];
  const readOnlyKeys = [...new Set(s.MANAGEMENT_API_READONLY_KEYS)];
  const keyErrors = [
    ...(readOnlyKeys.includes(DEFAULT_API_KEY) ? [`MANAGEMENT_API_READONLY_KEYS: the well-known default key "${DEFAULT_API_KEY}" cannot be one; use a secret of your own`] : []),
    ...(readOnlyKeys.some((k) => apiKeys.includes(k))
      ? ["MANAGEMENT_API_READONLY_KEYS: a key listed there is also a full key (MANAGEMENT_API_KEY or MANAGEMENT_API_KEYS); give each key one kind of access"]
      : []),
  ];
  if (keyErrors.length) return { ok: false, errors: keyErrors };
  const usingDefaultKey = apiKeys.includes(DEFAULT_API_KEY);
  if (usingDefaultKey) {
    if (!isLoopbackHost(s.HOST)) {
      return {
        ok: false,
        errors: [
          `MANAGEMENT_API_KEY: the default key "${DEFAULT_API_KEY}" is only allowed while HOST is a loopback address; ` +
            `HOST is ${s.HOST}. Set MANAGEMENT_API_KEY to a secret of your own.`,
        ],
      };
    }
    warnings.push(`Using the default API key "${DEFAULT_API_KEY}": anyone on this machine can use the API. Set MANAGEMENT_API_KEY.`);
  }
  // Each guess costs one request of the rate limit, so a short key falls in days; said, not refused.
  const short = [...apiKeys, ...readOnlyKeys].filter((k) => k !== DEFAULT_API_KEY && k.length < MIN_KEY_LENGTH).length;
  if (short) {
    warnings.push(`${short === 1 ? "An API key has" : `${short} API keys have`} fewer than ${MIN_KEY_LENGTH} characters: easy to guess. Use random ones, e.g. \`openssl rand -hex 32\`.`);
  }
  // `docker run --env-file` and some .env loaders keep quotes as part of the value.
  if ([...apiKeys, ...readOnlyKeys].some((k) => /^(["'`]).+\1$/.test(k))) {
    warnings.push("An API key begins and ends with a quote, which is part of the key: clients must send it too. (docker run --env-file keeps quotes; write KEY=value without them.)");
  }
  // claude refuses --dangerously-skip-permissions as root unless told it runs in a sandbox (IS_SANDBOX).
  if (s.CLAUDE_PERMISSION_MODE === "bypassPermissions" && runtime.uid === 0 && !env.IS_SANDBOX) {
    warnings.push(
      "CLAUDE_PERMISSION_MODE=bypassPermissions: the claude CLI refuses it to root, and this server runs as root, so every claude-flow task would fail at once. " +
        "Run the server as another user, or set IS_SANDBOX=1 if it really runs in a sandbox.",
    );
  }
  warnings.push(...comfyFolderWarnings(s.COMFYUI_OUTPUT_DIR, s.COMFYUI_MODELS_DIR));
  const dataDir = resolve(s.DATA_DIR);
  const childEnvSource: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && !API_KEY_VARIABLES.has(k)) childEnvSource[k] = v;

  return {
    ok: true,
    warnings,
    config: {
      port: s.PORT,
      host: s.HOST,
      apiKeys,
      readOnlyKeys,
      usingDefaultKey,
      dataDir,
      workspaceDir: resolve(s.WORKSPACE ?? join(dataDir, "workspace")),
      logsDir: resolve(s.LOGS_DIR ?? join(dataDir, "logs")),
      dbPath: join(dataDir, "state.sqlite"),
      logLevel: s.LOG_LEVEL,
      logFormat: s.LOG_FORMAT,
      corsOrigins: s.CORS_ORIGINS,
      rateLimit: {
        max: s.RATE_LIMIT_MAX,
        windowMs: s.RATE_LIMIT_WINDOW_MS,
        ipv6Subnet: s.RATE_LIMIT_IPV6_SUBNET,
        allowlist: allowlist.matcher,
        trustedProxies: proxies.matcher,
      },
      bodyLimit: s.BODY_LIMIT,
      uploadLimit: s.UPLOAD_LIMIT,
      shutdownGraceMs: s.SHUTDOWN_GRACE_MS,
      tasks: {
        maxActive: s.MAX_ACTIVE_TASKS,
        stopGraceMs: s.TASK_STOP_GRACE_MS,
        retentionMs: s.TASK_RETENTION,
        timeoutMs: s.TASK_TIMEOUT,
        noOutputTimeoutMs: s.TASK_NO_OUTPUT_TIMEOUT,
        logMaxBytes: s.TASK_LOG_MAX_BYTES,
        memoryMaxBytes: s.TASK_MEMORY_MAX_BYTES || undefined,
        providersFile: s.PROVIDERS_FILE,
        taskEnv: s.TASK_ENV,
        claudePermissionMode: s.CLAUDE_PERMISSION_MODE,
        heartbeatMs: s.SSE_HEARTBEAT_MS,
      },
      system: {
        nvidiaSmiPath: s.NVIDIA_SMI_PATH,
        nvidiaSmiTimeoutMs: s.NVIDIA_SMI_TIMEOUT_MS,
        statusCacheMs: s.STATUS_CACHE_MS,
        enableXinference: s.ENABLE_XINFERENCE,
      },
      comfyui: {
        retentionMs: s.WORKFLOW_RETENTION,
        timeoutMs: s.WORKFLOW_TIMEOUT,
        localUrl: s.COMFYUI_URL,
        saladUrl: s.SALAD_COMFYUI_URL,
        localProxy: proxyFor(s.COMFYUI_URL, env),
        saladProxy: s.SALAD_COMFYUI_URL === undefined ? undefined : proxyFor(s.SALAD_COMFYUI_URL, env),
        saladApiKey: s.SALAD_API_KEY,
        comfyOrgApiKey: s.COMFY_ORG_API_KEY,
        modelsDir: s.COMFYUI_MODELS_DIR,
        outputDir: s.COMFYUI_OUTPUT_DIR,
      },
      webhookSecret: s.WEBHOOK_SECRET,
      webhookDefaultUrl: s.WEBHOOK_URL,
      childEnvSource,
    },
  };
}

/** loadConfig over this process's environment (the one place that reads it). */
export function loadConfigFromEnvironment(): ConfigResult {
  return loadConfig(process.env, { uid: process.getuid?.() });
}

/**
 * Applies loopbackNoProxy to this process's environment, which Bun's fetch reads on every request
 * (and tasks inherit through the config): call before anything is fetched or configured.
 */
export function keepLoopbackOffProxy() {
  Object.assign(process.env, loopbackNoProxy(process.env));
}

/** The `--help` text: every setting with its default. */
export function helpText(name: string, version: string): string {
  const lines = [
    `${name} ${version}`,
    "",
    "Usage: management-api [--help] [--version] [--healthcheck]",
    "",
    "All settings come from environment variables:",
    "",
  ];
  for (const [key, s] of Object.entries(SETTINGS) as [string, Setting][]) {
    const names = [key, ...(s.aliases ?? []), ...(s.secret ? [`${key}_FILE (a file holding it)`] : [])].join(" | ");
    const dflt = s.default === undefined ? "unset" : s.secret && s.default ? "(built-in)" : JSON.stringify(s.default);
    lines.push(`  ${names}`, `      ${s.help} [default: ${dflt}]`);
  }
  return lines.join("\n") + "\n";
}
