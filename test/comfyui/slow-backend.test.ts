/** A ComfyUI that is up but slow or busy: /object_info with many custom nodes, a gateway refusing for a while. */
import { describe, expect, test } from "bun:test";
import pino from "pino";
import { ComfyUnavailableError } from "../../src/comfyui/backend-errors.ts";
import { retryAfterMs } from "../../src/outbound.ts";
import { ComfyBackend } from "../../src/comfyui/backend.ts";
import { FakeComfyUI } from "../fake-comfyui.ts";
import { AUTH, FIXTURES, silentLogger, waitFor } from "../helpers.ts";
import { BASIC, chain, comfyStack } from "./helpers.ts";

const ui = await Bun.file(`${FIXTURES}/comfyui-workflows/basic_ui.json`).json();

describe("a slow or busy ComfyUI", () => {
  test("/object_info slower than the request timeout still arrives; callers wait a bounded time and share one fetch", async () => {
    const fake = new FakeComfyUI().start();
    fake.getDelayMs["/object_info"] = 1_500;
    const backend = new ComfyBackend({ name: "local", url: fake.url, clientId: "test", logger: silentLogger, requestTimeoutMs: 200, objectInfoWaitMs: 300, onMessage() {}, onConnect() {}, onDisconnect() {} });
    try {
      const started = Date.now();
      const early = await Promise.all([backend.objectInfo(), backend.objectInfo()].map((p) => p.catch((e: unknown) => e)));
      for (const err of early) {
        expect(err).toBeInstanceOf(ComfyUnavailableError);
        expect((err as Error).message).toContain("has not finished answering /object_info");
      }
      expect(Date.now() - started).toBeLessThan(1_500); // they did not wait for the whole answer
      // The fetch went on past the 200 ms request timeout: a retry gets its answer.
      const info = await waitFor(() => backend.objectInfo().catch(() => undefined), 10_000);
      expect(Object.keys(info)).toContain("EmptyImage");
      expect(fake.gets.filter((p) => p === "/object_info")).toHaveLength(1); // one fetch for every caller
    } finally {
      backend.close();
      fake.stop();
    }
  });

  test("a UI workflow waiting on /object_info is a 503 to retry; the retry converts it", async () => {
    const s = await comfyStack({ server: { comfyObjectInfoWaitMs: 300 } });
    try {
      s.fake.getDelayMs["/object_info"] = 800;
      const first = await s.submit(ui);
      expect([first.res.status, first.res.headers.get("Retry-After")]).toEqual([503, "10"]);
      expect(first.body.message).toContain("has not finished answering /object_info");
      expect(first.body.message).toContain("retry shortly, or submit the API format");
      const retry = await waitFor(async () => {
        const r = await s.submit(ui);
        return r.res.status === 202 ? r : undefined;
      });
      await s.until(retry.body.workflowId, ["completed"]);
      expect(s.fake.gets.filter((p) => p === "/object_info")).toHaveLength(1);
    } finally {
      await s.close();
    }
  });

  test("a gateway's 503 to POST /prompt while ComfyUI stays connected: the workflow waits, is sent again, and runs once", async () => {
    const s = await comfyStack();
    try {
      s.fake.unavailable["/prompt"] = 2; // the first send and the first resend are refused
      const { res, body } = await s.submit(BASIC);
      expect([res.status, body.status]).toEqual([202, "queued"]);
      const done = await s.until(body.workflowId, ["completed"], 10_000);
      expect(done.outputs).toHaveLength(1);
      const sends = s.fake.received.filter((r) => r.path === "/prompt" && (r.body as { prompt_id?: string }).prompt_id === body.workflowId);
      expect(sends).toHaveLength(3);
      expect(s.server.services.comfyui!.service.backends.get("local")!.connected).toBe(true); // no reconnect did it
    } finally {
      await s.close();
    }
  });

  test("a rate limit's 429 with Retry-After is honoured: the workflow is sent again no sooner; an upload's 503 passes it on", async () => {
    const s = await comfyStack();
    try {
      s.fake.refusal = { status: 429, retryAfter: "2" };
      s.fake.unavailable["/prompt"] = 1;
      const { body } = await s.submit(BASIC);
      await s.until(body.workflowId, ["completed"], 10_000);
      const sends = s.fake.received.filter((r) => r.path === "/prompt" && (r.body as { prompt_id?: string }).prompt_id === body.workflowId);
      expect(sends).toHaveLength(2);
      // Not after the usual first pause of 1 s: after the 2 s it asked for.
      expect(sends[1]!.at - sends[0]!.at).toBeGreaterThanOrEqual(1950);

      s.fake.refusal = { status: 503, retryAfter: "7" };
      s.fake.unavailable["/upload/image"] = 1;
      const form = new FormData();
      form.set("image", new File([new Uint8Array([137, 80, 78, 71])], "x.png", { type: "image/png" }));
      const res = await fetch(`${s.base}/v1/comfyui/upload`, { method: "POST", headers: AUTH, body: form });
      expect([res.status, res.headers.get("Retry-After")]).toEqual([503, "7"]);
    } finally {
      await s.close();
    }
  });

  test("Retry-After in seconds or as a date, at most 10 minutes; anything else is none", () => {
    const now = Date.parse("2026-11-27T12:00:00Z");
    expect(retryAfterMs("120", now)).toBe(120_000);
    expect(retryAfterMs(" 0 ", now)).toBe(0);
    expect(retryAfterMs("Fri, 27 Nov 2026 12:00:30 GMT", now)).toBe(30_000);
    expect(retryAfterMs("Fri, 27 Nov 2026 11:00:00 GMT", now)).toBe(0);
    expect(retryAfterMs("99999", now)).toBe(600_000);
    for (const bad of [null, "", "soon", "-5", "1.5"]) expect(retryAfterMs(bad, now)).toBeUndefined();
  });

  test("a cancel ComfyUI could not be told of (a 503) stops the workflow as soon as it starts there", async () => {
    const s = await comfyStack({ nodeMs: 150 });
    try {
      const ahead = (await s.submit(chain(3, "ahead"))).body.workflowId;
      await s.until(ahead, ["running"]);
      const behind = (await s.submit(chain(5, "behind"))).body.workflowId;
      s.fake.unavailable["/queue"] = 1; // the delete from ComfyUI's queue is refused
      const res = await fetch(`${s.base}/v1/comfyui/workflow/${behind}`, { method: "DELETE", headers: AUTH });
      expect([res.status, (await res.json()).status]).toEqual([200, "cancelled"]);
      await s.until(ahead, ["completed"]);
      // ComfyUI still held it and started it: told at once to stop, it ran one node of six at most.
      const history = await waitFor(() => s.fake.history.get(behind));
      expect(history.status.messages.map(([type]) => type)).toContain("execution_interrupted");
      expect(Object.keys(history.outputs)).toHaveLength(0);
      expect((await s.get(behind)).status).toBe("cancelled");
    } finally {
      await s.close();
    }
  });

  test("a running workflow whose interrupt was refused (a 503) is interrupted again at its next message", async () => {
    const s = await comfyStack({ nodeMs: 150 });
    try {
      const id = (await s.submit(chain(5, "running"))).body.workflowId;
      await s.until(id, ["running"]);
      s.fake.unavailable["/interrupt"] = 1;
      const res = await fetch(`${s.base}/v1/comfyui/workflow/${id}`, { method: "DELETE", headers: AUTH });
      expect([res.status, (await res.json()).status]).toEqual([200, "cancelled"]);
      const history = await waitFor(() => s.fake.history.get(id));
      expect(history.status.messages.map(([type]) => type)).toContain("execution_interrupted");
      expect(Object.keys(history.outputs)).toHaveLength(0); // it never reached its SaveImage
    } finally {
      await s.close();
    }
  });

  test("a cancel ComfyUI answered sends one interrupt: the messages before it takes effect send no more, nor claim ComfyUI was not told", async () => {
    const lines: { msg: string }[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const s = await comfyStack({ nodeMs: 150, logger });
    try {
      const id = (await s.submit(chain(5, "running"))).body.workflowId;
      await s.until(id, ["running"]);
      const res = await fetch(`${s.base}/v1/comfyui/workflow/${id}`, { method: "DELETE", headers: AUTH });
      expect([res.status, (await res.json()).status]).toEqual([200, "cancelled"]);
      // ComfyUI stops at the next node: its `executing` for that node, the interrupt, `executing` null.
      const history = await waitFor(() => s.fake.history.get(id));
      expect(history.status.messages.map(([type]) => type)).toContain("execution_interrupted");
      const next = (await s.submit(chain(1, "next"))).body.workflowId;
      await s.until(next, ["completed"]); // every message of the cancelled one has come by now
      expect(s.fake.received.filter((r) => r.path === "/interrupt")).toHaveLength(1);
      expect(lines.filter((l) => /could not be told/.test(l.msg))).toEqual([]);
    } finally {
      await s.close();
    }
  });

  test("while ComfyUI is too busy to answer /queue, a queued workflow's status answers within 2 s from the last look", async () => {
    const s = await comfyStack({ nodeMs: 200 });
    try {
      const ahead = (await s.submit(chain(10, "ahead"))).body.workflowId;
      await s.until(ahead, ["running"]);
      const behind = (await s.submit(chain(1, "behind"))).body.workflowId;
      expect((await s.get(behind)).queuePosition).toBe(1);
      s.fake.getDelayMs["/queue"] = 6_000;
      await Bun.sleep(300); // past the 250 ms a look at the queue is reused for
      const asked = Date.now();
      const w = await s.get(behind);
      expect([w.status, w.queuePosition]).toEqual(["queued", 1]);
      expect(Date.now() - asked).toBeLessThan(4_000);
    } finally {
      s.fake.getDelayMs["/queue"] = 0;
      await s.close();
    }
  });
});
