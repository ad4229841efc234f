/** Sending an ended task's or workflow's notification again: after a receiver's long outage, or to a new URL. */
import { ApiError } from "../http/errors.ts";
import type { Delivery, WebhookStore } from "./webhook-store.ts";

/**
 * Makes the notification of `subject` due now, to `url` or else the URL it has: a 409 while it has
 * not ended, or while its notification is still being sent (an attempt may be under way); a 422
 * when there is no URL to send it to. `what` names it in those messages ("Task <id>").
 */
export function resendWebhook(store: WebhookStore, subject: string, what: string, record: { webhookUrl: string | null; ended: boolean }, url: string | undefined): Delivery {
  if (!record.ended) throw new ApiError(409, `${what} has not ended yet: its webhook goes when it does`);
  const target = url ?? record.webhookUrl;
  if (!target) throw new ApiError(422, `${what} has no webhookUrl: give one as url`);
  const current = store.get(subject);
  if (current?.status === "sending") {
    const next = current.nextAttemptAt === null ? "" : `; its next attempt is at ${new Date(current.nextAttemptAt).toISOString()}`;
    throw new ApiError(409, `${what}'s webhook is still being sent (${current.attempts} attempts so far${next})`, { extra: { currentStatus: "sending" } });
  }
  return store.resend(subject, target, Date.now());
}
