/** The logger: pino JSON lines, and the runtime gap it needs filled. */
import { describe, expect, test } from "bun:test";
import { tracingChannel } from "node:diagnostics_channel";
import { batchedDestination, createLogger, ensureTracingChannelHasSubscribers, isoTimeCached } from "../src/logger.ts";

describe("logger", () => {
  test("TracingChannel#hasSubscribers behaves as in Node, so pino skips tracing nobody listens to", () => {
    ensureTracingChannelHasSubscribers();
    const channel = tracingChannel("management-api:test");
    expect(channel.hasSubscribers).toBe(false);
    const handlers = { start() {}, end() {}, asyncStart() {}, asyncEnd() {}, error() {} };
    channel.subscribe(handlers);
    expect(channel.hasSubscribers).toBe(true);
    channel.unsubscribe(handlers);
    expect(channel.hasSubscribers).toBe(false);
  });

  test("a subscriber to pino's own channel still sees every line", () => {
    const lines: string[] = [];
    const logger = createLogger({ logLevel: "info", logFormat: "json" }, false, { write: (l: string) => lines.push(l) } as never);
    const seen: unknown[] = [];
    const handlers = { start: (ctx: unknown) => seen.push(ctx), end() {}, asyncStart() {}, asyncEnd() {}, error() {} };
    tracingChannel("pino_asJson").subscribe(handlers);
    try {
      logger.info({ reqId: "r1" }, "traced");
    } finally {
      tracingChannel("pino_asJson").unsubscribe(handlers);
    }
    logger.info("untraced");
    expect(seen).toHaveLength(1);
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(["traced", "untraced"]);
  });

  test("lines are batched into one write: by size, after a short delay, on flush", async () => {
    const chunks: string[] = [];
    let flushes = 0;
    const dest = batchedDestination({ write: (c) => chunks.push(c), flush: () => flushes++ }, { maxBytes: 64, maxDelayMs: 30 });
    dest.write("a\n");
    dest.write("b\n");
    expect(chunks).toEqual([]);
    await Bun.sleep(60);
    expect(chunks).toEqual(["a\nb\n"]);
    dest.write("x".repeat(70) + "\n");
    expect(chunks).toHaveLength(2); // over maxBytes: written at once
    dest.write("c\n");
    await new Promise<void>((resolve) => dest.flush(() => resolve()));
    expect(chunks).toEqual(["a\nb\n", "x".repeat(70) + "\n", "c\n"]);
    expect(flushes).toBeGreaterThanOrEqual(3);
  });

  test("a failed write never throws: its lines are dropped, and after EPIPE (the reader is gone) every later line", async () => {
    const fail = (code: string) => Object.assign(new Error(`${code}: write failed`), { code });
    const chunks: string[] = [];
    const errors: string[] = [];
    let failNext: string | undefined = "ENOSPC";
    const writer = {
      write: (c: string) => {
        if (failNext) throw fail(failNext);
        chunks.push(c);
      },
      flush: () => 0,
    };
    const dest = batchedDestination(writer, { maxBytes: 4, maxDelayMs: 10, onError: (e) => errors.push((e as Error & { code: string }).code) });
    expect(() => dest.write("lost\n")).not.toThrow(); // over maxBytes: written (and failed) at once
    failNext = undefined;
    dest.write("kept\n"); // a full disk may have room again
    failNext = "EPIPE";
    dest.write("gone\n");
    failNext = undefined;
    dest.write("after\n");
    dest.write("a"); // pending, then drained by the timer and by flush
    await Bun.sleep(30);
    await new Promise<void>((resolve) => dest.flush(() => resolve()));
    expect(() => dest.drain()).not.toThrow();
    expect(chunks).toEqual(["kept\n"]);
    expect(errors).toEqual(["ENOSPC", "EPIPE"]);
    // Bun's FileSink may also fail later, from the promise its flush returns.
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on("unhandledRejection", onUnhandled);
    try {
      const late: string[] = [];
      const asyncFail = batchedDestination({ write: (c) => late.push(c), flush: () => Promise.reject(fail("EPIPE")) }, { onError: (e) => errors.push((e as Error & { code: string }).code) });
      asyncFail.write("first\n");
      await new Promise<void>((resolve) => asyncFail.flush(() => resolve()));
      asyncFail.write("second\n");
      await new Promise<void>((resolve) => asyncFail.flush(() => resolve()));
      expect(late).toEqual(["first\n"]);
      expect(errors).toEqual(["ENOSPC", "EPIPE", "EPIPE"]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
    expect(unhandled).toEqual([]);
  });

  test("a crash exits 1 even when the log cannot be written", () => {
    const script = `import { createLogger, exitOnCrash } from ${JSON.stringify(import.meta.dir + "/../src/logger.ts")};
      const broken = { write() { throw Object.assign(new Error("EPIPE: broken pipe"), { code: "EPIPE" }); } };
      exitOnCrash(createLogger({ logLevel: "info", logFormat: "json" }, false, broken));
      setInterval(() => {}, 1000);
      setTimeout(() => { throw new Error("boom"); }, 5);`;
    const r = Bun.spawnSync([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe", timeout: 10_000 });
    expect(r.exitCode).toBe(1); // not killed at the timeout, still running
  });

  test("pending lines still come out when the process exits right after logging", () => {
    const script = `import { createLogger } from ${JSON.stringify(import.meta.dir + "/../src/logger.ts")};
      const logger = createLogger({ logLevel: "info", logFormat: "json" }, false);
      for (let i = 0; i < 3; i++) logger.info({ i }, "line");
      process.exit(3);`;
    const r = Bun.spawnSync([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode).toBe(3);
    expect(r.stdout.toString().trim().split("\n").map((l) => JSON.parse(l).i)).toEqual([0, 1, 2]);
  });

  test.each([
    ["an uncaught exception", "setTimeout(() => { throw new Error('boom'); }, 5);", "uncaught exception; exiting", "boom"],
    ["an unhandled rejection", "setTimeout(() => { Promise.reject(new Error('lost')); }, 5);", "unhandled promise rejection; exiting", "lost"],
  ])("%s is one fatal JSON line, after the lines before it, and exit 1", (_name, crash, msg, message) => {
    const script = `import { createLogger, exitOnCrash } from ${JSON.stringify(import.meta.dir + "/../src/logger.ts")};
      const logger = createLogger({ logLevel: "info", logFormat: "json" }, false);
      exitOnCrash(logger);
      logger.info("before");
      ${crash}`;
    const r = Bun.spawnSync([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode).toBe(1);
    const lines = r.stdout.toString().trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => l.msg)).toEqual(["before", msg]);
    expect(lines[1]).toMatchObject({ level: 60, err: { type: "Error", message } });
  });

  test("the time field is pino's ISO time, formatted once per millisecond", () => {
    let now = Date.UTC(2026, 10, 27, 1, 2, 3, 456);
    const time = isoTimeCached(() => now);
    expect(time()).toBe(`,"time":"2026-11-27T01:02:03.456Z"`);
    expect(time()).toBe(time());
    now += 1;
    expect(time()).toBe(`,"time":"2026-11-27T01:02:03.457Z"`);
    const lines: string[] = [];
    createLogger({ logLevel: "info", logFormat: "json" }, false, { write: (l: string) => lines.push(l) } as never).info("x");
    expect(Math.abs(Date.parse(JSON.parse(lines[0]!).time) - Date.now())).toBeLessThan(5000);
  });
});
