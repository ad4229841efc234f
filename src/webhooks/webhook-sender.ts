/**
 * Sends the webhook outbox: each due notification is POSTed to its URL, signed (signature.ts), and
 * tried again on failure after 5 s, 30 s, 2 min, 10 min, 30 min, 1 h and 3 h (or later, when the
 * receiver's Retry-After asks for it), then given up. Delivery is at least once: an attempt that
 * was under way at shutdown is made again at the next start, with the same `webhook-id`.
 */
import type { Logger } from "pino";
import { retryAfterMs } from "../outbound.ts";
import type { Metrics } from "../metrics.ts";
import { signature } from "./signature.ts";
import type { Delivery, WebhookStore } from "./webhook-store.ts";

/** The body of a notification: `type` is `task.<status>` or `workflow.<status>`. */
export interface WebhookEvent {
  type: string;
  /** When the task or workflow ended. */
  timestamp: string;
  data: unknown;
}

/** Delays before the second, third, … attempt: eight attempts over about 4.7 hours. */
export const RETRY_DELAYS_MS: readonly number[] = [5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 10_800_000];

export interface WebhookSenderOptions {
  store: WebhookStore;
  /** The notification of a subject (`task:<id>`), or undefined once its task or workflow is gone. */
  describe: (subject: string) => WebhookEvent | undefined | Promise<WebhookEvent | undefined>;
  /** WEBHOOK_SECRET's bytes; undefined: notifications go unsigned. */
  secret: Uint8Array | undefined;
  userAgent: string;
  logger: Logger;
  metrics: Metrics;
  /** How often the outbox is looked at (tests shorten it). */
  pollMs?: number;
  /** Longest wait for a receiver's answer. */
  timeoutMs?: number;
  retryDelaysMs?: readonly number[];
  /** Most notifications in flight at once. */
  concurrency?: number;
}

/** How long a notification whose attempt could not be recorded waits before the next one. */
const HOLD_AFTER_ERROR_MS = 60_000;

type Outcome = { ok: true; status: number } | { ok: false; error: string; kind: "http_error" | "network_error" | "timeout"; retryAfterMs?: number; final?: boolean };

/** Where a notification goes, for logs: without the credentials or query a URL may carry. */
export function urlForLog(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return "(invalid URL)";
  }
}

export class WebhookSender {
  readonly #o: WebhookSenderOptions;
  readonly #inFlight = new Map<string, AbortController>();
  /** Notifications whose attempt could not be recorded (a full disk), held back until then (performance.now() ms) rather than sent every poll. */
  readonly #held = new Map<string, number>();
  readonly #delays: readonly number[];
  readonly #timeoutMs: number;
  #timer: Timer | undefined;
  #kicked = false;
  #closed = false;

  constructor(options: WebhookSenderOptions) {
    this.#o = options;
    this.#delays = options.retryDelaysMs ?? RETRY_DELAYS_MS;
    this.#timeoutMs = options.timeoutMs ?? 15_000;
  }

  start() {
    this.#timer = setInterval(() => this.poll(), this.#o.pollMs ?? 1000);
    this.#timer.unref?.();
    this.poll();
  }

