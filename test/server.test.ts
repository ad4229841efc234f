/** The real entry point and the compiled binary, as an operator runs them. */
import { describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import pkg from "../package.json" with { type: "json" };
import pino from "pino";
import { DataDirInUseError } from "../src/db.ts";
import { lastResortError } from "../src/http/errors.ts";
import { createServer } from "../src/server.ts";
import { ignoredAtStart } from "../src/signals.ts";
import { AUTH, KEY, silentLogger, tempDir, testConfig, testEnv, testServer, waitFor } from "./helpers.ts";
import { ROOT, START, npmScript, startApi } from "./process.ts";
import { BASIC } from "./comfyui/helpers.ts";
import { FakeComfyUI } from "./fake-comfyui.ts";

const run = (args: string[], env: Record<string, string | undefined> = {}, cmd = START) =>
  Bun.spawnSync([...cmd, ...args], { cwd: ROOT, env: env as Record<string, string>, stdout: "pipe", stderr: "pipe" });

describe("command line", () => {
  test("--version prints package.json's version; --help lists settings", () => {
    expect(run(["--version"]).stdout.toString().trim()).toBe(pkg.version);
    const help = run(["--help"]).stdout.toString();
    for (const name of ["PORT", "MANAGEMENT_API_KEYS", "RATE_LIMIT_ALLOWLIST", "TRUSTED_PROXIES", "TASK_LOG_MAX_BYTES", "NVIDIA_SMI_PATH"]) expect(help).toContain(name);
  });

  test("invalid settings: every problem reported, exit non-zero before listening", () => {
    const r = run([], { PATH: process.env.PATH, PORT: "99999", RATE_LIMIT_WINDOW_MS: "fast", CORS_ORIGINS: "x", LOG_LEVEL: "chatty" });
    expect(r.exitCode).toBe(1);
    const err = r.stderr.toString();
    for (const name of ["PORT", "RATE_LIMIT_WINDOW_MS", "CORS_ORIGINS", "LOG_LEVEL"]) expect(err).toContain(name);
  });

  test("--healthcheck exits 0 while the server answers /health, 1 once it is gone", async () => {
    const env = testEnv();
    const api = await startApi(env);
    const port = new URL(api.base).port;
    try {
      expect(run(["--healthcheck"], { ...env, PORT: port }).exitCode).toBe(0);
      // Bound to every address, it asks loopback.
      expect(run(["--healthcheck"], { ...env, PORT: port, HOST: "0.0.0.0" }).exitCode).toBe(0);
    } finally {
      api.proc.kill("SIGTERM");
      await api.proc.exited;
    }
    expect(run(["--healthcheck"], { ...env, PORT: port }).exitCode).toBe(1);
  });

  test("behind HTTP_PROXY with loopback missing from NO_PROXY, a local ComfyUI and --healthcheck still go direct", async () => {
    // A corporate proxy: the machine's own 127.0.0.1 is out of its reach.
    const proxied: string[] = [];
    const proxy = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (req) => (proxied.push(req.url), new Response("cannot reach it", { status: 502 })) });
    const fake = new FakeComfyUI({ nodeMs: 5 }).start();
    const env = testEnv({ HTTP_PROXY: `http://127.0.0.1:${proxy.port}`, NO_PROXY: "corp.example", COMFYUI_URL: fake.url });
    const api = await startApi(env);
    try {
      const submit = await fetch(`${api.base}/v1/comfyui/workflow`, { method: "POST", headers: { ...AUTH, "Content-Type": "application/json" }, body: JSON.stringify({ workflow: BASIC }) });
      expect(submit.status).toBe(202);
      const { workflowId } = await submit.json();
      await waitFor(async () => (await (await fetch(`${api.base}/v1/comfyui/workflow/${workflowId}`, { headers: AUTH })).json()).status === "completed" || undefined);
      expect(run(["--healthcheck"], { ...env, PORT: new URL(api.base).port }).exitCode).toBe(0);
      // Tasks get the same NO_PROXY, beside the proxy itself.
      const task = await (await fetch(`${api.base}/v1/tasks`, { method: "POST", headers: { ...AUTH, "Content-Type": "application/json" }, body: JSON.stringify({ agent: "a", task: "t", provider: "env-dump" }) })).json();
      const log = await waitFor(async () => {
        const t = await (await fetch(`${api.base}/v1/tasks/${task.taskId}`, { headers: AUTH })).json();
        return t.status === "completed" ? await Bun.file(task.logFile).text() : undefined;
      });
      expect(log).toContain("NO_PROXY=corp.example,localhost,127.0.0.1,127.0.0.0/8,::1\n");
      expect(log).toContain(`HTTP_PROXY=http://127.0.0.1:${proxy.port}\n`);
      expect(proxied).toEqual([]);
    } finally {
      api.proc.kill("SIGTERM");
      await api.proc.exited;
      proxy.stop(true);
      fake.stop();
    }
  });

  test("the default key on a public address is refused with a reason", () => {
    const r = run([], { PATH: process.env.PATH, HOST: "0.0.0.0", DATA_DIR: tempDir() });
    expect(r.exitCode).toBe(1);
    expect(r.stderr.toString()).toContain("only allowed while HOST is a loopback address");
  });
});

