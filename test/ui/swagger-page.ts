/** Driving Swagger UI in a browser test: authorize with a key, then Try it out on one operation. */
import type { Page } from "playwright-core";

/**
 * Authorizes with `key` (bearerAuth, the first scheme) and executes `operationId` (under `tag`)
 * with its defaults; resolves with the status line and body Swagger UI shows.
 */
export async function tryItOut(page: Page, key: string, tag: string, operationId: string): Promise<{ status: string; body: string }> {
  await page.locator("button.authorize").first().click();
  await page.locator(".modal-ux input").first().fill(key);
  await page.locator(".modal-ux button.authorize").first().click();
  await page.locator(".modal-ux button.btn-done").first().click();
  const op = page.locator(`#operations-${tag}-${operationId}`);
  await op.locator(".opblock-summary").click();
  await op.getByRole("button", { name: "Try it out" }).click();
  await op.getByRole("button", { name: "Execute" }).click();
  const status = op.locator(".live-responses-table .response .response-col_status").first();
  await status.waitFor({ timeout: 10_000 });
  return { status: (await status.textContent())?.trim() ?? "", body: (await op.locator(".live-responses-table .microlight").first().textContent()) ?? "" };
}
