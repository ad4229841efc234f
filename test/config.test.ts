import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { helpText, loadConfig, localUrl } from "../src/config.ts";
import { DEFAULT_API_KEY, parseDuration, SETTINGS } from "../src/settings.ts";
import { tempDir } from "./helpers.ts";

describe("loadConfig", () => {
  test("built-in defaults", () => {
    const r = loadConfig({});
    if (!r.ok) throw new Error(r.errors.join());
    expect(r.config.port).toBe(9090);
    expect(r.config.host).toBe("127.0.0.1");
    expect(r.config.apiKeys).toEqual([DEFAULT_API_KEY]);
    expect(r.config.rateLimit.max).toBe(100);
    expect(r.config.rateLimit.windowMs).toBe(60000);
    expect(r.config.rateLimit.allowlist.has("127.0.0.1")).toBe(true);
    expect(r.config.rateLimit.trustedProxies.entries).toEqual([]);
    expect(r.config.bodyLimit).toBe(10 * 1024 * 1024);
    expect(r.config.tasks.retentionMs).toBe(7 * 86_400_000);
    expect(r.config.tasks.logMaxBytes).toBe(100 * 1024 * 1024);
    expect(r.config.tasks.stopGraceMs).toBe(10000);
    expect(r.config.workspaceDir.endsWith("/data/workspace")).toBe(true);
    expect(r.config.logsDir.endsWith("/data/logs")).toBe(true);
    expect(r.warnings.join()).toContain("default API key");
  });

  test("HOST: an IPv6 address may be bracketed; local clients reach the server where it listens", () => {
    const host = (HOST: string) => {
      const r = loadConfig({ HOST, MANAGEMENT_API_KEY: "k".repeat(20) });
      if (!r.ok) throw new Error(r.errors.join());
      return r.config;
    };
    expect(host("[::1]").host).toBe("::1");
    expect(host("[2001:db8::5]").host).toBe("2001:db8::5");
    expect(loadConfig({ HOST: "[::1]" }).ok).toBe(true); // still loopback for the default key
    expect(loadConfig({ HOST: "[::]" }).ok).toBe(false);
    expect(localUrl(host("[::1]"))).toBe("http://[::1]:9090/");
    expect(localUrl(host("::"))).toBe("http://127.0.0.1:9090/");
    expect(localUrl(host("0.0.0.0"))).toBe("http://127.0.0.1:9090/");
    expect(localUrl(host("10.1.2.3"))).toBe("http://10.1.2.3:9090/");
    expect(localUrl(host("localhost"))).toBe("http://localhost:9090/");
  });

  test("CLAUDE_PERMISSION_MODE takes every mode the claude CLI (2.1) lists, and nothing else", () => {
    for (const mode of ["acceptEdits", "auto", "bypassPermissions", "default", "dontAsk", "plan"]) {
      const r = loadConfig({ CLAUDE_PERMISSION_MODE: mode });
      expect(r.ok && r.config.tasks.claudePermissionMode).toBe(mode);
    }
    expect(loadConfig({ CLAUDE_PERMISSION_MODE: "yolo" }).ok).toBe(false);
  });

  test("bypassPermissions as root is warned of (claude refuses it there) unless IS_SANDBOX says it is a sandbox", () => {
    const warned = (env: Record<string, string>, uid: number) => {
      const r = loadConfig({ MANAGEMENT_API_KEY: "k".repeat(20), ...env }, { uid });
      return r.ok && r.warnings.some((w) => w.includes("claude CLI refuses it to root"));
    };
    expect(warned({ CLAUDE_PERMISSION_MODE: "bypassPermissions" }, 0)).toBe(true);
    expect(warned({ CLAUDE_PERMISSION_MODE: "bypassPermissions", IS_SANDBOX: "1" }, 0)).toBe(false);
    expect(warned({ CLAUDE_PERMISSION_MODE: "bypassPermissions" }, 1000)).toBe(false);
    expect(warned({ CLAUDE_PERMISSION_MODE: "acceptEdits" }, 0)).toBe(false);
  });

  test("TASK_ENV takes variable names and prefixes, and says which entry is neither", () => {
    const ok = loadConfig({ TASK_ENV: "PIP_*, HF_TOKEN,NPM_CONFIG_*" });
    expect(ok.ok && ok.config.tasks.taskEnv).toEqual(["PIP_*", "HF_TOKEN", "NPM_CONFIG_*"]);
    const bad = loadConfig({ TASK_ENV: "PIP_*,BAD NAME" });
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.errors.join("\n")).toContain("TASK_ENV");
  });

  test("HOST: surrounding spaces are dropped; what is neither an address nor a host name is refused", () => {
    const r = loadConfig({ HOST: " 127.0.0.1 " });
    // Untrimmed, it failed the default key's loopback check and then Bun's listen ("ENOTFOUND  127.0.0.1").
    expect(r.ok && r.config.host).toBe("127.0.0.1");
    expect(loadConfig({ HOST: "gpu-box-1.internal", MANAGEMENT_API_KEY: "k".repeat(20) }).ok).toBe(true);
    for (const HOST of ["300.1.1.1", "bad host", "-dash.example", "http://127.0.0.1"]) {
      const bad = loadConfig({ HOST, MANAGEMENT_API_KEY: "k".repeat(20) });
      expect(!bad.ok && bad.errors).toEqual([`HOST: "${HOST}" is not an IP address or a host name (e.g. 127.0.0.1, 0.0.0.0, ::)`]);
    }
  });

  test("every setting ignores surrounding whitespace (a CRLF .env, `LOG_LEVEL= info`)", () => {
    const samples: Record<string, string> = {
      ...Object.fromEntries(Object.entries(SETTINGS).flatMap(([name, s]) => ("default" in s && s.default ? [[name, s.default]] : []))),
      LOG_LEVEL: "debug",
      LOG_FORMAT: "json",
      CLAUDE_PERMISSION_MODE: "plan",
      ENABLE_XINFERENCE: "true",
      WORKSPACE: "/srv/ws",
      LOGS_DIR: "/srv/logs",
      COMFYUI_URL: "http://127.0.0.1:8190",
      WEBHOOK_DEFAULT_URL: "https://hooks.example/x",
      CORS_ORIGINS: "https://ops.example",
      TASK_ENV: "HF_TOKEN,AWS_*",
    };
    const comparable = (env: Record<string, string>) => {
      const r = loadConfig({ MANAGEMENT_API_KEY: "k".repeat(20), ...env });
      if (!r.ok) throw new Error(r.errors.join("\n"));
      // As JSON: the address lists' matchers are compared by their entries. Tasks get the environment as it was given.
      return JSON.parse(JSON.stringify({ ...r.config, childEnvSource: undefined }));
    };
    for (const [name, value] of Object.entries(samples)) {
      expect([name, comparable({ [name]: ` ${value}\r\n` })]).toEqual([name, comparable({ [name]: value })]);
    }
  });

  test("COMFYUI_OUTPUT_DIR / COMFYUI_MODELS_DIR that this user cannot read (ComfyUI's own container path) are warned about at start", () => {
    const key = { MANAGEMENT_API_KEY: "k".repeat(20) };
    const present = tempDir();
    const fine = loadConfig({ ...key, COMFYUI_OUTPUT_DIR: present, COMFYUI_MODELS_DIR: present });
    expect(fine.ok && fine.warnings).toEqual([]);
    const file = join(tempDir(), "a-file");
    writeFileSync(file, "");
    const r = loadConfig({ ...key, COMFYUI_OUTPUT_DIR: "/opt/ComfyUI/output", COMFYUI_MODELS_DIR: file });
    expect(r.ok && r.warnings).toEqual([
      "COMFYUI_OUTPUT_DIR: /opt/ComfyUI/output is not a folder this user can read, so the local ComfyUI's outputs will be answered 404. Mount ComfyUI's output folder there, or unset it to fetch outputs from ComfyUI over HTTP.",
      `COMFYUI_MODELS_DIR: ${file} is not a folder this user can read, so model sizes will be missing. Mount ComfyUI's models folder there, or unset it.`,
    ]);
  });

  test("aliases MANAGEMENT_API_PORT / MANAGEMENT_API_HOST", () => {
    const r = loadConfig({ MANAGEMENT_API_PORT: "9191", MANAGEMENT_API_HOST: "::1" });
    expect(r.ok && r.config.port).toBe(9191);
    expect(r.ok && r.config.host).toBe("::1");
  });

  test("retentions: durations, and 0 keeps finished records forever rather than deleting them at once", () => {
    const r = loadConfig({ TASK_RETENTION: "12h", WORKFLOW_RETENTION: "0" });
    expect(r.ok && [r.config.tasks.retentionMs, r.config.comfyui.retentionMs]).toEqual([12 * 3_600_000, undefined]);
    const zero = loadConfig({ TASK_RETENTION: "0", WORKFLOW_RETENTION: "1500" });
    expect(zero.ok && [zero.config.tasks.retentionMs, zero.config.comfyui.retentionMs]).toEqual([undefined, 1500]);
  });

  test("every problem is reported at once, by variable name", () => {
    const r = loadConfig({ PORT: "http", RATE_LIMIT_MAX: "-1", LOG_LEVEL: "loud", TASK_RETENTION: "soon", TRUSTED_PROXIES: "10.0.0.0/33,bogus" });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const text = r.errors.join("\n");
    for (const name of ["PORT", "RATE_LIMIT_MAX", "LOG_LEVEL", "TASK_RETENTION", "TRUSTED_PROXIES"]) expect(text).toContain(name);
    expect(r.errors.filter((e) => e.startsWith("TRUSTED_PROXIES")).length).toBe(2);
  });

  test("a bad number says what was given and what is allowed; a bad URL is not repeated (it may hold a password)", () => {
    const r = loadConfig({ PORT: "http", RATE_LIMIT_MAX: "0", MAX_ACTIVE_TASKS: "2.5", TASK_LOG_MAX_BYTES: "10MiB", COMFYUI_URL: "ftp://user:hunter2@gpu:8188", WEBHOOK_URL: "hooks.example.com/t0ken" });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toEqual([
      'PORT: "http" is not a whole number from 0 to 65535',
      'RATE_LIMIT_MAX: "0" is not a whole number from 1 to 10000000',
      'MAX_ACTIVE_TASKS: "2.5" is not a whole number from 1 to 10000',
      'TASK_LOG_MAX_BYTES: "10MiB" is not a whole number of 1024 or more',
      "COMFYUI_URL: not an http:// or https:// URL (e.g. http://127.0.0.1:8188)",
      "WEBHOOK_URL: not an http:// or https:// URL",
    ]);
    // As Number() reads them: surrounding spaces, an exponent.
    const ok = loadConfig({ PORT: " 9191 ", BODY_LIMIT: "1e6" });
    expect(ok.ok && [ok.config.port, ok.config.bodyLimit]).toEqual([9191, 1_000_000]);
  });

  test("the default key is refused on a non-loopback address", () => {
    const r = loadConfig({ HOST: "0.0.0.0" });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]).toContain("only allowed while HOST is a loopback address");
    expect(loadConfig({ HOST: "0.0.0.0", MANAGEMENT_API_KEY: "s3cret-value" }).ok).toBe(true);
    // Listing the default among extra keys does not sneak it in either.
    expect(loadConfig({ HOST: "0.0.0.0", MANAGEMENT_API_KEY: "s3cret", MANAGEMENT_API_KEYS: DEFAULT_API_KEY }).ok).toBe(false);
  });

  test("MANAGEMENT_API_KEYS adds keys; our keys never reach the child environment source", () => {
    const r = loadConfig({ MANAGEMENT_API_KEY: "a", MANAGEMENT_API_KEYS: "b, c,,a", OPENAI_API_KEY: "o" });
    if (!r.ok) throw new Error();
    expect(r.config.apiKeys).toEqual(["a", "b", "c"]);
    expect(r.config.childEnvSource.MANAGEMENT_API_KEY).toBeUndefined();
    expect(r.config.childEnvSource.MANAGEMENT_API_KEYS).toBeUndefined();
    expect(r.config.childEnvSource.OPENAI_API_KEY).toBe("o");
  });

  test("MANAGEMENT_API_READONLY_KEYS: read-only keys beside the full ones, never a full key too, never the default, never passed to a task", () => {
    const r = loadConfig({ MANAGEMENT_API_KEY: "full-key-0123456789", MANAGEMENT_API_READONLY_KEYS: "watch-key-0123456789, ,grafana-key-0123456789", OPENAI_API_KEY: "o" });
    if (!r.ok) throw new Error(r.errors.join());
    expect([r.config.apiKeys, r.config.readOnlyKeys, r.warnings]).toEqual([["full-key-0123456789"], ["watch-key-0123456789", "grafana-key-0123456789"], []]);
    expect(r.config.childEnvSource.MANAGEMENT_API_READONLY_KEYS).toBeUndefined();
    expect(r.config.childEnvSource.OPENAI_API_KEY).toBe("o");
    // Read-only keys alone do not replace the default full key: someone still has to be able to start work.
    const alone = loadConfig({ MANAGEMENT_API_READONLY_KEYS: "watch-key-0123456789" });
    expect(alone.ok && alone.config.apiKeys).toEqual([DEFAULT_API_KEY]);
    const both = loadConfig({ MANAGEMENT_API_KEY: "full-key-0123456789", MANAGEMENT_API_READONLY_KEYS: "full-key-0123456789" });
    expect(!both.ok && both.errors).toEqual([
      "MANAGEMENT_API_READONLY_KEYS: a key listed there is also a full key (MANAGEMENT_API_KEY or MANAGEMENT_API_KEYS); give each key one kind of access",
    ]);
    const known = loadConfig({ MANAGEMENT_API_KEY: "full-key-0123456789", MANAGEMENT_API_READONLY_KEYS: DEFAULT_API_KEY });
    expect(!known.ok && known.errors).toEqual([`MANAGEMENT_API_READONLY_KEYS: the well-known default key "${DEFAULT_API_KEY}" cannot be one; use a secret of your own`]);
    const short = loadConfig({ MANAGEMENT_API_KEY: "full-key-0123456789", MANAGEMENT_API_READONLY_KEYS: "ro" });
    expect(short.ok && short.warnings).toEqual(["An API key has fewer than 16 characters: easy to guess. Use random ones, e.g. `openssl rand -hex 32`."]);
  });

  test("a key no client could send (a space, an accented letter) is refused at start, without repeating it; quotes are said to be part of it", () => {
    const why = "only visible ASCII characters may be used (letters, digits, punctuation; no spaces, no accented letters): a client cannot send others in an Authorization header";
    for (const k of ["my secret key 0123", "pässwörd-0123456789", "tab\there-0123456789"]) {
      const r = loadConfig({ MANAGEMENT_API_KEY: k });
      expect(!r.ok && r.errors).toEqual([`MANAGEMENT_API_KEY: ${why}`]);
    }
    const listed = loadConfig({ MANAGEMENT_API_KEY: "full-key-0123456789", MANAGEMENT_API_KEYS: "next-key-0123456789, nächste-0123456789", MANAGEMENT_API_READONLY_KEYS: "watch key 0123456789" });
    expect(!listed.ok && listed.errors).toEqual([`MANAGEMENT_API_KEYS: key 2 of 2: ${why}`, `MANAGEMENT_API_READONLY_KEYS: key 1 of 1: ${why}`]);
    expect(JSON.stringify(listed)).not.toContain("nächste");
    // A secret file's trailing newline (or a CRLF .env) is still just trimmed.
    expect(loadConfig({ MANAGEMENT_API_KEY: "secret-0123456789\r\n" }).ok).toBe(true);
    const quoted = loadConfig({ MANAGEMENT_API_KEY: '"quoted-key-0123456789"' });
    expect(quoted.ok && quoted.warnings).toEqual([
      "An API key begins and ends with a quote, which is part of the key: clients must send it too. (docker run --env-file keeps quotes; write KEY=value without them.)",
    ]);
  });

  test("keys shorter than 16 characters are accepted with a warning that they are easy to guess", () => {
    const one = loadConfig({ MANAGEMENT_API_KEY: "short", MANAGEMENT_API_KEYS: "long-enough-0123456789" });
    expect(one.ok && one.warnings).toEqual(["An API key has fewer than 16 characters: easy to guess. Use random ones, e.g. `openssl rand -hex 32`."]);
    const two = loadConfig({ MANAGEMENT_API_KEYS: "a,b" });
    expect(two.ok && two.warnings).toEqual(["2 API keys have fewer than 16 characters: easy to guess. Use random ones, e.g. `openssl rand -hex 32`."]);
  });

  test("keys listed only in MANAGEMENT_API_KEYS replace the default key; a key's surrounding whitespace is dropped", () => {
    const only = loadConfig({ MANAGEMENT_API_KEYS: "rotated-key-0000001, rotated-key-0000002" });
    expect(only.ok && [only.config.apiKeys, only.warnings]).toEqual([["rotated-key-0000001", "rotated-key-0000002"], []]);
    // So a public address is fine without MANAGEMENT_API_KEY once keys are listed.
    expect(loadConfig({ HOST: "0.0.0.0", MANAGEMENT_API_KEYS: "rotated-1" }).ok).toBe(true);
    // A secret mounted from a file usually ends in a newline, which no request header can carry.
    const mounted = loadConfig({ MANAGEMENT_API_KEY: "from-a-file\n" });
    expect(mounted.ok && mounted.config.apiKeys).toEqual(["from-a-file"]);
    expect(loadConfig({ MANAGEMENT_API_KEY: " \n" }).ok).toBe(false);
    const salad = loadConfig({ SALAD_API_KEY: "salad-key\n" });
    expect(salad.ok && salad.config.comfyui.saladApiKey).toBe("salad-key");
  });

  test("by default this machine is exempt over IPv4 and IPv6 (localhost may resolve to ::1)", () => {
    const r = loadConfig({});
    expect(r.ok && ["127.0.0.1", "::1", "10.0.0.1"].map((ip) => r.config.rateLimit.allowlist.has(ip))).toEqual([true, true, false]);
  });

  test("an empty RATE_LIMIT_ALLOWLIST exempts nobody; CIDRs and IPv6 work", () => {
    const none = loadConfig({ RATE_LIMIT_ALLOWLIST: "" });
    expect(none.ok && none.config.rateLimit.allowlist.has("127.0.0.1")).toBe(false);
    const some = loadConfig({ RATE_LIMIT_ALLOWLIST: "10.0.0.0/8, fd00::/8" });
    if (!some.ok) throw new Error();
    expect(some.config.rateLimit.allowlist.has("10.9.8.7")).toBe(true);
    expect(some.config.rateLimit.allowlist.has("11.0.0.1")).toBe(false);
    expect(some.config.rateLimit.allowlist.has("fd12::1")).toBe(true);
  });

  test("WORKSPACE and LOGS_DIR override DATA_DIR", () => {
    const r = loadConfig({ DATA_DIR: "/srv/d", WORKSPACE: "/w", LOGS_DIR: "/l" });
    if (!r.ok) throw new Error();
    expect([r.config.dataDir, r.config.workspaceDir, r.config.logsDir, r.config.dbPath]).toEqual(["/srv/d", "/w", "/l", "/srv/d/state.sqlite"]);
  });

  test("secrets may come from files (NAME_FILE), as Docker and Kubernetes mount them", () => {
    const dir = tempDir("secrets-");
    writeFileSync(join(dir, "key"), "from-a-file\n");
    writeFileSync(join(dir, "keys"), "rotated-1\nrotated-2\n");
    writeFileSync(join(dir, "salad"), "salad-key\n");
    writeFileSync(join(dir, "watchers"), "watch-key-0123456789\n");
    const r = loadConfig({
      MANAGEMENT_API_KEY_FILE: join(dir, "key"),
      MANAGEMENT_API_KEYS_FILE: join(dir, "keys"),
      MANAGEMENT_API_READONLY_KEYS_FILE: join(dir, "watchers"),
      SALAD_API_KEY_FILE: join(dir, "salad"),
    });
    if (!r.ok) throw new Error(r.errors.join());
    expect(r.config.apiKeys).toEqual(["from-a-file", "rotated-1", "rotated-2"]);
    expect(r.config.readOnlyKeys).toEqual(["watch-key-0123456789"]);
    expect(r.config.childEnvSource.MANAGEMENT_API_READONLY_KEYS_FILE).toBeUndefined();
    expect(r.config.comfyui.saladApiKey).toBe("salad-key");
    // The key file's path is kept from tasks as the key is.
    expect(r.config.childEnvSource.MANAGEMENT_API_KEY_FILE).toBeUndefined();
    const bad = loadConfig({ MANAGEMENT_API_KEY: "x", MANAGEMENT_API_KEY_FILE: join(dir, "key"), SALAD_API_KEY_FILE: join(dir, "missing") });
    expect(bad.ok ? [] : bad.errors).toEqual([
      "MANAGEMENT_API_KEY_FILE: set either MANAGEMENT_API_KEY or MANAGEMENT_API_KEY_FILE, not both",
      expect.stringMatching(/^SALAD_API_KEY_FILE: cannot read .*missing: ENOENT/),
    ]);
    // Only secrets read files: another variable's _FILE is just an unknown variable.
    expect(loadConfig({ PORT_FILE: join(dir, "key") }).ok).toBe(true);
  });

  test("CORS_ORIGINS: origins as browsers send them; an entry that could never match is an error", () => {
    const r = loadConfig({ CORS_ORIGINS: "https://ops.example.com/, HTTP://Dash.Example.com:80, *" });
    if (!r.ok) throw new Error(r.errors.join());
    expect(r.config.corsOrigins).toEqual(["https://ops.example.com", "http://dash.example.com", "*"]);
    const bad = loadConfig({ CORS_ORIGINS: "ops.example.com,https://x.test/app" });
    expect(bad.ok ? [] : bad.errors).toEqual([
      'CORS_ORIGINS: "ops.example.com" is not an origin (scheme://host[:port], e.g. https://ops.example.com); "https://x.test/app" is not an origin (scheme://host[:port], e.g. https://ops.example.com)',
    ]);
  });

  test("durations", () => {
    expect(parseDuration("7d")).toBe(604_800_000);
    expect(parseDuration("1500")).toBe(1500);
    expect(parseDuration("2h")).toBe(7_200_000);
    expect(parseDuration("x")).toBeUndefined();
  });

  test("--help lists every setting", () => {
    const text = helpText("api", "1.2.3");
    for (const name of Object.keys(SETTINGS)) expect(text).toContain(name);
    expect(text).not.toContain(DEFAULT_API_KEY);
  });
});
