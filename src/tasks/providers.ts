/**
 * Providers map a task to an argv template (never a shell string) and the environment variables the
 * CLI needs. Built-in defaults can be overridden or extended by a JSON file (PROVIDERS_FILE).
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { API_KEY_VARIABLES, ENV_NAME, ENV_NAME_OR_PREFIX } from "../env-names.ts";

export const ProviderSchema = z
  .object({
    /** argv template; placeholders {agent} {task} {prompt} {taskId} {taskDir} {permissionMode}, {port}, {sessionId} and {model}. */
    command: z.array(z.string().min(1)).min(1),
    /** Environment variables passed through to the child when set; "PREFIX_*" passes all that start so. */
    env: z.array(ENV_NAME_OR_PREFIX).default([]),
    /**
     * Variables the child gets under another name when its own is not set: `{"GOOGLE_GEMINI_API_KEY":
     * "GEMINI_API_KEY"}` hands agentic-flow the key under the name Google's own tools use.
     */
    envAliases: z.record(ENV_NAME, ENV_NAME).default({}),
    /** Variables set for the child from a template, with the command's placeholders. */
    setEnv: z.record(ENV_NAME, z.string()).default({}),
    description: z.string().default(""),
    /**
     * Arguments added to the command when a task goes on with an earlier task's session
     * (POST /v1/tasks/{taskId}/continue), with the command's placeholders and {sessionId}. A provider
     * without it cannot continue one.
     */
    resume: z.array(z.string().min(1)).optional(),
    /**
     * Arguments added to the command when a task names a model (`model` in its request), with the
     * command's placeholders and {model}: `["--model", "{model}"]`. A provider without them takes none.
     */
    modelArgs: z.array(z.string().min(1)).optional(),
    /**
     * Most of its tasks running at once, within MAX_ACTIVE_TASKS: an API's rate limit, a CLI that
     * takes the GPU. Past it a task waits in the queue (with `queue`) or is refused with a 503.
     */
    maxActive: z.number().int().min(1).max(10_000).optional(),
  })
  .strict();
export type Provider = z.infer<typeof ProviderSchema>;

const NAME_RULE = "a provider name is a letter or digit, then up to 63 of A-Z a-z 0-9 . _ -";
/** An entry as the file gives it: checked in full once merged with the built-in provider it changes, if any. */
const ProvidersFileSchema = z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, NAME_RULE), z.record(z.string(), z.unknown()));

/** The provider of that name, if one is configured: "toString" names no provider, whatever Object.prototype holds. */
export function providerNamed(providers: Readonly<Record<string, Provider>>, name: string): Provider | undefined {
  return Object.hasOwn(providers, name) ? providers[name] : undefined;
}

/** A few lines over a few seconds, then exit 0: lets a newcomer watch a task run with nothing installed. */
const DEMO_SCRIPT = [
  'echo "demo agent $1 starting in $PWD"',
  'echo "task: $2"',
  "for i in 1 2 3 4 5; do sleep 0.5; echo \"step $i/5\"; done",
  'echo "done"',
].join("\n");

/** Any one of these set is a way for the claude CLI to log in (/v1/status reports it). */
export const CLAUDE_LOGIN_ENV = ["ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN", "CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX"];

/**
 * What the claude CLI reads (claude 2.1): everything under its own prefixes (logins, gateways,
 * models, CLAUDE_CODE_MAX_TURNS and the like), its documented settings outside them, OpenTelemetry
 * export, and the cloud credentials Bedrock and Vertex log in with, workload identity included
 * (EKS sets AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE). An operator who sets one for the CLI
 * expects its tasks to see it.
 */
export const CLAUDE_ENV = [
  "ANTHROPIC_*", "CLAUDE_CODE_*", "CLAUDE_CONFIG_DIR", "CLAUDE_BASH_MAINTAIN_PROJECT_WORKING_DIR",
  "DISABLE_*", "MAX_THINKING_TOKENS", "MAX_MCP_OUTPUT_TOKENS", "MCP_TIMEOUT", "MCP_TOOL_TIMEOUT",
  "BASH_DEFAULT_TIMEOUT_MS", "BASH_MAX_TIMEOUT_MS", "BASH_MAX_OUTPUT_LENGTH", "USE_BUILTIN_RIPGREP", "OTEL_*",
  // Lets claude take bypassPermissions as root, in a container meant as a sandbox.
  "IS_SANDBOX",
  "AWS_*", "CLOUD_ML_REGION", "VERTEX_REGION_*", "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT",
];

/**
 * Passed to every task when set: how this machine reaches the network (a proxy, a company CA), its
 * time zone, locale and folder for temporary files. Without them every agent CLI behind a proxy
 * fails to reach its API. Node's fetch (agentic-flow's, gemini-cli's) follows the proxy variables
 * only with NODE_USE_ENV_PROXY=1. A TMPDIR on a big disk matters where /tmp is a small tmpfs or the
 * container's layer: pip and compilers put gigabytes there.
 */
const MACHINE_ENV = [
  "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "no_proxy", "all_proxy", "NODE_USE_ENV_PROXY",
  "SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE", "TZ", "LC_ALL", "LC_CTYPE", "TMPDIR",
];

