/** Files as HTTP answers: whole, or the byte range a Range header asks for. */
import type { BunFile } from "bun";
import { ApiError } from "./errors.ts";

/**
 * Content-Disposition for a file saved under its own name (RFC 6266): `inline` is shown by a
 * browser, an `attachment` only saved. Browsers take RFC 5987's `filename*`, which carries accents
 * and CJK; `curl -OJ` reads only `filename`, so that comes first, in ASCII (anything else as `_`),
 * without which curl saved every task file as "file" and every archive as "archive".
 */
export function contentDisposition(type: "inline" | "attachment", filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/gu, "_");
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${type}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

/**
 * The one byte range a Range header asks of a file of `size` bytes (RFC 9110 §14.1.2): `a-b`, `a-`
 * or the last `n` bytes (`-n`). Undefined means "send it whole", which a server may always do: no
 * header, several ranges, or one it cannot read. A range that starts past the end is "unsatisfiable" (416).
 */
export function byteRange(header: string | undefined, size: number): { start: number; end: number } | "unsatisfiable" | undefined {
  const m = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  if (m[1] === "") {
    const n = Number(m[2]);
    return n === 0 || size === 0 ? "unsatisfiable" : { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  if (m[2] !== "" && Number(m[2]) < start) return undefined;
  if (start >= size) return "unsatisfiable";
  return { start, end: m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1) };
}

/**
 * `file` as the answer to a request with `range` (its Range header): 206 with Content-Range for
 * one range, the whole file otherwise, and a 416 ApiError for a range past its end. `name` is what
 * the error message calls the file. Every answer says Accept-Ranges: bytes.
 */
export function fileResponse(file: BunFile, range: string | undefined, headers: Record<string, string>, name: string): Response {
  const size = file.size;
  const part = byteRange(range, size);
  if (part === "unsatisfiable") throw new ApiError(416, `The range ${range} is not in ${name} (${size} bytes)`, { headers: { "Content-Range": `bytes */${size}` } });
  const all = { ...headers, "Accept-Ranges": "bytes" };
  if (!part) return new Response(file, { headers: all });
  return new Response(file.slice(part.start, part.end + 1), { status: 206, headers: { ...all, "Content-Range": `bytes ${part.start}-${part.end}/${size}` } });
}
