/**
 * Keeps the fake ComfyUI honest: the recorded requests of test/fixtures/comfyui-protocol, replayed
 * against it, must get the recorded answers (status, error types, message order).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { FakeComfyUI } from "../fake-comfyui.ts";
import { FIXTURES, waitFor } from "../helpers.ts";

const fake = new FakeComfyUI({ nodeMs: 5 }).start();
afterAll(() => fake.stop());
const load = (f: string) => Bun.file(`${FIXTURES}/comfyui-protocol/${f}`).json();
type Ev = { kind: string; ws?: string; request?: { method: string; path: string; json?: unknown; raw_body?: string }; response?: { status: number; json?: any }; json?: { type: string; data: any } };

describe("fake ComfyUI against the recordings", () => {
  test("01: model folders and an unknown one get the recorded answers", async () => {
    const rec = await load("01_rest_info.json");
    const gets = (rec.events as Ev[]).filter((e) => e.kind === "http" && e.request!.path.startsWith("/models"));
    expect(gets.map((e) => e.request!.path)).toEqual(["/models", "/models/checkpoints", "/models/no_such_folder"]);
    const empty = new FakeComfyUI({ models: {} }).start();
    try {
      for (const e of gets) {
        const res = await fetch(`${empty.url}${e.request!.path}`);
        const text = await res.text();
        expect([e.request!.path, res.status, text === "" ? undefined : JSON.parse(text)]).toEqual([e.request!.path, e.response!.status, e.response!.json]);
      }
    } finally {
      empty.stop();
    }
  });

  test("04: every invalid prompt gets the recorded status and error type", async () => {
    const rec = await load("04_invalid_prompts.json");
    const posts = (rec.events as Ev[]).filter((e) => e.kind === "http" && e.request!.path === "/prompt");
    expect(posts.length).toBeGreaterThanOrEqual(10);
    for (const e of posts) {
      const res = await fetch(`${fake.url}/prompt`, { method: "POST", body: e.request!.json !== undefined ? JSON.stringify(e.request!.json) : e.request!.raw_body });
      expect(res.status).toBe(e.response!.status);
      if (e.response!.json) {
        const body = await res.json();
        if (["required_input_missing", "exception_during_validation", "custom_validation_failed"].some((t) => JSON.stringify(e.response!.json).includes(t)) || !e.response!.json.node_errors || !Object.keys(e.response!.json.node_errors).length) {
          expect(body.error.type).toBe(e.response!.json.error.type);
          expect(body.error.details).toBe(e.response!.json.error.details);
          expect(Object.keys(body.node_errors)).toEqual(Object.keys(e.response!.json.node_errors));
          // A missing input file: the whole verdict, word for word (the fake models the input folder).
          if (JSON.stringify(e.response!.json).includes("custom_validation_failed")) expect(body).toEqual(e.response!.json);
        }
      }
    }
  });

  test("02: /view of an output, and of its preview=webp;90, answer as recorded", async () => {
    const rec = await load("02_run_empty_image_save_image.json");
    const views = (rec.events as Ev[]).filter((e) => e.kind === "http" && e.request!.path.startsWith("/view?filename=proto_test_00001_.png"));
    expect(views.map((e) => new URL(e.request!.path, "http://x").searchParams.get("preview"))).toEqual([null, "webp;90"]);
    const png = new Uint8Array(await Bun.file(`${FIXTURES}/comfyui-protocol/02_view_output.png`).arrayBuffer());
    fake.files.set("output//proto_test_00001_.png", png);
    for (const e of views) {
      const res = await fetch(`${fake.url}${e.request!.path}`);
      const recorded = e.response as unknown as { status: number; headers: Record<string, string>; body_saved_to: string };
      const saved = new Uint8Array(await Bun.file(`${FIXTURES}/comfyui-protocol/${recorded.body_saved_to}`).arrayBuffer());
      expect([res.status, res.headers.get("content-type")]).toEqual([recorded.status, recorded.headers["Content-Type"]!]);
      expect(new Uint8Array(await res.arrayBuffer())).toEqual(saved);
    }
  });

  test("02: a run sends the recorded message sequence to its client, status to everyone", async () => {
    const rec = await load("02_run_empty_image_save_image.json");
    const clientMsgs = (rec.events as Ev[]).filter((e) => e.kind === "ws_text" && e.ws === "ws_client" && e.json!.type !== "progress_state").map((e) => e.json!);
    const wanted = clientMsgs.map((m) => m.type);
    const client = new WebSocket(`${fake.url.replace("http", "ws")}/ws?clientId=${rec.client_id}`);
    const other = new WebSocket(`${fake.url.replace("http", "ws")}/ws?clientId=observer`);
    const got: string[] = [];
    const seenByOther: string[] = [];
    const gotMsgs: { type: string; data: any }[] = [];
    client.onmessage = (e) => {
      if (typeof e.data !== "string") return;
      gotMsgs.push(JSON.parse(e.data));
      got.push(JSON.parse(e.data).type);
    };
    other.onmessage = (e) => typeof e.data === "string" && seenByOther.push(JSON.parse(e.data).type);
    await waitFor(() => got.length === 1 && seenByOther.length === 1);
    const post = (rec.events as Ev[]).find((e) => e.kind === "http" && e.request!.path === "/prompt")!;
    const res = await fetch(`${fake.url}/prompt`, { method: "POST", body: JSON.stringify(post.request!.json) });
    const { prompt_id } = await res.json();
    await waitFor(() => got.at(-1) === "executing" && got.includes("execution_success"));
    // Status messages may be coalesced differently, and ComfyUI's choice among independent nodes is
    // its own; the kinds of messages, their counts, and the order constraints must match.
    const strip = (l: string[]) => l.filter((t) => t !== "status");
    expect(strip(got).sort()).toEqual(strip(wanted).sort());
    expect(strip(got).slice(0, 2)).toEqual(["execution_start", "execution_cached"]);
    const nodes = (l: { type: string; data: any }[]) => l.filter((m) => m.type === "executing" && m.data.node).map((m) => m.data.node).sort();
    expect(nodes(gotMsgs)).toEqual(nodes(clientMsgs));
    expect(got.indexOf("execution_success")).toBeLessThan(got.lastIndexOf("executing"));
    expect(new Set(seenByOther)).toEqual(new Set(["status"]));
    const hist = await (await fetch(`${fake.url}/history/${prompt_id}`)).json();
    expect(hist[prompt_id].status).toMatchObject({ status_str: "success", completed: true });
    client.close();
    other.close();
  });

  test("05: interrupt takes effect at the next node boundary; deleted prompts leave no history", async () => {
    fake.nodeMs = 100;
    const ws = new WebSocket(`${fake.url.replace("http", "ws")}/ws?clientId=c5`);
    const got: { type: string; data: any }[] = [];
    ws.onmessage = (e) => got.push(JSON.parse(String(e.data)));
    await waitFor(() => got.length === 1);
    const blur = (n: number) => ({
      "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color: n } },
      "10": { class_type: "ImageBlur", inputs: { image: ["1", 0], blur_radius: 1, sigma: 1 } },
      "11": { class_type: "ImageBlur", inputs: { image: ["10", 0], blur_radius: 1, sigma: 1 } },
      "2": { class_type: "SaveImage", inputs: { images: ["11", 0], filename_prefix: "i" } },
    });
    const a = await (await fetch(`${fake.url}/prompt`, { method: "POST", body: JSON.stringify({ prompt: blur(1), client_id: "c5" }) })).json();
    const b = await (await fetch(`${fake.url}/prompt`, { method: "POST", body: JSON.stringify({ prompt: blur(2), client_id: "c5" }) })).json();
    await waitFor(() => got.some((m) => m.type === "executing" && m.data.node === "10"));
    await fetch(`${fake.url}/queue`, { method: "POST", body: JSON.stringify({ delete: [b.prompt_id] }) });
    await fetch(`${fake.url}/interrupt`, { method: "POST", body: JSON.stringify({ prompt_id: a.prompt_id }) });
    await waitFor(() => got.some((m) => m.type === "execution_interrupted"));
    const i = got.findIndex((m) => m.type === "execution_interrupted");
    expect(got[i - 1]).toMatchObject({ type: "executing", data: { node: "11" } });
    expect(got[i]!.data).toMatchObject({ node_id: "11", node_type: "ImageBlur" });
    expect(await (await fetch(`${fake.url}/history/${b.prompt_id}`)).json()).toEqual({});
    ws.close();
    fake.nodeMs = 5;
  });
});