/**
 * Passed to every task when set: which GPUs it may use, where CUDA lives and where models are
 * kept. An operator who gives the API `CUDA_VISIBLE_DEVICES=1` to keep agents off ComfyUI's GPU 0
 * means its tasks too: without it a task's CUDA program sees every GPU and starts on device 0.
 * CUDA images set the next ones (`LD_LIBRARY_PATH` holds the driver's libraries where ldconfig
 * does not know them). None is a secret.
 */
const GPU_ENV = [
  "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "NVIDIA_VISIBLE_DEVICES", "NVIDIA_DRIVER_CAPABILITIES",
  "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "CUDA_HOME", "CUDA_PATH", "LD_LIBRARY_PATH",
  // Where downloaded models live: set for the machine (a big disk) so that every program shares
  // them, where a task without them would fetch those models again, gigabytes each, into its HOME.
  "HF_HOME", "HF_HUB_CACHE", "TORCH_HOME", "XDG_CACHE_HOME",
];

/**
 * agentic-flow serves a local proxy for its Gemini and OpenRouter runs on PROXY_PORT, 3000 unless
 * set. On a shared port, a second task's proxy fails to bind without a word and its requests go to
 * the first task's proxy (its key, its model) until that task ends; and 3000 is often taken
 * already (Grafana's default). Each task gets a free port of its own.
 */
const AGENTIC_FLOW_PROXY = { PROXY_PORT: "{port}" };


/** The built-in providers as written, before the schema's defaults: what a file's entry without a command changes. */
const BUILT_IN: Record<string, z.input<typeof ProviderSchema>> = {
  "claude-flow": {
    command: ["claude", "-p", "{prompt}", "--output-format", "stream-json", "--verbose", "--permission-mode", "{permissionMode}"],
    env: CLAUDE_ENV,
    resume: ["--resume", "{sessionId}"],
    // An alias (sonnet, opus, haiku) or a full name, as `claude --model` takes it.
    modelArgs: ["--model", "{model}"],
    description: "Claude Code CLI, headless, with the task as its prompt",
  },
  gemini: {
    command: ["agentic-flow", "--agent", "{agent}", "--task", "{task}", "--provider", "gemini"],
    env: ["GOOGLE_GEMINI_API_KEY", "GEMINI_API_KEY", "OPENROUTER_API_KEY"],
    // agentic-flow reads only GOOGLE_GEMINI_API_KEY; Google's own tools, and /v1/status, take GEMINI_API_KEY too.
    envAliases: { GOOGLE_GEMINI_API_KEY: "GEMINI_API_KEY" },
    setEnv: AGENTIC_FLOW_PROXY,
    // agentic-flow's own default otherwise (gemini-2.0-flash-exp), which no variable changes.
    modelArgs: ["--model", "{model}"],
    description: "agentic-flow with the Gemini provider",
  },
  openai: {
    // agentic-flow 2.x has no provider of that name: it runs the task on OpenRouter when
    // OPENROUTER_API_KEY is set (the model is COMPLETION_MODEL, e.g. openai/gpt-4o, else its default).
    command: ["agentic-flow", "--agent", "{agent}", "--task", "{task}", "--provider", "openai"],
    env: ["OPENAI_API_KEY", "OPENROUTER_API_KEY", "COMPLETION_MODEL"],
    setEnv: AGENTIC_FLOW_PROXY,
    description: "agentic-flow asked for OpenAI (it runs the task on OpenRouter: OPENROUTER_API_KEY, model COMPLETION_MODEL)",
  },
  demo: {
    command: ["sh", "-c", DEMO_SCRIPT, "demo", "{agent}", "{task}"],
    description: "Built-in demo: prints a few lines over a few seconds; needs nothing installed",
  },
};

/** The built-in providers, with the schema's defaults for what they leave out. */
export const DEFAULT_PROVIDERS: Record<string, Provider> = Object.fromEntries(Object.entries(BUILT_IN).map(([name, p]) => [name, ProviderSchema.parse(p)]));

export const DEFAULT_PROVIDER = "claude-flow";

/**
 * Built-in providers merged with those of PROVIDERS_FILE (which win). An entry with a `command` is a
 * whole provider; one without changes the built-in provider of its name, field by field
 * (`{"claude-flow": {"maxActive": 2}}`). Throws with a clear message.
 */
