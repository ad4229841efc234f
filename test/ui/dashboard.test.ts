/**
 * The dashboard end to end in headless Chromium: sign in, tasks with live logs and stop, a ComfyUI
 * workflow to 100% with its image, the gallery, the GPU panel, polling and the rate limit.
 * (dashboard-lists.test.ts: the task and queue lists at scale.)
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, utimesSync } from "node:fs";
import { createServer } from "../../src/server.ts";
import { KEY, silentLogger, testConfig, waitFor } from "../helpers.ts";
import { chain, mediaPrompt } from "../comfyui/helpers.ts";
import { artifact, authorized, galleryImageShown, READ_ONLY_KEY, useDashboard, waitText } from "./dashboard-env.ts";

const d = useDashboard();

/** Past this, a saved file's text stays in the page: 40 MiB sent to the test as a string took 12 s of its 30. */
const SAVED_TEXT_MAX = 8 * 1024 * 1024;

/**
 * What the page saves (a link with `download` to a blob) when `click` runs, read in the page:
 * Chromium's own download machinery stays out of the tests (and the page's CSP rightly refuses a
 * fetch of a blob: URL). Its text comes only up to SAVED_TEXT_MAX bytes; its size always.
 */
async function savedBy(click: () => Promise<void>): Promise<{ name: string; size: number; text?: string }> {
  type Saved = { name: string; size: number; text?: string };
  type W = { saved?: Promise<Saved>; lastBlob?: Blob; capturing?: true };
  await d.page.evaluate((textMax) => {
    const w = window as unknown as W;
    w.saved = undefined;
    if (w.capturing) return;
    w.capturing = true;
    const create = URL.createObjectURL;
    URL.createObjectURL = (blob: Blob) => ((w.lastBlob = blob), create(blob));
    HTMLAnchorElement.prototype.click = function () {
      const blob = w.lastBlob!;
      if (this.download) w.saved = (blob.size <= textMax ? blob.text() : Promise.resolve(undefined)).then((text) => ({ name: this.download, size: blob.size, text }));
    };
  }, SAVED_TEXT_MAX);
  await click();
  await d.page.waitForFunction(() => (window as unknown as W).saved !== undefined);
  return d.page.evaluate(() => (window as unknown as W).saved!);
}

