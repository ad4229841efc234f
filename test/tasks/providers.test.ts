/** PROVIDERS_FILE parsing and provider lookup. */
import { describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildArgv, buildEnv, DEFAULT_PROVIDERS, loadProviders, providerNamed, usesPort } from "../../src/tasks/providers.ts";
import pino from "pino";
import { buildServices } from "../../src/server.ts";
import { tempDir, testConfig } from "../helpers.ts";

const file = (content: string) => {
  const path = join(tempDir("providers-"), "providers.json");
  writeFileSync(path, content);
  return path;
};

describe("providers", () => {
  test("a name is found only when configured: Object.prototype's names are no providers", () => {
    for (const name of ["toString", "constructor", "__proto__", "hasOwnProperty"]) expect(providerNamed(DEFAULT_PROVIDERS, name)).toBeUndefined();
    expect(providerNamed(DEFAULT_PROVIDERS, "demo")).toBe(DEFAULT_PROVIDERS.demo!);
  });

  test("PROVIDERS_FILE adds and overrides; a provider may be called toString", () => {
    const providers = loadProviders(file(JSON.stringify({ toString: { command: ["echo", "{task}"] }, demo: { command: ["true"] } })));
    expect(providerNamed(providers, "toString")).toEqual({ command: ["echo", "{task}"], env: [], envAliases: {}, setEnv: {}, description: "" });
    expect(providerNamed(providers, "demo")!.command).toEqual(["true"]);
    expect(providerNamed(providers, "gemini")).toBe(DEFAULT_PROVIDERS.gemini!);
  });

  test("a name that is not a plain word is a start error naming it", () => {
    // "__proto__" would otherwise replace the parsed object's prototype and vanish without a word.
    expect(() => loadProviders(file('{"__proto__": {"command": ["sh"]}}'))).toThrow("PROVIDERS_FILE: __proto__: a provider name is a letter or digit");
    expect(() => loadProviders(file('{"my tool": {"command": ["sh"]}}'))).toThrow("PROVIDERS_FILE: my tool: a provider name");
    expect(() => loadProviders(file('{"ok": {"command": []}}'))).toThrow("PROVIDERS_FILE: ok.command:");
  });

  test("gemini: agentic-flow gets GOOGLE_GEMINI_API_KEY from GEMINI_API_KEY, the name /v1/status and Google's tools take", () => {
    const task = { taskId: "t", taskDir: "/w/t" };
    const gemini = DEFAULT_PROVIDERS.gemini!;
    expect(buildEnv(gemini, { GEMINI_API_KEY: "g1" }, task)).toMatchObject({ GEMINI_API_KEY: "g1", GOOGLE_GEMINI_API_KEY: "g1" });
    expect(buildEnv(gemini, { GEMINI_API_KEY: "g1", GOOGLE_GEMINI_API_KEY: "g2" }, task)).toMatchObject({ GOOGLE_GEMINI_API_KEY: "g2" });
    expect(Object.keys(buildEnv(gemini, {}, task))).not.toContain("GOOGLE_GEMINI_API_KEY");
    // openai: agentic-flow runs it on OpenRouter, with the model COMPLETION_MODEL names.
    expect(buildEnv(DEFAULT_PROVIDERS.openai!, { OPENROUTER_API_KEY: "or", COMPLETION_MODEL: "openai/gpt-4o" }, task)).toMatchObject({ OPENROUTER_API_KEY: "or", COMPLETION_MODEL: "openai/gpt-4o" });
  });

  test("agentic-flow's providers give its proxy the task's own port; templates fill commands and variables alike", () => {
    const vars = { agent: "coder", task: "t", taskId: "id1", taskDir: "/w/id1", permissionMode: "plan", port: "41234", sessionId: "" };
    for (const name of ["gemini", "openai"]) {
      expect(usesPort(DEFAULT_PROVIDERS[name]!)).toBe(true);
      expect(buildEnv(DEFAULT_PROVIDERS[name]!, {}, vars).PROXY_PORT).toBe("41234");
    }
    expect(usesPort(DEFAULT_PROVIDERS["claude-flow"]!)).toBe(false);
    const tool = providerNamed(loadProviders(file(JSON.stringify({ tool: { command: ["tool", "--port={port}", "{taskId}"], setEnv: { WHERE: "{taskDir}/x", MANAGEMENT_API_KEY: "{port}" } } }))), "tool")!;
    expect(buildArgv(tool, vars)).toEqual(["tool", "--port=41234", "id1"]);
    const env = buildEnv(tool, { MANAGEMENT_API_KEY: "never" }, vars);
    expect(env.WHERE).toBe("/w/id1/x");
    expect(Object.keys(env)).not.toContain("MANAGEMENT_API_KEY");
  });

  test("a continuation adds the provider's resume arguments with the session's id; claude's is --resume", () => {
    const vars = { agent: "coder", task: "and now the tests", taskId: "id2", taskDir: "/w/id1", permissionMode: "plan", port: "", sessionId: "s-1" };
    const claude = DEFAULT_PROVIDERS["claude-flow"]!;
    expect(buildArgv(claude, vars).includes("--resume")).toBe(false);
    expect(buildArgv(claude, vars, true).slice(-2)).toEqual(["--resume", "s-1"]);
    const tool = providerNamed(loadProviders(file(JSON.stringify({ tool: { command: ["tool", "{task}"], resume: ["--session={sessionId}"] } }))), "tool")!;
    expect(buildArgv(tool, vars, true)).toEqual(["tool", "and now the tests", "--session=s-1"]);
    expect(DEFAULT_PROVIDERS.gemini!.resume).toBeUndefined();
  });

  test("README's PROVIDERS_FILE example loads, and its gemini keeps what the built-in one gives agentic-flow", async () => {
    const readme = await Bun.file(join(import.meta.dir, "../../README.md")).text();
    const example = /`PROVIDERS_FILE` names a JSON file[\s\S]*?```json\n([\s\S]*?)\n```/.exec(readme)?.[1];
    expect(example).toBeDefined();
    const providers = loadProviders(file(example!));
    const vars = { agent: "coder", task: "t", taskId: "id1", taskDir: "/w/id1", permissionMode: "plan", port: "41234", sessionId: "" };
    expect(buildArgv(providerNamed(providers, "gemini")!, vars)).toContain("--model");
    expect(buildEnv(providerNamed(providers, "gemini")!, { GEMINI_API_KEY: "g" }, vars)).toMatchObject({ GOOGLE_GEMINI_API_KEY: "g", PROXY_PORT: "41234" });
    expect(providerNamed(providers, "aider")!.env).toEqual(["OPENAI_API_KEY"]);
    const gemini = providerNamed(providers, "gemini-cli")!;
    expect(buildArgv(gemini, vars).slice(0, 2)).toEqual(["gemini", "-p"]);
    expect(buildEnv(gemini, { GEMINI_API_KEY: "g", GOOGLE_CLOUD_PROJECT: "p", MANAGEMENT_API_KEY: "never" }, vars)).toMatchObject({ GEMINI_API_KEY: "g", GOOGLE_CLOUD_PROJECT: "p" });
  });

  test("PROVIDERS_FILE may alias variables, but never to or from the API's own keys", () => {
    const providers = loadProviders(file(JSON.stringify({
      tool: { command: ["tool"], envAliases: { TOOL_TOKEN: "MY_TOKEN", LEAK: "MANAGEMENT_API_KEY", MANAGEMENT_API_KEYS: "MY_TOKEN" } },
    })));
    const env = buildEnv(providerNamed(providers, "tool")!, { MY_TOKEN: "t", MANAGEMENT_API_KEY: "never" }, { taskId: "t", taskDir: "/w/t" });
    expect(env.TOOL_TOKEN).toBe("t");
    expect(JSON.stringify(env)).not.toContain("never");
    expect(Object.keys(env)).not.toContain("MANAGEMENT_API_KEYS");
    expect(() => loadProviders(file(JSON.stringify({ tool: { command: ["tool"], envAliases: { "BAD NAME": "X" } } })))).toThrow("PROVIDERS_FILE: tool.envAliases");
  });

  test('"PREFIX_*" in env passes every variable that starts so, never the API\'s own keys', () => {
    const providers = loadProviders(file(JSON.stringify({ tool: { command: ["tool"], env: ["TOOL_*", "MANAGEMENT_*", "MANAGEMENT_API_KEY_FILE"] } })));
    const source = { TOOL_A: "a", TOOL_B: "b", TOOLBOX: "no", MANAGEMENT_API_KEY: "never", MANAGEMENT_API_KEYS: "never", MANAGEMENT_API_KEY_FILE: "/run/secrets/key", MANAGEMENT_API_PORT: "9090" };
    const env = buildEnv(providerNamed(providers, "tool")!, source, { taskId: "t", taskDir: "/w/t" });
    expect(env).toMatchObject({ TOOL_A: "a", TOOL_B: "b", MANAGEMENT_API_PORT: "9090" });
    for (const name of ["TOOLBOX", "MANAGEMENT_API_KEY", "MANAGEMENT_API_KEYS", "MANAGEMENT_API_KEY_FILE"]) expect(Object.keys(env)).not.toContain(name);
    for (const bad of ["*", "A*B", "TOOL_**"]) {
      expect(() => loadProviders(file(JSON.stringify({ tool: { command: ["tool"], env: [bad] } })))).toThrow('PROVIDERS_FILE: tool.env.0: must be a variable name, or a prefix of one ending in "*"');
    }
  });

  test("claude gets what it logs in with (a setup-token, Bedrock, Vertex); every task gets the proxy and CA settings", () => {
    const source = {
      PATH: "/usr/bin",
      HOME: "/home/api",
      CLAUDE_CODE_OAUTH_TOKEN: "sk-ant-oat01-x",
      CLAUDE_CODE_USE_BEDROCK: "1",
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "AKIA",
      AWS_SECRET_ACCESS_KEY: "secret",
      ANTHROPIC_VERTEX_PROJECT_ID: "p",
      HTTPS_PROXY: "http://proxy:3128",
      no_proxy: "localhost",
      NODE_USE_ENV_PROXY: "1",
      ALL_PROXY: "socks5://proxy:1080",
      REQUESTS_CA_BUNDLE: "/etc/ca.pem",
      NODE_EXTRA_CA_CERTS: "/etc/ca.pem",
      MANAGEMENT_API_KEY: "never",
      SALAD_API_KEY: "not for claude",
    };
    const claude = buildEnv(DEFAULT_PROVIDERS["claude-flow"]!, source, { taskId: "t", taskDir: "/w/t" });
    expect(claude).toMatchObject({ CLAUDE_CODE_OAUTH_TOKEN: "sk-ant-oat01-x", CLAUDE_CODE_USE_BEDROCK: "1", AWS_REGION: "us-east-1", AWS_ACCESS_KEY_ID: "AKIA", AWS_SECRET_ACCESS_KEY: "secret", ANTHROPIC_VERTEX_PROJECT_ID: "p" });
    // Whatever else the CLI reads, by its prefixes: a gateway's model names, options, telemetry, EKS's web identity.
    const more = {
      ANTHROPIC_DEFAULT_HAIKU_MODEL: "gw/haiku",
      ANTHROPIC_CUSTOM_HEADERS: "X-Team: gpu",
      CLAUDE_CODE_MAX_TURNS: "20",
      DISABLE_AUTOUPDATER: "1",
      MAX_THINKING_TOKENS: "8000",
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://otel:4317",
      AWS_ROLE_ARN: "arn:aws:iam::1:role/r",
      AWS_WEB_IDENTITY_TOKEN_FILE: "/var/run/secrets/eks.amazonaws.com/serviceaccount/token",
      VERTEX_REGION_CLAUDE_4_0_OPUS: "europe-west1",
    };
    expect(buildEnv(DEFAULT_PROVIDERS["claude-flow"]!, { ...source, ...more, BASH_ENV: "/tmp/evil", GEMINI_API_KEY: "g" }, { taskId: "t", taskDir: "/w/t" })).toEqual({ ...claude, ...more });
    const demo = buildEnv(DEFAULT_PROVIDERS.demo!, source, { taskId: "t", taskDir: "/w/t" });
    expect(demo).toEqual({ PATH: "/usr/bin", HOME: "/home/api", LANG: "C.UTF-8", TASK_ID: "t", TASK_DIR: "/w/t", HTTPS_PROXY: "http://proxy:3128", no_proxy: "localhost", NODE_USE_ENV_PROXY: "1", ALL_PROXY: "socks5://proxy:1080", REQUESTS_CA_BUNDLE: "/etc/ca.pem", NODE_EXTRA_CA_CERTS: "/etc/ca.pem" });
    for (const env of [claude, demo]) expect(Object.keys(env)).not.toContain("MANAGEMENT_API_KEY");
    expect(Object.keys(claude)).not.toContain("SALAD_API_KEY");
  });
});

