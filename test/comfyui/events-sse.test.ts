/** GET /v1/comfyui/workflow/{id}/events: one workflow's progress as Server-Sent Events. */
import { describe, expect, test } from "bun:test";
import { AUTH, KEY, readSse, waitFor } from "../helpers.ts";
import { BASIC, chain, comfyStack } from "./helpers.ts";

const named = (events: { event: string }[]) => events.filter((e) => e.event !== "message").map((e) => e.event);

describe("a workflow's event stream", () => {
  test("its state, then its events as they come, ending with its end; a finished one's state alone", async () => {
    const s = await comfyStack({ nodeMs: 80 });
    try {
      const id = (await s.submit(chain(4, "sse"))).body.workflowId;
      const res = await fetch(`${s.base}/v1/comfyui/workflow/${id}/events`, { headers: AUTH });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
      expect(res.headers.get("content-encoding")).toBeNull();
      const events = await readSse(res);
      const kinds = named(events);
      expect(kinds[0]).toBe("state");
      expect(JSON.parse(events.find((e) => e.event === "state")!.data)).toMatchObject({ status: expect.stringMatching(/^(queued|running)$/) });
      expect(kinds.at(-1)).toBe("workflow:completed");
      expect(kinds).toContain("workflow:progress");
      const last = JSON.parse(events.at(-1)!.data);
      expect(last).toMatchObject({ type: "workflow:completed", workflowId: id, data: { outputs: (await s.get(id)).outputs.map(({ url: _, ...o }: { url: unknown }) => o) } });
      // Progress only grows.
      const progress = events.filter((e) => e.event === "workflow:progress").map((e) => JSON.parse(e.data).data.progress as number);
      expect(progress).toEqual([...progress].sort((a, b) => a - b));

      const again = await readSse(await fetch(`${s.base}/v1/comfyui/workflow/${id}/events`, { headers: AUTH }), undefined, 5000);
      expect(named(again)).toEqual(["state"]);
      expect(JSON.parse(again[1]!.data)).toMatchObject({ status: "completed", progress: 100 });
      expect(s.server.services.comfyui!.hub.followerCount).toBe(0);
    } finally {
      await s.close();
    }
  });

  test("?token= for EventSource; 401 without a key, 404 for an unknown workflow, 400 for a bad id; a client that goes is forgotten", async () => {
    const s = await comfyStack({ nodeMs: 200 });
    try {
      const id = (await s.submit(chain(6, "sse-auth"))).body.workflowId;
      const url = `${s.base}/v1/comfyui/workflow/${id}/events`;
      expect((await fetch(url)).status).toBe(401);
      const withToken = await fetch(`${url}?token=${KEY}`);
      expect(withToken.status).toBe(200);
      const first = await readSse(withToken, (ev) => ev.some((e) => e.event === "state"));
      expect(named(first)).toEqual(["state"]);
      await waitFor(() => s.server.services.comfyui!.hub.followerCount === 0);
      expect((await fetch(`${s.base}/v1/comfyui/workflow/00000000-0000-4000-8000-000000000000/events`, { headers: AUTH })).status).toBe(404);
      expect((await fetch(`${s.base}/v1/comfyui/workflow/nope/events`, { headers: AUTH })).status).toBe(400);
      // The token is only for streams.
      expect((await fetch(`${s.base}/v1/comfyui/workflow/${id}?token=${KEY}`)).status).toBe(401);
    } finally {
      await s.close();
    }
  });

  test("a shutdown ends the stream with event: shutdown", async () => {
    const s = await comfyStack({ nodeMs: 500 });
    const id = (await s.submit(chain(8, "sse-bye"))).body.workflowId;
    const res = await fetch(`${s.base}/v1/comfyui/workflow/${id}/events`, { headers: AUTH });
    const reading = readSse(res);
    await waitFor(() => s.server.services.comfyui!.hub.followerCount === 1);
    await s.close();
    const events = await reading;
    expect(named(events).at(-1)).toBe("shutdown");
    expect(JSON.parse(events.at(-1)!.data)).toMatchObject({ type: "shutdown" });
  });

  test("a workflow cancelled while followed ends its stream with workflow:cancelled", async () => {
    const s = await comfyStack({ nodeMs: 150 });
    try {
      const running = (await s.submit(chain(5, "first"))).body.workflowId;
      await s.until(running, ["running"]);
      const queued = (await s.submit(BASIC)).body.workflowId;
      const reading = readSse(await fetch(`${s.base}/v1/comfyui/workflow/${queued}/events`, { headers: AUTH }));
      await waitFor(() => s.server.services.comfyui!.hub.followerCount === 1);
      await fetch(`${s.base}/v1/comfyui/workflow/${queued}`, { method: "DELETE", headers: AUTH });
      expect(named(await reading)).toEqual(["state", "workflow:cancelled"]);
    } finally {
      await s.close();
    }
  });
});
