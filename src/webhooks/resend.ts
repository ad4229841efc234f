/** Sending an ended task's or workflow's notification again: after a receiver's long outage, or to a new URL. */
import type { Logger } from "pino";
import { ApiError } from "../http/errors.ts";
import type { Actor } from "../http/types.ts";
import { urlForLog } from "./webhook-sender.ts";
import type { WebhookStore } from "./webhook-store.ts";
import { webhookView } from "./webhook-view.ts";

/** The task or workflow whose notification goes again. */
export interface ResendTarget {
  /** `task:<id>` or `workflow:<id>`. */
  subject: string;
  /** How messages name it ("Task <id>"). */
  what: string;
  /** Its id, as the audit line names it (`{ taskId }`). */
  ids: Record<string, string>;
  webhookUrl: string | null;
  ended: boolean;
  /** Records a new webhookUrl on it. */
  setUrl(url: string): void;
}

/**
 * Makes the notification due now, to `url` (which becomes its webhookUrl) or else the URL it has; its
 * webhook's state. A 409 while it has not ended, or while its notification is still being sent (an
 * attempt may be under way); a 422 when there is no URL to send it to.
 */
export function resendWebhook(o: { store: WebhookStore; logger: Logger }, target: ResendTarget, url: string | undefined, who: Actor | undefined) {
  const { subject, what } = target;
  if (!target.ended) throw new ApiError(409, `${what} has not ended yet: its webhook goes when it does`);
  const to = url ?? target.webhookUrl;
  if (!to) throw new ApiError(422, `${what} has no webhookUrl: give one as url`);
  const current = o.store.get(subject);
  if (current?.status === "sending") {
    const next = current.nextAttemptAt === null ? "" : `; its next attempt is at ${new Date(current.nextAttemptAt).toISOString()}`;
    throw new ApiError(409, `${what}'s webhook is still being sent (${current.attempts} attempts so far${next})`, { extra: { currentStatus: "sending" } });
  }
  const delivery = o.store.resend(subject, to, Date.now());
  if (to !== target.webhookUrl) target.setUrl(to);
  o.logger.info({ audit: true, action: "webhook.resend", reqId: who?.reqId, keyId: who?.keyId, ...target.ids, url: urlForLog(to) }, "webhook to be sent again");
  return webhookView(to, delivery)!;
}
