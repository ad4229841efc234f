/**
 * The dashboard end to end in headless Chromium (Debian's, driven by playwright-core): sign in,
 * tasks with live logs and stop, a ComfyUI workflow to 100% with its image, the GPU panel.
 * Screenshots go to test-artifacts/.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { createServer, type RunningServer } from "../../src/server.ts";
import { ensureProgram } from "../debian.ts";
import { FakeComfyUI } from "../fake-comfyui.ts";
import { KEY, fakeNvidiaSmi, silentLogger, tempDir, testConfig, waitFor } from "../helpers.ts";
import { chain, mediaPrompt } from "../comfyui/helpers.ts";

const ARTIFACTS = resolve(import.meta.dir, "../../test-artifacts");
let fake: FakeComfyUI;
let server: RunningServer;
let context: BrowserContext;
let page: Page;
let base: string;
const requests: string[] = [];
const streamUrls: string[] = [];
const consoleErrors: string[] = [];

beforeAll(async () => {
  const executablePath = ensureProgram("chromium", "chromium");
  mkdirSync(ARTIFACTS, { recursive: true });
  fake = new FakeComfyUI({ nodeMs: 150 }).start();
  fake.systemStats = { system: { comfyui_version: "0.8.0" }, devices: [{ name: "cuda:0 NVIDIA L40S : cudaMallocAsync", type: "cuda", index: 0, vram_total: 48305799168, vram_free: 47185920000 }] };
  const smi = fakeNvidiaSmi({ csv: "two-gpus.csv" });
  const config = testConfig({ COMFYUI_URL: fake.url, PATH: `${smi}:${process.env.PATH}`, NVIDIA_SMI_PATH: "nvidia-smi", STATUS_CACHE_MS: "1000", TASK_STOP_GRACE_MS: "500" });
  server = await createServer(config, silentLogger, { comfyBackoffMs: 50 });
  base = `http://127.0.0.1:${server.port}`;
  context = await chromium.launchPersistentContext(tempDir("chromium-profile-"), {
    executablePath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic"],
    viewport: { width: 1400, height: 1000 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on("request", (r) => {
    requests.push(`${r.method()} ${new URL(r.url()).pathname}`);
    if (r.url().includes("/logs/stream")) streamUrls.push(r.url());
  });
  page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
  page.on("dialog", (d) => d.accept());
}, 600_000);

afterAll(async () => {
  await context?.close();
  await server?.shutdown();
  fake?.stop();
});

/** Waits until the locator's text contains `text`. */
async function waitText(locator: ReturnType<Page["locator"]>, text: string, timeout = 10_000) {
  const until = Date.now() + timeout;
  let last = "";
  while (Date.now() < until) {
    last = (await locator.first().textContent().catch(() => "")) ?? "";
    if (last.includes(text)) return;
    await Bun.sleep(50);
  }
  throw new Error(`expected text containing ${JSON.stringify(text)}, last saw ${JSON.stringify(last.slice(0, 300))}`);
}

/**
 * What the page saves (a link with `download` to a blob) when `click` runs, read in the page:
 * Chromium's own download machinery stays out of the tests (and the page's CSP rightly refuses a
 * fetch of a blob: URL).
 */
async function savedBy(click: () => Promise<void>): Promise<{ name: string; text: string }> {
  type W = { saved?: Promise<{ name: string; text: string }>; lastBlob?: Blob; capturing?: true };
  await page.evaluate(() => {
    const w = window as unknown as W;
    w.saved = undefined;
    if (w.capturing) return;
    w.capturing = true;
    const create = URL.createObjectURL;
    URL.createObjectURL = (blob: Blob) => ((w.lastBlob = blob), create(blob));
    HTMLAnchorElement.prototype.click = function () {
      if (this.download) w.saved = w.lastBlob!.text().then((text) => ({ name: this.download, text }));
    };
  });
  await click();
  await page.waitForFunction(() => (window as unknown as W).saved !== undefined);
  return page.evaluate(() => (window as unknown as W).saved!);
}

