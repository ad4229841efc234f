/**
 * Webhook signatures as the Standard Webhooks specification (standardwebhooks.com) defines them, so
 * that a receiver can check them with that project's libraries (`new Webhook(secret).verify(...)`)
 * or a few lines of its own:
 *
 *   webhook-signature: v1,<base64 HMAC-SHA256 over "<webhook-id>.<webhook-timestamp>.<body>">
 *
 * keyed with the secret's bytes: the base64 after its `whsec_` prefix.
 */
import { createHmac } from "node:crypto";
import { z } from "zod";

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** WEBHOOK_SECRET: `whsec_` (optional) and base64 of 24 to 64 random bytes; parsed to those bytes. */
export const webhookSecret = z
  .string()
  .trim()
  .transform((v, ctx) => {
    const b64 = v.startsWith("whsec_") ? v.slice("whsec_".length) : v;
    const bytes = BASE64.test(b64) ? Buffer.from(b64, "base64") : undefined;
    if (!bytes || bytes.length < 24 || bytes.length > 64) {
      ctx.addIssue({ code: "custom", message: 'must be "whsec_" and the base64 of 24 to 64 random bytes, e.g. "whsec_$(openssl rand -base64 32)"' });
      return z.NEVER;
    }
    return new Uint8Array(bytes);
  });

/** The `webhook-signature` header of one attempt. */
export function signature(key: Uint8Array, id: string, timestampSec: number, body: string): string {
  return `v1,${createHmac("sha256", key).update(`${id}.${timestampSec}.${body}`).digest("base64")}`;
}
