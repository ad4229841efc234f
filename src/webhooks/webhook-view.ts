/** The `webhookUrl` a request may give, and the `webhook` a task or workflow shows. */
import { z } from "@hono/zod-openapi";
import type { Delivery } from "./webhook-store.ts";
import { redactUrl } from "../outbound.ts";

/** Where a notification may go: an absolute http(s) URL. */
const webhookUrl = z
  .string()
  .max(2048)
  .refine((v) => {
    try {
      const u = new URL(v);
      return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
    } catch {
      return false;
    }
  }, "must be an absolute http:// or https:// URL");

/** The request field: where the end of the task or workflow is POSTed. */
export function webhookUrlField(description: string) {
  return webhookUrl.nullable().optional().openapi({ description, example: "https://ci.example.com/hooks/agent-done" });
}

/** The body of a request to send an ended one's notification again. */
export const ResendWebhookBody = z
  .object({
    url: webhookUrl.optional().openapi({ description: "Send it here, and make this its webhookUrl. Default: its own webhookUrl", example: "https://ci.example.com/hooks/agent-done" }),
  })
  .strict()
  .openapi("ResendWebhookRequest");

export const WebhookSchema = z
  .object({
    url: z.string().openapi({ description: "The webhookUrl of the request (a password in it shown as ***)" }),
    status: z.enum(["waiting", "sending", "delivered", "failed"]).openapi({
      description: "`waiting` for the end; `sending` (its next attempt at nextAttemptAt); `delivered` (a 2xx came back); `failed` (given up after 8 attempts, or a 410)",
    }),
    attempts: z.number().int(),
    lastAttemptAt: z.string().nullable().openapi({ format: "date-time" }),
    nextAttemptAt: z.string().nullable().openapi({ format: "date-time" }),
    lastError: z.string().nullable().openapi({ description: "Why the last attempt failed (`HTTP 500`, `No answer within 15 s`, …)" }),
    deliveredAt: z.string().nullable().openapi({ format: "date-time" }),
  })
  .nullable()
  .openapi("Webhook", { description: "The notification of its end to webhookUrl; null without one" });

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The `webhook` of a task or workflow: null without a webhookUrl, `waiting` until it ends. */
export function webhookView(url: string | null, d: Delivery | undefined): z.infer<typeof WebhookSchema> {
  if (url === null) return null;
  return {
    url: redactUrl(url),
    status: d?.status ?? "waiting",
    attempts: d?.attempts ?? 0,
    lastAttemptAt: iso(d?.lastAttemptAt ?? null),
    nextAttemptAt: iso(d?.nextAttemptAt ?? null),
    lastError: d?.lastError ?? null,
    deliveredAt: iso(d?.deliveredAt ?? null),
  };
}
