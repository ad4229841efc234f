/** WEBHOOK_URL: where every end goes whose request named no webhookUrl; null in a request opts out. */
import { describe, expect, test } from "bun:test";
import { loadConfig } from "../../src/config.ts";
import { AUTH, testApp, testEnv, waitFor } from "../helpers.ts";
import { BASIC, comfyStack } from "../comfyui/helpers.ts";
import { webhookReceiver } from "./receiver.ts";

const FAST = { webhookPollMs: 20, webhookRetryDelaysMs: [50], webhookTimeoutMs: 2000 };
const json = { ...AUTH, "Content-Type": "application/json" };

describe("WEBHOOK_URL", () => {
  test("a task whose request names none notifies it; one naming its own, or null, does not", async () => {
    const all = webhookReceiver();
    const own = webhookReceiver();
    const t = testApp({ WEBHOOK_URL: all.url("/all?token=abc") }, FAST);
    try {
      const start = async (extra: Record<string, unknown>) =>
        (await (await t.request("/v1/tasks", { method: "POST", headers: json, body: JSON.stringify({ agent: "a", task: "x", provider: "exit0", ...extra }) })).json()).taskId as string;
      const byDefault = await start({});
      const mine = await start({ webhookUrl: own.url("/mine") });
      const none = await start({ webhookUrl: null });
      const shown = await (await t.request(`/v1/tasks/${byDefault}`, { headers: AUTH })).json();
      expect(shown.webhook).toMatchObject({ url: all.url("/all?token=abc") });
      expect((await (await t.request(`/v1/tasks/${none}`, { headers: AUTH })).json()).webhook).toBeNull();
      await waitFor(() => all.received.length === 1 && own.received.length === 1);
      await Bun.sleep(200);
      expect(all.events().map((e) => e.data.taskId)).toEqual([byDefault]);
      expect(own.events().map((e) => e.data.taskId)).toEqual([mine]);
      expect(all.received[0]!.path).toBe("/all");
    } finally {
      t.close();
      all.stop();
      own.stop();
    }
  });

  test("a workflow whose request names none notifies it", async () => {
    const all = webhookReceiver();
    const s = await comfyStack({ env: { WEBHOOK_URL: all.url("/all") }, server: FAST });
    try {
      const id = (await s.submit(BASIC)).body.workflowId;
      const silent = (await s.submit(BASIC, { webhookUrl: null })).body.workflowId;
      await s.until(silent, ["completed"]);
      await waitFor(() => all.received.length === 1);
      await Bun.sleep(200);
      expect(all.events().map((e) => [e.type, e.data.workflowId])).toEqual([["workflow.completed", id]]);
    } finally {
      await s.close();
      all.stop();
    }
  });

  test("must be an http(s) URL; like the keys, no task gets it", () => {
    for (const bad of ["not a url", "ftp://x.example/h", "http://"]) {
      const r = loadConfig(testEnv({ WEBHOOK_URL: bad }));
      expect(r.ok ? "" : r.errors[0]).toStartWith("WEBHOOK_URL: ");
    }
    const r = loadConfig(testEnv({ WEBHOOK_URL: "https://hooks.example.com/agent?token=s3cret" }));
    if (!r.ok) throw new Error(r.errors.join());
    expect(r.config.webhookDefaultUrl).toBe("https://hooks.example.com/agent?token=s3cret");
    expect(r.config.childEnvSource.WEBHOOK_URL).toBeUndefined();
  });
});
