/** Helpers for the API's own outgoing requests (ComfyUI backends, webhooks): what an answer asks, what a URL may show. */

/** The longest Retry-After honoured: a gateway asking for more is asked again then. */
const MAX_RETRY_AFTER_MS = 10 * 60_000;

/** A Retry-After header (seconds, or an HTTP date) in milliseconds, at most 10 minutes; undefined without a valid one. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  // Seconds, or an HTTP date (IMF-fixdate: "Fri, 27 Nov 2026 12:00:30 GMT"); Date.parse alone takes "1.5" for a date.
  const ms = /^\s*\d+\s*$/.test(header) ? Number(header) * 1000 : / GMT\s*$/.test(header) ? Date.parse(header) - now : NaN;
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS) : undefined;
}

/**
 * `url` as it may be shown (logs, /v1/status, error messages): a password in it (a proxy's basic
 * authentication, which fetch and WebSocket send from the URL) replaced by "***".
 */
export function redactUrl(url: string): string {
  const parsed = URL.parse(url);
  if (!parsed?.password) return url;
  parsed.password = "***";
  // href adds a "/" to a bare origin; the configured URL has its trailing slashes dropped.
  return url.endsWith("/") ? parsed.href : parsed.href.replace(/\/$/, "");
}