describe("running server", () => {
  test("an exception that escapes the app still gets the common 500, without its message, and is logged", async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      development: true, // Bun's own page would show the message and stack here
      fetch: (req) => {
        if (new URL(req.url).pathname === "/sync") throw new Error("secret /etc/app.key");
        return Promise.reject(new Error("secret /etc/app.key"));
      },
      error: lastResortError(logger),
    });
    try {
      for (const path of ["/sync", "/async"]) {
        const res = await fetch(`http://127.0.0.1:${server.port}${path}`);
        expect(res.status).toBe(500);
        expect(res.headers.get("content-type")).toStartWith("application/json");
        expect(res.headers.get("cache-control")).toBe("no-store");
        const text = await res.text();
        expect(text).not.toContain("secret");
        const body = JSON.parse(text);
        expect(body).toEqual({ error: "Internal Server Error", message: "An unexpected error occurred", statusCode: 500, requestId: res.headers.get("x-request-id") });
        expect(lines.find((l) => l.reqId === body.requestId)).toMatchObject({ level: 50, err: { message: "secret /etc/app.key" } });
      }
    } finally {
      server.stop(true);
    }
  });

  test("a file deleted between its handler's look and its sending is the common 404, logged as a warning", async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const path = join(tempDir(), "task-output.txt");
    const server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: async () => {
        await Bun.write(path, "made by an agent");
        const file = Bun.file(path);
        const response = new Response(file, { headers: { "Content-Length": String(file.size) } });
        rmSync(path); // a purge, between the handler's answer and Bun opening the file
        return response;
      },
      error: lastResortError(logger),
    });
    try {
      const res = await fetch(`http://127.0.0.1:${server.port}/`);
      expect(res.status).toBe(404);
      const body = await res.json();
      expect(body).toEqual({ error: "Not Found", message: "The file was deleted before it could be sent", statusCode: 404, requestId: res.headers.get("x-request-id") });
      expect(lines.find((l) => l.reqId === body.requestId)).toMatchObject({ level: 40, path });
    } finally {
      server.stop(true);
    }
  });

  test("a body declared larger than Bun's own cap (128 MiB) still gets the common 413, naming the setting", async () => {
    const server = await testServer({ UPLOAD_LIMIT: String(150 * 1024 * 1024) });
    /** Sends only the head of a request that declares `length` bytes; resolves with the raw answer. */
    const declare = (path: string, length: number, type: string) =>
      new Promise<string>((resolve, reject) => {
        let text = "";
        Bun.connect({
          hostname: "127.0.0.1",
          port: server.port,
          socket: {
            open: (s) => void s.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: ${AUTH.Authorization}\r\nContent-Type: ${type}\r\nContent-Length: ${length}\r\n\r\n`),
            data: (s, chunk) => {
              text += chunk.toString();
              if (text.includes("}")) s.end();
            },
            close: () => resolve(text),
            error: (_s, err) => reject(err),
          },
        }).catch(reject);
      });
    try {
      const body = await declare("/v1/tasks", 200 * 1024 * 1024, "application/json");
      expect(body).toStartWith("HTTP/1.1 413");
      expect(body).toContain('"message":"Request body exceeds the limit of 10485760 bytes (BODY_LIMIT)"');
      expect(body).toMatch(/"requestId":"[0-9a-f-]{36}"/);
      // UPLOAD_LIMIT above Bun's cap is what counts: 151 MiB is refused by it, not by Bun.
      const upload = await declare("/v1/comfyui/upload", 151 * 1024 * 1024, "multipart/form-data; boundary=x");
      expect(upload).toContain(`"message":"Request body exceeds the limit of ${150 * 1024 * 1024} bytes (UPLOAD_LIMIT)"`);
    } finally {
      await server.shutdown();
    }
  });

  test("JSON request logs carry the request id; SIGTERM exits 0", async () => {
    const api = await startApi(testEnv({ LOG_LEVEL: "info", LOG_FORMAT: "json" }));
    const res = await fetch(`${api.base}/v1/tasks`, { headers: { ...AUTH, "x-request-id": "req-42" } });
    expect(res.headers.get("x-request-id")).toBe("req-42");
    await fetch(`${api.base}/v1/tasks?token=leak-me`, { headers: AUTH });
    const created = await fetch(`${api.base}/v1/tasks`, { method: "POST", headers: { ...AUTH, "Content-Type": "application/json", "x-request-id": "req-audit" }, body: JSON.stringify({ agent: "a", task: "x", provider: "exit0" }) });
    const { taskId } = await created.json();
    await fetch(`${api.base}/health`, { headers: { "x-request-id": "req-probe" } });
    await fetch(`${api.base}/v1/tasks/${taskId}`, { headers: { ...AUTH, "x-request-id": "req-one" } });
    api.proc.kill("SIGTERM");
    expect(await api.proc.exited).toBe(0);
    const lines = (await api.output()).trim().split("\n").map((l) => JSON.parse(l));
    const line = lines.find((l) => l.reqId === "req-42");
    expect(line).toMatchObject({ method: "GET", route: "/v1/tasks", status: 200, level: 30 });
    expect(typeof line.responseTime).toBe("number");
    // The client's address on every rate-limited route; `path` only where it differs from `route`.
    expect(line.ip).toBe("127.0.0.1");
    expect(line.path).toBeUndefined();
    expect(lines.find((l) => l.reqId === "req-one")).toMatchObject({ route: "/v1/tasks/:taskId", path: `/v1/tasks/${taskId}`, ip: "127.0.0.1" });
    const probe = lines.find((l) => l.reqId === "req-probe");
    expect(probe).toMatchObject({ route: "/health", status: 200 });
    expect(probe.ip).toBeUndefined();
    expect(JSON.stringify(lines)).not.toContain("leak-me");
    expect(lines.some((l) => l.msg === "shutdown complete")).toBe(true);
    // Audit: who created the task, by key id, never the key.
    const audit = lines.find((l) => l.audit && l.action === "task.create");
    expect(audit).toMatchObject({ reqId: "req-audit", taskId, agent: "a", provider: "exit0" });
    expect(audit.keyId).toMatch(/^key_[0-9a-f]{12}$/);
    expect(JSON.stringify(lines)).not.toContain(KEY);
  });

  test("once nothing reads its stdout (EPIPE: `| head`, a log collector gone), it goes on serving and supervising, says so once on stderr, and exits 0 on SIGTERM", async () => {
    const api = await startApi(testEnv({ LOG_LEVEL: "info", LOG_FORMAT: "json" }));
    const reader = api.proc.stdout.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toStartWith("{");
    await reader.cancel(); // closes the pipe's read end
    for (let i = 0; i < 4; i++) {
      expect((await fetch(`${api.base}/health`)).status).toBe(200);
      await Bun.sleep(150); // past the batch delay: each batch of lines meets the closed pipe
    }
    const created = await fetch(`${api.base}/v1/tasks`, { method: "POST", headers: { ...AUTH, "Content-Type": "application/json" }, body: JSON.stringify({ agent: "a", task: "x", provider: "exit0" }) });
    const { taskId } = await created.json();
    const ended = await (await fetch(`${api.base}/v1/tasks/${taskId}?wait=10`, { headers: AUTH })).json();
    expect(ended).toMatchObject({ status: "completed", exitCode: 0 });
    api.proc.kill("SIGTERM");
    expect(await api.proc.exited).toBe(0);
    expect(await new Response(api.proc.stderr).text()).toBe("management-api: writing logs to stdout failed (EPIPE); the lines are dropped\n");
  });

  // A PID namespace of its own, as a container without an init gives: where unshare may make one.
  const pidNamespace = Bun.spawnSync(["unshare", "--pid", "--fork", "--mount-proc", "true"], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
  test.skipIf(!pidNamespace)("as PID 1 (a container with no init): it warns that orphans go unreaped, and SIGTERM still shuts it down", async () => {
    const api = await startApi(testEnv({ LOG_LEVEL: "info", LOG_FORMAT: "json" }), ["unshare", "--pid", "--fork", "--mount-proc", ...START]);
    // unshare does not pass signals on: signal the server, its child (PID 1 in there).
    const pid = Number(readFileSync(`/proc/${api.proc.pid}/task/${api.proc.pid}/children`, "utf8").trim());
    expect((await (await fetch(`${api.base}/v1/status`, { headers: AUTH })).json()).api.pid).toBe(1);
    process.kill(pid, "SIGTERM");
    expect(await api.proc.exited).toBe(0);
    const lines = (await api.output()).trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.find((l) => l.msg.startsWith("Running as PID 1"))).toMatchObject({ level: 40 });
    expect(lines.at(-1)).toMatchObject({ msg: "shutdown complete" });
  });

  test("SIGHUP (a closed terminal) shuts down as SIGTERM does: exit 0, no log line lost", async () => {
    const api = await startApi(testEnv({ LOG_LEVEL: "info", LOG_FORMAT: "json" }));
    await fetch(`${api.base}/v1/tasks`, { headers: { ...AUTH, "x-request-id": "req-before-hup" } });
    api.proc.kill("SIGHUP");
    expect(await api.proc.exited).toBe(0);
    const out = await api.output();
    expect(out).toContain('"reqId":"req-before-hup"');
    expect(out).toContain('"msg":"shutdown complete"');
  });

  test("under nohup, SIGHUP is still ignored: the server keeps running", async () => {
    expect(ignoredAtStart(1, "Name:\tbun\nSigIgn:\t0000000001001001\n")).toBe(true);
    expect(ignoredAtStart(1, "SigIgn:\t0000000001001000\n")).toBe(false);
    expect(ignoredAtStart(13, "SigIgn:\t0000000000001000\n")).toBe(true); // SIGPIPE
    const api = await startApi(testEnv({ LOG_LEVEL: "info", LOG_FORMAT: "json" }), ["nohup", ...START]);
    try {
      api.proc.kill("SIGHUP");
      await Bun.sleep(300);
      expect(api.proc.exitCode).toBeNull();
      expect((await fetch(`${api.base}/health`)).status).toBe(200);
    } finally {
      api.proc.kill("SIGTERM");
    }
    expect(await api.proc.exited).toBe(0);
  });

  test("a second signal exits at once instead of waiting out SHUTDOWN_GRACE_MS", async () => {
    const api = await startApi(testEnv({ LOG_LEVEL: "info", LOG_FORMAT: "json", SHUTDOWN_GRACE_MS: "30000" }));
    // An in-flight request that never ends: a body that keeps the handler waiting.
    const body = new ReadableStream({ start: (c) => c.enqueue(new TextEncoder().encode('{"agent":')) });
    const pending = fetch(`${api.base}/v1/tasks`, { method: "POST", headers: { ...AUTH, "Content-Type": "application/json" }, body, duplex: "half" } as RequestInit).catch(() => undefined);
    await Bun.sleep(200);
    api.proc.kill("SIGTERM");
    await Bun.sleep(500);
    expect(api.proc.exitCode).toBeNull(); // still waiting for that request
    const t0 = Date.now();
    api.proc.kill("SIGINT");
    expect(await api.proc.exited).toBe(1);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(await api.output()).toContain("second signal: exiting without waiting for in-flight requests");
    await pending;
  });

  test("the default key works on loopback, with a loud warning", async () => {
    const api = await startApi({ ...testEnv({ LOG_LEVEL: "warn", LOG_FORMAT: "json" }), MANAGEMENT_API_KEY: undefined });
    const res = await fetch(`${api.base}/v1/tasks`, { headers: { Authorization: "Bearer change-this-secret-key" } });
    expect(res.status).toBe(200);
    api.proc.kill("SIGTERM");
    await api.proc.exited;
    expect(await api.output()).toContain("default API key");
  });

  test("the start line says where state lives, as absolute paths: a relative DATA_DIR follows the working directory", async () => {
    const cwd = tempDir();
    const api = await startApi({ ...testEnv({ LOG_LEVEL: "info", LOG_FORMAT: "json" }), DATA_DIR: "state", WORKSPACE: undefined, LOGS_DIR: undefined }, START, cwd);
    api.proc.kill("SIGTERM");
    await api.proc.exited;
    const start = (await api.output()).split("\n").map((l) => (l.startsWith("{") ? JSON.parse(l) : {})).find((l) => String(l.msg).endsWith("listening"));
    expect(start).toMatchObject({ dataDir: join(cwd, "state"), workspaceDir: join(cwd, "state/workspace"), logsDir: join(cwd, "state/logs") });
    expect(statSync(join(cwd, "state/state.sqlite")).isFile()).toBe(true);
  });
});

describe("data folders", () => {
  test("DATA_DIR, WORKSPACE, LOGS_DIR and their tasks folders are made for this user only; existing ones keep their mode", async () => {
    const root = tempDir();
    const shared = join(root, "shared-logs");
    mkdirSync(shared, { mode: 0o755 });
    chmodSync(shared, 0o755); // whatever the test's umask
    const config = testConfig({ DATA_DIR: join(root, "new/data"), WORKSPACE: join(root, "new/workspace"), LOGS_DIR: shared });
    const server = await createServer(config, silentLogger);
    try {
      const mode = (path: string) => statSync(path).mode & 0o777;
      for (const dir of [config.dataDir, config.workspaceDir, join(config.workspaceDir, "tasks"), join(shared, "tasks")]) expect([dir, mode(dir)]).toEqual([dir, 0o700]);
      expect(mode(shared)).toBe(0o755);
    } finally {
      await server.shutdown();
    }
  });
});

describe("one server per DATA_DIR and port", () => {
  test("a second server on the same DATA_DIR is refused until the first lets go", async () => {
    const config = testConfig();
    const first = await createServer(config, silentLogger);
    await expect(createServer(config, silentLogger, { dbBusyTimeoutMs: 100 })).rejects.toBeInstanceOf(DataDirInUseError);
    await first.shutdown();
    const third = await createServer(config, silentLogger, { dbBusyTimeoutMs: 100 });
    await third.shutdown();
  });

  test("while it runs, no other process can read the database; after SIGTERM, state.sqlite alone (no -wal) holds every record: a backup is a copy of it", async () => {
    const env = testEnv();
    const api = await startApi(env);
    const created = await fetch(`${api.base}/v1/tasks`, { method: "POST", headers: { ...AUTH, "Content-Type": "application/json" }, body: JSON.stringify({ agent: "a", task: "x", provider: "exit0" }) });
    const { taskId } = await created.json();
    const db = join(env.DATA_DIR!, "state.sqlite");
    expect(() => new Database(db, { readonly: true }).query("SELECT 1 FROM tasks").get()).toThrow("database is locked");
    api.proc.kill("SIGTERM");
    expect(await api.proc.exited).toBe(0);
    expect(existsSync(`${db}-wal`)).toBe(false);
    const copy = join(tempDir(), "backup.sqlite");
    copyFileSync(db, copy);
    const backup = new Database(copy, { readonly: true });
    expect(backup.query("SELECT taskId, agent FROM tasks").all()).toEqual([{ taskId, agent: "a" }]);
    backup.close();
  });

  test("a damaged state database: one fatal line that says what to do, its message said once; exit 1", () => {
    const env = testEnv({ LOG_LEVEL: "info", LOG_FORMAT: "json" });
    mkdirSync(env.DATA_DIR!, { recursive: true });
    writeFileSync(join(env.DATA_DIR!, "state.sqlite"), "SQLite format 3\0 and then not a database at all");
    const r = Bun.spawnSync(START, { cwd: ROOT, env: { ...env, PORT: "0" } as Record<string, string>, stdout: "pipe", stderr: "pipe", timeout: 15_000 });
    expect(r.exitCode).toBe(1);
    const fatal = r.stdout.toString().trim().split("\n").map((l) => JSON.parse(l)).filter((l) => l.level === 60);
    const message = `the state database ${join(env.DATA_DIR!, "state.sqlite")} is damaged (file is not a database). Restore it from a backup, or move it aside with its -wal and -shm files: the API then starts with no task or workflow records (task folders and logs stay where they are).`;
    expect(fatal).toMatchObject([{ msg: `cannot start: ${message}`, err: { message } }]);
    expect(fatal[0].err.stack).toContain("caused by: SQLiteError: file is not a database");
  });

  test("a port in use: the process says so in one fatal line and exits 1", async () => {
    const api = await startApi(testEnv({ LOG_LEVEL: "info", LOG_FORMAT: "json" }));
    const port = new URL(api.base).port;
    const env = testEnv({ LOG_LEVEL: "info", LOG_FORMAT: "json", PORT: port });
    const r = run([], env);
    expect(r.exitCode).toBe(1);
    const fatal = r.stdout.toString().trim().split("\n").map((l) => JSON.parse(l)).find((l) => l.level === 60);
    expect(fatal.msg).toBe(`cannot start: Failed to start server. Is port ${port} in use?`);
    expect(r.stderr.toString()).not.toContain("at createServer");
    api.proc.kill("SIGTERM");
    await api.proc.exited;
  });

  test("a HOST this machine cannot listen on says which setting and why, not Bun's 'EINPROGRESS'", async () => {
    // 192.0.2.0/24 is for documentation (RFC 5737): no machine has it. ".invalid" never resolves (RFC 6761).
    await expect(createServer(testConfig({ HOST: "192.0.2.1", MANAGEMENT_API_KEY: KEY }), silentLogger)).rejects.toThrow(
      "HOST: 192.0.2.1 is not an address of this machine (EADDRNOTAVAIL); use 127.0.0.1 (this machine only), 0.0.0.0 (every interface) or one of its own addresses",
    );
    await expect(createServer(testConfig({ HOST: "no-such-host.invalid", MANAGEMENT_API_KEY: KEY }), silentLogger)).rejects.toThrow(/^HOST: the host name no-such-host\.invalid does not resolve \(\w+\); use an address such as 127\.0\.0\.1 or 0\.0\.0\.0$/);
  });

  test("a server that cannot listen closes what it opened: its DATA_DIR is free at once", async () => {
    const busy = await createServer(testConfig(), silentLogger);
    const config = testConfig({ PORT: String(busy.port) });
    await expect(createServer(config, silentLogger)).rejects.toThrow(`Is port ${busy.port} in use?`);
    const after = await createServer({ ...config, port: 0 }, silentLogger, { dbBusyTimeoutMs: 100 });
    await after.shutdown();
    await busy.shutdown();
  });
});

/** The binary `npm run build` makes (its own flags), built once into a temporary folder. */
let built: string | undefined;
function buildBinary(): string {
  if (built) return built;
  const cmd = npmScript("build");
  cmd[cmd.indexOf("--outfile") + 1] = join(tempDir(), "bin", "management-api");
  const build = Bun.spawnSync(cmd, { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  expect(build.exitCode).toBe(0);
  const bin = build.stdout.toString().match(/compile\s+(\S+)/)?.[1] ?? "";
  return (built = existsSync(bin) ? bin : join(ROOT, bin));
}

describe("compiled binary", () => {
  test("npm run build makes one binary that runs without bun or node on PATH", async () => {
    const path = buildBinary();
    // A PATH with only what the demo task needs: no bun, no node.
    const bare = tempDir("path-");
    for (const tool of ["sh", "sleep"]) symlinkSync(Bun.which(tool)!, join(bare, tool));
    const env = { ...testEnv(), PATH: bare };
    expect(Bun.which("node", { PATH: bare }) ?? Bun.which("bun", { PATH: bare })).toBeNull();
    expect(run(["--version"], env, [path]).stdout.toString().trim()).toBe(pkg.version);
    const api = await startApi(env, [path]);
    const docs = await fetch(`${api.base}/docs/swagger-ui-bundle.js`);
    expect(docs.status).toBe(200);
    expect((await docs.arrayBuffer()).byteLength).toBeGreaterThan(100_000);
    const ui = await fetch(`${api.base}/ui`);
    expect(await ui.text()).toContain('<script type="module" src="ui/app.js">');
    const appJs = await (await fetch(`${api.base}/ui/app.js`)).text();
    expect(appJs).toContain('from "./client.js"');
    // The modules app.js imports, and those they import, are in the binary too, each of them.
    const imports = (js: string) => [...js.matchAll(/(?:from|import) "\.\/([\w-]+\.js)"/g)].map((m) => m[1]!);
    const modules = new Set(imports(appJs));
    for (const m of modules) {
      const res = await fetch(`${api.base}/ui/${m}`);
      expect([m, res.status]).toEqual([m, 200]);
      for (const next of imports(await res.text())) modules.add(next);
    }
    expect([...modules]).toEqual(expect.arrayContaining(["client.js", "gallery.js", "queue.js", "agent-log.js", "cells.js", "task-log.js", "models.js"]));
    expect(await (await fetch(`${api.base}/ui/client.js`)).text()).toContain("sessionStorage");
    expect((await fetch(`${api.base}/ui/gallery.js`)).status).toBe(200);
    expect(await (await fetch(`${api.base}/ui/queue.js`)).text()).toContain("export function connectEvents");
    expect(await (await fetch(`${api.base}/ui/agent-log.js`)).text()).toContain("export function readable");
    const created = await fetch(`${api.base}/v1/tasks`, { method: "POST", headers: { ...AUTH, "Content-Type": "application/json" }, body: JSON.stringify({ agent: "demo", task: "hello", provider: "demo" }) });
    expect(created.status).toBe(202);
    const { taskId } = await created.json();
    const done = await waitFor(async () => {
      const t = await (await fetch(`${api.base}/v1/tasks/${taskId}`, { headers: AUTH })).json();
      return t.exitTime ? t : undefined;
    });
    expect(done).toMatchObject({ status: "completed", exitCode: 0 });
    expect(done.logTail.at(-1)).toBe("done");
    api.proc.kill("SIGTERM");
    expect(await api.proc.exited).toBe(0);
  }, 60_000);

  test("the binary and npm start take their settings from the environment alone: not from a .env (nor the binary from a bunfig.toml) where they start", async () => {
    // Bun reads both by default, bunfig.toml's preload being code it runs: a folder's stray files
    // would configure (or run inside) the API, and a .env's ANTHROPIC_API_KEY reach its agents.
    // (npm start runs in this repository, whose bunfig.toml is its own.)
    const dir = tempDir("cwd-");
    const ran = join(dir, "preload-ran");
    writeFileSync(join(dir, ".env"), "MANAGEMENT_API_KEYS=key-from-dotenv\n");
    writeFileSync(join(dir, "preload.ts"), `require("node:fs").writeFileSync(${JSON.stringify(ran)}, "")\n`);
    writeFileSync(join(dir, "bunfig.toml"), 'preload = ["./preload.ts"]\n');
    for (const cmd of [[buildBinary()], START]) {
      if (cmd === START) rmSync(join(dir, "bunfig.toml"));
      const api = await startApi(testEnv(), cmd, dir);
      expect((await fetch(`${api.base}/v1/tasks`, { headers: AUTH })).status).toBe(200);
      expect((await fetch(`${api.base}/v1/tasks`, { headers: { Authorization: "Bearer key-from-dotenv" } })).status).toBe(403);
      api.proc.kill("SIGTERM");
      expect(await api.proc.exited).toBe(0);
      expect([cmd[0], existsSync(ran)]).toEqual([cmd[0], false]);
    }
  }, 60_000);
});