describe("dashboard", () => {
  test("before sign-in it makes no protected call; a wrong key gets a readable message", async () => {
    await d.page.goto(`${d.base}/ui`);
    await d.page.waitForLoadState("networkidle");
    expect(d.requests.filter((r) => r.includes("/v1/"))).toEqual([]);
    expect(d.requests).toEqual(expect.arrayContaining(["GET /ui", "GET /ui/app.js", "GET /ui/client.js", "GET /ui/gallery.js", "GET /ui/queue.js", "GET /ui/agent-log.js", "GET /ui/cells.js", "GET /ui/task-log.js", "GET /ui/models.js", "GET /ui/app.css"]));
    expect(d.consoleErrors).toEqual([]);
    await d.page.getByLabel("API key").fill("wrong-key");
    await d.page.getByRole("button", { name: "Sign in" }).click();
    await waitText(d.page.getByRole("alert"), "403 Forbidden: Invalid API token");
    // What it says before sign-in, in a main landmark (a screen reader's first stop).
    await waitText(d.page.getByRole("main"), "Any key the server accepts will do");
    expect(await d.page.getByRole("link", { name: "documentation" }).getAttribute("href")).toBe("docs");
    expect(await d.accessibilityProblems()).toEqual([]);
    await d.shot("01-wrong-key");
  });

  test("sign in: the GPU panel shows both GPUs from nvidia-smi", async () => {
    await d.page.getByLabel("API key").fill(KEY);
    await d.page.getByRole("button", { name: "Sign in" }).click();
    await d.page.locator("#main").waitFor({ state: "visible" });
    expect(await d.page.locator("#signin").isVisible()).toBe(false);
    await d.page.locator(".card.gpu").nth(1).waitFor();
    expect(await d.page.locator(".card.gpu h3").allTextContents()).toEqual(["GPU 0 · NVIDIA A100-SXM4-80GB", "GPU 1 · NVIDIA A100-SXM4-80GB"]);
    await waitText(d.page.locator(".card.gpu"), "Utilization 98%");
    // Who holds each GPU's memory, the largest first; then what none of them holds (79000 MiB used).
    expect(await d.page.locator(".card.gpu").nth(0).locator(".procs li").allTextContents()).toEqual(["python3 · 40960 MiB", "python · 12288 MiB", "not listed here · 25752 MiB"]);
    expect(await d.page.locator(".card.gpu").nth(1).locator(".procs li").allTextContents()).toEqual(["python3 · ? MiB"]);
    // ComfyUI's own view of its GPU, from its /system_stats.
    await waitText(d.page.locator(".card", { hasText: "Providers" }), "local: up (v0.8.0), queue 0, cuda:0 NVIDIA L40S 45000 of 46068 MiB free");
    // Task providers with a cap of their own (maxActive) say how full they are.
    await waitText(d.page.locator(".card", { hasText: "Providers" }).locator("[data-limits]"), "slow: 0 of 50 running");
    expect(await d.page.evaluate(() => sessionStorage.getItem("mapi.key"))).toBe(KEY);
  });

  test("a task's process on a GPU is named by its task's agent as soon as the task list has it, not at the next status", async () => {
    const { taskId } = await (await fetch(`${d.base}/v1/tasks`, { method: "POST", headers: authorized, body: JSON.stringify({ agent: "trainer", task: "x", provider: "sleeper" }) })).json();
    const pid = d.server.services.tasks!.get(taskId).pid!;
    const fixture = await Bun.file(d.gpuApps).text();
    await Bun.write(d.gpuApps, `${fixture}GPU-66666666-7777-8888-9999-000000000000, ${pid}, 2048, /usr/bin/python3\n`);
    const procs = d.page.locator(".card.gpu").nth(1).locator(".procs");
    const named = "task trainer (python3) · 2048 MiB";
    try {
      // A status shows the process (and counts the task running) before the task list, asked at the
      // next 3 s tick, has the task: until then it is named by its task's id. (Unless an idle refresh
      // of the list, every 10 s, came first: then it is named at once.)
      const shown = await waitFor(async () => {
        const text = (await procs.textContent()) ?? "";
        return text.includes(named) || text.includes(`task ${taskId.slice(0, 8)} (python3) · 2048 MiB`) ? text : undefined;
      }, 15_000);
      if (!shown.includes(named)) {
        await d.page.locator(`#task-table tbody tr[data-task="${taskId}"]`).waitFor({ timeout: 10_000 });
        // The next status is 2 s or more away: the name comes with the list.
        await waitText(procs, named, 1_000);
      }
    } finally {
      await Bun.write(d.gpuApps, fixture);
      await fetch(`${d.base}/v1/tasks/${taskId}`, { method: "DELETE", headers: authorized });
    }
  }, 30_000);

  test("text selected in a panel (a GPU's name, to copy it) stays selected through the 5 s refresh", async () => {
    const selected = await d.select(".card.gpu h3");
    expect(selected).toBe("GPU 0 · NVIDIA A100-SXM4-80GB");
    const refreshes = () => d.requests.filter((r) => r === "GET /v1/status").length;
    const before = refreshes();
    await waitFor(() => refreshes() > before, 8000);
    await Bun.sleep(300); // drawn
    expect(await d.selection()).toBe(selected);
    await d.page.evaluate(() => getSelection()!.removeAllRanges());
  }, 15_000);

  test("start a demo task: its log lines appear and its status turns completed", async () => {
    // Each provider says what it runs, where it is picked.
    expect(await d.page.locator('#provider option[value="demo"]').getAttribute("title")).toStartWith("Built-in demo");
    await d.page.locator("#provider").selectOption("demo");
    await d.page.locator("#task-form textarea[name=task]").fill("hello from the browser");
    await d.page.getByRole("button", { name: "Start task" }).click();
    await waitText(d.page.locator("#log"), "step 1/5");
    await waitText(d.page.locator("#log-status"), "completed", 15_000);
    const lines = (await d.page.locator("#log").textContent())!.trim().split("\n");
    expect(lines).toEqual([expect.stringContaining("demo agent coder starting"), "task: hello from the browser", "step 1/5", "step 2/5", "step 3/5", "step 4/5", "step 5/5", "done"]);
    // Signed in, a task listed and its log open: every control labelled, contrast enough, no broken ARIA.
    expect(await d.accessibilityProblems()).toEqual([]);
    await d.shot("02-task-completed");
  });

  test("a progress bar is redrawn in place, as on a terminal: one line, its latest state", async () => {
    await d.page.locator("#provider").selectOption("progress");
    await d.page.locator("#task-form textarea[name=task]").fill("a download");
    await d.page.getByRole("button", { name: "Start task" }).click();
    await waitText(d.page.locator("#log"), "dl 20%");
    const running = (await d.page.locator("#log").textContent())!.trim().split("\n");
    expect([running.length, running[0], running[1]]).toEqual([2, "downloading", expect.stringMatching(/^dl [23]0%$/)]);
    await waitText(d.page.locator("#log-status"), "completed", 15_000);
    expect((await d.page.locator("#log").textContent())!.trim().split("\n")).toEqual(["downloading", "dl 100%", "done"]);
  });

  test("a claude session's log reads as text; Raw shows the events as written", async () => {
    await d.page.locator("#provider").selectOption("claude-stream");
    await d.page.getByRole("button", { name: "Start task" }).click();
    await waitText(d.page.locator("#log-status"), "completed", 15_000);
    await waitText(d.page.locator("#log"), "■ finished · 3 turns");
    // The task list shows what the session cost, with its turns and tokens on hover.
    const cost = d.page.locator("#task-table tbody tr").first().locator("td").nth(5);
    await waitText(cost, "$0.0123");
    expect(await cost.getAttribute("title")).toBe("3 turns; tokens: 12 in, 345 out, 7,890 cache read, 3,456 cache write");
    const text = (await d.page.locator("#log").textContent())!;
    expect(text).toContain("▸ Bash: ls -la\n  ◂ total 8 (+2 lines)\nplain text from a wrapper\n▸ Write: /w/t/hello.py\n  ✗ Permission denied");
    expect(text).not.toContain('"type":');
    await d.page.locator("#log-panel").screenshot({ path: artifact("02-claude-log.png") });
    await d.page.getByLabel("Raw").check();
    await waitText(d.page.locator("#log"), '{"type":"result","subtype":"success"');
    expect((await d.page.locator("#log").textContent())!.trim().split("\n")).toHaveLength(8);
    await d.page.getByLabel("Raw").uncheck();
    await waitText(d.page.locator("#log"), "■ finished");
  });

  test("Continue gives a finished session a follow-up: a new task resumes it in the same folder", async () => {
    await d.page.locator("#provider").selectOption("claude-session");
    await d.page.locator("#task-form textarea[name=task]").fill("wait"); // two seconds
    await d.page.getByRole("button", { name: "Start task" }).click();
    const row = d.page.locator("#task-table tbody tr", { hasText: "claude-session" }).first();
    // Shown while it runs, the row's Stop becomes Continue in place: pressed, it must continue, not stop.
    await row.getByRole("button", { name: "Stop" }).waitFor();
    await waitText(d.page.locator("#log-status"), "completed", 15_000);
    // claude-stream's sessions cannot be continued: its tasks have no such button.
    expect(await d.page.locator("#task-table tbody tr", { hasText: "claude-stream" }).getByRole("button", { name: "Continue" }).count()).toBe(0);
    d.promptAnswer = "now add tests";
    await row.getByRole("button", { name: "Continue" }).click();
    // The log panel follows the new task, which remembers the first.
    await waitText(d.page.locator("#log"), "resuming session-");
    await waitText(d.page.locator("#log"), "I remember: wait|now add tests");
    await waitText(d.page.locator("#log-status"), "completed", 15_000);
    d.promptAnswer = "";
  });

  test("the log viewer resumes after the API restarts mid-stream, without gaps or duplicates", async () => {
    await d.page.locator("#provider").selectOption("slow");
    await d.page.locator("#task-form textarea[name=task]").fill("15");
    await d.page.getByRole("button", { name: "Start task" }).click();
    await waitText(d.page.locator("#log"), "slow 3");
    // Restart the API on the same port: the stream drops, the task keeps running, and the browser's
    // EventSource reconnects with Last-Event-ID to the new process.
    const { config } = d.server.services;
    await d.server.shutdown();
    d.server = await createServer({ ...config, port: d.server.port }, silentLogger, { comfyBackoffMs: 50 });
    await waitText(d.page.locator("#log-status"), "completed", 20_000);
    const lines = (await d.page.locator("#log").textContent())!.trim().split("\n");
    expect(lines).toEqual(Array.from({ length: 15 }, (_, i) => `slow ${i + 1}`));
    await d.page.evaluate(() => document.querySelector("#alert")!.setAttribute("hidden", ""));
    // A poll that fell in the restart found nobody listening, as it should: no error of the page's.
    const refused = (e: string) => e.includes("ERR_CONNECTION_REFUSED");
    d.consoleErrors.splice(0, d.consoleErrors.length, ...d.consoleErrors.filter((e) => !refused(e)));
  });

  test("text selected in a live log stays selected while more lines arrive, so it can be copied", async () => {
    await d.page.locator("#provider").selectOption("slow");
    await d.page.locator("#task-form input[name=agent]").fill("selecting");
    await d.page.locator("#task-form textarea[name=task]").fill("8");
    await d.page.getByRole("button", { name: "Start task" }).click();
    await waitText(d.page.locator("#log-title"), "selecting");
    await waitText(d.page.locator("#log"), "slow 2");
    const selected = await d.select("#log");
    expect(selected).toStartWith("slow 1\nslow 2");
    await waitText(d.page.locator("#log"), "slow 5");
    // The same lines (a browser may add the last one's line break once another follows it).
    expect((await d.selection()).trimEnd()).toBe(selected.trimEnd());
    await waitText(d.page.locator("#log-status"), "completed");
    await d.page.evaluate(() => getSelection()!.removeAllRanges());
    await d.page.locator("#task-form input[name=agent]").fill("coder");
  });

  test("a task given a time limit is stopped when it runs past it, and its log says so", async () => {
    await d.page.locator("#provider").selectOption("sleeper");
    await d.page.locator("#task-form").getByLabel("Time limit (min)").fill("0.02"); // 1 s
    try {
      await d.page.getByRole("button", { name: "Start task" }).click();
      await waitText(d.page.locator("#log-status"), "failed");
      // Why, beside the status, and on the task's row (drawn by the list refresh the task's end
      // starts, which may answer after the log's own end: waited for, not read at once).
      await waitText(d.page.locator("#log-status"), "Timed out after 1 s; task stopped");
      await waitText(d.page.locator("#log"), "[management-api] Timed out after 1 s; task stopped");
      const why = d.page.locator("#task-table tbody tr").first().locator("td").nth(2);
      await waitFor(async () => (await why.getAttribute("title")) === "Timed out after 1 s; task stopped");
    } finally {
      await d.page.locator("#task-form").getByLabel("Time limit (min)").fill("");
    }
  });

  test("a model named in the form reaches the agent's command line", async () => {
    await d.page.locator("#provider").selectOption("claude-session");
    await d.page.locator("#task-form").getByLabel("Model").fill("haiku");
    try {
      await d.page.getByRole("button", { name: "Start task" }).click();
      await waitText(d.page.locator("#log"), "model haiku");
    } finally {
      await d.page.locator("#task-form").getByLabel("Model").fill("");
    }
    // On the task's row, its agent's hover says which.
    const row = d.page.locator("#task-table tbody tr", { hasText: "claude-session" }).first();
    await waitFor(async () => (await row.locator("td.agent").getAttribute("title")) === "model haiku");
  });

  test("a task given a no-output limit is stopped once it has been silent that long", async () => {
    await d.page.locator("#provider").selectOption("sleeper"); // one line, then silence
    await d.page.locator("#task-form").getByLabel("No output limit (min)").fill("0.02"); // 1 s
    try {
      await d.page.getByRole("button", { name: "Start task" }).click();
      await waitText(d.page.locator("#log-status"), "No output for 1 s; task stopped");
      await waitText(d.page.locator("#log"), "[management-api] No output for 1 s; task stopped");
    } finally {
      await d.page.locator("#task-form").getByLabel("No output limit (min)").fill("");
    }
  });

  test("a chatty task's log shows its last 2000 lines and says so; Download saves all of it", async () => {
    await d.page.locator("#provider").selectOption("chatty");
    await d.page.locator("#task-form textarea[name=task]").fill("30000");
    await d.page.getByRole("button", { name: "Start task" }).click();
    await waitText(d.page.locator("#log-status"), "completed", 20_000);
    await waitText(d.page.locator("#log-trimmed"), "Only the last 2000 lines are shown here");
    // The stream itself starts at the tail: the page is not sent the 28000 lines before.
    expect(new URL(d.streamUrls.at(-1)!).searchParams.get("tail")).toBe("2000");
    const lines = (await d.page.locator("#log").textContent())!.trim().split("\n");
    expect([lines.length, lines[0], lines.at(-1)]).toEqual([2000, "line 28001 of 30000", "line 30000 of 30000"]);
    const saved = await savedBy(() => d.page.getByRole("button", { name: "Download" }).click());
    expect(saved.name).toMatch(/^[0-9a-f-]{36}\.log$/);
    expect(saved.text!.split("\n").filter(Boolean).length).toBe(30000);
  }, 30_000);

  test("the files a task left are listed under its log, and each downloads", async () => {
    await d.page.locator("#provider").selectOption("writer");
    await d.page.locator("#task-form textarea[name=task]").fill("from the dashboard");
    await d.page.getByRole("button", { name: "Start task" }).click();
    await waitText(d.page.locator("#log-status"), "completed");
    const list = d.page.getByRole("list", { name: "Task files" });
    await waitText(list, "src/main.go");
    // Only the task's own files: its symbolic links out of the directory are not offered.
    expect(await list.locator("button").allTextContents()).toEqual(["out/report.md", "out/task é.txt", "src/main.go"]);
    expect(await savedBy(() => list.getByRole("button", { name: "out/task é.txt" }).click())).toEqual({ name: "task é.txt", size: 18, text: "from the dashboard" });
    // And all of them at once.
    const all = await savedBy(() => d.page.getByRole("button", { name: "save all as .tar.gz" }).click());
    expect(all.name).toMatch(/^[0-9a-f-]{36}\.tar\.gz$/);
    expect(all.size).toBeGreaterThan(100);
  });

  test("files picked in the task form are in the task's folder when it starts", async () => {
    await d.page.locator("#provider").selectOption("reader");
    const picker = d.page.locator("#task-form input[name=files]");
    await picker.setInputFiles([
      { name: "in.txt", mimeType: "text/plain", buffer: Buffer.from("from the browser") },
      { name: "pixel.bin", mimeType: "application/octet-stream", buffer: Buffer.from([0, 255, 1]) },
    ]);
    await d.page.getByRole("button", { name: "Start task" }).click();
    await waitText(d.page.locator("#log"), "./pixel.bin 3");
    await waitText(d.page.locator("#log-status"), "completed");
    expect((await d.page.locator("#log").textContent())!.trim().split("\n")).toEqual(["./in.txt 16", "./pixel.bin 3"]);
    await picker.setInputFiles([]);
  });

  test("a double click on Start task starts one task", async () => {
    const count = async () => (await d.get(`/v1/tasks?status=all&limit=500`)).count;
    const before = await count();
    await d.page.locator("#provider").selectOption("exit0");
    await d.page.getByRole("button", { name: "Start task" }).dblclick();
    await waitText(d.page.locator("#log-status"), "completed");
    await Bun.sleep(300); // a second request, had there been one, would have landed by now
    expect(await count()).toBe(before + 1);
  });

  test("stop a long task with the Stop button (after confirmation)", async () => {
    await d.page.locator("#provider").selectOption("sleeper");
    await d.page.getByRole("button", { name: "Start task" }).click();
    const row = d.page.locator("#task-table tbody tr", { hasText: "sleeper" }).first();
    await row.getByRole("button", { name: "Stop" }).click({ timeout: 10_000 });
    await waitText(row.locator(".badge"), "stopped");
  });

  test("Delete, in an ended task's log panel, deletes it after confirmation: its row goes", async () => {
    await d.page.locator("#provider").selectOption("exit0");
    const before = await d.page.locator("#log-title").textContent();
    await d.page.getByRole("button", { name: "Start task" }).click();
    // Its log opens in place of the one shown (whose task had ended too: Delete showed already).
    await d.page.waitForFunction((old) => document.getElementById("log-title")!.textContent !== old, before);
    await d.page.locator("#log-delete").waitFor({ state: "visible" });
    const shortId = (await d.page.locator("#log-title").textContent())!.split(" · ").pop()!;
    const taskId: string = (await d.get("/v1/tasks?status=all&limit=20")).tasks.map((x: { taskId: string }) => x.taskId).find((id: string) => id.startsWith(shortId));
    const row = d.page.locator(`#task-table tbody tr[data-task="${taskId}"]`);
    await row.waitFor();
    await d.page.locator("#log-delete").click();
    await row.waitFor({ state: "detached" });
    expect(await d.page.locator("#log-panel").isVisible()).toBe(false);
    expect((await fetch(`${d.base}/v1/tasks/${taskId}`, { headers: authorized })).status).toBe(404);
  });

  test("a running task quiet for a minute or more says so beside its duration", async () => {
    const { taskId, logFile } = await (await fetch(`${d.base}/v1/tasks`, { method: "POST", headers: authorized, body: JSON.stringify({ agent: "stuck", task: "x", provider: "sleeper" }) })).json();
    try {
      await waitFor(async () => (await d.get(`/v1/tasks/${taskId}`)).lastOutputTime);
      const old = new Date(Date.now() - 5 * 60_000);
      utimesSync(logFile, old, old); // its last output five minutes back
      const cell = d.page.locator(`#task-table tbody tr[data-task="${taskId}"] td`).nth(3);
      await waitText(cell, "· quiet 5 min", 15_000);
    } finally {
      await fetch(`${d.base}/v1/tasks/${taskId}`, { method: "DELETE", headers: authorized });
    }
  });

  test("a task's labels show beside its agent: the first three, every one on hover", async () => {
    const labels = { job: "1234", repo: "shop", stage: "lint", extra: "x" };
    const id = (await (await fetch(`${d.base}/v1/tasks`, { method: "POST", headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" }, body: JSON.stringify({ agent: "labelled", task: "x", provider: "demo", labels }) })).json()).taskId;
    const cell = d.page.locator(`#task-table tbody tr[data-task="${id}"] td`).first();
    await waitText(cell, "labelled");
    expect(await cell.locator(".label").allTextContents()).toEqual(["job=1234", "repo=shop", "stage=lint", "+1"]);
    expect(await cell.getAttribute("title")).toBe("job=1234\nrepo=shop\nstage=lint\nextra=x");
  });

  test("a poll answered after a Stop's own refresh does not draw the task running again", async () => {
    const id = (await (await fetch(`${d.base}/v1/tasks`, { method: "POST", headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" }, body: JSON.stringify({ agent: "race", task: "x", provider: "sleeper" }) })).json()).taskId;
    const row = d.page.locator(`#task-table tbody tr[data-task="${id}"]`);
    await waitText(row.locator(".badge"), "running");
    // The next poll of the list is answered late, with the list as it was when it asked.
    let held: (() => void) | undefined;
    const asked = new Promise<void>((resolve) => (held = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    await d.page.route("**/v1/tasks?status=all*", async (route) => {
      const stale = await route.fetch();
      held?.();
      held = undefined;
      await released;
      await route.fulfill({ response: stale });
    }, { times: 1 });
    await asked;
    await row.getByRole("button", { name: "Stop" }).click();
    await waitText(row.locator(".badge"), "stopped");
    release();
    await Bun.sleep(500);
    expect(await row.locator(".badge").textContent()).toBe("stopped");
  });

  test("Models on ComfyUI lists a folder's file names when opened, and another folder's when picked; never polled", async () => {
    const asked = () => d.requests.filter((r) => r === "GET /v1/comfyui/models").length;
    expect(asked()).toBe(0);
    await d.page.getByText("Models on ComfyUI").click();
    const list = d.page.getByRole("list", { name: "Model files" });
    await waitText(list, "sdxl/base.safetensors");
    // Sizes where COMFYUI_MODELS_DIR has the file.
    expect(await list.locator("li").allTextContents()).toEqual(["sd15.safetensors 6.5 GiB", "sdxl/base.safetensors"]);
    await d.page.getByLabel("Model folder").selectOption("diffusion_models");
    await waitText(list, "flux1-dev.safetensors");
    await d.page.locator("#comfyui").screenshot({ path: artifact("04-models.png") });
    await d.page.getByLabel("Model folder").selectOption("embeddings");
    await waitText(list, "No files in ComfyUI's embeddings folder.");
    // The target the workflow form names: one not configured says so, and lists nothing.
    const target = d.page.locator("#wf-form").getByLabel("Target");
    await target.selectOption("salad");
    await waitText(d.page.getByRole("alert"), 'GPU target "salad" is not configured (set SALAD_COMFYUI_URL)');
    expect(await list.locator("li").count()).toBe(0);
    await target.selectOption("local");
    await waitText(list, "No files in ComfyUI's embeddings folder.");
    await d.page.evaluate(() => document.querySelector("#alert")!.setAttribute("hidden", ""));
    // The browser's own line for that 400 (one), taken out of the page's errors.
    const badRequest = (e: string) => e.includes("status of 400 (Bad Request)");
    expect(d.consoleErrors.filter(badRequest)).toHaveLength(1);
    d.consoleErrors.splice(0, d.consoleErrors.length, ...d.consoleErrors.filter((e) => !badRequest(e)));
    expect(asked()).toBe(5);
    await d.page.getByText("Models on ComfyUI").click(); // closed again
    await Bun.sleep(500);
    expect(asked()).toBe(5);
  });

  test("a ComfyUI workflow reaches 100% and its image appears in the gallery", async () => {
    const prompt = { ...chain(3, "browser") };
    await d.page.locator("#wf-form textarea[name=workflow]").fill(JSON.stringify(prompt));
    await d.page.getByRole("button", { name: "Queue workflow" }).click();
    const item = d.page.locator("#queue li").first();
    await waitText(item.locator(".badge"), "running");
    await waitText(item.locator(".badge"), "completed", 15_000);
    expect(await item.locator("progress").getAttribute("value")).toBe("100");
    await galleryImageShown(d.page).catch(async (err) => {
      await d.shot("99-gallery-failure");
      throw err;
    });
    await waitText(d.page.locator(".gallery figcaption"), "browser_");
    // Its files, all at once.
    const all = await savedBy(() => item.getByRole("button", { name: "save all" }).click());
    expect(all.name).toMatch(/^[0-9a-f-]{36}\.tar\.gz$/);
    expect(all.size).toBeGreaterThan(100);
    // The README's picture: the task table as a reader finds it, not scrolled to a button a test pressed.
    await d.page.locator("#task-table").evaluate((el) => (el.parentElement!.scrollLeft = 0));
    await d.shot("03-dashboard");
    expect(d.consoleErrors.filter((e) => !e.includes("403"))).toEqual([]);
  });

  test("a workflow given a time limit is interrupted when it runs past it, and its queue entry says so", async () => {
    const form = d.page.locator("#wf-form");
    await form.locator("textarea[name=workflow]").fill(JSON.stringify(chain(12, "limited"))); // 14 nodes: 2.1 s
    await form.getByLabel("Time limit (min)").fill("0.02"); // 1 s
    await form.getByRole("button", { name: "Queue workflow" }).click();
    const item = d.page.locator("#queue li").first();
    await waitText(item.locator(".badge"), "failed", 15_000);
    await waitText(item, "Timed out after 1 s; workflow interrupted");
    await form.getByLabel("Time limit (min)").fill("");
    // Retry queues the same prompt again, as a new workflow with the same limit: past it again.
    const failedId = (await item.getAttribute("data-workflow"))!;
    await item.getByRole("button", { name: "Retry" }).click();
    const again = d.page.locator("#queue li").first();
    await waitFor(async () => (await again.getAttribute("data-workflow")) !== failedId);
    await waitText(again.locator(".badge"), "failed", 15_000);
    const promptOf = (id: string | null) => (d.fake.received.find((r) => r.path === "/prompt" && (r.body as { prompt_id?: string }).prompt_id === id)!.body as { prompt: unknown }).prompt;
    expect(promptOf(await again.getAttribute("data-workflow"))).toEqual(promptOf(failedId));
  });

  test("Cancel all queued cancels every queued workflow in one request; the running one goes on", async () => {
    const post = async (workflow: unknown) =>
      (await (await fetch(`${d.base}/v1/comfyui/workflow`, { method: "POST", headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" }, body: JSON.stringify({ workflow }) })).json()).workflowId as string;
    const running = await post(chain(20, "long"));
    const queued = [await post(chain(1, "q1")), await post(chain(1, "q2")), await post(chain(1, "q3"))];
    const item = (id: string) => d.page.locator(`#queue li[data-workflow="${id}"]`);
    await waitText(item(running).locator(".badge"), "running");
    await d.page.getByRole("button", { name: "Cancel all queued" }).click();
    for (const id of queued) await waitText(item(id).locator(".badge"), "cancelled");
    expect(await item(running).locator(".badge").textContent()).toBe("running");
    await fetch(`${d.base}/v1/comfyui/workflow/${running}`, { method: "DELETE", headers: { Authorization: `Bearer ${KEY}` } });
    await waitText(item(running).locator(".badge"), "cancelled");
    await waitFor(() => !d.fake.running && !d.fake.queue.length); // ComfyUI stops it at its next node
  });

  test("Stop all running stops every running task in one request", async () => {
    const start = async () =>
      (await (await fetch(`${d.base}/v1/tasks`, { method: "POST", headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" }, body: JSON.stringify({ agent: "many", task: "x", provider: "sleeper" }) })).json()).taskId as string;
    const ids = [await start(), await start()];
    const row = (id: string) => d.page.locator(`#task-table tbody tr[data-task="${id}"]`);
    for (const id of ids) await waitText(row(id), "running");
    await d.page.getByRole("button", { name: "Stop all running" }).click();
    for (const id of ids) await waitText(row(id), "stopped");
  });

  test("Free VRAM asks ComfyUI to unload its models and drop its cache, and says when it does", async () => {
    const before = d.fake.received.filter((r) => r.path === "/free").length;
    await d.page.getByRole("button", { name: "Free VRAM" }).click();
    await waitText(d.page.locator("#free-result"), "ComfyUI frees it now (local)");
    expect(d.fake.received.filter((r) => r.path === "/free").slice(before).map((r) => r.body)).toEqual([{ unload_models: true, free_memory: true }]);
  });

  test("the gallery plays videos and sounds, marks a vanished file alone, and releases files it no longer lists", async () => {
    const first = d.page.locator(".gallery img").first();
    const firstSrc = (await first.getAttribute("src"))!;
    await d.page.evaluate(() => {
      const w = window as unknown as { revoked: string[] };
      w.revoked = [];
      const revoke = URL.revokeObjectURL;
      URL.revokeObjectURL = (url: string) => (w.revoked.push(url), revoke(url));
    });
    // 22 images, a video and a sound: 24 outputs, as many as the gallery shows, so the earlier image leaves it.
    const prompt = mediaPrompt(22, { image: "gallery", video: "clip", sound: "sound" });
    const res = await fetch(`${d.base}/v1/comfyui/workflow`, { method: "POST", headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" }, body: JSON.stringify({ workflow: prompt }) });
    expect(res.status).toBe(202);
    // Gone from ComfyUI's folder before the dashboard fetches it.
    const vanished = "gallery_00022_.png";
    const until = Date.now() + 15_000;
    while (!d.fake.files.delete(`output//${vanished}`) && Date.now() < until) await Bun.sleep(5);
    const video = d.page.locator(".gallery video");
    await video.waitFor({ timeout: 15_000 });
    expect(await video.getAttribute("src")).toStartWith("blob:");
    expect(await d.page.locator(".gallery audio").getAttribute("src")).toStartWith("blob:");
    const missing = d.page.locator(".gallery figure", { hasText: vanished });
    await waitText(missing.locator(".unavailable"), "unavailable");
    expect(await d.page.locator(".gallery figure").count()).toBe(24);
    expect(await d.page.locator(".gallery img").count()).toBe(21);
    // The earlier image left the list: its blob URL was released, and only it.
    expect(await d.page.evaluate(() => (window as unknown as { revoked: string[] }).revoked)).toEqual([firstSrc]);
    expect(await d.accessibilityProblems()).toEqual([]); // images, a video and a sound, a file marked unavailable
    await d.shot("04-gallery-media");
  }, 30_000);

  test("what the gallery shows is kept across refreshes, not rebuilt: a video being watched would stop", async () => {
    const video = d.page.locator(".gallery video");
    await video.evaluate((el) => ((el as HTMLVideoElement & { kept?: true }).kept = true));
    const refreshes = () => d.requests.filter((r) => r === "GET /v1/comfyui/outputs").length;
    const before = refreshes();
    // A workflow that completes refreshes the gallery within 3 s (not at the next poll, 10 s), even one
    // queued elsewhere and done before the queue panel lists it: its image comes first, the rest stay.
    await d.submit(chain(0, "after-video"));
    await waitText(d.page.locator(".gallery figcaption").first(), "after-video_", 6000);
    expect(refreshes()).toBeGreaterThan(before);
    expect(await video.evaluate((el) => (el as HTMLVideoElement & { kept?: true }).kept === true)).toBe(true);
  }, 20_000);

  test("an image is shown by its preview, never fetched whole; pressed, the file itself is saved", async () => {
    const asked = (name: string) => d.outputUrls.filter((u) => u.startsWith(`/v1/comfyui/output/${name}`));
    await d.submit({ "1": { class_type: "EmptyImage", inputs: { width: 64, height: 64, batch_size: 1, color: 3 } }, "2": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "huge" } } });
    // The image becomes 40 MiB before the dashboard fetches it: its preview is still small.
    let key: string | undefined;
    const until = Date.now() + 15_000;
    while (!(key = [...d.fake.files.keys()].find((k) => k.startsWith("output//huge_"))) && Date.now() < until) await Bun.sleep(5);
    d.fake.files.set(key!, new Uint8Array(40 * 1024 * 1024));
    const name = key!.slice("output//".length);
    const figure = d.page.locator(".gallery figure", { hasText: name });
    await figure.locator("img").waitFor({ timeout: 15_000 });
    expect(asked(name)).toEqual([`/v1/comfyui/output/${name}?preview=webp`]);
    const saved = await savedBy(() => figure.getByRole("button", { name: `Output ${name}` }).click());
    expect([saved.name, saved.size]).toEqual([name, 40 * 1024 * 1024]);
    expect(asked(name)).toEqual([`/v1/comfyui/output/${name}?preview=webp`, `/v1/comfyui/output/${name}`]);
    // Where ComfyUI cannot make a preview just now (a 503), the file itself is shown.
    await d.page.route("**/v1/comfyui/output/fallback_*preview=webp*", (route) => route.fulfill({ status: 503, contentType: "application/json", headers: { "Retry-After": "1" }, body: JSON.stringify({ error: "Service Unavailable", message: "ComfyUI is busy", statusCode: 503 }) }));
    try {
      await d.submit(chain(0, "fallback"));
      const shown = d.page.locator(".gallery figure", { hasText: "fallback_" }).locator("img");
      await shown.waitFor({ timeout: 15_000 });
      const fallback = (await shown.getAttribute("alt"))!.replace("Output ", "");
      expect(asked(fallback)).toEqual([`/v1/comfyui/output/${fallback}?preview=webp`, `/v1/comfyui/output/${fallback}`]);
    } finally {
      await d.page.unroute("**/v1/comfyui/output/fallback_*preview=webp*");
      d.consoleErrors.splice(0, d.consoleErrors.length, ...d.consoleErrors.filter((e) => !e.includes("status of 503")));
    }
  }, 30_000);

  test("a file too big to show (a video has no preview) is a download button in the gallery, and is not fetched whole", async () => {
    const served = (name: string) => d.requests.filter((r) => r === `GET /v1/comfyui/output/${name}`).length;
    await d.submit({ "1": { class_type: "EmptyImage", inputs: { width: 64, height: 64, batch_size: 2, color: 3 } }, "2": { class_type: "SaveWEBM", inputs: { images: ["1", 0], filename_prefix: "huge", codec: "vp9", fps: 24, crf: 32 } } });
    // The video becomes 40 MiB before the dashboard fetches it.
    let key: string | undefined;
    const until = Date.now() + 15_000;
    while (!(key = [...d.fake.files.keys()].find((k) => k.startsWith("output//huge_") && k.endsWith(".webm"))) && Date.now() < until) await Bun.sleep(5);
    d.fake.files.set(key!, new Uint8Array(40 * 1024 * 1024));
    const name = key!.slice("output//".length);
    const figure = d.page.locator(".gallery figure", { hasText: name });
    // Its size is unknown (no COMFYUI_OUTPUT_DIR here, and a relayed download has no length).
    await waitText(figure.getByRole("button"), "download (over 32.0 MiB)");
    expect(await figure.locator("video").count()).toBe(0);
    // Asked for once; later refreshes do not fetch it again.
    const refreshes = d.requests.filter((r) => r === "GET /v1/comfyui/outputs").length;
    await d.submit(chain(0, "after-huge"));
    await waitText(d.page.locator(".gallery figcaption").first(), "after-huge_");
    expect(d.requests.filter((r) => r === "GET /v1/comfyui/outputs").length).toBeGreaterThan(refreshes);
    expect(served(name)).toBe(1);
    // Pressed, it is fetched for the download.
    await figure.getByRole("button").click();
    await waitFor(() => served(name) === 2);
  }, 30_000);

  test("an input image uploaded from the dashboard lands in ComfyUI's input folder, and it says under what name", async () => {
    const png = Buffer.from(d.fake.files.get("input//example.png")!);
    await d.page.getByLabel("Input image for LoadImage").setInputFiles({ name: "from browser.png", mimeType: "image/png", buffer: png });
    await d.page.getByLabel("Subfolder").fill("masks");
    await d.page.getByRole("button", { name: "Upload" }).click();
    await waitText(d.page.locator("#upload-result"), 'LoadImage\'s image is "masks/from browser.png"');
    expect(Buffer.from(d.fake.files.get("input/masks/from browser.png")!).equals(png)).toBe(true);
  });

  test("polling stops while the tab is hidden and resumes at once when it is shown", async () => {
    const setHidden = (hidden: boolean) =>
      d.page.evaluate((h) => {
        Object.defineProperty(document, "hidden", { configurable: true, get: () => h });
        Object.defineProperty(document, "visibilityState", { configurable: true, get: () => (h ? "hidden" : "visible") });
        document.dispatchEvent(new Event("visibilitychange"));
      }, hidden);
    const polls = () => d.requests.filter((r) => /^GET \/v1\/(status|tasks|comfyui\/(workflows|outputs))$/.test(r)).length;
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
    await d.page.evaluate(() => document.getElementById("alert")!.setAttribute("hidden", ""));
    await d.submit(chain(0, "bye"));
    // Its event schedules a list refresh a second later; sign out before that.
    await Bun.sleep(200);
    await d.page.getByRole("button", { name: "Sign out" }).click();
    const from = d.requests.length;
    await Bun.sleep(1500);
    expect(d.requests.slice(from).filter((r) => r.includes("/v1/"))).toEqual([]);
    expect(await d.page.getByRole("alert").isVisible()).toBe(false);
  });
});

describe("dashboard and the rate limit", () => {
  test("after a 429 it says so and stops polling until Retry-After", async () => {
    // The page and each of its files (all of src/ui/assets), then GET / and sign-in: the first polls
    // go past the limit. (The page names its icon inline: no favicon request.)
    const beforePolls = readdirSync(new URL("../../src/ui/assets", import.meta.url)).length + 2;
    const limited = await createServer(testConfig({ RATE_LIMIT_ALLOWLIST: "", RATE_LIMIT_MAX: String(beforePolls), COMFYUI_URL: d.fake.url }), silentLogger);
    try {
      await d.page.goto(`http://127.0.0.1:${limited.port}/ui`); // another origin: sign in again
      await d.page.getByLabel("API key").fill(KEY);
      await d.page.getByRole("button", { name: "Sign in" }).click();
      await d.page.locator("#main").waitFor({ state: "visible" });
      await waitText(d.page.getByRole("alert"), "Too many requests; retry in", 15_000);
      const count = () => d.requests.filter((r) => r.startsWith("GET /v1/")).length;
      const after = count();
      await Bun.sleep(4000);
      expect(count()).toBe(after);
    } finally {
      await limited.shutdown();
    }
  }, 30_000);
});

describe("dashboard with a read-only key", () => {
  test("it shows everything; a Stop is refused with a message that says why, and the session stays", async () => {
    const id = (await (await fetch(`${d.base}/v1/tasks`, { method: "POST", headers: authorized, body: JSON.stringify({ agent: "watched", task: "x", provider: "sleeper" }) })).json()).taskId;
    try {
      await d.page.goto(`${d.base}/ui`);
      await d.page.getByLabel("API key").fill(READ_ONLY_KEY);
      await d.page.getByRole("button", { name: "Sign in" }).click();
      await d.page.locator("#main").waitFor({ state: "visible" });
      await d.page.locator(".card.gpu").first().waitFor();
      const row = d.page.locator(`#task-table tbody tr[data-task="${id}"]`);
      await row.getByRole("button", { name: "Stop" }).click({ timeout: 10_000 });
      await waitText(d.page.getByRole("alert"), "403 Forbidden: This API key is read-only: DELETE is not allowed (only GET and HEAD) — Sign in with a full key to change anything.");
      expect(await d.page.locator("#main").isVisible()).toBe(true);
      expect((await (await fetch(`${d.base}/v1/tasks/${id}`, { headers: authorized })).json()).status).toBe("running");
      await Bun.sleep(1500); // the next polls still go out with the key: it was not signed out
      expect(await d.page.evaluate(() => sessionStorage.getItem("mapi.key"))).toBe(READ_ONLY_KEY);
    } finally {
      await fetch(`${d.base}/v1/tasks/${id}`, { method: "DELETE", headers: authorized });
    }
  });
});
