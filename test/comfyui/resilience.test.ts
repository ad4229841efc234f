/** ComfyUI going away and coming back, and our own API restarting mid-run. */
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import pino from "pino";
import { ComfyUnavailableError } from "../../src/comfyui/backend-errors.ts";
import { ComfyBackend } from "../../src/comfyui/backend.ts";
import { createServer } from "../../src/server.ts";
import { FakeComfyUI } from "../fake-comfyui.ts";
import { AUTH, FIXTURES, silentLogger, waitFor } from "../helpers.ts";
import { BASIC, chain, comfyStack } from "./helpers.ts";

describe("backend failures", () => {
  test("while ComfyUI is down, workflows wait and run when it returns", async () => {
    const s = await comfyStack();
    const port = s.fake.port;
    s.fake.stop();
    await waitFor(() => !s.server.services.comfyui!.service.backends.get("local")!.connected);
    const ready = await (await fetch(`${s.base}/ready`)).json();
    expect(ready).toMatchObject({ ready: true, comfyui: { local: { reachable: false } } });
    const a = await s.submit(chain(0, "waited-a"));
    const b = await s.submit(chain(0, "waited-b"));
    expect(a.res.status).toBe(202);
    expect([a.body.queuePosition, b.body.queuePosition]).toEqual([1, 2]);
    expect((await s.get(a.body.workflowId)).status).toBe("queued");
    const fresh = new FakeComfyUI({ port, nodeMs: 10 });
    fresh.start();
    const done = await Promise.all([s.until(a.body.workflowId, ["completed"]), s.until(b.body.workflowId, ["completed"])]);
    expect(Date.parse(done[0].startTime)).toBeLessThan(Date.parse(done[1].startTime));
    await s.server.shutdown();
    fresh.stop();
  });

  test("a cancel while the WebSocket is down takes the reconnect's word: one ComfyUI ran unseen and completed is completed (409), a queued one cancelled", async () => {
    const s = await comfyStack({ nodeMs: 1000 });
    try {
      const backend = s.server.services.comfyui!.service.backends.get("local")!;
      s.fake.dropWebSockets(2500); // HTTP goes on: what ComfyUI says meanwhile reaches no one
      await waitFor(() => !backend.connected);
      const unseen = (await s.submit(chain(0, "unseen"))).body.workflowId; // EmptyImage, then SaveImage: a second each
      const behind = (await s.submit(chain(0, "behind"))).body.workflowId;
      const sent = s.fake.received.find((r) => r.path === "/prompt" && (r.body as { prompt_id: string }).prompt_id === unseen)!.at;
      // During its SaveImage, which an interrupt does not stop (later is the same: it has completed).
      await Bun.sleep(Math.max(0, sent + 1800 - Date.now()));
      expect((await s.get(unseen)).status).toBe("queued"); // as far as the API can tell
      const [late, early] = await Promise.all([unseen, behind].map((id) => fetch(`${s.base}/v1/comfyui/workflow/${id}`, { method: "DELETE", headers: AUTH })));
      expect([late!.status, (await late!.json()).currentStatus]).toEqual([409, "completed"]);
      expect([early!.status, (await early!.json()).status]).toEqual([200, "cancelled"]);
      expect((await s.get(unseen)).outputs).toHaveLength(1);
      expect(s.fake.history.has(behind)).toBe(false); // never ran
    } finally {
      await s.close();
    }
  });

  test("a waiting workflow cancelled while the ones before it are being sent is never sent", async () => {
    const s = await comfyStack();
    const port = s.fake.port;
    s.fake.stop();
    await waitFor(() => !s.server.services.comfyui!.service.backends.get("local")!.connected);
    const a = (await s.submit(chain(0, "sent"))).body.workflowId;
    const b = (await s.submit(chain(0, "cancelled"))).body.workflowId;
    const c = (await s.submit(chain(0, "sent-after"))).body.workflowId;
    const fresh = new FakeComfyUI({ port, nodeMs: 10, promptAnswerDelayMs: 500 }).start();
    await waitFor(() => fresh.received.some((r) => r.path === "/prompt")); // the first is on its way
    const res = await fetch(`${s.base}/v1/comfyui/workflow/${b}`, { method: "DELETE", headers: AUTH });
    expect(res.status).toBe(200);
    await s.until(c, ["completed"]); // the sending has gone past the cancelled one
    expect(fresh.received.filter((r) => r.path === "/prompt").map((r) => (r.body as { prompt_id: string }).prompt_id)).toEqual([a, c]);
    await s.server.shutdown();
    fresh.stop();
  });

  test("an output download slower than the request timeout is not cut short; a ComfyUI that never answers still times out", async () => {
    const fake = new FakeComfyUI().start();
    const bytes = new Uint8Array(8 * 1024 * 1024).map((_, i) => i % 251);
    fake.files.set("output//big.mp4", bytes);
    const hung = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Promise<Response>(() => {}) });
    // Long enough for the headers to come in time on a loaded machine (200 ms was not, once).
    const timeoutMs = 1000;
    const backend = (url: string) =>
      new ComfyBackend({ name: "local", url, clientId: "test", logger: silentLogger, requestTimeoutMs: timeoutMs, onMessage() {}, onConnect() {}, onDisconnect() {} });
    const file = { filename: "big.mp4", subfolder: "", type: "output" };
    try {
      const res = await backend(fake.url).view(file);
      const reader = res.body!.getReader();
      const first = await reader.read();
      const chunks: Uint8Array[] = [first.value!];
      await Bun.sleep(timeoutMs * 1.5); // a slow client: the rest of the body is read after the timeout
      for (let r = await reader.read(); !r.done; r = await reader.read()) chunks.push(r.value);
      expect(Buffer.concat(chunks).equals(Buffer.from(bytes))).toBe(true);

      const before = Date.now();
      const err = await backend(hung.url.origin).view(file).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ComfyUnavailableError);
      expect((err as Error).message).toContain("timed out");
      expect(Date.now() - before).toBeLessThan(timeoutMs + 1_500);
    } finally {
      hung.stop(true);
      fake.stop();
    }
  });

  test("a UI workflow while ComfyUI is down and /object_info is not cached -> 503", async () => {
    const fake = new FakeComfyUI().start();
    const port = fake.port;
    fake.stop();
    const s = await comfyStack({ fake, env: { COMFYUI_URL: `http://127.0.0.1:${port}` } });
    const ui = await Bun.file(`${FIXTURES}/comfyui-workflows/basic_ui.json`).json();
    const { res, body } = await s.submit(ui);
    expect(res.status).toBe(503);
    expect(body.message).toContain("object_info");
    // One full stop between the cause and the advice, whatever punctuation the cause ends with.
    expect(body.message).not.toMatch(/[.?!]\./);
    expect(body.message).toMatch(/is unreachable: .+[.?!] A UI-format workflow is converted with \/object_info/);
    expect(res.headers.get("Retry-After")).toBeTruthy();
    await s.server.shutdown();
  });

  test("a COMFYUI_URL that is not ComfyUI (a web page) is a 502 that says so, and the log says once why it cannot connect", async () => {
    const page = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("<!doctype html><title>nginx</title>", { headers: { "Content-Type": "text/html" } }) });
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const url = `http://127.0.0.1:${page.port}`;
    const s = await comfyStack({ fake: new FakeComfyUI(), logger, env: { COMFYUI_URL: url } });
    try {
      const ui = await s.submit(await Bun.file(`${FIXTURES}/comfyui-workflows/basic_ui.json`).json());
      expect([ui.res.status, ui.body.message]).toEqual([502, `ComfyUI (local) answered 200 to GET /object_info with text/html, not JSON: is COMFYUI_URL (${url}) a ComfyUI server?`]);
      const models = await fetch(`${s.base}/v1/comfyui/models`, { headers: AUTH });
      expect([models.status, (await models.json()).message]).toEqual([502, `ComfyUI (local) answered 200 to GET /models/checkpoints with text/html, not JSON: is COMFYUI_URL (${url}) a ComfyUI server?`]);
      await waitFor(() => lines.filter((l) => l.msg === "cannot reach ComfyUI; retrying in the background").length > 0);
      await Bun.sleep(300); // several reconnect attempts (50 ms backoff, doubling)
      const told = lines.filter((l) => l.msg === "cannot reach ComfyUI; retrying in the background");
      expect(told).toEqual([expect.objectContaining({ level: 40, backend: "local", url, error: expect.stringContaining("Expected 101 status code: 200") })]);
    } finally {
      await s.server.shutdown();
      page.stop(true);
    }
  });

  test("a message that cannot be parsed, or that fails to be handled, is logged as such; the next one is handled", async () => {
    const ws = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: (req, srv) => (srv.upgrade(req) ? undefined : new Response("", { status: 400 })),
      websocket: {
        open(sock) {
          for (const m of ["{not json", '{"type":"executing","data":{}}', '{"type":"status","data":{"status":{"exec_info":{"queue_remaining":3}}}}']) sock.send(m);
        },
        message() {},
      },
    });
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const seen: string[] = [];
    const backend = new ComfyBackend({
      name: "local",
      url: `http://127.0.0.1:${ws.port}`,
      clientId: "test",
      logger,
      onMessage(_, msg) {
        seen.push(msg.type);
        if (msg.type === "executing") throw new TypeError("a handler's bug");
      },
      onConnect() {},
      onDisconnect() {},
    });
    backend.start();
    try {
      await waitFor(() => seen.includes("status"));
      expect([seen, backend.queueRemaining, backend.connected]).toEqual([["executing", "status"], 3, true]);
      expect(lines.find((l) => l.msg === "unparseable ComfyUI message")).toMatchObject({ level: 40, message: "{not json" });
      expect(lines.find((l) => l.msg === "handling a ComfyUI message failed")).toMatchObject({ level: 50, type: "executing", err: { message: "a handler's bug" } });
    } finally {
      backend.close();
      ws.stop(true);
    }
  });

  test("/object_info is fetched again after ComfyUI restarts (new custom nodes); while it is down the last copy serves", async () => {
    const s = await comfyStack();
    const ui = await Bun.file(`${FIXTURES}/comfyui-workflows/basic_ui.json`).json();
    const fetches = () => s.fake.gets.filter((p) => p === "/object_info").length;
    expect((await s.submit(ui)).res.status).toBe(202);
    expect((await s.submit(ui)).res.status).toBe(202);
    expect(fetches()).toBe(1); // cached between submissions
    const backend = s.server.services.comfyui!.service.backends.get("local")!;
    s.fake.stop();
    await waitFor(() => !backend.connected);
    s.fake.start(); // same port: ComfyUI back after a restart
    await waitFor(() => backend.connected);
    expect((await s.submit(ui)).res.status).toBe(202);
    expect(fetches()).toBe(2); // once more after the reconnect
    const port = s.fake.port;
    s.fake.stop();
    await waitFor(() => !backend.connected);
    const waiting = await s.submit(ui);
    expect([waiting.res.status, waiting.body.status]).toEqual([202, "queued"]);
    const back = new FakeComfyUI({ port, nodeMs: 10 }).start();
    await s.until(waiting.body.workflowId, ["completed"]);
    await s.server.shutdown();
    back.stop();
  });

  test("ComfyUI restarting mid-run -> failed with a clear error, never stuck running", async () => {
    const s = await comfyStack({ nodeMs: 150 });
    const { body } = await s.submit(chain(5, "crash"));
    await s.until(body.workflowId, ["running"]);
    s.fake.restart();
    const w = await s.until(body.workflowId, ["failed"]);
    expect(w.error).toContain("restarted or its queue was cleared");
    // Lost to a restart even when ComfyUI's first status (a queue change) comes while the
    // reconnect still sends what waited: never taken for a delete in ComfyUI's own UI.
    const lost = (await s.submit(chain(5, "lost"))).body.workflowId;
    await s.until(lost, ["running"]);
    s.fake.stop();
    await waitFor(() => !s.server.services.comfyui!.service.backends.get("local")!.connected);
    const waiting = (await s.submit(BASIC)).body.workflowId;
    s.fake.promptAnswerDelayMs = 1000; // longer than a queue check's wait (0.5 s): it runs meanwhile
    s.fake.start();
    const after = await s.until(lost, ["failed", "cancelled"]);
    expect([after.status, after.error]).toEqual(["failed", expect.stringContaining("restarted or its queue was cleared")]);
    await s.until(waiting, ["completed"]);
    s.fake.promptAnswerDelayMs = 0;
    // The backend is usable again.
    const next = await s.submit(BASIC);
    await s.until(next.body.workflowId, ["completed"]);
    await s.close();
  });
});

