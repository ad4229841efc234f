/** Labels on tasks and workflows: kept, shown, inherited, and used to find and stop the ones that carry them. */
import { afterAll, describe, expect, test } from "bun:test";
import { AUTH, testApp, waitFor } from "./helpers.ts";
import { BASIC, chain, comfyStack } from "./comfyui/helpers.ts";

const t = testApp();
afterAll(() => t.close());
const json = { ...AUTH, "Content-Type": "application/json" };
const start = async (body: Record<string, unknown>) => {
  const res = await t.request("/v1/tasks", { method: "POST", headers: json, body: JSON.stringify({ agent: "a", task: "x", provider: "sleeper", ...body }) });
  return { res, body: await res.json() };
};
const get = async (id: string) => (await t.request(`/v1/tasks/${id}`, { headers: AUTH })).json();
const ids = async (query: string) => ((await (await t.request(`/v1/tasks?${query}`, { headers: AUTH })).json()).tasks as { taskId: string }[]).map((x) => x.taskId).sort();

describe("task labels", () => {
  test("shown with the task; ?label= finds those carrying every one; DELETE ?label= stops only them", async () => {
    const a = (await start({ labels: { job: "1", repo: "shop" } })).body.taskId;
    const b = (await start({ labels: { job: "1", repo: "blog" } })).body.taskId;
    const c = (await start({ labels: { job: "2" } })).body.taskId;
    const d = (await start({})).body.taskId;
    expect((await get(a)).labels).toEqual({ job: "1", repo: "shop" });
    expect((await get(d)).labels).toEqual({});
    expect(await ids("label=job=1")).toEqual([a, b].sort());
    expect(await ids("label=job=1&label=repo=blog")).toEqual([b]);
    expect(await ids("label=job=3")).toEqual([]);
    expect(await ids("label=repo=shop&status=completed")).toEqual([]);
    // A value may hold '=' and anything else; a name is matched whole.
    const e = (await start({ labels: { "team.io/owner": "a=b c" } })).body.taskId;
    expect(await ids(`label=${encodeURIComponent("team.io/owner=a=b c")}`)).toEqual([e]);
    expect(await ids("label=team=x")).toEqual([]);

    const res = await t.request("/v1/tasks?status=running&label=job=1", { method: "DELETE", headers: AUTH });
    expect(res.status).toBe(200);
    expect(((await res.json()).taskIds as string[]).sort()).toEqual([a, b].sort());
    await waitFor(async () => (await get(a)).exitTime && (await get(b)).exitTime);
    expect([(await get(c)).status, (await get(d)).status, (await get(e)).status]).toEqual(["running", "running", "running"]);
    await t.request("/v1/tasks?status=running", { method: "DELETE", headers: AUTH });
  });

  test("a continuation keeps its task's labels unless given others; null for none", async () => {
    const follow = async (from: string, body: Record<string, unknown>) =>
      (await (await t.request(`/v1/tasks/${from}/continue`, { method: "POST", headers: json, body: JSON.stringify({ task: "more", ...body }) })).json()).taskId as string;
    const first = (await start({ provider: "claude-session", labels: { job: "7" } })).body.taskId;
    await waitFor(async () => (await get(first)).exitTime);
    const same = await follow(first, {});
    await waitFor(async () => (await get(same)).exitTime);
    const other = await follow(same, { labels: { job: "8" } });
    await waitFor(async () => (await get(other)).exitTime);
    const none = await follow(other, { labels: null });
    expect([(await get(same)).labels, (await get(other)).labels, (await get(none)).labels]).toEqual([{ job: "7" }, { job: "8" }, {}]);
    await waitFor(async () => (await get(none)).exitTime);
  });

  test("bad labels and label queries are 400s naming the field", async () => {
    const many = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, "v"]));
    for (const [labels, says] of [
      [{ "-x": "v" }, "body/labels: '-x' is not allowed as a name: a label's name is 1 to 63 letters, digits, '_', '.', '/' or '-', starting with a letter or digit"],
      [{ "a b": "v" }, "body/labels: 'a b' is not allowed as a name: a label's name"],
      [{ ["k".repeat(64)]: "v" }, "is not allowed as a name"],
      [{ k: "v".repeat(257) }, "body/labels"],
      [{ k: 1 }, "body/labels"],
      [many, "at most 32 labels"],
      [["job"], "body/labels"],
    ] as const) {
      const { res, body } = await start({ labels });
      expect(res.status).toBe(400);
      expect(body.message).toContain(says);
    }
    for (const q of ["label=job", "label==1", "label=-x=1", `label=${"k".repeat(64)}=1`]) {
      const res = await t.request(`/v1/tasks?${q}`, { headers: AUTH });
      expect(res.status).toBe(400);
      expect((await res.json()).message).toContain("query/label");
    }
  });
});

describe("workflow labels", () => {
  test("shown, found by ?label=, cancelled by DELETE ?label=, kept by a retry unless changed", async () => {
    const s = await comfyStack({ nodeMs: 100 });
    try {
      const running = (await s.submit(chain(6, "long"), { labels: { batch: "A" } })).body.workflowId;
      await s.until(running, ["running"]);
      const a1 = (await s.submit(chain(1, "a1"), { labels: { batch: "A" } })).body;
      const b1 = (await s.submit(chain(1, "b1"), { labels: { batch: "B" } })).body;
      expect([a1.labels, b1.labels]).toEqual([{ batch: "A" }, { batch: "B" }]);
      const list = async (q: string) => ((await (await fetch(`${s.base}/v1/comfyui/workflows?${q}`, { headers: AUTH })).json()).workflows as { workflowId: string }[]).map((w) => w.workflowId).sort();
      expect(await list("label=batch=A")).toEqual([running, a1.workflowId].sort());
      const res = await fetch(`${s.base}/v1/comfyui/workflows?status=queued&label=batch=A`, { method: "DELETE", headers: AUTH });
      expect(await res.json()).toEqual({ cancelled: 1, workflowIds: [a1.workflowId] });
      expect((await s.until(b1.workflowId, ["completed"])).labels).toEqual({ batch: "B" });
      expect((await s.get(running)).status).toBe("completed");
      const retry = async (body: unknown) => (await (await fetch(`${s.base}/v1/comfyui/workflow/${b1.workflowId}/retry`, { method: "POST", headers: { ...AUTH, "Content-Type": "application/json" }, body: JSON.stringify(body) })).json()).labels;
      expect([await retry({}), await retry({ labels: { batch: "C" } }), await retry({ labels: null })]).toEqual([{ batch: "B" }, { batch: "C" }, {}]);
      expect((await s.submit(BASIC, { labels: { "bad key": "x" } })).res.status).toBe(400);
    } finally {
      await s.close();
    }
  });
});