  /**
   * Looks at the outbox as soon as the current work is done: an end was just recorded, and its
   * notification need not wait for the next poll. Calls in one turn make one look.
   */
  kick() {
    if (this.#kicked || this.#closed) return;
    this.#kicked = true;
    setTimeout(() => {
      this.#kicked = false;
      this.poll();
    }, 0);
  }

  /** Sends what is due now (also called on a timer). */
  poll() {
    if (this.#closed) return;
    try {
      const room = (this.#o.concurrency ?? 8) - this.#inFlight.size;
      this.#o.metrics.webhooksSending.set(this.#o.store.sendingCount());
      if (room <= 0) return;
      const now = Date.now();
      const mono = performance.now();
      for (const [subject, until] of this.#held) if (until <= mono) this.#held.delete(subject);
      let started = 0;
      for (const d of this.#o.store.due(now, room + this.#inFlight.size + this.#held.size)) {
        if (started === room) break;
        if (this.#inFlight.has(d.subject) || this.#held.has(d.subject)) continue;
        started++;
        void this.#attempt(d);
      }
    } catch (err) {
      this.#o.logger.error({ err }, "reading the webhook outbox failed; trying again at the next poll");
    }
  }

  async #attempt(d: Delivery) {
    const abort = new AbortController();
    this.#inFlight.set(d.subject, abort);
    try {
      const event = await this.#o.describe(d.subject);
      if (this.#closed) return;
      if (!event) return this.#o.store.delete(d.subject); // its task or workflow is gone (retention)
      const outcome = await this.#post(d, JSON.stringify(event), abort.signal);
      // At shutdown the attempt is left as it was: made again at the next start.
      if (this.#closed || !outcome) return;
      this.#record(d, event.type, outcome);
    } catch (err) {
      if (this.#closed) return;
      this.#held.set(d.subject, performance.now() + HOLD_AFTER_ERROR_MS);
      this.#o.logger.error({ err, subject: d.subject }, `sending a webhook failed unexpectedly; trying again in ${HOLD_AFTER_ERROR_MS / 1000} s`);
    } finally {
      this.#inFlight.delete(d.subject);
      // Its slot is free: the next one due goes now, not at the next poll (a batch of a thousand ends
      // would otherwise go at `concurrency` a poll).
      this.poll();
    }
  }

  /** One POST; undefined when shutdown cut it short. */
  async #post(d: Delivery, body: string, stop: AbortSignal): Promise<Outcome | undefined> {
    const timestamp = Math.floor(Date.now() / 1000);
    const headers: Record<string, string> = {
      "Content-Type": "application/json",
      "User-Agent": this.#o.userAgent,
      "webhook-id": d.webhookId,
      "webhook-timestamp": String(timestamp),
    };
    if (this.#o.secret) headers["webhook-signature"] = signature(this.#o.secret, d.webhookId, timestamp, body);
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    try {
      // Not followed: a redirect turns a POST into a GET, and the receiver would get no notification.
      const res = await fetch(d.url, { method: "POST", headers, body, redirect: "manual", signal: AbortSignal.any([stop, timeout]) });
      await res.body?.cancel().catch(() => {});
      const status = res.status;
      if (status >= 200 && status < 300) return { ok: true, status };
      if (status >= 300 && status < 400) {
        return { ok: false, kind: "http_error", error: `HTTP ${status}: redirected to ${res.headers.get("location") ?? "nowhere"}; give the final address as webhookUrl` };
      }
      // The receiver says this endpoint is gone for good: no more attempts, as Standard Webhooks asks.
      if (status === 410) return { ok: false, kind: "http_error", error: "HTTP 410: the receiver asked for no more notifications", final: true };
      const later = status === 429 || status === 503 ? retryAfterMs(res.headers.get("retry-after")) : undefined;
      return { ok: false, kind: "http_error", error: `HTTP ${status}`, retryAfterMs: later };
    } catch (err) {
      if (stop.aborted) return undefined;
      if (timeout.aborted) return { ok: false, kind: "timeout", error: `No answer within ${this.#timeoutMs / 1000} s` };
      return { ok: false, kind: "network_error", error: networkErrorText(err).slice(0, 500) };
    }
  }

  #record(d: Delivery, type: string, outcome: Outcome) {
    const now = Date.now();
    const attempts = d.attempts + 1;
    const log = { subject: d.subject, webhookId: d.webhookId, type, url: urlForLog(d.url), attempts };
    const m = this.#o.metrics;
    m.webhookAttempts.inc({ outcome: outcome.ok ? "success" : outcome.kind });
    if (outcome.ok) {
      this.#o.store.update(d.subject, { status: "delivered", attempts, lastAttemptAt: now, nextAttemptAt: null, deliveredAt: now, lastError: null });
      m.webhookDeliveries.inc({ status: "delivered" });
      this.#o.logger.info({ ...log, status: outcome.status }, "webhook delivered");
      return;
    }
    if (outcome.final || attempts > this.#delays.length) {
      this.#o.store.update(d.subject, { status: "failed", attempts, lastAttemptAt: now, nextAttemptAt: null, lastError: outcome.error });
      m.webhookDeliveries.inc({ status: "failed" });
      this.#o.logger.error({ ...log, error: outcome.error }, "webhook not delivered; giving up");
      return;
    }
    const delayMs = Math.max(this.#delays[attempts - 1]!, outcome.retryAfterMs ?? 0);
    this.#o.store.update(d.subject, { attempts, lastAttemptAt: now, nextAttemptAt: now + delayMs, lastError: outcome.error });
    this.#o.logger.warn({ ...log, error: outcome.error, retryInSeconds: delayMs / 1000 }, "webhook not delivered; trying again later");
  }

  /** Stops sending; notifications under way are cut short and made again at the next start. */
  close() {
    this.#closed = true;
    clearInterval(this.#timer);
    for (const a of this.#inFlight.values()) a.abort();
  }
}

/**
 * A failed fetch as one line: its code, unless the message already names it (Bun's ECONNREFUSED
 * message starts with the code; its ENOTFOUND one has it inside).
 */
export function networkErrorText(err: unknown): string {
  const { code, message } = err as { code?: unknown; message?: unknown };
  const text = typeof message === "string" ? message : String(err);
  return typeof code === "string" && !text.includes(code) ? `${code}: ${text}` : text;
}
