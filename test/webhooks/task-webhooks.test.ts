/** Webhooks on a task's end: signed, tried again, given up, and shown on the task. */
import { afterAll, describe, expect, test } from "bun:test";
import { Webhook } from "standardwebhooks";
import { networkErrorText } from "../../src/webhooks/webhook-sender.ts";
import { AUTH, testApp, waitFor } from "../helpers.ts";
import { webhookReceiver } from "./receiver.ts";

const SECRET = `whsec_${Buffer.from("0123456789abcdef0123456789abcdef").toString("base64")}`;
const FAST = { webhookPollMs: 20, webhookRetryDelaysMs: [50, 50, 50], webhookTimeoutMs: 500 };
const t = testApp({ WEBHOOK_SECRET: SECRET }, FAST);
afterAll(() => t.close());
const json = { ...AUTH, "Content-Type": "application/json" };

async function start(body: Record<string, unknown>, app = t) {
  const res = await app.request("/v1/tasks", { method: "POST", headers: json, body: JSON.stringify({ agent: "coder", task: "x", provider: "exit0", ...body }) });
  return { res, body: await res.json() };
}
const get = async (id: string, app = t) => (await app.request(`/v1/tasks/${id}`, { headers: AUTH })).json();
const webhookOf = (id: string, status: string, app = t) =>
  waitFor(async () => {
    const task = await get(id, app);
    return task.webhook?.status === status ? task : undefined;
  });

