/** The byte-level SSE encoding of log lines gives exactly what JSON.stringify of the decoded line gives. */
import { describe, expect, test } from "bun:test";
import { linesToEvents, MAX_LINE } from "../../src/tasks/sse-lines.ts";

const NOW = "2026-11-27T13:00:00.000Z";

/** The encoding as strings: what the server sent before it wrote bytes directly. */
function reference(buf: Buffer, base: number, final: boolean) {
  const ends: number[] = [];
  let text = "";
  let start = 0;
  while (start < buf.length) {
    // The first \n, or \r followed by anything but \n (or by nothing, at the end of a final buffer).
    let nl = -1;
    let lone = false;
    for (let i = start; i < buf.length; i++) {
      if (buf[i] === 10) {
        nl = i;
        break;
      }
      if (buf[i] === 13 && buf[i + 1] !== 10) {
        if (i + 1 < buf.length || final) [nl, lone] = [i, true];
        break;
      }
    }
    if (nl === -1 || nl - start > MAX_LINE) {
      lone = false;
      if (buf.length - start > MAX_LINE) nl = start + MAX_LINE - 1;
      else if (final) nl = buf.length - 1;
      else break;
    }
    let lineEnd = lone || buf[nl] !== 10 ? nl + 1 : nl;
    if (!lone && lineEnd > start && buf[lineEnd - 1] === 13) lineEnd--;
    const line = buf.toString("utf8", start, lineEnd);
    const end = base + nl + 1;
    ends.push(end);
    text += `id: ${end}\ndata: ${JSON.stringify({ line, timestamp: NOW })}\n\n`;
    start = nl + 1;
  }
  return { text, ends, consumed: start };
}

/** A seeded generator, so a failure can be replayed. */
function random(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
}

/** Pieces a log line is made of: plain text, what JSON escapes, valid UTF-8 and broken UTF-8. */
const PIECES: number[][] = [
  [...Buffer.from("plain text ")],
  [10], [10], [10], [13, 10], [13], [0x22], [0x5c], [0], [1], [8], [9], [12], [0x1b], [0x1f], [0x7f],
  [...Buffer.from("é")], [...Buffer.from("日本")], [...Buffer.from("😀")], [...Buffer.from("\u2028")],
  [0xff], [0x80], [0xc3], [0xe6, 0x97], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80],
];

function randomLog(next: () => number, pieces: number): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < pieces; i++) bytes.push(...PIECES[Math.floor(next() * PIECES.length)]!);
  return Buffer.from(bytes);
}

function expectSame(buf: Buffer, base: number, final: boolean) {
  const want = reference(buf, base, final);
  const got = linesToEvents(buf, base, final, NOW);
  expect(Buffer.from(got.data).toString("latin1")).toBe(Buffer.from(want.text).toString("latin1"));
  expect(got.ends).toEqual(want.ends);
  expect(got.consumed).toBe(want.consumed);
  // Each event starts where its `starts` entry says.
  for (const [i, at] of got.starts.entries()) expect(Buffer.from(got.data.subarray(at, at + 4 + String(got.ends[i]).length)).toString()).toBe(`id: ${got.ends[i]}`);
}

describe("SSE encoding of log lines", () => {
  test("random logs of text, escapes and valid and broken UTF-8 encode as JSON.stringify does", () => {
    const next = random(42);
    for (let i = 0; i < 400; i++) {
      const buf = randomLog(next, Math.floor(next() * 60));
      expectSame(buf, Math.floor(next() * 1e12), next() < 0.5);
    }
  });

  test("lines over the cut length are cut in the same pieces, a character split by a cut too", () => {
    const next = random(7);
    const long = Buffer.concat([Buffer.from("x\n"), Buffer.alloc(MAX_LINE - 3, "a"), Buffer.from("日本語\"\\\n"), randomLog(next, 20)]);
    for (const final of [true, false]) expectSame(long, 0, final);
    expectSame(Buffer.alloc(2 * MAX_LINE + 5, "é"), 10, false);
  });

  test("empty input, empty lines and a lone CR", () => {
    for (const text of ["", "\n", "\n\n\r\n", "\r", "a\r\r\n"]) for (const final of [true, false]) expectSame(Buffer.from(text), 0, final);
  });

  test("a progress bar redrawn after a CR arrives redraw by redraw, each keeping its CR; a CR last waits for the next byte", () => {
    const lines = (text: string, final: boolean) => {
      const got = linesToEvents(Buffer.from(text), 0, final, NOW);
      const events = Buffer.from(got.data).toString().split("\n\n").filter(Boolean);
      return { lines: events.map((e) => JSON.parse(e.split("data: ")[1]!).line), ends: got.ends, consumed: got.consumed };
    };
    expect(lines("get\n\rdl 10%\rdl 20%\r", false)).toEqual({ lines: ["get", "\r", "dl 10%\r"], ends: [4, 5, 12], consumed: 12 });
    // The next byte says: a newline (CRLF, as ever), or more of the bar.
    expect(lines("dl 20%\r\n", false)).toEqual({ lines: ["dl 20%"], ends: [8], consumed: 8 });
    expect(lines("dl 20%\rdl 30%", false)).toEqual({ lines: ["dl 20%\r"], ends: [7], consumed: 7 });
    // At the task's end, there is no next byte.
    expect(lines("dl 100%\r", true)).toEqual({ lines: ["dl 100%\r"], ends: [8], consumed: 8 });
    // Windows line ends are not redraws.
    expect(lines("a\r\nb\r\n", false).lines).toEqual(["a", "b"]);
  });
});
