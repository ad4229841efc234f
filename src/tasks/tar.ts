/**
 * POSIX tar streams (ustar headers, pax records where a name, a link or a size does not fit them),
 * made as the client reads them, gzipped: a task's folder (GET /v1/tasks/{taskId}/archive) and a
 * workflow's outputs. Every tar (GNU, bsdtar, Python's, Go's) unpacks them. A folder's regular files,
 * folders and symbolic links (stored as links, never followed, so nothing outside it is read); other
 * kinds (sockets, pipes) are left out. A file that grows or shrinks while it is read is stored at the
 * size it had when it was looked at, so the archive stays whole.
 */
import { lstat, open, readdir, readlink } from "node:fs/promises";
import { join } from "node:path";
import { contentDisposition } from "../http/file-response.ts";

const BLOCK = 512;
const CHUNK = 64 * 1024;
const encoder = new TextEncoder();

/** One member of an archive: a file (type "0") with its bytes, a link ("2") or a folder ("5"). */
export interface Entry {
  /** Inside the archive, "/"-separated; a folder's ends with "/". */
  name: string;
  type: "0" | "2" | "5";
  mode: number;
  size: number;
  /** Epoch milliseconds. */
  mtime: number;
  linkname?: string;
  /** A file's bytes; exactly `size` of them are stored, whatever it yields. */
  body?: () => AsyncIterable<Uint8Array>;
}

/** `value` as `length - 1` octal digits and a NUL, as ustar numbers are written. */
function octal(buf: Uint8Array, offset: number, length: number, value: number) {
  buf.set(encoder.encode(`${value.toString(8).padStart(length - 1, "0")}\0`), offset);
}

/** Fits a ustar field: ASCII, without NUL, short enough. */
const fits = (s: string, length: number) => s.length <= length && /^[\x01-\x7f]*$/.test(s);
/** The largest size 11 octal digits hold: 8 GiB - 1. */
const MAX_USTAR_SIZE = 8 ** 11 - 1;

function ustarHeader(e: Entry): Uint8Array {
  const buf = new Uint8Array(BLOCK);
  buf.set(encoder.encode(fits(e.name, 100) ? e.name : e.name.replace(/[^\x01-\x7f]/g, "_").slice(0, 100)), 0);
  octal(buf, 100, 8, e.mode & 0o7777);
  octal(buf, 108, 8, 0);
  octal(buf, 116, 8, 0);
  octal(buf, 124, 12, e.size <= MAX_USTAR_SIZE ? e.size : 0);
  octal(buf, 136, 12, Math.max(0, Math.floor(e.mtime / 1000)));
  buf.set(encoder.encode(e.type), 156);
  if (e.linkname) buf.set(encoder.encode(fits(e.linkname, 100) ? e.linkname : e.linkname.replace(/[^\x01-\x7f]/g, "_").slice(0, 100)), 157);
  buf.set(encoder.encode("ustar\u000000"), 257);
  // The checksum counts its own field as eight spaces.
  buf.fill(0x20, 148, 156);
  const sum = buf.reduce((a, b) => a + b, 0);
  buf.set(encoder.encode(`${sum.toString(8).padStart(6, "0")}\0 `), 148);
  return buf;
}

/** One pax record, "<length> <key>=<value>\n", whose length counts itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bytes = encoder.encode(body).length;
  // The length's own digits count: one more digit is needed when adding them carries over.
  let length = bytes + String(bytes).length;
  if (String(length).length > String(bytes).length) length = bytes + String(length).length;
  return `${length}${body}`;
}

const padding = (size: number) => new Uint8Array((BLOCK - (size % BLOCK)) % BLOCK);

/** The header blocks of an entry: a pax header first when ustar cannot say it all. */
function headers(e: Entry): Uint8Array[] {
  const records = [
    fits(e.name, 100) ? "" : paxRecord("path", e.name),
    e.linkname && !fits(e.linkname, 100) ? paxRecord("linkpath", e.linkname) : "",
    e.size > MAX_USTAR_SIZE ? paxRecord("size", String(e.size)) : "",
  ].join("");
  if (!records) return [ustarHeader(e)];
  const data = encoder.encode(records);
  const pax = ustarHeader({ name: "PaxHeader", type: "x" as Entry["type"], mode: 0o644, size: data.length, mtime: e.mtime });
  return [pax, data, padding(data.length), ustarHeader(e)];
}