describe("a task's webhook", () => {
  test("its end is POSTed once, signed as Standard Webhooks verify it, with the task as GET shows it", async () => {
    const r = webhookReceiver();
    try {
      const { res, body } = await start({ webhookUrl: r.url("/done?token=abc") });
      expect(res.status).toBe(202);
      expect((await get(body.taskId)).webhook).toMatchObject({ url: r.url("/done?token=abc"), status: expect.stringMatching(/^(waiting|sending|delivered)$/) });
      const task = await webhookOf(body.taskId, "delivered");
      expect(task.webhook).toMatchObject({ attempts: 1, lastError: null, nextAttemptAt: null, deliveredAt: expect.any(String) });
      await Bun.sleep(150); // no second notification
      expect(r.received).toHaveLength(1);
      const [hit] = r.received;
      expect(hit!.headers["content-type"]).toBe("application/json");
      expect(hit!.headers["user-agent"]).toMatch(/^agentic-flow-management-api\/\d+\.\d+\.\d+$/);
      expect(hit!.headers["webhook-id"]).toMatch(/^msg_[0-9a-f]{32}$/);
      const event = new Webhook(SECRET).verify(hit!.body, hit!.headers) as { type: string; timestamp: string; data: Record<string, unknown> };
      expect(event.type).toBe("task.completed");
      expect(event.timestamp).toBe(task.exitTime);
      const { logTail: _, webhook: __, ...shown } = task;
      expect(event.data).toMatchObject({ ...shown, webhook: { url: r.url("/done?token=abc"), status: "sending", attempts: 0 } });
      expect((await (await t.request("/v1/status", { headers: AUTH })).json()).webhooks).toEqual({ signed: true, pending: 0 });
      // A tampered body fails the check.
      expect(() => new Webhook(SECRET).verify(hit!.body.replace("completed", "failed"), hit!.headers)).toThrow();
    } finally {
      r.stop();
    }
  });

  test("a failed, stopped and never-started task are notified too, each once; lists show the webhook", async () => {
    const r = webhookReceiver();
    try {
      const failed = (await start({ provider: "exit3", webhookUrl: r.url() })).body.taskId;
      const stopped = (await start({ provider: "sleeper", webhookUrl: r.url() })).body.taskId;
      await waitFor(async () => (await get(stopped)).logTail.includes("sleeping"));
      await t.request(`/v1/tasks/${stopped}`, { method: "DELETE", headers: AUTH });
      const never = await start({ provider: "missing-cli", webhookUrl: r.url() });
      expect(never.res.status).toBe(500);
      const neverId = never.body.taskId as string;
      for (const id of [failed, stopped, neverId]) await webhookOf(id, "delivered");
      const byTask = Object.fromEntries(r.events().map((e) => [e.data.taskId, e.type]));
      expect(byTask).toEqual({ [failed]: "task.failed", [stopped]: "task.stopped", [neverId]: "task.failed" });
      expect(r.received).toHaveLength(3);
      const list = await (await t.request("/v1/tasks?status=all&limit=500", { headers: AUTH })).json();
      const shown = Object.fromEntries(list.tasks.map((x: { taskId: string; webhook: unknown }) => [x.taskId, x.webhook]));
      expect(shown[failed]).toMatchObject({ status: "delivered", attempts: 1 });
      const plain = (await start({})).body.taskId;
      await waitFor(async () => (await get(plain)).exitTime);
      expect((await get(plain)).webhook).toBeNull();
    } finally {
      r.stop();
    }
  });

  test("tried again after a 500, a refused connection and a timeout, with the same webhook-id; delivered at last", async () => {
    const r = webhookReceiver((n) => (n === 1 ? new Response("no", { status: 500 }) : n === 2 ? "hang" : new Response("ok")));
    try {
      const id = (await start({ webhookUrl: r.url() })).body.taskId;
      const task = await webhookOf(id, "delivered");
      expect(task.webhook).toMatchObject({ attempts: 3, lastError: null });
      expect(new Set(r.received.map((x) => x.headers["webhook-id"])).size).toBe(1);
      // Each attempt is signed anew: its timestamp is part of what is signed.
      for (const x of r.received) expect(() => new Webhook(SECRET).verify(x.body, x.headers)).not.toThrow();
      // Nothing listens here: the connection is refused.
      const closed = webhookReceiver();
      const nowhere = closed.url();
      closed.stop();
      const lost = (await start({ webhookUrl: nowhere })).body.taskId;
      const given = await webhookOf(lost, "failed");
      expect(given.webhook.attempts).toBe(4); // the first and one after each of the three delays
      expect(given.webhook.lastError).toMatch(/ConnectionRefused|ECONNREFUSED|Unable to connect/);
      // The code once, though Bun's message starts with it too.
      expect(given.webhook.lastError).not.toMatch(/(\w+): \1:/);
      const metrics = await (await t.request("/metrics")).text();
      expect(metrics).toMatch(/webhook_deliveries_total\{status="failed"\} [1-9]/);
      expect(metrics).toMatch(/webhook_attempts_total\{outcome="timeout"\} [1-9]/);
    } finally {
      r.stop();
    }
  });

  test("a 410 gives up at once; a redirect is not followed; Retry-After is honoured", async () => {
    const gone = webhookReceiver(() => new Response(null, { status: 410 }));
    const moved = webhookReceiver(() => new Response(null, { status: 302, headers: { Location: "/elsewhere" } }));
    const busy = webhookReceiver((n) => (n === 1 ? new Response(null, { status: 503, headers: { "Retry-After": "1" } }) : new Response(null)));
    try {
      const a = (await start({ webhookUrl: gone.url() })).body.taskId;
      const b = (await start({ webhookUrl: moved.url() })).body.taskId;
      const c = (await start({ webhookUrl: busy.url() })).body.taskId;
      expect((await webhookOf(a, "failed")).webhook).toMatchObject({ attempts: 1, lastError: "HTTP 410: the receiver asked for no more notifications" });
      const redirected = await webhookOf(b, "failed");
      expect(redirected.webhook.lastError).toBe("HTTP 302: redirected to /elsewhere; give the final address as webhookUrl");
      expect(moved.received.map((x) => x.path)).toEqual(["/hook", "/hook", "/hook", "/hook"]);
      await webhookOf(c, "delivered");
      expect(busy.received[1]!.at - busy.received[0]!.at).toBeGreaterThanOrEqual(950);
    } finally {
      gone.stop();
      moved.stop();
      busy.stop();
    }
  });

  test("a continuation keeps the earlier task's webhook unless told otherwise; null for none", async () => {
    const r = webhookReceiver();
    try {
      const first = (await start({ provider: "claude-session", webhookUrl: r.url("/first") })).body.taskId;
      await webhookOf(first, "delivered");
      const follow = async (body: Record<string, unknown>) => (await (await t.request(`/v1/tasks/${first}/continue`, { method: "POST", headers: json, body: JSON.stringify({ task: "more", ...body }) })).json()).taskId as string;
      const same = await follow({});
      expect((await webhookOf(same, "delivered")).webhook.url).toBe(r.url("/first"));
      const other = await follow({ webhookUrl: r.url("/second") });
      expect((await webhookOf(other, "delivered")).webhook.url).toBe(r.url("/second"));
      const none = await follow({ webhookUrl: null });
      await waitFor(async () => (await get(none)).exitTime);
      expect((await get(none)).webhook).toBeNull();
      expect(r.received.map((x) => x.path)).toEqual(["/first", "/first", "/second"]);
    } finally {
      r.stop();
    }
  });

  test("a password in the URL is sent, and shown masked", async () => {
    const r = webhookReceiver();
    try {
      const url = r.url().replace("http://", "http://ci:s3cret@");
      const id = (await start({ webhookUrl: url })).body.taskId;
      const task = await webhookOf(id, "delivered");
      expect(task.webhook.url).toBe(r.url().replace("http://", "http://ci:***@"));
      expect(r.received[0]!.headers.authorization).toBe(`Basic ${btoa("ci:s3cret")}`);
      expect(JSON.stringify(r.events()[0])).not.toContain("s3cret");
    } finally {
      r.stop();
    }
  });

  test("a webhookUrl that is no http(s) URL is a 400 naming the field", async () => {
    for (const bad of ["ftp://example.com/x", "not a url", "/relative", "http://", `https://example.com/${"x".repeat(2048)}`, 42]) {
      const { res, body } = await start({ webhookUrl: bad });
      expect(res.status).toBe(400);
      expect(body.message).toContain("body/webhookUrl");
    }
  });
});