const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

const authorized = { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" };
/** Queues a workflow through the API; its id. */
const submit = async (prompt: object) =>
  (await (await fetch(`${base}/v1/comfyui/workflow`, { method: "POST", headers: authorized, body: JSON.stringify({ workflow: prompt }) })).json()).workflowId as string;
/** Starts a task through the API; its id. */
const startTask = async (provider: string, agent = "api") =>
  (await (await fetch(`${base}/v1/tasks`, { method: "POST", headers: authorized, body: JSON.stringify({ agent, task: "x", provider }) })).json()).taskId as string;

/** A press as long as a person's (or longer): the mouse goes down on `button`, and up `ms` later. */
async function press(button: ReturnType<Page["locator"]>, ms: number) {
  const box = (await button.boundingBox())!;
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await Bun.sleep(ms);
  await page.mouse.up();
}

describe("dashboard", () => {
  test("before sign-in it makes no protected call; a wrong key gets a readable message", async () => {
    await page.goto(`${base}/ui`);
    await page.waitForLoadState("networkidle");
    expect(requests.filter((r) => r.includes("/v1/"))).toEqual([]);
    expect(requests).toEqual(expect.arrayContaining(["GET /ui", "GET /ui/app.js", "GET /ui/client.js", "GET /ui/gallery.js", "GET /ui/agent-log.js", "GET /ui/app.css"]));
    expect(consoleErrors).toEqual([]);
    await page.getByLabel("API key").fill("wrong-key");
    await page.getByRole("button", { name: "Sign in" }).click();
    await waitText(page.getByRole("alert"), "403 Forbidden: Invalid API token");
    await shot("01-wrong-key");
  });

  test("sign in: the GPU panel shows both GPUs from nvidia-smi", async () => {
    await page.getByLabel("API key").fill(KEY);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator("#main").waitFor({ state: "visible" });
    expect(await page.locator("#signin").isVisible()).toBe(false);
    await page.locator(".card.gpu").nth(1).waitFor();
    expect(await page.locator(".card.gpu h3").allTextContents()).toEqual(["GPU 0 · NVIDIA A100-SXM4-80GB", "GPU 1 · NVIDIA A100-SXM4-80GB"]);
    await waitText(page.locator(".card.gpu"), "Utilization 98%");
    // ComfyUI's own view of its GPU, from its /system_stats.
    await waitText(page.locator(".card", { hasText: "Providers" }), "local: up (v0.8.0), queue 0, cuda:0 NVIDIA L40S 45000 of 46068 MiB free");
    expect(await page.evaluate(() => sessionStorage.getItem("mapi.key"))).toBe(KEY);
  });

  test("start a demo task: its log lines appear and its status turns completed", async () => {
    // Each provider says what it runs, where it is picked.
    expect(await page.locator('#provider option[value="demo"]').getAttribute("title")).toStartWith("Built-in demo");
    await page.locator("#provider").selectOption("demo");
    await page.locator("#task-form textarea[name=task]").fill("hello from the browser");
    await page.getByRole("button", { name: "Start task" }).click();
    await waitText(page.locator("#log"), "step 1/5");
    await waitText(page.locator("#log-status"), "completed", 15_000);
    const lines = (await page.locator("#log").textContent())!.trim().split("\n");
    expect(lines).toEqual([expect.stringContaining("demo agent coder starting"), "task: hello from the browser", "step 1/5", "step 2/5", "step 3/5", "step 4/5", "step 5/5", "done"]);
    await shot("02-task-completed");
  });

  test("a claude session's log reads as text; Raw shows the events as written", async () => {
    await page.locator("#provider").selectOption("claude-stream");
    await page.getByRole("button", { name: "Start task" }).click();
    await waitText(page.locator("#log-status"), "completed", 15_000);
    await waitText(page.locator("#log"), "■ finished · 3 turns");
    const text = (await page.locator("#log").textContent())!;
    expect(text).toContain("▸ Bash: ls -la\n  ◂ total 8 (+2 lines)\nplain text from a wrapper\n▸ Write: /w/t/hello.py\n  ✗ Permission denied");
    expect(text).not.toContain('"type":');
    await page.locator("#log-panel").screenshot({ path: join(ARTIFACTS, "02-claude-log.png") });
    await page.getByLabel("Raw").check();
    await waitText(page.locator("#log"), '{"type":"result","subtype":"success"');
    expect((await page.locator("#log").textContent())!.trim().split("\n")).toHaveLength(8);
    await page.getByLabel("Raw").uncheck();
    await waitText(page.locator("#log"), "■ finished");
  });

  test("the log viewer resumes after the API restarts mid-stream, without gaps or duplicates", async () => {
    await page.locator("#provider").selectOption("slow");
    await page.locator("#task-form textarea[name=task]").fill("15");
    await page.getByRole("button", { name: "Start task" }).click();
    await waitText(page.locator("#log"), "slow 3");
    // Restart the API on the same port: the stream drops, the task keeps running, and the browser's
    // EventSource reconnects with Last-Event-ID to the new process.
    const { config } = server.services;
    await server.shutdown();
    server = await createServer({ ...config, port: server.port }, silentLogger, { comfyBackoffMs: 50 });
    await waitText(page.locator("#log-status"), "completed", 20_000);
    const lines = (await page.locator("#log").textContent())!.trim().split("\n");
    expect(lines).toEqual(Array.from({ length: 15 }, (_, i) => `slow ${i + 1}`));
    await page.evaluate(() => document.querySelector("#alert")!.setAttribute("hidden", ""));
  });

  test("a task given a time limit is stopped when it runs past it, and its log says so", async () => {
    await page.locator("#provider").selectOption("sleeper");
    await page.getByLabel("Time limit (min)").fill("0.02"); // 1 s
    await page.getByRole("button", { name: "Start task" }).click();
    await waitText(page.locator("#log-status"), "failed");
    // Why, beside the status, and on the task's row.
    await waitText(page.locator("#log-status"), "Timed out after 1 s; task stopped");
    await waitText(page.locator("#log"), "[management-api] Timed out after 1 s; task stopped");
    expect(await page.locator("#task-table tbody tr").first().locator("td").nth(2).getAttribute("title")).toBe("Timed out after 1 s; task stopped");
    await page.getByLabel("Time limit (min)").fill("");
  });

  test("a chatty task's log shows its last 2000 lines and says so; Download saves all of it", async () => {
    await page.locator("#provider").selectOption("chatty");
    await page.locator("#task-form textarea[name=task]").fill("30000");
    await page.getByRole("button", { name: "Start task" }).click();
    await waitText(page.locator("#log-status"), "completed", 20_000);
    await waitText(page.locator("#log-trimmed"), "Only the last 2000 lines are shown here");
    // The stream itself starts at the tail: the page is not sent the 28000 lines before.
    expect(new URL(streamUrls.at(-1)!).searchParams.get("tail")).toBe("2000");
    const lines = (await page.locator("#log").textContent())!.trim().split("\n");
    expect([lines.length, lines[0], lines.at(-1)]).toEqual([2000, "line 28001 of 30000", "line 30000 of 30000"]);
    const saved = await savedBy(() => page.getByRole("button", { name: "Download" }).click());
    expect(saved.name).toMatch(/^[0-9a-f-]{36}\.log$/);
    expect(saved.text.split("\n").filter(Boolean).length).toBe(30000);
  }, 30_000);

  test("the files a task left are listed under its log, and each downloads", async () => {
    await page.locator("#provider").selectOption("writer");
    await page.locator("#task-form textarea[name=task]").fill("from the dashboard");
    await page.getByRole("button", { name: "Start task" }).click();
    await waitText(page.locator("#log-status"), "completed");
    const list = page.getByRole("list", { name: "Task files" });
    await waitText(list, "src/main.go");
    // Only the task's own files: its symbolic links out of the directory are not offered.
    expect(await list.locator("button").allTextContents()).toEqual(["out/report.md", "out/task é.txt", "src/main.go"]);
    expect(await savedBy(() => list.getByRole("button", { name: "out/task é.txt" }).click())).toEqual({ name: "task é.txt", text: "from the dashboard" });
  });

  test("a double click on Start task starts one task", async () => {
    const count = async () => (await (await fetch(`${base}/v1/tasks?status=all&limit=500`, { headers: { Authorization: `Bearer ${KEY}` } })).json()).count;
    const before = await count();
    await page.locator("#provider").selectOption("exit0");
    await page.getByRole("button", { name: "Start task" }).dblclick();
    await waitText(page.locator("#log-status"), "completed");
    await Bun.sleep(300); // a second request, had there been one, would have landed by now
    expect(await count()).toBe(before + 1);
  });

  test("stop a long task with the Stop button (after confirmation)", async () => {
    await page.locator("#provider").selectOption("sleeper");
    await page.getByRole("button", { name: "Start task" }).click();
    const row = page.locator("#task-table tbody tr", { hasText: "sleeper" }).first();
    await row.getByRole("button", { name: "Stop" }).click({ timeout: 10_000 });
    await waitText(row.locator(".badge"), "stopped");
  });

  test("a ComfyUI workflow reaches 100% and its image appears in the gallery", async () => {
    const prompt = { ...chain(3, "browser") };
    await page.locator("#wf-form textarea[name=workflow]").fill(JSON.stringify(prompt));
    await page.getByRole("button", { name: "Queue workflow" }).click();
    const item = page.locator("#queue li").first();
    await waitText(item.locator(".badge"), "running");
    await waitText(item.locator(".badge"), "completed", 15_000);
    expect(await item.locator("progress").getAttribute("value")).toBe("100");
    const img = page.locator(".gallery img").first();
    await img.waitFor({ timeout: 15_000 }).catch(async (err) => {
      await shot("99-gallery-failure");
      throw err;
    });
    expect(await img.evaluate((el: HTMLImageElement) => el.complete && el.naturalWidth > 0)).toBe(true);
    await waitText(page.locator(".gallery figcaption"), "browser_");
    await shot("03-dashboard");
    expect(consoleErrors.filter((e) => !e.includes("403"))).toEqual([]);
  });

  test("the gallery plays videos and sounds, marks a vanished file alone, and releases files it no longer lists", async () => {
    const first = page.locator(".gallery img").first();
    const firstSrc = (await first.getAttribute("src"))!;
    await page.evaluate(() => {
      const w = window as unknown as { revoked: string[] };
      w.revoked = [];
      const revoke = URL.revokeObjectURL;
      URL.revokeObjectURL = (url: string) => (w.revoked.push(url), revoke(url));
    });
    // 22 images, a video and a sound: 24 outputs, as many as the gallery shows, so the earlier image leaves it.
    const prompt = mediaPrompt(22, { image: "gallery", video: "clip", sound: "sound" });
    const res = await fetch(`${base}/v1/comfyui/workflow`, { method: "POST", headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" }, body: JSON.stringify({ workflow: prompt }) });
    expect(res.status).toBe(202);
    // Gone from ComfyUI's folder before the dashboard fetches it.
    const vanished = "gallery_00022_.png";
    const until = Date.now() + 15_000;
    while (!fake.files.delete(`output//${vanished}`) && Date.now() < until) await Bun.sleep(5);
    const video = page.locator(".gallery video");
    await video.waitFor({ timeout: 15_000 });
    expect(await video.getAttribute("src")).toStartWith("blob:");
    expect(await page.locator(".gallery audio").getAttribute("src")).toStartWith("blob:");
    const missing = page.locator(".gallery figure", { hasText: vanished });
    await waitText(missing.locator(".unavailable"), "unavailable");
    expect(await page.locator(".gallery figure").count()).toBe(24);
    expect(await page.locator(".gallery img").count()).toBe(21);
    // The earlier image left the list: its blob URL was released, and only it.
    expect(await page.evaluate(() => (window as unknown as { revoked: string[] }).revoked)).toEqual([firstSrc]);
    await shot("04-gallery-media");
  }, 30_000);

  test("what the gallery shows is kept across refreshes, not rebuilt: a video being watched would stop", async () => {
    const video = page.locator(".gallery video");
    await video.evaluate((el) => ((el as HTMLVideoElement & { kept?: true }).kept = true));
    const refreshes = () => requests.filter((r) => r === "GET /v1/comfyui/outputs").length;
    const before = refreshes();
    // A workflow that completes refreshes the gallery: its image comes first, the rest stay.
    await submit(chain(0, "after-video"));
    await waitText(page.locator(".gallery figcaption").first(), "after-video_");
    expect(refreshes()).toBeGreaterThan(before);
    expect(await video.evaluate((el) => (el as HTMLVideoElement & { kept?: true }).kept === true)).toBe(true);
  }, 20_000);

  test("a file too big to show is a download button in the gallery, and is not fetched whole", async () => {
    const served = (name: string) => requests.filter((r) => r === `GET /v1/comfyui/output/${name}`).length;
    await submit({ "1": { class_type: "EmptyImage", inputs: { width: 64, height: 64, batch_size: 1, color: 3 } }, "2": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "huge" } } });
    // The image becomes 40 MiB before the dashboard fetches it.
    let key: string | undefined;
    const until = Date.now() + 15_000;
    while (!(key = [...fake.files.keys()].find((k) => k.startsWith("output//huge_"))) && Date.now() < until) await Bun.sleep(5);
    fake.files.set(key!, new Uint8Array(40 * 1024 * 1024));
    const name = key!.slice("output//".length);
    const figure = page.locator(".gallery figure", { hasText: name });
    // Its size is unknown (no COMFYUI_OUTPUT_DIR here, and a relayed download has no length).
    await waitText(figure.getByRole("button"), "download (over 32.0 MiB)");
    expect(await figure.locator("img").count()).toBe(0);
    // Asked for once; later refreshes do not fetch it again.
    const refreshes = requests.filter((r) => r === "GET /v1/comfyui/outputs").length;
    await submit(chain(0, "after-huge"));
    await waitText(page.locator(".gallery figcaption").first(), "after-huge_");
    expect(requests.filter((r) => r === "GET /v1/comfyui/outputs").length).toBeGreaterThan(refreshes);
    expect(served(name)).toBe(1);
    // Pressed, it is fetched for the download.
    await figure.getByRole("button").click();
    await waitFor(() => served(name) === 2);
  }, 30_000);

  test("an input image uploaded from the dashboard lands in ComfyUI's input folder, and it says under what name", async () => {
    const png = Buffer.from(fake.files.get("input//example.png")!);
    await page.getByLabel("Input image for LoadImage").setInputFiles({ name: "from browser.png", mimeType: "image/png", buffer: png });
    await page.getByLabel("Subfolder").fill("masks");
    await page.getByRole("button", { name: "Upload" }).click();
    await waitText(page.locator("#upload-result"), 'LoadImage\'s image is "masks/from browser.png"');
    expect(Buffer.from(fake.files.get("input/masks/from browser.png")!).equals(png)).toBe(true);
  });

  test("a batch longer than the list: every workflow not finished is shown, the running one first, and its events cost no request each", async () => {
    const listCalls = (from: number) => requests.slice(from).filter((r) => r.startsWith("GET /v1/comfyui/workflow")).length;
    const item = (id: string) => page.locator(`#queue li[data-workflow="${id}"]`);
    const shown = () => page.locator("#queue li").evaluateAll((els) => els.map((el) => el.getAttribute("data-workflow")));
    // The oldest runs first and for a few seconds; 21 newer ones wait behind it, more than the 20 recent ones listed.
    let from = requests.length;
    const long = await submit(chain(40, "batch-long"));
    const waiting: string[] = [];
    for (let i = 0; i < 21; i++) waiting.push(await submit(chain(0, `batch-${i}`)));
    await waitText(item(long).locator(".badge"), "running");
    await waitFor(async () => (await shown()).length >= 22);
    expect((await shown())[0]).toBe(long);
    expect(await shown()).toEqual(expect.arrayContaining(waiting));
    // The burst of queued events took a refresh or two, not one each.
    expect(listCalls(from)).toBeLessThanOrEqual(6);
    // A page opened now, with the running workflow older than the 20 newest, shows it first too.
    await page.reload();
    from = requests.length;
    await waitText(item(long).locator(".badge"), "running");
    expect((await shown())[0]).toBe(long);
    expect(await shown()).toEqual(expect.arrayContaining(waiting));
    // Its progress comes over the WebSocket as it runs: a few polls meanwhile, not a request per event.
    await waitFor(async () => Number(await item(long).locator("progress").getAttribute("value")) > 0);
    await waitText(item(long).locator(".badge"), "completed", 15_000);
    expect(listCalls(from)).toBeLessThanOrEqual(6);
    await waitFor(async () => (await (await fetch(`${base}/v1/comfyui/workflows?status=queued,running`, { headers: { Authorization: `Bearer ${KEY}` } })).json()).workflows.length === 0, 20_000);
  }, 40_000);

  test("a press on Cancel lands though the running workflow's progress redraws the queue meanwhile", async () => {
    const id = await submit(chain(40, "press"));
    const item = page.locator(`#queue li[data-workflow="${id}"]`);
    await waitText(item.locator(".badge"), "running");
    await waitFor(async () => Number(await item.locator("progress").getAttribute("value")) > 0);
    await press(item.getByRole("button", { name: "Cancel" }), 400);
    await waitText(item.locator(".badge"), "cancelled");
  }, 20_000);

  test("a running workflow's progress redraws its own item only, not the whole queue", async () => {
    type W = { made: number; createElement?: Document["createElement"] };
    await page.evaluate(() => {
      const w = window as unknown as W;
      w.made = 0;
      w.createElement = document.createElement;
      document.createElement = function (tag: string, options?: ElementCreationOptions) {
        if (tag === "li") w.made++;
        return w.createElement!.call(document, tag, options);
      } as Document["createElement"];
    });
    const id = await submit(chain(20, "in-place"));
    await waitText(page.locator(`#queue li[data-workflow="${id}"] .badge`), "completed", 15_000);
    const made = await page.evaluate(() => {
      const w = window as unknown as W;
      document.createElement = w.createElement!;
      return w.made;
    });
    const listed = await page.locator("#queue li").count();
    // Whole redraws for queued, started and completed and a poll or two; one item for each of its 22 progress events.
    expect(listed).toBeGreaterThanOrEqual(10);
    expect(made).toBeLessThan(listed * 8);
  }, 20_000);

  test("a press on Stop lands though the task list is refreshed meanwhile", async () => {
    const id = await startTask("sleeper", "pressed");
    const row = page.locator(`#task-table tbody tr[data-task="${id}"]`);
    await row.waitFor({ timeout: 10_000 });
    // Longer than the list's refresh interval (3 s): a refresh comes while the button is held.
    await press(row.getByRole("button", { name: "Stop" }), 3500);
    await waitText(row.locator(".badge"), "stopped");
  }, 20_000);

  test("a running task older than the 50 listed is still shown, first, and its Stop button stops it", async () => {
    const old = await startTask("sleeper", "old");
    const quick: string[] = [];
    for (let i = 0; i < 50; i++) quick.push(await startTask("exit0"));
    const ended = async (id: string) => (await (await fetch(`${base}/v1/tasks/${id}`, { headers: { Authorization: `Bearer ${KEY}` } })).json()).status !== "running";
    await waitFor(async () => (await Promise.all(quick.map(ended))).every(Boolean), 20_000);
    await page.reload();
    const row = page.locator(`#task-table tbody tr[data-task="${old}"]`);
    await row.waitFor({ timeout: 10_000 });
    expect(await page.locator("#task-table tbody tr").first().getAttribute("data-task")).toBe(old);
    await row.getByRole("button", { name: "Stop" }).click();
    await waitFor(async () => (await (await fetch(`${base}/v1/tasks/${old}`, { headers: { Authorization: `Bearer ${KEY}` } })).json()).status === "stopped");
    // Stopped, it is one of the older tasks again: past the 50 listed.
    await row.waitFor({ state: "detached", timeout: 10_000 });
  }, 40_000);

  test("while no task runs the task list is asked for every 10 s, not every 3 s; one started elsewhere still shows within seconds", async () => {
    await waitFor(async () => (await (await fetch(`${base}/v1/tasks`, { headers: authorized })).json()).count === 0, 15_000);
    await Bun.sleep(5500); // the dashboard hears it from /v1/status too
    const asked = () => requests.filter((r) => r === "GET /v1/tasks").length;
    const before = asked();
    await Bun.sleep(7000);
    expect(asked() - before).toBeLessThanOrEqual(1);
    // /v1/status (every 5 s) counts it running, and the next 3 s tick lists it.
    const id = await startTask("sleeper", "elsewhere");
    const row = page.locator(`#task-table tbody tr[data-task="${id}"]`);
    await row.waitFor({ timeout: 9_000 });
    await fetch(`${base}/v1/tasks/${id}`, { method: "DELETE", headers: authorized });
    await waitText(row.locator(".badge"), "stopped");
  }, 40_000);

  test("polling stops while the tab is hidden and resumes at once when it is shown", async () => {
    const setHidden = (hidden: boolean) =>
      page.evaluate((h) => {
        Object.defineProperty(document, "hidden", { configurable: true, get: () => h });
        Object.defineProperty(document, "visibilityState", { configurable: true, get: () => (h ? "hidden" : "visible") });
        document.dispatchEvent(new Event("visibilitychange"));
      }, hidden);
    const polls = () => requests.filter((r) => /^GET \/v1\/(status|tasks|comfyui\/(workflows|outputs))$/.test(r)).length;
    await setHidden(true);
    await Bun.sleep(300); // a request already under way may still land
    const before = polls();
    await Bun.sleep(6000); // longer than every interval but the 10 s ones
    expect(polls()).toBe(before);
    await setHidden(false);
    await Bun.sleep(500);
    expect(polls()).toBeGreaterThanOrEqual(before + 4); // status, tasks, workflows, outputs at once
  }, 20_000);
});

describe("signing out", () => {
  test("stops every refresh, the one a workflow's event has just scheduled included: no call, no error", async () => {
    await page.evaluate(() => document.getElementById("alert")!.setAttribute("hidden", ""));
    await submit(chain(0, "bye"));
    // Its event schedules a list refresh a second later; sign out before that.
    await Bun.sleep(200);
    await page.getByRole("button", { name: "Sign out" }).click();
    const from = requests.length;
    await Bun.sleep(1500);
    expect(requests.slice(from).filter((r) => r.includes("/v1/"))).toEqual([]);
    expect(await page.getByRole("alert").isVisible()).toBe(false);
  });
});

describe("dashboard and the rate limit", () => {
  test("after a 429 it says so and stops polling until Retry-After", async () => {
    // The page, its four files and GET / take six requests, sign-in a seventh: the first polls go past 8.
    const limited = await createServer(testConfig({ RATE_LIMIT_ALLOWLIST: "", RATE_LIMIT_MAX: "8", COMFYUI_URL: fake.url }), silentLogger);
    try {
      await page.goto(`http://127.0.0.1:${limited.port}/ui`); // another origin: sign in again
      await page.getByLabel("API key").fill(KEY);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.locator("#main").waitFor({ state: "visible" });
      await waitText(page.getByRole("alert"), "Too many requests; retry in", 15_000);
      const count = () => requests.filter((r) => r.startsWith("GET /v1/")).length;
      const after = count();
      await Bun.sleep(4000);
      expect(count()).toBe(after);
    } finally {
      await limited.shutdown();
    }
  }, 30_000);
});
