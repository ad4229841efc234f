/**
 * Swagger UI at /docs in headless Chromium: it renders every operation under the page's CSP, its
 * Authorize button takes the key, and "Try it out" calls the API. Nothing the browser asks for on
 * its own (such as /favicon.ico) fails.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import pino from "pino";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { createServer, type RunningServer } from "../../src/server.ts";
import { ensureProgram } from "../debian.ts";
import { KEY, tempDir, testConfig } from "../helpers.ts";
import { tryItOut } from "./swagger-page.ts";

let server: RunningServer;
let context: BrowserContext;
let page: Page;
const consoleErrors: string[] = [];
/** Requests the server answered with 4xx or 5xx, from its access log. */
const failed: string[] = [];

beforeAll(async () => {
  const executablePath = ensureProgram("chromium", "chromium");
  const logger = pino({ level: "info" }, { write: (line: string) => { const l = JSON.parse(line); if (l.status >= 400) failed.push(`${l.status} ${l.method} ${l.path ?? l.route}`); } });
  server = await createServer(testConfig({ LOG_LEVEL: "info" }), logger);
  context = await chromium.launchPersistentContext(tempDir("chromium-docs-"), {
    executablePath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
  page.on("pageerror", (e) => consoleErrors.push(e.message));
}, 600_000);

afterAll(async () => {
  await context?.close();
  await server?.shutdown();
});

describe("Swagger UI", () => {
  test("renders every operation, authorizes with the key, and Try it out gets a 200", async () => {
    await page.goto(`http://127.0.0.1:${server.port}/docs`);
    await page.locator("#operations-Tasks-listTasks").waitFor({ timeout: 15_000 });
    const doc = await (await fetch(`http://127.0.0.1:${server.port}/docs/json`)).json();
    const operations = Object.values(doc.paths as Record<string, Record<string, unknown>>).reduce((n, methods) => n + Object.keys(methods).length, 0);
    expect(await page.locator(".opblock").count()).toBe(operations);

    const answer = await tryItOut(page, KEY, "Tasks", "listTasks");
    expect(answer.status).toStartWith("200");
    expect(answer.body).toContain('"tasks"');
  }, 60_000);

  test("the browser met no error: no CSP violation, no failed request (the favicon included)", async () => {
    await Bun.sleep(200); // a favicon request may trail the page
    expect(consoleErrors).toEqual([]);
    expect(failed).toEqual([]);
  });
});
