/** Shared test set-up: configs in temp dirs, in-memory apps, real servers, fake nvidia-smi. */
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import pino from "pino";
import { createApp } from "../src/app.ts";
import { loadConfig, type Config } from "../src/config.ts";
import { buildServices, createServer, type BuildOptions } from "../src/server.ts";

export const FIXTURES = resolve(import.meta.dir, "fixtures");
export const AGENTS = join(FIXTURES, "agents");
export const KEY = "test-key-0123456789";
export const AUTH = { Authorization: `Bearer ${KEY}` };
export const silentLogger = pino({ level: "silent" });

const tempDirs: string[] = [];
/** A fresh temporary directory, removed at process exit. */
export function tempDir(prefix = "mapi-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}
process.on("exit", () => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

/**
 * Kills the task processes a failed test left running (a sleeper it never got to stop): those whose
 * TASK_DIR lies in this run's temporary folders. Tasks outlive the servers that start them, by
 * design, so nothing else would end them; two were found still running after a CI run.
 */
export function killLeftoverTasks() {
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    let environ: string;
    try {
      environ = readFileSync(`/proc/${pid}/environ`, "latin1");
    } catch {
      continue; // gone, or not ours
    }
    const dir = /(?:^|\0)TASK_DIR=([^\0]*)/.exec(environ)?.[1];
    if (!dir || !tempDirs.some((t) => dir.startsWith(`${t}/`))) continue;
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {
      // already gone
    }
  }
}

/** Providers that run the fixture agents (name -> script). */
export function fixtureProvidersFile(dir: string): string {
  const providers: Record<string, { command: string[]; env?: string[]; setEnv?: Record<string, string>; resume?: string[]; modelArgs?: string[]; maxActive?: number }> = {};
  for (const name of ["exit0", "exit3", "ignore-term", "forker", "escaper", "chatty", "slow", "sleeper", "env-dump", "partial", "writer", "reader", "claude-stream", "claude-login-fail", "hog", "progress"]) {
    providers[name] = { command: [join(AGENTS, `${name}.sh`), "{agent}", "{task}"] };
  }
  providers["chatty"] = { command: [join(AGENTS, "chatty.sh"), "{task}"] };
  // A cap of its own, far above what tests start at once: the dashboard shows it.
  providers["slow"] = { command: [join(AGENTS, "slow.sh"), "{task}"], maxActive: 50 };
  // Asks for the API's key by name and by prefix: it must get neither.
  providers["env-dump"] = { command: [join(AGENTS, "env-dump.sh")], env: ["ANTHROPIC_*", "MANAGEMENT_API_KEY", "MANAGEMENT_*"] };
  providers["missing-cli"] = { command: ["definitely-not-installed-cli", "{task}"] };
  // Goes on with its session when a task continues it.
  providers["claude-session"] = { command: [join(AGENTS, "claude-session.sh"), "{agent}", "{task}"], resume: ["--resume", "{sessionId}"], modelArgs: ["--model", "{model}"] };
  // As agentic-flow's proxy takes one: a free port of its own for each task.
  providers["port-dump"] = { command: [join(AGENTS, "env-dump.sh")], setEnv: { PROXY_PORT: "{port}" } };
  const file = join(dir, "providers.json");
  writeFileSync(file, JSON.stringify(providers));
  return file;
}

/** Environment for loadConfig: temp data dir, test key, fixture providers, quiet logs. */
export function testEnv(overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const dir = tempDir();
  return {
    PATH: process.env.PATH,
    HOME: dir,
    DATA_DIR: dir,
    MANAGEMENT_API_KEY: KEY,
    LOG_LEVEL: "silent",
    PORT: "0",
    PROVIDERS_FILE: fixtureProvidersFile(dir),
    TASK_STOP_GRACE_MS: "1000",
    NVIDIA_SMI_PATH: join(dir, "no-nvidia-smi-here"),
    ...overrides,
  };
}

export function testConfig(overrides: Record<string, string | undefined> = {}): Config {
  const r = loadConfig(testEnv(overrides));
  if (!r.ok) throw new Error(r.errors.join("\n"));
  return r.config;
}

/** Stand-in for Bun's server in app.request(): gives the client address. */
export function peer(address: string) {
  return { requestIP: () => ({ address, family: address.includes(":") ? "IPv6" : "IPv4", port: 50000 }), timeout() {} };
}

/** An in-memory app over real services. */
export function testApp(overrides: Record<string, string | undefined> = {}, options: BuildOptions = {}) {
  const config = testConfig(overrides);
  const services = buildServices(config, silentLogger, options);
  services.lifecycle.markReady();
  const app = createApp(services);
  const env = peer("127.0.0.1");
  const request = (path: string, init: RequestInit = {}, from = env) => app.request(path, init, from);
  return { app, services, config, request, close: () => services.close() };
}

/** A real listening server on a free port. */
export async function testServer(overrides: Record<string, string | undefined> = {}) {
  const config = testConfig(overrides);
  const server = await createServer(config, silentLogger);
  const base = `http://127.0.0.1:${server.port}`;
  return { ...server, config, base };
}

/** Polls `fn` until it returns a truthy value (or throws after `ms`). */
export async function waitFor<T>(fn: () => T | Promise<T>, ms = 10_000, every = 25): Promise<NonNullable<T>> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms`);
    await Bun.sleep(every);
  }
}

/**
 * A directory holding a fake `nvidia-smi` that prints a fixture, fails, or hangs. With `csv`, its
 * `--query-compute-apps` prints `apps` (a fixture's name or a file's path, read at each run; no
 * processes without it), or fails with `appsFail`, and refuses a field list other than the API's,
 * as the real one refuses a field it does not know.
 */
export function fakeNvidiaSmi(mode: { csv: string; apps?: string; appsFail?: string } | { fail: string } | { hang: true } | { stuck: true }): string {
  const dir = tempDir("nvsmi-");
  mkdirSync(dir, { recursive: true });
  let body: string;
  if ("csv" in mode) {
    const apps = mode.appsFail
      ? `echo '${mode.appsFail}' >&2; exit 6`
      : mode.apps
        ? `cat '${mode.apps.includes("/") ? mode.apps : join(FIXTURES, "nvidia-smi", mode.apps)}'`
        : "true";
    body = [
      'case "$1" in',
      `  --query-compute-apps=gpu_uuid,pid,used_memory,process_name) ${apps} ;;`,
      `  --query-compute-apps=*) echo "Field \"\${1#*=}\" is not a valid field to query." >&2; exit 2 ;;`,
      `  *) cat '${join(FIXTURES, "nvidia-smi", mode.csv)}' ;;`,
      "esac",
    ].join("\n");
  }
  else if ("fail" in mode) body = `cat >&2 <<'MSG'\n${mode.fail}\nMSG\nexit 9`;
  else if ("hang" in mode) body = "exec sleep 30";
  // As one stuck in the kernel: SIGKILL ends the process we started, but the run does not finish
  // (a child holds its output open). Each run is counted in `runs`; `pid` names the child to end it.
  else body = `echo run >> '${dir}/runs'\nsleep 30 &\necho $! > '${dir}/pid'\nexec sleep 30`;
  const script = join(dir, "nvidia-smi");
  writeFileSync(script, `#!/bin/sh\n# fake nvidia-smi for tests\n${body}\n`);
  chmodSync(script, 0o755);
  return dir;
}

/** Reads an SSE response into events until it ends (or `until` says stop). */
export async function readSse(res: Response, until?: (events: SseEvent[]) => boolean, ms = 20_000) {
  const events: SseEvent[] = [];
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  const deadline = Date.now() + ms;
  try {
    while (Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf("\n\n")) !== -1) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const ev: SseEvent = { event: "message", data: "", comment: [] };
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) ev.comment.push(line.slice(1).trim());
          else if (line.startsWith("id: ")) ev.id = line.slice(4);
          else if (line.startsWith("event: ")) ev.event = line.slice(7);
          else if (line.startsWith("data: ")) ev.data += line.slice(6);
          else if (line.startsWith("retry: ")) ev.retry = Number(line.slice(7));
        }
        events.push(ev);
      }
      if (until?.(events)) break;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return events;
}

export interface SseEvent {
  id?: string;
  event: string;
  data: string;
  comment: string[];
  retry?: number;
}

/** Log lines carried by SSE events. */
export const sseLines = (events: SseEvent[]) => events.filter((e) => e.event === "message" && e.data).map((e) => JSON.parse(e.data).line as string);
