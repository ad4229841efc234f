/** The live log follower on its own: where it starts, and that it cuts lines as a reader of the whole file does. */
import { describe, expect, test } from "bun:test";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { lastLineBoundary, LogFollower } from "../../src/tasks/log-follower.ts";
import { linesToEvents } from "../../src/tasks/sse-lines.ts";
import { tempDir } from "../helpers.ts";

const MiB = 1024 * 1024;

describe("log follower", () => {
  test("it starts after the last newline, or after the pieces cut so far from a long last line", async () => {
    const path = join(tempDir(), "t.log");
    const at = async (text: string) => (writeFileSync(path, text), lastLineBoundary(path));
    expect(await at("")).toBe(0);
    expect(await at("one\ntwo")).toBe(4);
    expect(await at(`x\n${"a".repeat(MiB)}`)).toBe(2); // exactly MAX_LINE: the next byte may still end it
    expect(await at(`x\n${"a".repeat(MiB + MiB / 2)}`)).toBe(2 + MiB);
    expect(await at("a".repeat(3 * MiB + 1))).toBe(3 * MiB);
    // A CR that ends a line (a progress bar's redraw) counts; one of a CRLF, or last in the file, not yet.
    expect(await at("get\rdl 10%")).toBe(4);
    expect(await at("get\r\ndl")).toBe(5);
    expect(await at("get\ndl 10%\r")).toBe(4);
    expect(await at("dl 10%\r")).toBe(0);
    // The byte after a CR in an earlier block of the backward read.
    expect(await at(`${"a".repeat(64 * 1024 - 1)}\r${"b".repeat(64 * 1024)}`)).toBe(64 * 1024);
  });

  test("started inside a progress bar, it cuts its redraws where the backlog does", async () => {
    const path = join(tempDir(), "t.log");
    writeFileSync(path, "x\n\rdl 10%\rdl 2");
    const follower = new LogFollower({ path, onIdle: () => {}, pollMs: 20 });
    const received: Uint8Array[] = [];
    const closed = Promise.withResolvers<void>();
    await follower.subscribe({ write: (b) => (received.push(b), 1e9), close: () => closed.resolve() }, 0);
    appendFileSync(path, "0%\r");
    await Bun.sleep(100);
    appendFileSync(path, "\ndone\r");
    await Bun.sleep(100);
    follower.end(new TextEncoder().encode(""));
    await closed.promise;
    const events = Buffer.concat(received).toString().split("\n\n").filter(Boolean);
    const lines = events.map((e) => JSON.parse(e.split("data: ")[1]!).line);
    expect(lines).toEqual(["x", "\r", "dl 10%\r", "dl 20%", "done\r"]);
    const ids = events.map((e) => Number(/^id: (\d+)/.exec(e)![1]));
    expect(ids).toEqual(linesToEvents(readFileSync(path), 0, true).ends);
  });

  test("following a log written in random pieces (CRs, CRLFs split between writes), it sends what the backlog gives", async () => {
    let seed = 11;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const PIECES = ["text ", "dl 42%", "\r", "\r", "\n", "\r\n", "\r\r", "é"];
    for (let round = 0; round < 4; round++) {
      const path = join(tempDir(), "t.log");
      const text = Array.from({ length: 400 }, () => PIECES[Math.floor(next() * PIECES.length)]).join("");
      const bytes = Buffer.from(text);
      // Some already there when the follower starts, the rest appended in pieces of any size.
      let at = Math.floor(next() * 200);
      writeFileSync(path, bytes.subarray(0, at));
      const follower = new LogFollower({ path, onIdle: () => {}, pollMs: 5 });
      const received: Uint8Array[] = [];
      const closed = Promise.withResolvers<void>();
      await follower.subscribe({ write: (b) => (received.push(b), 1e9), close: () => closed.resolve() }, 0);
      while (at < bytes.length) {
        const to = Math.min(bytes.length, at + 1 + Math.floor(next() * 40));
        appendFileSync(path, bytes.subarray(at, to));
        at = to;
        await Bun.sleep(next() < 0.5 ? 0 : 8);
      }
      await Bun.sleep(30);
      follower.end(new TextEncoder().encode(""));
      await closed.promise;
      const whole = linesToEvents(readFileSync(path), 0, true, "T");
      const stamps = (b: Uint8Array) => Buffer.from(b).toString().replace(/"timestamp":"[^"]*"/g, "");
      expect([round, stamps(Buffer.concat(received))]).toEqual([round, stamps(whole.data)]);
    }
  });

  test("started inside a long line being written, it cuts it where the backlog does: same pieces, same ids", async () => {
    const path = join(tempDir(), "t.log");
    writeFileSync(path, `x\n${"a".repeat(MiB + MiB / 2)}`); // the task is mid-way through the line
    const follower = new LogFollower({ path, onIdle: () => {}, pollMs: 20 });
    const received: Uint8Array[] = [];
    const closed = Promise.withResolvers<void>();
    await follower.subscribe({ write: (b) => (received.push(b), 1e9), close: () => closed.resolve() }, 0);
    appendFileSync(path, `${"a".repeat(MiB / 2)}\nafter\n`);
    await Bun.sleep(100);
    follower.end(new TextEncoder().encode(""));
    await closed.promise;
    const ids = (text: string) => [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    const got = ids(Buffer.concat(received).toString());
    const backlog = linesToEvents(readFileSync(path), 0, true).ends;
    expect(backlog).toEqual([2, 2 + MiB, 3 + 2 * MiB, 9 + 2 * MiB]);
    expect(got).toEqual(backlog);
  });
});