export function loadProviders(file: string | undefined): Record<string, Provider> {
  if (!file) return { ...DEFAULT_PROVIDERS };
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new Error(`PROVIDERS_FILE: cannot read ${file}: ${(err as Error).message}`);
  }
  // zod drops a "__proto__" key without a word (it guards the prototype); the operator hears of it.
  if (json !== null && typeof json === "object" && Object.hasOwn(json, "__proto__")) throw new Error(`PROVIDERS_FILE: __proto__: ${NAME_RULE}`);
  const issues = (e: z.ZodError, at: (string | number | symbol)[] = []) =>
    e.issues.map((i) => `${[...at, ...i.path].map(String).join(".")}: ${i.code === "invalid_key" ? NAME_RULE : i.message}`);
  const parsed = ProvidersFileSchema.safeParse(json);
  if (!parsed.success) throw new Error(`PROVIDERS_FILE: ${issues(parsed.error).join("; ")}`);
  const providers: Record<string, Provider> = { ...DEFAULT_PROVIDERS };
  const errors: string[] = [];
  for (const [name, entry] of Object.entries(parsed.data)) {
    const base = "command" in entry ? undefined : Object.hasOwn(BUILT_IN, name) ? BUILT_IN[name] : undefined;
    if (!("command" in entry) && !base) {
      errors.push(`${name}.command: required (only a built-in provider, ${Object.keys(BUILT_IN).join(", ")}, can be changed without one)`);
      continue;
    }
    const provider = ProviderSchema.safeParse({ ...base, ...entry });
    if (provider.success) providers[name] = provider.data;
    else errors.push(...issues(provider.error, [name]));
  }
  if (errors.length) throw new Error(`PROVIDERS_FILE: ${errors.join("; ")}`);
  return providers;
}

/**
 * Which providers' commands this PATH has, for the line logged at start: a service manager's PATH
 * (systemd's has no ~/.npm-global/bin) often lacks a CLI the operator's shell finds, and otherwise
 * that shows only when a task fails.
 */
export function providerCommands(providers: Readonly<Record<string, Provider>>, found: (command: string) => boolean) {
  const available: string[] = [];
  const missing: Record<string, string> = {};
  for (const [name, p] of Object.entries(providers)) {
    const command = p.command[0]!;
    if (found(command)) available.push(name);
    else missing[name] = command;
  }
  return { available, missing };
}

export interface TemplateVars {
  agent: string;
  task: string;
  taskId: string;
  taskDir: string;
  permissionMode: string;
  /** A TCP port on 127.0.0.1 free when the task starts, for a CLI that serves something of its own ("" if unused). */
  port: string;
  /** The agent session a continuation goes on with ("" otherwise). */
  sessionId: string;
  /** The model the task's request named ("" for the provider's own default). */
  model?: string;
}

/** The prompt given to CLIs that take one: where to work, then what to do. */
export function buildPrompt(v: Pick<TemplateVars, "task" | "taskDir">): string {
  return `You are working in the directory ${v.taskDir}. Keep all files you create inside it.\n\nTask: ${v.task}`;
}

/** Fills one template; a placeholder expands within its own string, never into new arguments. */
function fill(template: string, v: Partial<TemplateVars>): string {
  return template.replace(/\{(agent|task|prompt|taskId|taskDir|permissionMode|port|sessionId|model)\}/g, (_, k: keyof TemplateVars | "prompt") =>
    k === "prompt" ? buildPrompt({ task: v.task ?? "", taskDir: v.taskDir ?? "" }) : (v[k] ?? ""),
  );
}

/**
 * Fills the argv template, the provider's `resume` arguments for a task that continues a session,
 * and its `modelArgs` for a task that names a model.
 */
export function buildArgv(provider: Provider, v: TemplateVars, resuming = false): string[] {
  return [...provider.command, ...(resuming ? (provider.resume ?? []) : []), ...(v.model ? (provider.modelArgs ?? []) : [])].map((arg) => fill(arg, v));
}

/** Whether a provider's command or variables take a {port}. */
export function usesPort(provider: Provider): boolean {
  return [...provider.command, ...Object.values(provider.setEnv)].some((s) => s.includes("{port}"));
}

const ours = (name: string) => API_KEY_VARIABLES.has(name);

/**
 * The child's whole environment: a minimal base, the machine's and the GPU settings, what the provider names,
 * aliases and sets. Never our API keys.
 */
export function buildEnv(
  provider: Provider,
  source: Readonly<Record<string, string>>,
  task: Pick<TemplateVars, "taskId" | "taskDir"> & Partial<TemplateVars>,
  /** TASK_ENV: what the operator passes to every task besides the network, machine and GPU settings. */
  taskEnv: readonly string[] = [],
) {
  const env: Record<string, string> = {
    PATH: source.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: source.HOME ?? task.taskDir,
    LANG: source.LANG ?? "C.UTF-8",
    TASK_ID: task.taskId,
    TASK_DIR: task.taskDir,
  };
  for (const entry of [...MACHINE_ENV, ...GPU_ENV, ...taskEnv, ...provider.env]) {
    if (entry.endsWith("*")) {
      const prefix = entry.slice(0, -1);
      for (const [name, value] of Object.entries(source)) if (name.startsWith(prefix) && !ours(name) && value !== undefined) env[name] = value;
      continue;
    }
    const value = source[entry];
    if (value !== undefined && !ours(entry)) env[entry] = value;
  }
  for (const [name, from] of Object.entries(provider.envAliases)) {
    if (ours(name) || ours(from) || env[name] !== undefined) continue;
    const value = source[name] ?? source[from];
    if (value !== undefined) env[name] = value;
  }
  for (const [name, template] of Object.entries(provider.setEnv)) if (!ours(name)) env[name] = fill(template, task);
  return env;
}
