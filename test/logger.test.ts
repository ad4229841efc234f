/** The logger: pino JSON lines, and the runtime gap it needs filled. */
import { describe, expect, test } from "bun:test";
import { tracingChannel } from "node:diagnostics_channel";
import { createLogger, ensureTracingChannelHasSubscribers } from "../src/logger.ts";

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
});
