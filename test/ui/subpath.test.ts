/**
 * The dashboard and Swagger UI behind a reverse proxy that serves the API under a path of its own,
 * as jupyter-server-proxy does (https://host/proxy/9090/): nginx in front, Chromium through it.
 * Every page, asset, call, log stream and WebSocket must go through the proxy's path.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { createServer, type RunningServer } from "../../src/server.ts";
import { ensureProgram } from "../debian.ts";
import { FakeComfyUI } from "../fake-comfyui.ts";
import { KEY, silentLogger, tempDir, testConfig } from "../helpers.ts";
import { freePort } from "../process.ts";
import { chain } from "../comfyui/helpers.ts";
import { galleryImageShown } from "./dashboard-env.ts";
import { tryItOut } from "./swagger-page.ts";

const PREFIX = "/proxy/9090";
let fake: FakeComfyUI;
let server: RunningServer;
let nginx: ReturnType<typeof Bun.spawn>;
let context: BrowserContext;
let page: Page;
let site: string;
/** Paths of every request the browser made, and the WebSocket URLs it opened. */
const paths: string[] = [];
const sockets: string[] = [];
const frames: string[] = [];

function nginxConfig(dir: string, port: number, upstream: number) {
  return `daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  server {
    listen 127.0.0.1:${port};
    location ${PREFIX}/ {
      proxy_pass http://127.0.0.1:${upstream}/;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      # Otherwise nginx's defaults (proxy_buffering on): the log must still arrive while the task runs.
    }
  }
}
`;
}

beforeAll(async () => {
  const nginxPath = ensureProgram("nginx", "nginx");
  const executablePath = ensureProgram("chromium", "chromium");
  fake = new FakeComfyUI({ nodeMs: 100 }).start();
  server = await createServer(testConfig({ COMFYUI_URL: fake.url }), silentLogger, { comfyBackoffMs: 50 });
  const dir = tempDir("nginx-");
  const port = freePort();
  await Bun.write(join(dir, "nginx.conf"), nginxConfig(dir, port, server.port));
  nginx = Bun.spawn([nginxPath, "-p", dir, "-c", join(dir, "nginx.conf")], { stdout: "ignore", stderr: "pipe" });
  site = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100 && !(await fetch(`${site}${PREFIX}/health`).then((r) => r.ok, () => false)); i++) await Bun.sleep(50);
  context = await chromium.launchPersistentContext(tempDir("chromium-subpath-"), {
    executablePath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on("request", (r) => void (r.url().startsWith("http") && paths.push(new URL(r.url()).pathname)));
  page.on("websocket", (ws) => {
    sockets.push(new URL(ws.url()).pathname);
    ws.on("framereceived", (f) => void frames.push(String(f.payload)));
  });
}, 600_000);

afterAll(async () => {
  await context?.close();
  nginx?.kill();
  await server?.shutdown();
  fake?.stop();
});

describe("behind a proxy's path", () => {
  test("the dashboard signs in, streams a task's log, follows a workflow over its WebSocket, and shows its image", async () => {
    await page.goto(`${site}${PREFIX}/ui`);
    await page.getByLabel("API key").fill(KEY);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator("#main").waitFor({ state: "visible" });

    // A line of a task that goes on running: it arrives only if nothing on the way holds the stream back.
    await page.locator("#provider").selectOption("sleeper");
    await page.getByRole("button", { name: "Start task" }).click();
    await page.locator("#log", { hasText: "sleeping" }).waitFor({ timeout: 10_000 });
    page.once("dialog", (d) => d.accept());
    await page.getByRole("button", { name: "Stop" }).first().click();
    await page.locator("#log", { hasText: "got SIGTERM" }).waitFor({ timeout: 10_000 });

    await page.locator("#wf-form textarea[name=workflow]").fill(JSON.stringify(chain(2, "proxied")));
    await page.getByRole("button", { name: "Queue workflow" }).click();
    await page.locator("#queue li .badge", { hasText: "completed" }).first().waitFor({ timeout: 15_000 });
    await galleryImageShown(page);

    expect(sockets).toContain(`${PREFIX}/v1/comfyui/stream`);
    expect(frames.some((f) => f.includes('"workflow:progress"'))).toBe(true);
    expect(paths).toEqual(expect.arrayContaining([`${PREFIX}/ui/app.js`, `${PREFIX}/v1/status`, `${PREFIX}/v1/comfyui/outputs`]));
    expect(paths.some((p) => p.startsWith(`${PREFIX}/v1/tasks/`) && p.endsWith("/logs/stream"))).toBe(true);
    expect(paths.filter((p) => !p.startsWith(`${PREFIX}/`))).toEqual([]);
  }, 60_000);

  test("a trailing slash is sent back to the path without it, still under the proxy's path", async () => {
    for (const path of ["/docs/", "/ui/", "/health/"]) {
      const res = await fetch(`${site}${PREFIX}${path}`, { redirect: "manual" });
      expect(res.status).toBe(301);
      expect(new URL(res.headers.get("Location")!, `${site}${PREFIX}${path}`).pathname).toBe(`${PREFIX}${path.slice(0, -1)}`);
    }
  });

  test("Swagger UI loads its document and assets there, and Try it out calls the API there", async () => {
    paths.length = 0;
    await page.goto(`${site}${PREFIX}/docs`);
    await page.locator("#operations-Tasks-listTasks").waitFor({ timeout: 15_000 });
    expect((await tryItOut(page, KEY, "Tasks", "listTasks")).status).toStartWith("200");
    expect(paths).toEqual(expect.arrayContaining([`${PREFIX}/docs/json`, `${PREFIX}/docs/swagger-ui-bundle.js`, `${PREFIX}/v1/tasks`]));
    expect(paths.filter((p) => !p.startsWith(`${PREFIX}/`))).toEqual([]);
  }, 60_000);
});
