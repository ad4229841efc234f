/** The one SQLite database under DATA_DIR, shared by the task and workflow stores. */
import { Database } from "bun:sqlite";

type Row = Record<string, string | number | null>;

/** Another process holds the state database: two servers on one DATA_DIR would both supervise its tasks. */
export class DataDirInUseError extends Error {}

/**
 * Opens (creating if needed) the state database in WAL mode, and keeps it to this process: in
 * EXCLUSIVE locking mode SQLite holds its file lock until the connection closes, so a second server
 * on the same DATA_DIR waits `busyTimeoutMs` (one that is shutting down may let go) and then fails
 * with DataDirInUseError. The OS drops the lock when a process dies, even by SIGKILL.
 */
export function openDatabase(path: string, busyTimeoutMs = 5000): Database {
  let db: Database;
  try {
    db = new Database(path, { create: true, strict: true });
  } catch (err) {
    // SQLite's own words name no file ("unable to open database file").
    throw new Error(`cannot open the state database ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    db.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}; PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;`);
    db.exec("BEGIN EXCLUSIVE; COMMIT;"); // takes the lock now rather than at the first write
  } catch (err) {
    db.close();
    const code = (err as { code?: string }).code ?? "";
    if (code.startsWith("SQLITE_BUSY")) {
      throw new DataDirInUseError(`${path} is in use by another process (another management-api on the same DATA_DIR?)`);
    }
    if (code === "SQLITE_NOTADB" || code.startsWith("SQLITE_CORRUPT")) {
      // SQLite's words alone ("file is not a database") leave the operator guessing what to do.
      throw new Error(
        `the state database ${path} is damaged (${(err as Error).message}). Restore it from a backup, or move it aside with its -wal and -shm files: the API then starts with no task or workflow records (task folders and logs stay where they are).`,
        { cause: err },
      );
    }
    throw new Error(`cannot use the state database ${path}: ${(err as Error).message}`, { cause: err });
  }
  return db;
}

/**
 * A bound parameter wrapped so that its value cannot steer the query plan. With Bun's SQLite
 * (3.54), a list query whose plan could depend on a bound value (an indexed `=` beside an ORDER BY,
 * a LIMIT) took about 10 µs per run on an empty table, 30 times the same query with its values in
 * CAST (bench: /v1/tasks). The results are the same; only the per-run planning goes.
 */
export function bound(param: string, type: "TEXT" | "INTEGER"): string {
  return `CAST(${param} AS ${type})`;
}

/**
 * An opaque paging cursor: the (time, id) of the last row of a page, for lists ordered newest first
 * by time, then id. Undefined for anything this API did not make.
 */
export function encodeCursor(time: number, id: string): string {
  return Buffer.from(`${time}:${id}`).toString("base64url");
}

export function decodeCursor(cursor: string): { time: number; id: string } | undefined {
  // Ids are UUIDs, or a table's rowid.
  const m = /^(\d+):([0-9a-f-]{36}|\d{1,19})$/.exec(Buffer.from(cursor, "base64url").toString());
  return m ? { time: Number(m[1]), id: m[2]! } : undefined;
}

/** How a paged list is ordered: newest first by a time column, then by an id column (a UUID, or the rowid). */
export interface PageOrder {
  table: string;
  time: string;
  id: string;
}

/** The rowid: rows in the order they were written, for tables without an id of their own. */
export const ROWID = "rowid";

/**
 * One page of `order.table`: the rows whose columns equal `filters` (any value of a list; undefined
 * ones ignored) and that meet the `also` conditions, newest first, after `cursor`; and the cursor of
 * the next page (null on the last). Column names are our own, never user input.
 */
export function page<T>(
  db: Database,
  order: PageOrder,
  filters: Record<string, string | readonly string[] | undefined>,
  limit: number,
  cursor?: string,
  also: { sql: string[]; params: Record<string, string> } = { sql: [], params: {} },
): { rows: T[]; nextCursor: string | null } {
  const where: string[] = [...also.sql];
  const params: Record<string, string | number> = { ...also.params, limit: limit + 1 };
  for (const [column, value] of Object.entries(filters)) {
    if (value === undefined) continue;
    if (typeof value === "string") {
      where.push(`${column} = ${bound(`$${column}`, "TEXT")}`);
      params[column] = value;
      continue;
    }
    // One of several values: the statement's text depends only on how many.
    if (!value.length) {
      where.push("0");
      continue;
    }
    const names = value.map((_, i) => `$${column}_${i}`);
    where.push(`${column} IN (${names.map((n) => bound(n, "TEXT")).join(", ")})`);
    value.forEach((v, i) => (params[`${column}_${i}`] = v));
  }
  const after = cursor ? decodeCursor(cursor) : undefined;
  if (after) {
    const { time, id } = order;
    const idType = id === ROWID ? "INTEGER" : "TEXT";
    where.push(`(${time} < ${bound("$afterTime", "INTEGER")} OR (${time} = ${bound("$afterTime", "INTEGER")} AND ${id} < ${bound("$afterId", idType)}))`);
    params.afterTime = after.time;
    params.afterId = idType === "INTEGER" ? Number(after.id) : after.id;
  }
  const rows = db
    .query(`SELECT ${order.id === ROWID ? "*, rowid" : "*"} FROM ${order.table} ${where.length ? "WHERE " + where.join(" AND ") : ""} ORDER BY ${order.time} DESC, ${order.id} DESC LIMIT ${bound("$limit", "INTEGER")}`)
    .all(params) as Record<string, unknown>[];
  const shown = rows.slice(0, limit);
  const last = shown[shown.length - 1];
  return { rows: shown as T[], nextCursor: rows.length > limit && last ? encodeCursor(last[order.time] as number, String(last[order.id])) : null };
}

/** Adds a column to a table made by an older version (ALTER TABLE has no IF NOT EXISTS). */
export function addColumnIfMissing(db: Database, table: string, column: string, declaration: string) {
  const found = db.query(`SELECT 1 FROM pragma_table_info('${table}') WHERE name = ?`).get(column);
  if (!found) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${declaration}`);
}

/** INSERT of every field of `row` (column names are our own record keys, never user input). */
export function insertRow(db: Database, table: string, row: object) {
  const cols = Object.keys(row);
  db.query(`INSERT INTO ${table} (${cols.join(",")}) VALUES (${cols.map((c) => "$" + c).join(",")})`).run(row as Row);
}

/** UPDATE of the given fields of the row whose `key` column equals `id`. */
export function updateRow(db: Database, table: string, key: string, id: string, fields: object) {
  const cols = Object.keys(fields);
  if (!cols.length) return;
  db.query(`UPDATE ${table} SET ${cols.map((c) => `${c} = $${c}`).join(", ")} WHERE ${key} = $${key}`).run({ ...fields, [key]: id } as Row);
}
