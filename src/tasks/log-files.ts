/** Reading task logs without loading them whole. */
import { statSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";

/** Bounds for `tailLines`: a task's record must stay small whatever its log holds. */
export interface TailLimits {
  /** Read at most this much from the end of the file. */
  maxBytes?: number;
  /** Longer lines are cut to this many characters, with a note of how long they were. */
  maxLineChars?: number;
}

/**
 * The last `n` lines of a file, read backwards in blocks (a 1 GiB log costs a few KiB of reads).
 * At most `maxBytes` are read: a log whose last lines are huge (a JSON blob on one line, a progress
 * bar redrawn with \r and never a \n) would otherwise be read, and returned, whole. When that window
 * holds no line start, its text is the end of one long line and comes back marked with a leading "…".
 * A line redrawn after CRs (a progress bar) is shown as a terminal shows it: its last redraw.
 */
export async function tailLines(path: string, n: number, limits: TailLimits = {}): Promise<string[]> {
  const maxBytes = limits.maxBytes ?? 256 * 1024;
  const maxLineChars = limits.maxLineChars ?? 8 * 1024;
  const block = Math.min(64 * 1024, maxBytes);
  let fh;
  try {
    fh = await open(path, "r");
  } catch {
    return [];
  }
  try {
    const size = (await fh.stat()).size;
    let pos = size;
    let chunks: Buffer[] = [];
    let newlines = 0;
    // n lines need n newlines before them (plus the possible trailing one).
    while (pos > 0 && newlines <= n && size - pos < maxBytes) {
      const len = Math.min(block, pos, maxBytes - (size - pos));
      pos -= len;
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, pos);
      for (let i = 0; i < len; i++) if (buf[i] === 10) newlines++;
      chunks.unshift(buf);
    }
    const text = Buffer.concat(chunks).toString("utf8");
    chunks = [];
    // CRLF ends a line as LF does, as in the log stream: the \r is not part of the line.
    const lines = text.split(/\r?\n/);
    if (lines[lines.length - 1] === "") lines.pop();
    if (pos > 0) {
      // The first piece starts mid-line: drop it, unless it is all there is (one line longer than the window).
      if (lines.length > 1) lines.shift();
      else if (lines.length === 1 && !lines[0]!.includes("\r")) lines[0] = `…${lines[0]!.slice(1 - maxLineChars)}`;
    }
    return lines
      .slice(-n)
      .map(lastRedraw)
      .map((l) => (l.length > maxLineChars ? `${l.slice(0, maxLineChars)}… [line cut: ${l.length} characters]` : l));
  } finally {
    await fh.close();
  }
}

/** What a line redrawn after CRs shows last: its last redraw that is not empty. */
function lastRedraw(line: string): string {
  if (!line.includes("\r")) return line;
  return line.split("\r").findLast((part) => part !== "") ?? "";
}

/** When a file was last written, epoch ms; null while it is empty, or when it cannot be read. */
export function lastWrite(path: string): number | null {
  try {
    const st = statSync(path);
    return st.size > 0 ? st.mtimeMs : null;
  } catch {
    return null;
  }
}

/**
 * Where the lines of an open file start, the last first, read backwards in blocks from its end
 * while fewer than `maxBytes` have been read: just past each line end, then 0 once the read reaches
 * the file's start. A line end is a newline, or with `carriageReturns` a CR followed by anything but
 * a newline, as sse-lines.ts cuts the log stream (a CR before a newline is a CRLF's; one last in the
 * file may yet become one). A newline last in the file gives the file's size.
 */
export async function* lineStartsBackward(fh: FileHandle, size: number, { carriageReturns = false, maxBytes = Infinity } = {}): AsyncGenerator<number> {
  const buf = Buffer.alloc(64 * 1024);
  let pos = size;
  // The byte just after the block being read (the first of the block read before it), if any.
  let after: number | undefined;
  while (pos > 0 && size - pos < maxBytes) {
    const len = Math.min(buf.length, pos);
    pos -= len;
    await fh.read(buf, 0, len, pos);
    const endsLine = (i: number) => {
      const next = i + 1 < len ? buf[i + 1] : after;
      return next !== undefined && next !== 10;
    };
    // lastIndexOf from len - 1: past it the buffer holds the block read before.
    const before = (byte: number, from: number) => (from >= 0 ? buf.lastIndexOf(byte, from) : -1);
    let lf = before(10, len - 1);
    let cr = carriageReturns ? before(13, len - 1) : -1;
    for (;;) {
      while (cr > lf && !endsLine(cr)) cr = before(13, cr - 1);
      const end = Math.max(lf, cr);
      if (end === -1) break;
      yield pos + end + 1;
      if (end === lf) lf = before(10, lf - 1);
      else cr = before(13, cr - 1);
    }
    after = buf[0];
  }
  if (pos === 0) yield 0;
}

/**
 * The byte offset where the last `n` whole lines of a file begin (0 when it has no more than
 * that), for a log stream that starts there rather than at the top of a huge log. At most
 * `maxBytes` are read, backwards: past that the stream starts at the earliest line start seen, or
 * at the end when a single line is longer than that. With `carriageReturns`, a CR alone ends a
 * line too, as in the SSE stream (sse-lines.ts): the last n redraws of an hours-long progress bar,
 * not the whole of it; without, lines are what `tail -n` counts.
 */
export async function lastLinesStart(path: string, n: number, { maxBytes = 16 * 1024 * 1024, carriageReturns = false } = {}): Promise<number> {
  let fh;
  try {
    fh = await open(path, "r");
  } catch {
    return 0;
  }
  try {
    const size = (await fh.stat()).size;
    let found = 0;
    let earliest = size;
    for await (const start of lineStartsBackward(fh, size, { carriageReturns, maxBytes })) {
      // The newline that ends the file ends its last line; it starts none.
      if (start === size) continue;
      earliest = start;
      if (++found === n) break;
    }
    return earliest;
  } finally {
    await fh.close();
  }
}

/** Reads bytes [start, end) of a file. */
export async function readRange(path: string, start: number, end: number): Promise<Buffer> {
  if (end <= start) return Buffer.alloc(0);
  const fh = await open(path, "r");
  try {
    const buf = Buffer.alloc(end - start);
    const { bytesRead } = await fh.read(buf, 0, end - start, start);
    return bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** Size of a file, or 0 when it does not exist. */
export async function fileSize(path: string): Promise<number> {
  try {
    return (await Bun.file(path).stat()).size;
  } catch {
    return 0;
  }
}
