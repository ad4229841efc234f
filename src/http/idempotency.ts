/**
 * Idempotency-Key (IETF draft-ietf-httpapi-idempotency-key-header) for the POSTs that start work.
 * A client that retries after a timeout or a dropped connection sends the same key and gets the
 * first answer again, not a second agent task or workflow. Keys are scoped by API key and route and
 * kept IDEMPOTENCY_TTL_MS. Only successful answers are kept: a refused request (a 503 while all
 * task slots are busy, a 400) can be retried with the same key once the cause is gone.
 */
import type { Database } from "bun:sqlite";
import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ApiError } from "./errors.ts";
import type { AppEnv } from "./types.ts";

export const IDEMPOTENCY_TTL_MS = 24 * 3_600_000;
/** A claim this old that never completed was left by a crash of the API: it no longer blocks. */
const ABANDONED_MS = 60_000;
/** What the draft allows: a short string of visible ASCII. */
const VALID_KEY = /^[\x21-\x7e]{1,255}$/;

/** The request header, as the routes that honour it declare it (and so validate it). */
export const IdempotencyHeaders = z.object({
  "idempotency-key": z
    .string()
    .regex(VALID_KEY, "must be 1 to 255 visible ASCII characters")
    .optional()
    .openapi({ description: "Any unique string (a UUID): a retry with the same key and body gets the first answer again instead of starting more work (kept 24 h)" }),
});

export type Claim = { state: "new" } | { state: "done"; status: number; body: string } | { state: "busy" } | { state: "mismatch" };

/** Keys and the answers they got, in the state database (so a restart of the API forgets none). */
export class IdempotencyStore {
  readonly #db: Database;
  readonly #now: () => number;

  constructor(db: Database, now: () => number = Date.now) {
    this.#db = db;
    this.#now = now;
    db.exec(`CREATE TABLE IF NOT EXISTS idempotency (
      scope TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL, status INTEGER, body TEXT,
      createdAt INTEGER NOT NULL, PRIMARY KEY (scope, key))`);
    db.exec("CREATE INDEX IF NOT EXISTS idempotency_by_time ON idempotency (createdAt)");
  }

  /**
   * Claims `key` for a request with this `fingerprint`: "new" (go ahead, then `complete` or
   * `release`), "done" (the answer to replay), "busy" (the first request is still running) or
   * "mismatch" (the key was used for a different request).
   */
  claim(scope: string, key: string, fingerprint: string): Claim {
    const now = this.#now();
    return this.#db.transaction((): Claim => {
      this.#db.query("DELETE FROM idempotency WHERE createdAt < ?").run(now - IDEMPOTENCY_TTL_MS);
      this.#db.query("DELETE FROM idempotency WHERE status IS NULL AND createdAt < ?").run(now - ABANDONED_MS);
      const row = this.#db.query("SELECT fingerprint, status, body FROM idempotency WHERE scope = ? AND key = ?").get(scope, key) as
        | { fingerprint: string; status: number | null; body: string | null }
        | null;
      if (!row) {
        this.#db.query("INSERT INTO idempotency (scope, key, fingerprint, createdAt) VALUES (?, ?, ?, ?)").run(scope, key, fingerprint, now);
        return { state: "new" };
      }
      if (row.fingerprint !== fingerprint) return { state: "mismatch" };
      if (row.status === null) return { state: "busy" };
      return { state: "done", status: row.status, body: row.body ?? "null" };
    })();
  }

  complete(scope: string, key: string, status: number, body: string) {
    this.#db.query("UPDATE idempotency SET status = ?, body = ? WHERE scope = ? AND key = ?").run(status, body, scope, key);
  }

  release(scope: string, key: string) {
    this.#db.query("DELETE FROM idempotency WHERE scope = ? AND key = ?").run(scope, key);
  }
}

/** What a handler answers: a status and a JSON body. */
export interface JsonAnswer {
  status: ContentfulStatusCode;
  body: unknown;
}

/**
 * Answers with `answer()`, once per Idempotency-Key when the request has one: a repeat with the
 * same body replays the first answer (with `Idempotent-Replayed: true`); the same key with another
 * body is a 422; a repeat while the first is still running is a 409. The route declares
 * IdempotencyHeaders, which validates the key.
 */
export async function idempotent(c: Context<AppEnv>, store: IdempotencyStore, request: unknown, answer: () => JsonAnswer | Promise<JsonAnswer>): Promise<Response> {
  const key = c.req.header("idempotency-key");
  if (key === undefined) {
    const r = await answer();
    return c.json(r.body as object, r.status);
  }
  const scope = `${c.get("keyId") ?? "-"} ${c.req.method} ${c.req.routePath}`;
  const fingerprint = Bun.hash(JSON.stringify(request)).toString(36);
  const claim = store.claim(scope, key, fingerprint);
  if (claim.state === "busy") throw new ApiError(409, "A request with this Idempotency-Key is still being processed; retry in a moment", { headers: { "Retry-After": "1" } });
  if (claim.state === "mismatch") throw new ApiError(422, "This Idempotency-Key was used for a different request; use a new key for a new request");
  if (claim.state === "done") {
    c.header("Idempotent-Replayed", "true");
    return c.json(JSON.parse(claim.body), claim.status as ContentfulStatusCode);
  }
  let r: JsonAnswer;
  try {
    r = await answer();
  } catch (err) {
    store.release(scope, key);
    throw err;
  }
  try {
    store.complete(scope, key, r.status, JSON.stringify(r.body));
  } catch (err) {
    // The work is done (a task runs): its answer matters more than remembering it. The claim
    // stays, so a retry within ABANDONED_MS is a 409 rather than a second start.
    c.get("logger")?.warn({ err, key }, "could not record the answer to an Idempotency-Key");
  }
  return c.json(r.body as object, r.status);
}