describe("restart of our API", () => {
  test("no workflow is lost; ones that finished meanwhile are settled from /history, running ones followed", async () => {
    const fake = new FakeComfyUI({ nodeMs: 120 }).start();
    const s = await comfyStack({ fake });
    const quick = await s.submit(chain(0, "quick"));
    const slow = await s.submit(chain(6, "slow"));
    await s.until(quick.body.workflowId, ["completed"]);
    await s.until(slow.body.workflowId, ["running"]);
    const queuedBehind = await s.submit(chain(0, "behind"));
    await s.server.shutdown();

    const again = await createServer(s.config, silentLogger, { comfyBackoffMs: 50 });
    const base = `http://127.0.0.1:${again.port}`;
    const get = async (id: string) => (await fetch(`${base}/v1/comfyui/workflow/${id}`, { headers: AUTH })).json();
    expect((await get(quick.body.workflowId)).status).toBe("completed");
    const settled = await waitFor(async () => {
      const w = await get(queuedBehind.body.workflowId);
      return w.status === "completed" ? w : undefined;
    });
    expect(settled.outputs[0].filename).toMatch(/^behind_/);
    const slowDone = await get(slow.body.workflowId);
    expect(slowDone.status).toBe("completed");
    expect(slowDone.outputs[0].filename).toMatch(/^slow_/);
    const all = await (await fetch(`${base}/v1/comfyui/outputs`, { headers: AUTH })).json();
    expect(all.outputs.length).toBe(3);
    await again.shutdown();
    fake.stop();
  });

  test("a workflow whose POST reached ComfyUI just before the API stopped is not sent a second time", async () => {
    const fake = new FakeComfyUI({ nodeMs: 150 }).start();
    const s = await comfyStack({ fake });
    await s.submit(chain(3, "ahead")); // keeps the next one waiting in ComfyUI's queue
    const id = (await s.submit(chain(2, "in-flight"))).body.workflowId;
    await s.server.shutdown();
    // As if the API had died between its POST and noting it: ComfyUI holds the prompt, our record says "not sent".
    const db = new Database(s.config.dbPath);
    db.query("UPDATE workflows SET submitted = 0 WHERE workflowId = ?").run(id);
    db.close();

    const again = await createServer(s.config, silentLogger, { comfyBackoffMs: 50 });
    const get = async () => (await fetch(`http://127.0.0.1:${again.port}/v1/comfyui/workflow/${id}`, { headers: AUTH })).json();
    const done = await waitFor(async () => {
      const w = await get();
      return w.status === "completed" ? w : undefined;
    });
    expect(done.outputs).toHaveLength(1);
    expect(fake.received.filter((r) => r.path === "/prompt" && (r.body as { prompt_id: string }).prompt_id === id)).toHaveLength(1);
    await again.shutdown();
    fake.stop();
  });

  test("a cancel is noted before ComfyUI is told: one under way when the API stopped ends cancelled at the next start, not failed as lost, and is never sent", async () => {
    const fake = new FakeComfyUI({ nodeMs: 150 }).start();
    const s = await comfyStack({ fake });
    await s.submit(chain(4, "ahead")); // keeps the others waiting in ComfyUI's queue
    const cancelled = (await s.submit(chain(1, "cancelled"))).body.workflowId;
    const res = await fetch(`${s.base}/v1/comfyui/workflow/${cancelled}`, { method: "DELETE", headers: AUTH });
    expect(res.status).toBe(200);
    const told = fake.received.find((r) => r.path === "/queue" && JSON.stringify(r.body).includes(cancelled))!;
    const noted = s.server.services.comfyui!.store.get(cancelled)!.cancelRequestedAt!;
    expect(noted).toBeLessThanOrEqual(told.at);

    const sent = (await s.submit(chain(1, "sent"))).body.workflowId;
    const waiting = (await s.submit(chain(2, "waiting"))).body.workflowId;
    await s.server.shutdown();
    // As if the API had died mid-cancel: ComfyUI took both out of its queue; our records say only
    // that a cancel was asked for. One of them had not even been noted as sent.
    fake.queue = fake.queue.filter((i) => i.id !== sent && i.id !== waiting);
    const db = new Database(s.config.dbPath);
    db.query("UPDATE workflows SET cancelRequestedAt = ? WHERE workflowId IN (?, ?)").run(Date.now(), sent, waiting);
    db.query("UPDATE workflows SET submitted = 0 WHERE workflowId = ?").run(waiting);
    db.close();

    const again = await createServer(s.config, silentLogger, { comfyBackoffMs: 50 });
    const get = async (id: string) => (await fetch(`http://127.0.0.1:${again.port}/v1/comfyui/workflow/${id}`, { headers: AUTH })).json();
    for (const id of [sent, waiting]) {
      const w = await waitFor(async () => {
        const w = await get(id);
        return w.status !== "queued" ? w : undefined;
      });
      expect([w.status, w.error]).toEqual(["cancelled", null]);
    }
    expect(fake.received.filter((r) => r.path === "/prompt" && (r.body as { prompt_id: string }).prompt_id === waiting)).toHaveLength(1);
    await again.shutdown();
    fake.stop();
  });
});