describe("the start's line about providers", () => {
  test("names the providers whose command is not on the API's PATH, with that PATH (a service manager's often lacks the CLI)", () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const config = testConfig({ PATH: "/usr/bin:/bin" });
    const services = buildServices(config, logger);
    services.close();
    const line = lines.find((l) => String(l.msg).startsWith("task providers"))!;
    expect(line.msg).toBe("task providers; some commands are not on PATH, so their tasks fail until installed");
    expect(line.PATH).toBe("/usr/bin:/bin");
    expect(line.missing).toMatchObject({ "missing-cli": "definitely-not-installed-cli" });
    expect(line.available).toContain("exit0"); // a fixture script, named by its path
    expect(Object.keys(line.missing as object)).not.toContain("exit0");
  });

  test("all found: one plain line", () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const dir = tempDir();
    const file = join(dir, "providers.json");
    writeFileSync(file, JSON.stringify({ shell: { command: ["sh", "-c", "echo {task}"] } }));
    // The built-in providers' CLIs, as stand-ins.
    const bin = join(dir, "bin");
    mkdirSync(bin);
    for (const cli of ["claude", "agentic-flow"]) writeFileSync(join(bin, cli), "#!/bin/sh\n", { mode: 0o755 });
    const services = buildServices(testConfig({ PROVIDERS_FILE: file, PATH: `${bin}:/usr/bin:/bin` }), logger);
    services.close();
    const line = lines.find((l) => String(l.msg).startsWith("task providers"))!;
    expect([line.msg, line.missing, line.PATH]).toEqual(["task providers", {}, undefined]);
    expect(line.available).toContain("shell");
  });
});