/** Folders, files and links below `dir`, depth first, names sorted, each under `root/`. */
async function* folderEntries(dir: string, root: string): AsyncGenerator<Entry> {
  const names = (await readdir(dir).catch(() => [] as string[])).sort();
  for (const name of names) {
    const path = join(dir, name);
    const st = await lstat(path).catch(() => undefined);
    if (!st) continue; // gone since the folder was read
    const inside = `${root}/${name}`;
    const base = { mode: st.mode, mtime: st.mtimeMs };
    if (st.isDirectory()) {
      yield { ...base, name: `${inside}/`, type: "5", size: 0 };
      yield* folderEntries(path, inside);
    } else if (st.isFile()) {
      yield { ...base, name: inside, type: "0", size: st.size, body: () => fileBytes(path) };
    } else if (st.isSymbolicLink()) {
      const linkname = await readlink(path).catch(() => undefined);
      if (linkname !== undefined) yield { ...base, name: inside, type: "2", size: 0, linkname };
    }
  }
}

/** A file's bytes as they are read; none if it vanished (the archive then pads it with zeros). */
export async function* fileBytes(path: string): AsyncGenerator<Uint8Array> {
  const file = await open(path, "r").catch(() => undefined);
  try {
    while (file) {
      const buf = new Uint8Array(CHUNK);
      const { bytesRead } = await file.read(buf, 0, buf.length, null);
      if (bytesRead === 0) return;
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    await file?.close();
  }
}

/** Exactly `size` bytes of `body`: cut where it yields more, padded with zeros where it yields less. */
async function* exactly(body: AsyncIterable<Uint8Array> | undefined, size: number): AsyncGenerator<Uint8Array> {
  let left = size;
  if (body) {
    for await (const chunk of body) {
      const part = chunk.length > left ? chunk.subarray(0, left) : chunk;
      left -= part.length;
      yield part;
      if (left <= 0) break; // leaving the loop closes the source (a file, a download)
    }
  }
  for (; left > 0; left -= Math.min(CHUNK, left)) yield new Uint8Array(Math.min(CHUNK, left));
}

/** The tar stream of `entries`, in their order. */
export async function* tar(entries: AsyncIterable<Entry>): AsyncGenerator<Uint8Array> {
  for await (const entry of entries) {
    yield* headers(entry);
    if (entry.type !== "0") continue;
    yield* exactly(entry.body?.(), entry.size);
    yield padding(entry.size);
  }
  yield new Uint8Array(BLOCK * 2);
}

/**
 * The tar stream of everything below `dir`, under a top folder named `root`; undefined when `dir`
 * is no folder. The folder is looked at before the answer starts: one deleted while its archive was
 * being asked for (a purge, retention) then gives a 404, or an archive of what was left, where the
 * stream used to fail at its first read and the client's connection was reset.
 */
export async function tarFolder(dir: string, root: string): Promise<AsyncGenerator<Uint8Array> | undefined> {
  const top = await lstat(dir).catch(() => undefined);
  if (!top?.isDirectory()) return undefined;
  return tar(
    (async function* () {
      yield { name: `${root}/`, type: "5", mode: top.mode, size: 0, mtime: top.mtimeMs } satisfies Entry;
      yield* folderEntries(dir, root);
    })(),
  );
}

/** A tar stream gzipped, made only as fast as the client reads it; a client gone closes the file being read. */
export function gzipped(blocks: AsyncGenerator<Uint8Array>): ReadableStream<Uint8Array> {
  const raw = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await blocks.next();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    async cancel() {
      await blocks.return(undefined);
    },
  });
  return raw.pipeThrough(new CompressionStream("gzip") as unknown as ReadableWritablePair<Uint8Array, Uint8Array>);
}

/** The answer that downloads a tar stream as `<name>.tar.gz`. */
export function tarGzResponse(blocks: AsyncGenerator<Uint8Array>, name: string): Response {
  const headers = { "Content-Type": "application/gzip", "Cache-Control": "no-store", "Content-Disposition": contentDisposition("attachment", `${name}.tar.gz`) };
  return new Response(gzipped(blocks), { headers });
}
