/** Reading the end of a task log: the record's logTail stays small whatever the log holds. */
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { lastLinesStart, tailLines } from "../../src/tasks/log-files.ts";
import { tempDir } from "../helpers.ts";

const log = (text: string) => {
  const path = join(tempDir("tail-"), "task.log");
  writeFileSync(path, text);
  return path;
};

describe("tailLines", () => {
  test("the last n lines, with or without a final newline; a missing file is no lines", async () => {
    const lines = Array.from({ length: 200 }, (_, i) => `line ${i}`);
    expect(await tailLines(log(lines.join("\n") + "\n"), 3)).toEqual(["line 197", "line 198", "line 199"]);
    expect(await tailLines(log(lines.join("\n")), 2)).toEqual(["line 198", "line 199"]);
    expect(await tailLines(log("only\n"), 50)).toEqual(["only"]);
    expect(await tailLines(join(tempDir(), "nope.log"), 50)).toEqual([]);
  });

  test("CRLF line ends are not part of the lines, as in the log stream; a line redrawn after CRs shows its last redraw", async () => {
    expect(await tailLines(log("a\r\nb\r\n10%\r20%\r\nend\r"), 50)).toEqual(["a", "b", "20%", "end"]);
    expect(await tailLines(log("\rdl 10%\rdl 20%\r\r\nempty\n\r\r\n"), 50)).toEqual(["dl 20%", "empty", ""]);
  });

  test("a long line in the tail is cut and says how long it was", async () => {
    const long = "x".repeat(20_000);
    const tail = await tailLines(log(`a\n${long}\nb\n`), 50, { maxLineChars: 100 });
    expect(tail).toEqual(["a", `${"x".repeat(100)}… [line cut: 20000 characters]`, "b"]);
  });

  test("at most maxBytes are read: lines before the window are left out, never half of one", async () => {
    const path = log(`${"early\n".repeat(10)}${"y".repeat(300_000)}\nlate 1\nlate 2\n`);
    const tail = await tailLines(path, 50, { maxBytes: 64 * 1024, maxLineChars: 1000 });
    expect(tail).toEqual(["late 1", "late 2"]);
  });

  test("a log that is one endless line gives its end, marked; a progress bar redrawn with \\r its last redraw", async () => {
    const bar = Array.from({ length: 100_000 }, (_, i) => `\r${i}%`).join("");
    expect(await tailLines(log(bar), 50, { maxBytes: 64 * 1024, maxLineChars: 1000 })).toEqual(["99999%"]);
    const endless = Array.from({ length: 100_000 }, (_, i) => ` ${i}%`).join("");
    const tail = await tailLines(log(endless), 50, { maxBytes: 64 * 1024, maxLineChars: 1000 });
    expect(tail).toHaveLength(1);
    expect(tail[0]!.length).toBe(1000);
    expect(tail[0]!.startsWith("…")).toBe(true);
    expect(tail[0]!.endsWith(" 99999%")).toBe(true);
    // The defaults a task's record uses: 256 KiB read, lines of 8 KiB.
    const defaults = await tailLines(log(`${"z".repeat(5_000_000)}\na\n${"z".repeat(100_000)}\nend\n`), 50);
    expect(defaults).toEqual(["a", `${"z".repeat(8192)}… [line cut: 100000 characters]`, "end"]);
  });
});

describe("lastLinesStart", () => {
  test("where the last n lines begin; with carriageReturns, a CR alone ends a line as in the log stream", async () => {
    const bar = log("x\n\ra\rb\rc");
    expect([await lastLinesStart(bar, 1), await lastLinesStart(bar, 5)]).toEqual([2, 0]);
    expect(await Promise.all([1, 2, 4, 5].map((n) => lastLinesStart(bar, n, { carriageReturns: true })))).toEqual([7, 5, 2, 0]);
    // A CRLF's CR ends nothing; nor does a CR last in the file, which may yet become one.
    expect(await lastLinesStart(log("a\r\nb\r\nc"), 1, { carriageReturns: true })).toBe(6);
    expect(await lastLinesStart(log("x\ny\r"), 1, { carriageReturns: true })).toBe(2);
    // The byte after a CR in the block read before (64 KiB blocks, read backwards).
    const across = log(`${"a".repeat(64 * 1024 - 1)}\r${"b".repeat(64 * 1024)}`);
    expect(await lastLinesStart(across, 1, { carriageReturns: true })).toBe(64 * 1024);
    // The CR last in one block, its newline first in the next.
    const crlfAcross = log(`x\n${"a".repeat(64 * 1024 - 3)}\r\n${"b".repeat(64 * 1024 - 1)}`);
    expect(await lastLinesStart(crlfAcross, 1, { carriageReturns: true })).toBe(64 * 1024 + 1);
    expect(await lastLinesStart(crlfAcross, 2, { carriageReturns: true })).toBe(2);
  });
});
