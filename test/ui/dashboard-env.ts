/**
 * What the dashboard's browser tests share: a fake ComfyUI, the API over it, and one page of
 * headless Chromium (Debian's, driven by playwright-core) with what it asked for; and helpers.
 * Screenshots go to test-artifacts/.
 */
import { afterAll, beforeAll } from "bun:test";
import { closeSync, copyFileSync, mkdirSync, openSync, truncateSync } from "node:fs";
import { join, resolve } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { createServer, type RunningServer } from "../../src/server.ts";
import { ensureProgram } from "../debian.ts";
import { FakeComfyUI } from "../fake-comfyui.ts";
import { FIXTURES, KEY, fakeNvidiaSmi, silentLogger, tempDir, testConfig } from "../helpers.ts";

const ARTIFACTS = resolve(import.meta.dir, "../../test-artifacts");
const AXE_SCRIPT = Bun.resolveSync("axe-core/axe.min.js", import.meta.dir);
/** Where a screenshot called `name` goes. */
export const artifact = (name: string) => join(ARTIFACTS, name);

type Locator = ReturnType<Page["locator"]>;
export const authorized = { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" };
/** A key of MANAGEMENT_API_READONLY_KEYS: it may look, not change. */
export const READ_ONLY_KEY = "dashboard-read-only-0123456789";

/** The API, its fake ComfyUI and the browser page, set up before a test file's tests and torn down after. */
export class Dashboard {
  fake!: FakeComfyUI;
  /** Replaced by a test that restarts the API (on the same port). */
  server!: RunningServer;
  context!: BrowserContext;
  page!: Page;
  /** "METHOD /path" of every request the page made. */
  readonly requests: string[] = [];
  /** The full URLs of the log streams it opened. */
  readonly streamUrls: string[] = [];
  /** The output files it asked for, path and query (`?preview=webp` for an image's preview). */
  readonly outputUrls: string[] = [];
  readonly consoleErrors: string[] = [];
  /** What the fake nvidia-smi lists as the GPUs' processes (a test may write its own). */
  readonly gpuApps = join(tempDir("gpu-apps-"), "apps.csv");

  get base() {
    return `http://127.0.0.1:${this.server.port}`;
  }

  async start() {
    const executablePath = ensureProgram("chromium", "chromium");
    mkdirSync(ARTIFACTS, { recursive: true });
    this.fake = new FakeComfyUI({ nodeMs: 150 }).start();
    this.fake.systemStats = { system: { comfyui_version: "0.8.0" }, devices: [{ name: "cuda:0 NVIDIA L40S : cudaMallocAsync", type: "cuda", index: 0, vram_total: 48305799168, vram_free: 47185920000 }] };
    copyFileSync(join(FIXTURES, "nvidia-smi", "two-gpus-apps.csv"), this.gpuApps);
    const smi = fakeNvidiaSmi({ csv: "two-gpus.csv", apps: this.gpuApps });
    // A checkpoint of 6.5 GiB, as sized on disk (sparse: it takes no room).
    const modelsDir = tempDir("comfy-models-");
    mkdirSync(join(modelsDir, "checkpoints"));
    closeSync(openSync(join(modelsDir, "checkpoints", "sd15.safetensors"), "w"));
    truncateSync(join(modelsDir, "checkpoints", "sd15.safetensors"), 6.5 * 1024 ** 3);
    const config = testConfig({ COMFYUI_URL: this.fake.url, COMFYUI_MODELS_DIR: modelsDir, PATH: `${smi}:${process.env.PATH}`, NVIDIA_SMI_PATH: "nvidia-smi", STATUS_CACHE_MS: "1000", TASK_STOP_GRACE_MS: "500", MANAGEMENT_API_READONLY_KEYS: READ_ONLY_KEY });
    this.server = await createServer(config, silentLogger, { comfyBackoffMs: 50 });
    this.context = await chromium.launchPersistentContext(tempDir("chromium-profile-"), {
      executablePath,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic"],
      viewport: { width: 1400, height: 1000 },
    });
    this.page = this.context.pages()[0] ?? (await this.context.newPage());
    this.page.on("request", (r) => {
      this.requests.push(`${r.method()} ${new URL(r.url()).pathname}`);
      if (r.url().includes("/logs/stream")) this.streamUrls.push(r.url());
      if (r.url().includes("/v1/comfyui/output/")) this.outputUrls.push(`${new URL(r.url()).pathname}${new URL(r.url()).search}`);
    });
    this.page.on("console", (m) => m.type() === "error" && this.consoleErrors.push(m.text()));
    this.page.on("dialog", (d) => {
      this.dialogs.push(d.message());
      return d.type() === "confirm" && !this.confirmAnswer ? d.dismiss() : d.accept(d.type() === "prompt" ? this.promptAnswer : undefined);
    });
  }

  /** What a prompt() dialog is answered with. */
  promptAnswer = "";
  /** Whether a confirm() dialog is accepted. */
  confirmAnswer = true;
  /** The messages of the dialogs the page opened. */
  readonly dialogs: string[] = [];

  async stop() {
    await this.context?.close();
    await this.server?.shutdown();
    this.fake?.stop();
  }

  /** Opens the dashboard and signs in with the key. */
  async signIn() {
    await this.page.goto(`${this.base}/ui`);
    await this.page.getByLabel("API key").fill(KEY);
    await this.page.getByRole("button", { name: "Sign in" }).click();
    await this.page.locator("#main").waitFor({ state: "visible" });
  }

  /**
   * What axe-core (the rules Lighthouse's accessibility audit runs) finds wrong in the page as it is
   * now: one line per rule broken, naming its elements. Its script is evaluated over DevTools, as the
   * page's CSP rightly refuses one it did not serve.
   */
  async accessibilityProblems(): Promise<string[]> {
    if (await this.page.evaluate(() => !("axe" in window))) await this.page.evaluate(await Bun.file(AXE_SCRIPT).text());
    return this.page.evaluate(async () => {
      const { violations } = await (window as unknown as { axe: typeof import("axe-core") }).axe.run(document, { resultTypes: ["violations"] });
      return violations.map((v) => `${v.id} (${v.impact}): ${v.help}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
    });
  }

  shot(name: string) {
    return this.page.screenshot({ path: artifact(`${name}.png`), fullPage: true });
  }

  /** Queues a workflow through the API; its id. */
  async submit(prompt: object): Promise<string> {
    const res = await fetch(`${this.base}/v1/comfyui/workflow`, { method: "POST", headers: authorized, body: JSON.stringify({ workflow: prompt }) });
    return (await res.json()).workflowId;
  }

  /**
   * Starts a task through the API (`queue`: it waits for a slot rather than being refused); its id.
   * A refusal throws: a 503 with every slot taken is no task, and a test must not count it as one.
   */
  async startTask(provider: string, agent = "api", queue = false): Promise<string> {
    const res = await fetch(`${this.base}/v1/tasks`, { method: "POST", headers: authorized, body: JSON.stringify({ agent, task: "x", provider, ...(queue ? { queue } : {}) }) });
    if (res.status !== 202) throw new Error(`POST /v1/tasks answered ${res.status}: ${await res.text()}`);
    return (await res.json()).taskId;
  }

  /** An API call with the key, its JSON. */
  async get(path: string) {
    return (await fetch(`${this.base}${path}`, { headers: authorized })).json();
  }

  /** Selects what the element `selector` names holds, as a reader does to copy it; the text selected. */
  select(selector: string): Promise<string> {
    return this.page.evaluate((sel) => {
      const range = document.createRange();
      range.selectNodeContents(document.querySelector(sel)!);
      getSelection()!.removeAllRanges();
      getSelection()!.addRange(range);
      return getSelection()!.toString();
    }, selector);
  }

  /** The text selected in the page now. */
  selection(): Promise<string> {
    return this.page.evaluate(() => getSelection()!.toString());
  }

  /** A press as long as a person's (or longer): the mouse goes down on `button`, and up `ms` later. */
  async press(button: Locator, ms: number) {
    await button.scrollIntoViewIfNeeded(); // the mouse reaches only what the viewport shows
    const box = (await button.boundingBox())!;
    await this.page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await this.page.mouse.down();
    await Bun.sleep(ms);
    await this.page.mouse.up();
  }
}

/** A Dashboard for the test file that calls this (at its top level). */
export function useDashboard(): Dashboard {
  const d = new Dashboard();
  beforeAll(() => d.start(), 600_000);
  afterAll(() => d.stop());
  return d;
}

/** Waits until the gallery's first image is shown, not only listed: its <img> is in the page before its blob is decoded. */
export async function galleryImageShown(page: Page, timeout = 15_000) {
  const shown = () => {
    const img = document.querySelector<HTMLImageElement>(".gallery img");
    return img !== null && img.complete && img.naturalWidth > 0;
  };
  await page.waitForFunction(shown, undefined, { timeout });
}

/** Waits until the locator's text contains `text`. */
export async function waitText(locator: Locator, text: string, timeout = 10_000) {
  const until = Date.now() + timeout;
  let last = "";
  while (Date.now() < until) {
    last = (await locator.first().textContent().catch(() => "")) ?? "";
    if (last.includes(text)) return;
    await Bun.sleep(50);
  }
  throw new Error(`expected text containing ${JSON.stringify(text)}, last saw ${JSON.stringify(last.slice(0, 300))}`);
}
