/** WS /v1/comfyui/stream: authentication before the upgrade, subscriptions, and no leaks. */
import { afterAll, describe, expect, test } from "bun:test";
import { KEY, waitFor } from "../helpers.ts";
import { BASIC, comfyStack, eventSocket } from "./helpers.ts";

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
    const other = await s.submit(BASIC);
    const { body } = await s.submit({ ...BASIC, "1": { ...BASIC["1"], inputs: { ...BASIC["1"].inputs, color: 7 } } });
    send({ type: "subscribe", workflowId: body.workflowId });
    await s.until(body.workflowId, ["completed"]);
    await waitFor(() => messages.some((m) => m.type === "workflow:completed"));
    const mine = messages.filter((m) => m.type.startsWith("workflow:"));
    expect(mine.every((m) => m.workflowId === body.workflowId)).toBe(true);
    expect(mine.map((m) => m.type)).toContain("workflow:started");
    expect(mine.at(-1)!.type).toBe("workflow:completed");
    expect((mine.at(-1)!.data!.outputs as unknown[]).length).toBe(1);
    void other;
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
    await waitFor(() => messages.filter((m) => m.type === "error").length === 3);
    expect(messages.filter((m) => m.type === "error").map((m) => m.message)).toEqual([
      "Message is not JSON",
      'subscribe needs a workflowId (a UUID, or "*" for all workflows)',
      'Unknown message type "dance"; expected subscribe, unsubscribe or ping',
    ]);
    send({ type: "ping" });
    await waitFor(() => messages.some((m) => m.type === "pong"));
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.close();
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
