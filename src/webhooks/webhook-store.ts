/**
 * The webhook outbox (bun:sqlite, the state database). A row is one notification: the end of one
 * task or workflow, for the URL its request gave. Rows are made by triggers in the same write that
 * records the end, so no end is missed, whichever path records it (a process exit, a stop, a start
 * that failed, an end found after a restart, ComfyUI's history), and none is lost if the API dies
 * right after. A row goes with its task or workflow (retention).
 */
import type { Database } from "bun:sqlite";
import { bound, updateRow } from "../db.ts";

/** `sending`: due, or to be tried again; `delivered`: a 2xx came back; `failed`: given up. */
export type DeliveryStatus = "sending" | "delivered" | "failed";

export interface Delivery {
  /** `task:<taskId>` or `workflow:<workflowId>`: one notification per end. */
  subject: string;
  /** The `webhook-id` header, the same on every attempt, so a receiver can drop a repeat. */
  webhookId: string;
  url: string;
  status: DeliveryStatus;
  attempts: number;
  /** Epoch ms; null once delivered or failed. */
  nextAttemptAt: number | null;
  lastAttemptAt: number | null;
  lastError: string | null;
  deliveredAt: number | null;
  createdAt: number;
}

/**
 * A table whose rows end once and may ask for a webhook: its id column, the column an end sets
 * (from NULL), and its `webhookUrl` column (NULL: no webhook).
 */
export interface WebhookSource {
  kind: string;
  table: string;
  id: string;
  endTime: string;
}

/**
 * Makes a trigger, or replaces one an earlier version made differently. Nothing is written when it
 * is as wanted: the API must start on a full disk (and record its tasks' ends once there is room).
 */
function ensureTrigger(db: Database, name: string, sql: string) {
  const found = db.query("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?").get(name) as { sql: string } | null;
  if (found?.sql === sql) return;
  db.transaction(() => {
    db.exec(`DROP TRIGGER IF EXISTS ${name}`);
    db.exec(sql);
  })();
}

export class WebhookStore {
  readonly #db: Database;

  /** The sources' tables must exist already: the triggers are made on them. */
  constructor(db: Database, sources: readonly WebhookSource[]) {
    this.#db = db;
    db.exec(`CREATE TABLE IF NOT EXISTS webhook_deliveries (
      subject TEXT PRIMARY KEY, webhookId TEXT NOT NULL, url TEXT NOT NULL, status TEXT NOT NULL,
      attempts INTEGER NOT NULL, nextAttemptAt INTEGER, lastAttemptAt INTEGER, lastError TEXT,
      deliveredAt INTEGER, createdAt INTEGER NOT NULL)`);
    db.exec("CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (nextAttemptAt) WHERE status = 'sending'");
    for (const s of sources) {
      const subject = `'${s.kind}:' || NEW.${s.id}`;
      const insert = `INSERT OR IGNORE INTO webhook_deliveries (subject, webhookId, url, status, attempts, nextAttemptAt, createdAt)
        VALUES (${subject}, 'msg_' || lower(hex(randomblob(16))), NEW.webhookUrl, 'sending', 0, NEW.${s.endTime}, NEW.${s.endTime});`;
      const triggers = {
        end: `CREATE TRIGGER ${s.table}_webhook_end AFTER UPDATE OF ${s.endTime} ON ${s.table}
        WHEN OLD.${s.endTime} IS NULL AND NEW.${s.endTime} IS NOT NULL AND NEW.webhookUrl IS NOT NULL BEGIN ${insert} END`,
        // A task that failed to start is recorded ended at once.
        ended_at_insert: `CREATE TRIGGER ${s.table}_webhook_ended_at_insert AFTER INSERT ON ${s.table}
        WHEN NEW.${s.endTime} IS NOT NULL AND NEW.webhookUrl IS NOT NULL BEGIN ${insert} END`,
        gone: `CREATE TRIGGER ${s.table}_webhook_gone AFTER DELETE ON ${s.table}
        BEGIN DELETE FROM webhook_deliveries WHERE subject = '${s.kind}:' || OLD.${s.id}; END`,
      };
      for (const [name, sql] of Object.entries(triggers)) ensureTrigger(db, `${s.table}_webhook_${name}`, sql);
    }
  }

  get(subject: string): Delivery | undefined {
    return (this.#db.query("SELECT * FROM webhook_deliveries WHERE subject = ?").get(subject) as Delivery | null) ?? undefined;
  }

  /** The deliveries of these subjects (a page of a list), by subject. */
  getMany(subjects: readonly string[]): Map<string, Delivery> {
    const out = new Map<string, Delivery>();
    // In chunks: SQLite takes at most 32,766 parameters.
    for (let i = 0; i < subjects.length; i += 500) {
      const chunk = subjects.slice(i, i + 500);
      const rows = this.#db.query(`SELECT * FROM webhook_deliveries WHERE subject IN (${chunk.map(() => "?").join(",")})`).all(...chunk) as Delivery[];
      for (const r of rows) out.set(r.subject, r);
    }
    return out;
  }

  /** Deliveries due by `now`, the earliest first. */
  due(now: number, limit: number): Delivery[] {
    return this.#db
      .query(`SELECT * FROM webhook_deliveries WHERE status = 'sending' AND nextAttemptAt <= ${bound("?1", "INTEGER")} ORDER BY nextAttemptAt LIMIT ${bound("?2", "INTEGER")}`)
      .all(now, limit) as Delivery[];
  }

  /** Deliveries not yet delivered nor given up (the gauge). */
  sendingCount(): number {
    return (this.#db.query("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'sending'").get() as { n: number }).n;
  }

  update(subject: string, fields: Partial<Omit<Delivery, "subject" | "webhookId" | "createdAt">>) {
    updateRow(this.#db, "webhook_deliveries", "subject", subject, fields);
  }

  /** Makes the notification of `subject` due now, to `url`, as a new one (its webhook-id kept, or made). */
  resend(subject: string, url: string, now: number): Delivery {
    this.#db
      .query(
        `INSERT INTO webhook_deliveries (subject, webhookId, url, status, attempts, nextAttemptAt, createdAt)
         VALUES (?1, 'msg_' || lower(hex(randomblob(16))), ?2, 'sending', 0, ?3, ?3)
         ON CONFLICT (subject) DO UPDATE SET url = excluded.url, status = 'sending', attempts = 0,
           nextAttemptAt = excluded.nextAttemptAt, lastAttemptAt = NULL, lastError = NULL, deliveredAt = NULL`,
      )
      .run(subject, url, now);
    return this.get(subject)!;
  }

  delete(subject: string) {
    this.#db.query("DELETE FROM webhook_deliveries WHERE subject = ?").run(subject);
  }
}