describe("how soon a webhook goes", () => {
  test("at a task's end, not at the next look at the outbox", async () => {
    const r = webhookReceiver();
    // The outbox is looked at once a minute here: only the end itself can send these in time.
    const lazy = testApp({}, { webhookPollMs: 60_000, webhookRetryDelaysMs: [50], webhookTimeoutMs: 2000 });
    try {
      await Bun.sleep(50); // past the first look, at start
      const { body } = await start({ webhookUrl: r.url("/task") }, lazy);
      const ended = await waitFor(async () => (await get(body.taskId, lazy)).exitTime, 10_000);
      await waitFor(() => r.received.length === 1, 3000);
      expect(r.events()[0]).toMatchObject({ type: "task.completed", data: { taskId: body.taskId } });
      expect(Date.now() - Date.parse(ended)).toBeLessThan(3000);
    } finally {
      lazy.close();
      r.stop();
    }
  });
});

describe("many webhooks at once", () => {
  test("a batch goes as fast as the receiver takes it, not a few per poll", async () => {
    const r = webhookReceiver();
    // One poll every 3 s: 20 notifications, 8 at a time, would take three polls if each waited for one.
    const slow = testApp({}, { webhookPollMs: 3000, webhookRetryDelaysMs: [50], webhookTimeoutMs: 2000 });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) ids.push((await start({ webhookUrl: r.url(), queue: true }, slow)).body.taskId);
      await waitFor(async () => (await Promise.all(ids.map((id) => get(id, slow)))).every((x) => x.exitTime), 20_000);
      await waitFor(() => r.received.length >= 1, 10_000);
      const first = Date.now();
      await waitFor(() => r.received.length === 20, 10_000);
      expect(Date.now() - first).toBeLessThan(2500);
      expect(new Set(r.events().map((e) => e.data.taskId)).size).toBe(20);
    } finally {
      slow.close();
      r.stop();
    }
  });
});

describe("a failed delivery's lastError", () => {
  test("names the error's code once: before a message that lacks it, not again where the message has it", () => {
    const err = (code: unknown, message: string) => Object.assign(new TypeError(message), { code });
    expect(networkErrorText(err("ECONNREFUSED", "ECONNREFUSED: Unable to connect."))).toBe("ECONNREFUSED: Unable to connect.");
    expect(networkErrorText(err("ENOTFOUND", "getaddrinfo ENOTFOUND hooks.invalid"))).toBe("getaddrinfo ENOTFOUND hooks.invalid");
    expect(networkErrorText(err("ECONNRESET", "The socket closed."))).toBe("ECONNRESET: The socket closed.");
    expect(networkErrorText(err(23, "The operation timed out."))).toBe("The operation timed out.");
    expect(networkErrorText("plain")).toBe("plain");
  });
});
