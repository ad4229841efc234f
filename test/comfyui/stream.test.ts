/** WS /v1/comfyui/stream: authentication before the upgrade, subscriptions, and no leaks. */
import { afterAll, describe, expect, test } from "bun:test";
import type { ServerWebSocket } from "bun";
import type { Logger } from "pino";
import { MAX_SUBSCRIPTIONS, type SocketData } from "../../src/comfyui/stream-hub.ts";
import { guardSocket, WS_MAX_MESSAGE_BYTES } from "../../src/server.ts";
import { KEY, waitFor } from "../helpers.ts";
import { BASIC, chain, comfyStack, eventSocket } from "./helpers.ts";

const s = await comfyStack();
afterAll(() => s.close());
const hub = () => s.server.services.comfyui!.hub;
const wsUrl = () => s.base.replace("http", "ws") + "/v1/comfyui/stream";

describe("authentication", () => {
  test("Sec-WebSocket-Protocol: Bearer, <key> -> the server selects Bearer", async () => {
    const { ws, messages } = await eventSocket(s.base, "protocol");
    expect(ws.protocol).toBe("Bearer");
    await waitFor(() => messages.some((m) => m.type === "connected"));
    ws.close();
  });

  test("?token= works too", async () => {
    const { ws } = await eventSocket(s.base, "query");
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.close();
  });

  test("no token or a wrong one is rejected before the upgrade", async () => {
    const plain = await fetch(`${s.base}/v1/comfyui/stream`, { headers: { Upgrade: "websocket", Connection: "Upgrade", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==" } });
    expect(plain.status).toBe(401);
    const wrong = await fetch(`${s.base}/v1/comfyui/stream?token=nope`, { headers: { Upgrade: "websocket" } });
    expect(wrong.status).toBe(403);
    const closed = await new Promise<boolean>((resolve) => {
      const ws = new WebSocket(wsUrl());
      ws.onopen = () => resolve(false);
      ws.onerror = () => resolve(true);
    });
    expect(closed).toBe(true);
    expect(hub().size).toBe(0);
  });

  test("a plain GET with a token is told to upgrade (426)", async () => {
    const res = await fetch(`${s.base}/v1/comfyui/stream?token=${KEY}`);
    expect(res.status).toBe(426);
  });
});

describe("messages", () => {
  test("subscribe to one workflow: its events arrive, in order; others do not", async () => {
    const { ws, messages, send } = await eventSocket(s.base);
    try {
      // Ahead of ours in the queue, and long (12 nodes of 20 ms): ours cannot start before the
      // subscription lands, even on a loaded machine (a 2-node one ahead was not always enough).
      await s.submit(chain(10, "ahead"));
      const { body } = await s.submit({ ...BASIC, "1": { ...BASIC["1"], inputs: { ...BASIC["1"].inputs, color: 7 } } });
      send({ type: "subscribe", workflowId: body.workflowId });
      await s.until(body.workflowId, ["completed"]);
      await waitFor(() => messages.some((m) => m.type === "workflow:completed"));
      const mine = messages.filter((m) => m.type.startsWith("workflow:"));
      expect(mine.every((m) => m.workflowId === body.workflowId)).toBe(true);
      expect(mine.map((m) => m.type)).toContain("workflow:started");
      expect(mine.at(-1)!.type).toBe("workflow:completed");
      expect((mine.at(-1)!.data!.outputs as unknown[]).length).toBe(1);
    } finally {
      ws.close(); // a failure here must not leave the socket to the next tests, which count them
    }
  });

  test("subscribing after the workflow finished: the reply carries its state, so nobody waits for events already sent", async () => {
    const { body } = await s.submit({ ...BASIC, "1": { ...BASIC["1"], inputs: { ...BASIC["1"].inputs, color: 11 } } });
    await s.until(body.workflowId, ["completed"]);
    const { ws, messages, send } = await eventSocket(s.base);
    send({ type: "subscribe", workflowId: body.workflowId.toUpperCase() });
    send({ type: "subscribe", workflowId: "00000000-0000-4000-8000-000000000000" });
    send({ type: "subscribe", workflowId: "*" });
    await waitFor(() => messages.filter((m) => m.type === "subscribed").length === 3);
    const [done, unknown, all] = messages.filter((m) => m.type === "subscribed") as Record<string, unknown>[];
    expect(done).toMatchObject({ workflowId: body.workflowId.toUpperCase(), state: { status: "completed", progress: 100, currentNode: null, error: null } });
    expect((done!.state as { outputs: { url: string }[] }).outputs).toEqual([expect.objectContaining({ type: "output", url: expect.stringMatching(/^\/v1\/comfyui\/output\//) })]);
    expect(unknown).toEqual({ type: "subscribed", workflowId: "00000000-0000-4000-8000-000000000000", state: null });
    expect(all).toEqual({ type: "subscribed", workflowId: "*" });
    ws.close();
  });

  test("* gets everything, including queued; unsubscribe stops it; ping -> pong", async () => {
    const { ws, messages, send } = await eventSocket(s.base);
    send({ type: "subscribe", workflowId: "*" });
    await waitFor(() => messages.some((m) => m.type === "subscribed"));
    const a = await s.submit(BASIC);
    await waitFor(() => messages.some((m) => m.type === "workflow:queued" && m.workflowId === a.body.workflowId));
    await s.until(a.body.workflowId, ["completed"]);
    send({ type: "unsubscribe", workflowId: "*" });
    await waitFor(() => messages.some((m) => m.type === "unsubscribed"));
    const count = messages.length;
    const b = await s.submit(BASIC);
    await s.until(b.body.workflowId, ["completed"]);
    send({ type: "ping" });
    await waitFor(() => messages.some((m) => m.type === "pong"));
    expect(messages.slice(count).filter((m) => m.type.startsWith("workflow:"))).toEqual([]);
    ws.close();
  });

  test("a malformed message gets an error event and the socket stays open", async () => {
    const { ws, messages, send } = await eventSocket(s.base);
    send("not json");
    send({ type: "subscribe" });
    send({ type: "dance" });
    // Nested past what JSON.stringify survives: echoing it once threw and ended the process.
    send(`{"type":${"[".repeat(30_000)}${"]".repeat(30_000)}}`);
    send({ type: "x".repeat(50_000) });
    await waitFor(() => messages.filter((m) => m.type === "error").length === 5);
    expect(messages.filter((m) => m.type === "error").map((m) => m.message)).toEqual([
      "Message is not JSON",
      'subscribe needs a workflowId (a UUID, or "*" for all workflows)',
      "Message type must be subscribe, unsubscribe or ping, got 'dance'",
      "Message type must be subscribe, unsubscribe or ping, got an array",
      `Message type must be subscribe, unsubscribe or ping, got '${"x".repeat(36)}...`,
    ]);
    send({ type: "ping" });
    await waitFor(() => messages.some((m) => m.type === "pong"));
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.close();
  });

  test(`at most ${MAX_SUBSCRIPTIONS} subscriptions per socket; "*" covers the rest`, async () => {
    const { ws, messages, send } = await eventSocket(s.base);
    for (let i = 0; i <= MAX_SUBSCRIPTIONS; i++) send({ type: "subscribe", workflowId: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}` });
    await waitFor(() => messages.filter((m) => m.type === "subscribed" || m.type === "error").length === MAX_SUBSCRIPTIONS + 1);
    expect(messages.filter((m) => m.type === "subscribed")).toHaveLength(MAX_SUBSCRIPTIONS);
    expect(messages.find((m) => m.type === "error")!.message).toBe(`At most ${MAX_SUBSCRIPTIONS} subscriptions per socket; subscribe to "*" for every workflow`);
    // Re-subscribing to one it has is fine; so is unsubscribing to make room.
    send({ type: "subscribe", workflowId: "00000000-0000-4000-8000-000000000000" });
    send({ type: "unsubscribe", workflowId: "00000000-0000-4000-8000-000000000001" });
    send({ type: "subscribe", workflowId: "*" });
    await waitFor(() => messages.filter((m) => m.type === "subscribed").length === MAX_SUBSCRIPTIONS + 2);
    ws.close();
  });

  test("a message over 64 KiB closes that socket with 1009; the server and other sockets go on", async () => {
    const other = await eventSocket(s.base);
    const { ws, send } = await eventSocket(s.base);
    const closed = new Promise<number>((resolve) => (ws.onclose = (e) => resolve(e.code)));
    send({ type: "ping", pad: "x".repeat(WS_MAX_MESSAGE_BYTES) });
    expect(await closed).toBe(1009);
    other.send({ type: "ping" });
    await waitFor(() => other.messages.some((m) => m.type === "pong"));
    expect((await fetch(`${s.base}/health`)).status).toBe(200);
    other.ws.close();
  });

  test("a client that stops reading is closed, not silently skipped; a reading client gets every event", async () => {
    const reader = await eventSocket(s.base);
    reader.send({ type: "subscribe", workflowId: "*" });
    // A raw WebSocket client that subscribes and then never reads again.
    const stalled = await Bun.connect({ hostname: "127.0.0.1", port: s.server.port, socket: { data() {} } });
    stalled.write(`GET /v1/comfyui/stream?token=${KEY} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${btoa("0123456789abcdef")}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    await waitFor(() => hub().size === 2);
    const text = new TextEncoder().encode(JSON.stringify({ type: "subscribe", workflowId: "*" }));
    const frame = new Uint8Array(6 + text.length); // a masked client text frame
    frame.set([0x81, 0x80 | text.length, 1, 2, 3, 4]);
    text.forEach((b, i) => (frame[6 + i] = b ^ frame[2 + (i % 4)]!));
    stalled.write(frame);
    await waitFor(() => hub().subscriptionCount === 2);
    stalled.pause();
    const pad = "x".repeat(1000);
    let sent = 0;
    while (hub().size === 2 && sent < 40_000) {
      hub().publish({ type: "workflow:progress", workflowId: "00000000-0000-4000-8000-000000000000", data: { n: sent++, pad } });
      if (sent % 500 === 0) await Bun.sleep(1);
    }
    expect(hub().size).toBe(1); // the stalled one was closed
    await waitFor(() => reader.messages.filter((m) => m.type === "workflow:progress").length === sent, 10_000);
    expect(reader.messages.filter((m) => m.type === "workflow:progress").map((m) => m.data!.n)).toEqual([...Array(sent).keys()]);
    stalled.end();
    reader.ws.close();
  });

  test("a handler that throws closes its own socket with 1011 and is logged; nothing escapes to Bun", () => {
    const logged: unknown[] = [];
    const logger = { error: (...args: unknown[]) => logged.push(args) } as unknown as Logger;
    const closes: unknown[][] = [];
    const ws = { close: (...args: unknown[]) => closes.push(args) } as unknown as ServerWebSocket<SocketData>;
    const handler = guardSocket(logger, "message", () => {
      throw new RangeError("Maximum call stack size exceeded.");
    });
    expect(() => handler(ws)).not.toThrow();
    expect(closes).toEqual([[1011, "Internal error"]]);
    expect(logged).toHaveLength(1);
    // A failing close handler cannot close the socket again; it is only logged.
    expect(() => guardSocket(logger, "close", () => { throw new Error("x"); })(ws)).not.toThrow();
    expect(closes).toHaveLength(1);
    expect(logged).toHaveLength(2);
  });

  test("hundreds of sockets with subscription churn and abrupt disconnects leak nothing", async () => {
    await waitFor(() => hub().size === 0);
    const sockets = await Promise.all(Array.from({ length: 300 }, () => eventSocket(s.base)));
    for (const [i, c] of sockets.entries()) {
      c.send({ type: "subscribe", workflowId: "*" });
      c.send({ type: "subscribe", workflowId: crypto.randomUUID() });
      if (i % 2) c.send({ type: "unsubscribe", workflowId: "*" });
    }
    await waitFor(() => hub().size === 300 && hub().subscriptionCount === 450);
    const { body } = await s.submit(BASIC);
    await s.until(body.workflowId, ["completed"]);
    // Half close politely, half just drop the TCP connection.
    for (const [i, c] of sockets.entries()) {
      const raw = c.ws as WebSocket & { terminate?: () => void };
      if (i % 2 && raw.terminate) raw.terminate();
      else c.ws.close();
    }
    await waitFor(() => hub().size === 0 && hub().subscriptionCount === 0);
  });
});
