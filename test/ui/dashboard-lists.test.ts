/**
 * The dashboard's task and queue lists at scale, in headless Chromium: more tasks and workflows than
 * a list shows, a batch's events, redraws under a pressed button, and how often it polls.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import type { Route } from "playwright-core";
import { waitFor } from "../helpers.ts";
import { chain } from "../comfyui/helpers.ts";
import { authorized, useDashboard, waitText } from "./dashboard-env.ts";

const d = useDashboard();
beforeAll(() => d.signIn(), 60_000);

describe("dashboard lists", () => {
  test("a batch longer than the list: every workflow not finished is shown, the running one first, and its events cost no request each", async () => {
    const listCalls = (from: number) => d.requests.slice(from).filter((r) => r.startsWith("GET /v1/comfyui/workflow")).length;
    const item = (id: string) => d.page.locator(`#queue li[data-workflow="${id}"]`);
    const shown = () => d.page.locator("#queue li").evaluateAll((els) => els.map((el) => el.getAttribute("data-workflow")));
    // The oldest runs first and for a few seconds; 21 newer ones wait behind it, more than the 20 recent ones listed.
    let from = d.requests.length;
    const long = await d.submit(chain(40, "batch-long"));
    const waiting: string[] = [];
    for (let i = 0; i < 21; i++) waiting.push(await d.submit(chain(0, `batch-${i}`)));
    await waitText(item(long).locator(".badge"), "running");
    await waitFor(async () => (await shown()).length >= 22);
    expect((await shown())[0]).toBe(long);
    expect(await shown()).toEqual(expect.arrayContaining(waiting));
    // The burst of queued events took a refresh or two, not one each.
    expect(listCalls(from)).toBeLessThanOrEqual(6);
    // A page opened now, with the running workflow older than the 20 newest, shows it first too.
    await d.page.reload();
    from = d.requests.length;
    await waitText(item(long).locator(".badge"), "running");
    expect((await shown())[0]).toBe(long);
    expect(await shown()).toEqual(expect.arrayContaining(waiting));
    // Its progress comes over the WebSocket as it runs: a few polls meanwhile, not a request per event.
    await waitFor(async () => Number(await item(long).locator("progress").getAttribute("value")) > 0);
    await waitText(item(long).locator(".badge"), "completed", 15_000);
    expect(listCalls(from)).toBeLessThanOrEqual(6);
    // 21 workflows complete one after another, some 3 a second: the gallery follows them every 3 s,
    // not with a request each.
    const galleryFrom = d.requests.length;
    await waitFor(async () => (await d.get(`/v1/comfyui/workflows?status=queued,running`)).workflows.length === 0, 20_000);
    expect(d.requests.slice(galleryFrom).filter((r) => r === "GET /v1/comfyui/outputs").length).toBeLessThanOrEqual(5);
    await waitText(d.page.locator(".gallery figcaption").first(), "batch-20_", 8000); // its 3 s gap, then 24 previews fetched
  }, 40_000);

  test("workflows queued elsewhere are shown from their events alone, with no list request", async () => {
    const held: Route[] = [];
    await d.page.route("**/v1/comfyui/workflows*", (route) => void held.push(route));
    try {
      const ids = [await d.submit(chain(3, "event-a")), await d.submit(chain(3, "event-b"))];
      for (const id of ids) await d.page.locator(`#queue li[data-workflow="${id}"]`).waitFor({ timeout: 5000 });
      await waitText(d.page.locator(`#queue li[data-workflow="${ids[1]}"] .muted`).first(), "normal · local");
    } finally {
      await d.page.unroute("**/v1/comfyui/workflows*");
      for (const route of held) await route.continue();
    }
  });

  test("a press on Cancel lands though the running workflow's progress redraws the queue meanwhile", async () => {
    const id = await d.submit(chain(40, "press"));
    const item = d.page.locator(`#queue li[data-workflow="${id}"]`);
    await waitText(item.locator(".badge"), "running");
    await waitFor(async () => Number(await item.locator("progress").getAttribute("value")) > 0);
    await d.press(item.getByRole("button", { name: "Cancel" }), 400);
    await waitText(item.locator(".badge"), "cancelled");
  }, 20_000);

  test("a running workflow's progress redraws its own item only, not the whole queue", async () => {
    type W = { made: number; createElement?: Document["createElement"] };
    await d.page.evaluate(() => {
      const w = window as unknown as W;
      w.made = 0;
      w.createElement = document.createElement;
      document.createElement = function (tag: string, options?: ElementCreationOptions) {
        if (tag === "li") w.made++;
        return w.createElement!.call(document, tag, options);
      } as Document["createElement"];
    });
    const id = await d.submit(chain(20, "in-place"));
    await waitText(d.page.locator(`#queue li[data-workflow="${id}"] .badge`), "completed", 15_000);
    const made = await d.page.evaluate(() => {
      const w = window as unknown as W;
      document.createElement = w.createElement!;
      return w.made;
    });
    const listed = await d.page.locator("#queue li").count();
    // Whole redraws for queued, started and completed and a poll or two; one item for each of its 22 progress events.
    expect(listed).toBeGreaterThanOrEqual(10);
    expect(made).toBeLessThan(listed * 8);
  }, 20_000);

  test("a press on Stop lands though the task list is refreshed meanwhile", async () => {
    const id = await d.startTask("sleeper", "pressed");
    const row = d.page.locator(`#task-table tbody tr[data-task="${id}"]`);
    await row.waitFor({ timeout: 10_000 });
    // Longer than the list's refresh interval (3 s): a refresh comes while the button is held.
    await d.press(row.getByRole("button", { name: "Stop" }), 3500);
    await waitText(row.locator(".badge"), "stopped");
  }, 20_000);

  test("a running task older than the 50 listed is still shown, first, and its Stop button stops it", async () => {
    const old = await d.startTask("sleeper", "old");
    // Queued when every slot is taken (MAX_ACTIVE_TASKS, 10): on a slow machine the quick ones pile up.
    const quick: string[] = [];
    for (let i = 0; i < 50; i++) quick.push(await d.startTask("exit0", "api", true));
    const ended = async (id: string) => ["completed", "failed", "stopped"].includes((await d.get(`/v1/tasks/${id}`)).status);
    await waitFor(async () => (await Promise.all(quick.map(ended))).every(Boolean), 20_000);
    await d.page.reload();
    const row = d.page.locator(`#task-table tbody tr[data-task="${old}"]`);
    await row.waitFor({ timeout: 10_000 });
    expect(await d.page.locator("#task-table tbody tr").first().getAttribute("data-task")).toBe(old);
    await row.getByRole("button", { name: "Stop" }).click();
    await waitFor(async () => (await d.get(`/v1/tasks/${old}`)).status === "stopped");
    // Stopped, it is one of the older tasks again: past the 50 listed.
    await row.waitFor({ state: "detached", timeout: 10_000 });
  }, 40_000);

  test("the task list filters by status and label, and shows more than the 50 newest on request", async () => {
    const start = async (provider: string, labels?: Record<string, string>) => {
      const res = await fetch(`${d.base}/v1/tasks`, { method: "POST", headers: authorized, body: JSON.stringify({ agent: "filtered", task: "x", provider, labels, queue: true }) });
      return (await res.json()).taskId as string;
    };
    const failedF1 = [await start("exit3", { lot: "f1" }), await start("exit3", { lot: "f1" })];
    const completedF1 = await start("exit0", { lot: "f1" });
    const failedF2 = await start("exit3", { lot: "f2" });
    const newer: string[] = [];
    for (let i = 0; i < 50; i++) newer.push(await start("exit0"));
    const all = [...failedF1, completedF1, failedF2, ...newer];
    await waitFor(async () => (await Promise.all(all.map(async (id) => (await d.get(`/v1/tasks/${id}`)).exitTime))).every(Boolean), 20_000);
    const rows = () => d.page.locator("#task-table tbody tr").evaluateAll((els) => els.map((el) => el.getAttribute("data-task")!));
    const badges = () => d.page.locator("#task-table tbody tr .badge").allTextContents();
    const label = d.page.locator("#task-label");
    const applyLabel = async (text: string) => {
      await label.fill(text);
      await label.press("Enter");
    };
    // Every status: the 50 newest, which the labelled tasks are older than; Show more brings them.
    await d.page.reload(); // rather than wait for the next poll, up to 10 s away while nothing runs
    await waitFor(async () => (await rows()).includes(newer[49]!));
    expect(await rows()).not.toContain(failedF1[0]);
    await d.page.getByRole("button", { name: "Show more" }).click();
    await waitFor(async () => (await rows()).includes(failedF1[0]!));
    // Failed ones only, of any label.
    await d.page.getByLabel("Show").selectOption("failed");
    await waitFor(async () => (await rows()).includes(failedF2) && !(await rows()).includes(completedF1));
    expect(new Set(await badges())).toEqual(new Set(["failed"]));
    // And with a label.
    await applyLabel("lot=f1");
    await waitFor(async () => (await rows()).toSorted().join() === failedF1.toSorted().join());
    // A label the API refuses: its 400 shown, the field marked, nothing listed; a good one clears them.
    await applyLabel("nonsense");
    await waitText(d.page.locator("#alert"), "must be name=value");
    expect([await rows(), await label.getAttribute("aria-invalid")]).toEqual([[], "true"]);
    await applyLabel("lot=f2");
    await waitFor(async () => (await rows()).join() === failedF2);
    expect([await d.page.locator("#alert").isHidden(), await label.getAttribute("aria-invalid")]).toEqual([true, null]);
    // Nothing matching says so.
    await d.page.getByLabel("Show").selectOption("completed");
    await d.page.locator("#tasks-none").waitFor({ state: "visible" });
    expect(await rows()).toEqual([]);
    // Back to every task, for the tests after this one.
    await applyLabel("");
    await d.page.getByLabel("Show").selectOption("all");
    await waitFor(async () => (await rows()).includes(newer[49]!));
    expect(await d.page.locator("#tasks-none").isHidden()).toBe(true);
  }, 60_000);

  test("Delete these deletes every ended task the filter shows, after confirmation; running ones and others stay", async () => {
    const start = async (provider: string, lot: string) => {
      const res = await fetch(`${d.base}/v1/tasks`, { method: "POST", headers: authorized, body: JSON.stringify({ agent: "purged", task: "x", provider, labels: { lot } }) });
      return (await res.json()).taskId as string;
    };
    const ended = [await start("exit3", "p1"), await start("exit0", "p1"), await start("exit3", "p1")];
    const otherLot = await start("exit3", "p2");
    const running = await start("sleeper", "p1");
    await waitFor(async () => (await Promise.all([...ended, otherLot].map(async (id) => (await d.get(`/v1/tasks/${id}`)).exitTime))).every(Boolean), 20_000);
    const rows = () => d.page.locator("#task-table tbody tr").evaluateAll((els) => els.map((el) => el.getAttribute("data-task")!));
    const button = d.page.getByRole("button", { name: "Delete these" });
    const label = d.page.locator("#task-label");
    try {
      // Not offered for the whole list, nor for running tasks.
      expect(await button.isHidden()).toBe(true);
      await d.page.getByLabel("Show").selectOption("running,queued");
      await label.fill("lot=p1");
      await label.press("Enter");
      await waitFor(async () => (await rows()).join() === running);
      expect(await button.isHidden()).toBe(true);
      // Every ended task of the label: offered. Declined, nothing goes.
      await d.page.getByLabel("Show").selectOption("all");
      await waitFor(async () => (await rows()).length === 4);
      await d.page.locator(`#task-table tbody tr[data-task="${ended[0]}"]`).getByRole("button", { name: "Log" }).click();
      await waitText(d.page.locator("#log-status"), "failed");
      d.confirmAnswer = false;
      await button.click();
      await waitFor(() => d.dialogs.at(-1)?.startsWith("Delete every completed, failed, stopped task labelled lot=p1 (3 listed here, and any past the list)"));
      d.confirmAnswer = true;
      await Bun.sleep(300);
      expect([(await d.get(`/v1/tasks/${ended[0]}`)).status, (await rows()).length]).toEqual(["failed", 4]);
      // Accepted: the three go, with the log panel that showed one; the running one and the other lot stay.
      await button.click();
      await waitText(d.page.locator("#tasks-purged"), "Deleted 3 tasks.");
      await waitFor(async () => (await rows()).join() === running);
      expect(await d.page.locator("#log-panel").isHidden()).toBe(true);
      for (const id of ended) expect((await fetch(`${d.base}/v1/tasks/${id}`, { headers: authorized })).status).toBe(404);
      expect((await d.get(`/v1/tasks/${otherLot}`)).status).toBe("failed");
      expect((await d.get(`/v1/tasks/${running}`)).status).toBe("running");
      // Only the failed of a lot, when Show says failed.
      await applyFilter("failed", "lot=p2");
      await waitFor(async () => (await rows()).join() === otherLot);
      await button.click();
      await waitText(d.page.locator("#tasks-purged"), "Deleted 1 task.");
      await d.page.locator("#tasks-none").waitFor({ state: "visible" });
    } finally {
      // Back to every task, for the tests after this one; the message of the last filter goes.
      await fetch(`${d.base}/v1/tasks/${running}`, { method: "DELETE", headers: authorized });
      d.confirmAnswer = true;
      await applyFilter("all", "");
    }
    expect([await button.isHidden(), await d.page.locator("#tasks-purged").textContent()]).toEqual([true, ""]);

    async function applyFilter(status: string, text: string) {
      await d.page.getByLabel("Show").selectOption(status);
      await label.fill(text);
      await label.press("Enter");
    }
  }, 60_000);

  test("while no task runs the task list is asked for every 10 s, not every 3 s; one started elsewhere still shows within 5 s", async () => {
    await waitFor(async () => (await d.get(`/v1/tasks`)).count === 0, 15_000);
    await Bun.sleep(5500); // the dashboard hears it from /v1/status too
    const asked = () => d.requests.filter((r) => r === "GET /v1/tasks").length;
    const before = asked();
    await Bun.sleep(7000);
    expect(asked() - before).toBeLessThanOrEqual(1);
    // /v1/status (every 5 s) counts it running, and the list is asked for at once (not at the next 3 s tick).
    const id = await d.startTask("sleeper", "elsewhere");
    const row = d.page.locator(`#task-table tbody tr[data-task="${id}"]`);
    await row.waitFor({ timeout: 6_000 });
    await fetch(`${d.base}/v1/tasks/${id}`, { method: "DELETE", headers: authorized });
    await waitText(row.locator(".badge"), "stopped");
  }, 40_000);

  test("the computer's clock set back an hour (NTP, waking from sleep) does not stall the page: an idle task list is still asked for every 10 s", async () => {
    await waitFor(async () => (await d.get(`/v1/tasks?status=running`)).count === 0, 15_000);
    const asked = () => d.requests.filter((r) => r === "GET /v1/tasks").length;
    await d.page.evaluate(() => {
      const real = Date.now;
      Object.assign(window, { realNow: real });
      Date.now = () => real() - 3_600_000;
    });
    try {
      const before = asked();
      await Bun.sleep(12_500); // one 10 s period and a 3 s tick
      expect(asked() - before).toBeGreaterThanOrEqual(1);
    } finally {
      await d.page.evaluate(() => (Date.now = (window as unknown as { realNow: () => number }).realNow));
    }
  }, 30_000);
});
