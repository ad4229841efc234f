/**
 * Log lines as SSE events, written straight into one byte array per read.
 *
 * Each line becomes `id: <end>\ndata: {"line":<line>,"timestamp":<stamp>}\n\n`, byte for byte what
 * `JSON.stringify({ line, timestamp })` of the line decoded as UTF-8 gives. Why not build it that
 * way: a string, a JSON string and an event string for every line, then a join and an encode for
 * every read, is garbage the collector let pile up. A runaway task printing as fast as it could,
 * followed by four clients, took the API from 110 MB to 670 MB (all of it garbage: 120 MB with a
 * collection every half second). Here a line that is valid UTF-8 is copied (escaping what JSON
 * escapes); only one that is not goes through a string, for the decoder's replacement characters.
 */
import { isUtf8 } from "node:buffer";

/** Lines longer than this are cut (memory bound); the pieces keep exact offsets. */
export const MAX_LINE = 1024 * 1024;

export interface EncodedLines {
  /** The events, back to back. */
  data: Uint8Array;
  /** Each event's id: the file offset just past its line (and its newline). */
  ends: number[];
  /** Where each event starts in `data`. */
  starts: number[];
  /** The bytes of the buffer consumed: whole lines (all of it when `final`). */
  consumed: number;
}

const ascii = (s: string) => Buffer.from(s, "latin1");
const ID = ascii("id: ");
const DATA = ascii('\ndata: {"line":');
const STAMP = ascii(',"timestamp":"');
const END = ascii('"}\n\n');
const HEX = ascii("0123456789abcdef");
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** JSON's short escapes for control characters (\b \t \n \f \r); the others are \u00XX. */
const SHORT_ESCAPE: Record<number, number> = { 8: 0x62, 9: 0x74, 10: 0x6e, 12: 0x66, 13: 0x72 };

/** The extra bytes JSON escaping adds to `buf[start, end)`, or -1 when it is not valid UTF-8. */
function escapeGrowth(buf: Uint8Array, start: number, end: number): number {
  let extra = 0;
  let high = false;
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    if (b < 0x20) extra += SHORT_ESCAPE[b] ? 1 : 5;
    else if (b === QUOTE || b === BACKSLASH) extra += 1;
    else if (b >= 0x80) high = true;
  }
  return high && !isUtf8(buf.subarray(start, end)) ? -1 : extra;
}

/** Writes `buf[start, end)` into `out` at `pos` as the inside of a JSON string; returns the new position. */
function writeEscaped(buf: Uint8Array, start: number, end: number, out: Uint8Array, pos: number): number {
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    if (b >= 0x20 && b !== QUOTE && b !== BACKSLASH) {
      out[pos++] = b;
      continue;
    }
    out[pos++] = BACKSLASH;
    if (b === QUOTE || b === BACKSLASH) out[pos++] = b;
    else if (SHORT_ESCAPE[b]) out[pos++] = SHORT_ESCAPE[b];
    else {
      // \u00XX (ANSI colours are full of ESC): written byte by byte, no array per character.
      out[pos++] = 0x75;
      out[pos++] = 0x30;
      out[pos++] = 0x30;
      out[pos++] = HEX[b >> 4]!;
      out[pos++] = HEX[b & 15]!;
    }
  }
  return pos;
}

/** How many decimal digits a non-negative integer has. */
function digits(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

/** Writes the decimal digits of a non-negative integer; returns the new position. */
function writeNumber(n: number, out: Uint8Array, pos: number): number {
  const end = pos + digits(n);
  for (let i = end - 1; i >= pos; i--) {
    out[i] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  }
  return end;
}

/**
 * Encodes the complete lines of `buf` (which starts at file offset `base`); `final` flushes a
 * trailing partial line. A line longer than MAX_LINE is cut into pieces of that size; a CR before
 * a newline is dropped. A CR alone ends a line too, and stays at its end: a progress bar (tqdm,
 * pip, a download) redraws itself after one and may never print a newline, so its line would
 * otherwise arrive only at the task's end or a megabyte later; the CR tells a viewer that the next
 * line takes this one's place. A CR last in `buf` waits for the next byte, which may make it a CRLF.
 */
export function linesToEvents(buf: Buffer, base: number, final: boolean, now = new Date().toISOString()): EncodedLines {
  // First pass: where the lines are, and how many bytes each event takes.
  const spans: number[] = []; // start, line end, growth (-1: not UTF-8), next start: per line
  const fallbacks = new Map<number, Buffer>();
  const stamp = ascii(now);
  const fixed = ID.length + DATA.length + 2 + STAMP.length + stamp.length + END.length;
  let size = 0;
  let start = 0;
  // The next \n, and the next \r not followed by one, at or after `start` (-1: none); each is
  // searched for again only once passed, so a chunk of many lines is scanned once, not once a line.
  let lf = -2;
  let cr = -2;
  while (start < buf.length) {
    if (lf !== -1 && lf < start) lf = buf.indexOf(10, start);
    while (cr !== -1 && (cr < start || buf[cr + 1] === 10)) cr = buf.indexOf(13, Math.max(start, cr + 1));
    let nl = lf;
    let lone = false;
    if (cr !== -1 && (lf === -1 || cr < lf)) {
      lone = cr + 1 < buf.length || final;
      nl = lone ? cr : -1;
    }
    if (nl === -1 || nl - start > MAX_LINE) {
      lone = false;
      if (buf.length - start > MAX_LINE) nl = start + MAX_LINE - 1;
      else if (final) nl = buf.length - 1;
      else break;
    }
    // A lone CR stays, the line's own; a newline goes, and a CR before it (CRLF).
    let lineEnd = lone || buf[nl] !== 10 ? nl + 1 : nl;
    if (!lone && lineEnd > start && buf[lineEnd - 1] === 13) lineEnd--;
    const growth = escapeGrowth(buf, start, lineEnd);
    let body = lineEnd - start + growth;
    if (growth < 0) {
      const json = Buffer.from(JSON.stringify(buf.toString("utf8", start, lineEnd)));
      fallbacks.set(spans.length, json);
      body = json.length - 2;
    }
    size += fixed + digits(base + nl + 1) + body;
    spans.push(start, lineEnd, growth, nl + 1);
    start = nl + 1;
  }

  // Second pass: the events.
  const data = Buffer.allocUnsafe(size);
  const ends: number[] = [];
  const starts: number[] = [];
  let pos = 0;
  for (let i = 0; i < spans.length; i += 4) {
    const from = spans[i]!;
    const to = spans[i + 1]!;
    const growth = spans[i + 2]!;
    const end = base + spans[i + 3]!;
    starts.push(pos);
    ends.push(end);
    data.set(ID, pos);
    pos = writeNumber(end, data, pos + ID.length);
    data.set(DATA, pos);
    pos += DATA.length;
    const fallback = fallbacks.get(i);
    if (fallback) {
      data.set(fallback, pos);
      pos += fallback.length;
    } else {
      data[pos++] = QUOTE;
      // Buffer#copy, not set(subarray): a view per line was most of what was left to collect.
      if (growth === 0) pos += buf.copy(data, pos, from, to);
      else pos = writeEscaped(buf, from, to, data, pos);
      data[pos++] = QUOTE;
    }
    data.set(STAMP, pos);
    pos += STAMP.length;
    data.set(stamp, pos);
    pos += stamp.length;
    data.set(END, pos);
    pos += END.length;
  }
  return { data, ends, starts, consumed: start };
}
