/**
 * Every statement the API runs on its database finds its rows through an index, never by reading a
 * whole table: the state database holds every task and workflow of the retention period (100,000
 * tasks after a week of a busy agent farm), and a whole-table read there takes tens of
 * milliseconds, with the server doing nothing else. Each statement is caught as the API prepares
 * it, over a run through tasks, workflows, webhooks and retention, and SQLite's plan for it read.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { BASIC, chain, comfyStack, json } from "./comfyui/helpers.ts";
import { waitFor } from "./helpers.ts";

/** Every SQL text prepared, with the database it was prepared on (the last one, for the plan). */
const prepared = new Map<string, Database>();
const query = Database.prototype.query;
beforeAll(() => {
  Database.prototype.query = function (this: Database, sql: string) {
    prepared.set(sql, this);
    return query.call(this, sql);
  } as typeof query;
});
afterAll(() => {
  Database.prototype.query = query;
});

/** The tables that grow with use: tasks and workflows, their outputs, deliveries and replies. */
const GROWING = ["tasks", "workflows", "comfy_outputs", "webhook_deliveries", "idempotency"];

/** SQLite's plan lines for `sql` that read a growing table whole, without an index. */
function wholeTableReads(db: Database, sql: string): string[] {
  const plan = query.call(db, `EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[];
  return plan.map((p) => p.detail).filter((d) => GROWING.some((t) => d === `SCAN ${t}`));
}

describe("database access", () => {
  test("no statement of a run through tasks, workflows, webhooks and retention reads a growing table whole", async () => {
    const hooks = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response(null, { status: 204 }) });
    const s = await comfyStack({ nodeMs: 30 });
    try {
      const api = (path: string, init: RequestInit = {}) => fetch(`${s.base}${path}`, { ...init, headers: { ...json, ...init.headers } });
      const task = async (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
        (await (await api("/v1/tasks", { method: "POST", headers, body: JSON.stringify({ agent: "coder", task: "x", ...body }) })).json()).taskId as string;
      const ended = (id: string) => waitFor(async () => ((await (await api(`/v1/tasks/${id}`)).json()).exitTime ? id : undefined));

      // Tasks: started (once with an idempotency key, once with a webhook), continued, listed every way, purged.
      const first = await ended(await task({ provider: "claude-session", labels: { team: "a" }, webhookUrl: `http://127.0.0.1:${hooks.port}/hook` }, { "Idempotency-Key": "k1" }));
      const next = await ended((await (await api(`/v1/tasks/${first}/continue`, { method: "POST", body: JSON.stringify({ task: "more" }) })).json()).taskId);
      const other = await ended(await task({ provider: "exit0" }));
      for (const q of ["", "?status=all", "?status=all&agent=coder", "?status=completed&provider=exit0", "?status=all&label=team=a", `?status=all&continuedFrom=${first}`, "?status=all&limit=1"]) {
        expect((await api(`/v1/tasks${q}`)).status).toBe(200);
      }
      const page1 = await (await api("/v1/tasks?status=all&limit=1")).json();
      expect((await api(`/v1/tasks?status=all&limit=1&cursor=${page1.nextCursor}`)).status).toBe(200);
      expect((await api(`/v1/tasks/${next}?wait=1`)).status).toBe(200);
      expect((await api(`/v1/tasks/${other}?purge=true`, { method: "DELETE" })).status).toBe(200);
      expect((await api(`/v1/tasks/${next}?purge=true`, { method: "DELETE" })).status).toBe(200);
      await s.server.services.tasks!.prune();

      // Workflows: run to the end, one cancelled while queued behind another, listed, their outputs paged.
      const done = (await s.submit(BASIC, { labels: { team: "a" } })).body.workflowId;
      await s.until(done, ["completed"]);
      const long = (await s.submit(chain(20))).body.workflowId;
      const queued = (await s.submit(chain(1, "queued"))).body.workflowId;
      expect((await api(`/v1/comfyui/workflow/${queued}`)).status).toBe(200);
      expect((await api(`/v1/comfyui/workflow/${queued}`, { method: "DELETE" })).status).toBe(200);
      expect((await api(`/v1/comfyui/workflow/${long}`, { method: "DELETE" })).status).toBe(200);
      await s.until(long, ["cancelled"]);
      for (const path of ["/v1/comfyui/workflows", "/v1/comfyui/workflows?status=completed&label=team=a", "/v1/comfyui/outputs", `/v1/comfyui/outputs?workflowId=${done}`, "/v1/status"]) {
        expect((await api(path)).status).toBe(200);
      }
      await waitFor(async () => (await (await api(`/v1/tasks/${first}`)).json()).webhook?.status === "delivered");
      await s.server.services.comfyui!.service.prune();

      const sqls = [...prepared.keys()];
      // The run reached the statements that read by folder, end time, status and workflow.
      for (const reached of [/taskDir = \?/, /exitTime < \?/, /FROM workflows WHERE status IN \('queued','running'\)/, /DELETE FROM comfy_outputs WHERE workflowId IN/, /FROM webhook_deliveries WHERE/, /FROM idempotency WHERE/]) {
        expect(sqls.some((sql) => reached.test(sql))).toBe(true);
      }
      const reads = sqls.flatMap((sql) => wholeTableReads(prepared.get(sql)!, sql).map((line) => `${line}: ${sql.replace(/\s+/g, " ")}`));
      expect(reads).toEqual([]);
    } finally {
      await s.close();
      hooks.stop(true);
    }
  }, 60_000);
});
