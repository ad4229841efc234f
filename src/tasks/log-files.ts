/** Reading task logs without loading them whole. */
import { open } from "node:fs/promises";

/** The last `n` lines of a file, read backwards in blocks (a 1 GiB log costs a few KiB of reads). */
export async function tailLines(path: string, n: number, block = 64 * 1024): Promise<string[]> {
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
    while (pos > 0 && newlines <= n) {
      const len = Math.min(block, pos);
      pos -= len;
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, pos);
      for (let i = 0; i < len; i++) if (buf[i] === 10) newlines++;
      chunks.unshift(buf);
    }
    const text = Buffer.concat(chunks).toString("utf8");
    chunks = [];
    const lines = text.split("\n");
    if (lines[lines.length - 1] === "") lines.pop();
    if (pos > 0) lines.shift(); // the first piece may be a partial line
    return lines.slice(-n);
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
