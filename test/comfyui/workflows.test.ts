/** ComfyUI workflows end to end: real API server, fake ComfyUI that speaks the recorded protocol. */
import { afterAll, describe, expect, test } from "bun:test";
import { FIXTURES, AUTH, waitFor } from "../helpers.ts";
import { BASIC, chain, comfyStack, eventSocket, mediaPrompt } from "./helpers.ts";

const s = await comfyStack();
afterAll(() => s.close());

describe("submit and run", () => {
  test("an API-format workflow runs to completion; its image is listed and downloadable", async () => {
    const { res, body } = await s.submit(BASIC);
    expect(res.status).toBe(202);
    expect(body).toMatchObject({ status: "queued", priority: "normal", gpu: "local" });
    expect(typeof body.queuePosition).toBe("number");
    const done = await s.until(body.workflowId, ["completed"]);
    expect(done).toMatchObject({ progress: 100, queuePosition: null, error: null, currentNode: null });
    expect(done.startTime && done.completionTime).toBeTruthy();
    expect(done.outputs).toHaveLength(1);
    const out = done.outputs[0];
    expect(out).toMatchObject({ node: "2", type: "output", subfolder: "" });
    expect(out.filename).toMatch(/^basic_\d{5}_\.png$/);
    const sent = s.fake.received.find((r) => r.path === "/prompt" && (r.body as { prompt_id: string }).prompt_id === body.workflowId)!.body as Record<string, unknown>;
    expect(sent.client_id).toBe(s.server.services.comfyui!.service.backends.get("local")!.clientId);
    expect(sent.prompt).toEqual(BASIC);

    const list = await (await fetch(`${s.base}/v1/comfyui/outputs?workflowId=${body.workflowId}`, { headers: AUTH })).json();
    expect(list.outputs).toEqual([expect.objectContaining({ filename: out.filename, workflowId: body.workflowId, type: "output", url: `/v1/comfyui/output/${out.filename}` })]);
    const file = await fetch(`${s.base}${out.url}`, { headers: AUTH });
    expect(file.status).toBe(200);
    expect(file.headers.get("Content-Type")).toBe("image/png");
    const bytes = new Uint8Array(await file.arrayBuffer());
    expect(bytes.slice(1, 4)).toEqual(new Uint8Array([0x50, 0x4e, 0x47]));
  });

  test("a UI-format workflow is converted with /object_info and sent with its UI JSON", async () => {
    const ui = await Bun.file(`${FIXTURES}/comfyui-workflows/blur_chain_ui.json`).json();
    const expected = await Bun.file(`${FIXTURES}/comfyui-workflows/blur_chain_expected_api.json`).json();
    const { res, body } = await s.submit(ui);
    expect(res.status).toBe(202);
    await s.until(body.workflowId, ["completed"]);
    const sent = s.fake.received.find((r) => (r.body as { prompt_id?: string }).prompt_id === body.workflowId)!.body as Record<string, any>;
    expect(sent.prompt).toEqual(expected);
    expect(sent.extra_data.extra_pnginfo.workflow).toEqual(ui);
  });

  test("a UI workflow with subgraphs is flattened as the frontend does it, and runs", async () => {
    const ui = await Bun.file(`${FIXTURES}/comfyui-subgraphs/subgraph_nested_ui.json`).json();
    const expected = await Bun.file(`${FIXTURES}/comfyui-subgraphs/subgraph_nested_expected_api.json`).json();
    const { res, body } = await s.submit(ui);
    expect(res.status).toBe(202);
    const done = await s.until(body.workflowId, ["completed"]);
    const sent = s.fake.received.find((r) => (r.body as { prompt_id?: string }).prompt_id === body.workflowId)!.body as Record<string, any>;
    expect(sent.prompt).toEqual(expected);
    expect(done.outputs.map((o: { node: string; type: string }) => `${o.node} ${o.type}`).sort()).toEqual(["4 output", "5 temp"]);
  });

  test("ComfyUI's validation errors come back as 400 with node_errors", async () => {
    const { res, body } = await s.submit({ "2": { class_type: "SaveImage", inputs: { filename_prefix: "x" } } });
    expect(res.status).toBe(400);
    expect(body.message).toContain("Prompt outputs failed validation");
    expect(body.details.node_errors["2"].errors[0].type).toBe("required_input_missing");
    for (const type of ["NoSuchNodeClass", "constructor"]) {
      const unknown = await s.submit({ "1": { class_type: type, inputs: {} } });
      expect(unknown.res.status).toBe(400);
      expect(unknown.body.details.error).toMatchObject({ type: "invalid_prompt", message: `Cannot execute because node ${type} does not exist.` });
    }
  });

  test("outputs ComfyUI drops at validation (others valid) are named in nodeErrors; the rest runs", async () => {
    const { res, body } = await s.submit({
      "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color: 777 } },
      "2": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "kept" } },
      "3": { class_type: "EmptyImage", inputs: { width: 0, height: 8, batch_size: 1, color: 1 } },
      "4": { class_type: "SaveImage", inputs: { images: ["3", 0], filename_prefix: "dropped" } },
    });
    expect(res.status).toBe(202);
    expect(body.nodeErrors).toEqual({ "3": expect.objectContaining({ dependent_outputs: ["4"], class_type: "EmptyImage", errors: [expect.objectContaining({ type: "value_smaller_than_min" })] }) });
    const done = await s.until(body.workflowId, ["completed"]);
    expect(done.outputs.map((o: { filename: string }) => o.filename)).toEqual([expect.stringMatching(/^kept_/)]);
    expect(done.nodeErrors).toEqual(body.nodeErrors);
    // A workflow whose every output runs says null.
    expect((await s.submit(chain(0, "all-good"))).body.nodeErrors).toBeNull();
  });

  test("a workflow that finishes before ComfyUI's answer to its POST arrives (a slow gateway) is still completed", async () => {
    s.fake.promptAnswerDelayMs = 300;
    const { ws, messages, send } = await eventSocket(s.base);
    send({ type: "subscribe", workflowId: "*" });
    try {
      const { res, body } = await s.submit(chain(0, "before-answer"));
      expect(res.status).toBe(202);
      expect(s.fake.history.has(body.workflowId)).toBe(true); // ComfyUI had finished it before answering
      const done = await s.until(body.workflowId, ["completed"]);
      expect(done.outputs).toHaveLength(1);
      // Its events keep their order: no "queued" after "completed".
      await Bun.sleep(50);
      const types = messages.filter((m) => m.workflowId === body.workflowId).map((m) => m.type);
      expect([types[0], types.at(-1)]).toEqual(["workflow:started", "workflow:completed"]);
    } finally {
      s.fake.promptAnswerDelayMs = 0;
      ws.close();
    }
  });

  test("bad input: not a workflow, unknown node type, unconfigured target, bad priority", async () => {
    expect((await s.submit({ a: 1 })).res.status).toBe(400);
    // ComfyUI's own POST /prompt body, as scripts written for ComfyUI send it, is told what to send instead.
    const wrapped = await s.submit({ prompt: BASIC, client_id: "my-script" });
    expect([wrapped.res.status, wrapped.body.message]).toEqual([
      400,
      'body/workflow must be a UI workflow (nodes and links) or an API prompt (node id -> {class_type, inputs}); this is a ComfyUI POST /prompt body: send its "prompt" as "workflow"',
    ]);
    const ui = await Bun.file(`${FIXTURES}/comfyui-workflows/basic_ui.json`).json();
    ui.nodes[0].type = "NotInThisComfy";
    const conv = await s.submit(ui);
    expect(conv.res.status).toBe(400);
    expect(conv.body.message).toContain("NotInThisComfy");
    ui.nodes[0] = null;
    const malformed = await s.submit(ui);
    expect([malformed.res.status, malformed.body.message]).toEqual([400, "body/workflow: nodes/0: Invalid input: expected object, received null"]);
    const salad = await s.submit(BASIC, { gpu: "salad" });
    expect(salad.res.status).toBe(400);
    expect(salad.body.message).toContain("SALAD_COMFYUI_URL");
    expect((await s.submit(BASIC, { priority: "urgent" })).res.status).toBe(400);
  });

  test("a workflow nested past 64 levels is a 400 naming the field, not a 500; nothing is sent or stored", async () => {
    const sentBefore = s.fake.received.filter((r) => r.path === "/prompt").length;
    const listed = async () => (await (await fetch(`${s.base}/v1/comfyui/workflows?limit=200`, { headers: AUTH })).json()).workflows.length;
    const storedBefore = await listed();
    // 100,000 levels: JSON.parse takes it, but JSON.stringify (storing, sending) overflows the stack.
    const deep = `{"workflow":{"1":{"class_type":"X","inputs":{"a":${"[".repeat(100_000)}${"]".repeat(100_000)}}}}}`;
    const res = await fetch(`${s.base}/v1/comfyui/workflow`, { method: "POST", headers: { ...AUTH, "Content-Type": "application/json" }, body: deep });
    expect(res.status).toBe(400);
    expect((await res.json()).message).toBe("body/workflow: nests deeper than 64 levels");
    expect(s.fake.received.filter((r) => r.path === "/prompt").length).toBe(sentBefore);
    expect(await listed()).toBe(storedBefore);
    // 64 levels is within the cap (the API prompt's own three levels included).
    let value: unknown = 1;
    for (let i = 0; i < 61; i++) value = [value];
    const within = await s.submit({ "1": { class_type: "NoSuchNodeClass", inputs: { a: value } } });
    expect(within.body.details.error.type).toBe("invalid_prompt");
  });

  test("a run-time execution_error -> failed with the exception and node", async () => {
    const { body } = await s.submit({ "1": { class_type: "LoadImage", inputs: { image: "corrupt.png" } }, "2": { class_type: "PreviewImage", inputs: { images: ["1", 0] } } });
    const w = await s.until(body.workflowId, ["failed"]);
    expect(w.error).toBe("LoadImage (node 1) failed: PIL.UnidentifiedImageError: cannot identify image file '<comfyui>/input/corrupt.png'");
  });

  test("what a failed run saved before its error is listed and downloadable, not a URL that 404s", async () => {
    const { body } = await s.submit({
      "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color: 4242 } },
      "2": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "saved-before-error" } },
      "3": { class_type: "LoadImage", inputs: { image: "corrupt.png" } },
      "4": { class_type: "PreviewImage", inputs: { images: ["3", 0] } },
    });
    const w = await s.until(body.workflowId, ["failed"]);
    expect(w.outputs).toEqual([expect.objectContaining({ filename: expect.stringMatching(/^saved-before-error_/), type: "output" })]);
    expect((await fetch(`${s.base}${w.outputs[0].url}`, { headers: AUTH })).status).toBe(200);
    const listed = await (await fetch(`${s.base}/v1/comfyui/outputs?workflowId=${body.workflowId}`, { headers: AUTH })).json();
    expect(listed.outputs.map((o: { url: string }) => o.url)).toEqual([w.outputs[0].url]);
  });

  test("unknown workflow 404, bad id 400, an id in capitals is the same workflow", async () => {
    expect((await fetch(`${s.base}/v1/comfyui/workflow/00000000-0000-4000-8000-000000000000`, { headers: AUTH })).status).toBe(404);
    const { body } = await s.submit(BASIC);
    const upper = String(body.workflowId).toUpperCase();
    expect((await s.get(upper)).workflowId).toBe(body.workflowId);
    await s.until(body.workflowId, ["completed"]);
    const outputs = await (await fetch(`${s.base}/v1/comfyui/outputs?workflowId=${upper}`, { headers: AUTH })).json();
    expect(outputs.outputs).toHaveLength(1);
    expect((await fetch(`${s.base}/v1/comfyui/workflow/nope`, { headers: AUTH })).status).toBe(400);
  });
});

describe("priority, progress and cancel", () => {
  test("high runs before queued normals, low after them; queuePosition is the true position", async () => {
    s.fake.nodeMs = 60;
    const first = await s.submit(chain(2, "p0"));
    await s.until(first.body.workflowId, ["running"]);
    const n1 = await s.submit(chain(1, "n1"));
    const n2 = await s.submit(chain(1, "n2"));
    const low = await s.submit(chain(1, "low"), { priority: "low" });
    expect(low.body.queuePosition).toBe(3);
    const high = await s.submit(chain(1, "high"), { priority: "high" });
    expect(high.body.queuePosition).toBe(1);
    // Positions move as the queue changes.
    expect((await s.get(low.body.workflowId)).queuePosition).toBe(4);
    expect((await s.get(n1.body.workflowId)).queuePosition).toBe(2);
    const ids = [first, n1, n2, low, high].map((x) => x.body.workflowId);
    const done = await Promise.all(ids.map((id) => s.until(id, ["completed"], 20_000)));
    const order = done.sort((a, b) => Date.parse(a.startTime) - Date.parse(b.startTime)).map((w) => w.workflowId);
    expect(order).toEqual([first, high, n1, n2, low].map((x) => x.body.workflowId));
    s.fake.nodeMs = 20;
  });

  test("listing queued workflows asks ComfyUI's queue once, not once per workflow", async () => {
    s.fake.nodeMs = 60;
    const first = await s.submit(chain(12, "q0"));
    await s.until(first.body.workflowId, ["running"]);
    const queued = [await s.submit(chain(1, "q1")), await s.submit(chain(1, "q2")), await s.submit(chain(1, "q3"))];
    await Bun.sleep(300); // past the queue snapshot's freshness
    s.fake.gets.length = 0;
    const list = await (await fetch(`${s.base}/v1/comfyui/workflows?status=queued`, { headers: AUTH })).json();
    expect(list.workflows.map((w: { queuePosition: number }) => w.queuePosition).sort()).toEqual([1, 2, 3]);
    // Those not finished, in one request: the running one and the queued ones, newest first.
    const open = await (await fetch(`${s.base}/v1/comfyui/workflows?status=queued,running`, { headers: AUTH })).json();
    expect(open.workflows.map((w: { workflowId: string }) => w.workflowId)).toEqual([...queued].reverse().concat(first).map((x) => x.body.workflowId));
    // At most once (a queue check after ComfyUI's last status may just have fetched it), never once per workflow.
    expect(s.fake.gets.filter((p) => p === "/queue").length).toBeLessThanOrEqual(1);
    await Promise.all([first, ...queued].map((x) => s.until(x.body.workflowId, ["completed"], 20_000)));
    s.fake.nodeMs = 20;
  });

  test("a batch queued behind a running workflow: true positions, ComfyUI's own queue counted, /queue fetched a few times, not once per submission", async () => {
    s.fake.nodeMs = 60;
    const first = await s.submit(chain(12, "b0"));
    await s.until(first.body.workflowId, ["running"]);
    s.fake.gets.length = 0;
    const batch: string[] = [];
    for (let i = 1; i <= 30; i++) {
      const { body } = await s.submit(chain(1, `b${i}`));
      // ComfyUI numbers its own prompts below our bands: theirs runs ahead of ours.
      expect(body.queuePosition).toBe(i <= 15 ? i : i + 1);
      batch.push(body.workflowId);
      if (i === 15) {
        // Another client queues in ComfyUI itself: ours count it.
        const theirs = await fetch(`${s.fake.url}/prompt`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ prompt: chain(1, "theirs"), client_id: "someone-else" }) });
        expect(theirs.status).toBe(200);
        await waitFor(() => s.server.services.comfyui!.service.backends.get("local")!.queueRemaining === 17);
        // Once its snapshot is past its short window (ten times its fetch took), ours move back one.
        await waitFor(async () => (await s.get(batch[14]!)).queuePosition === 16);
      }
    }
    const queueGets = s.fake.gets.filter((p) => p === "/queue").length;
    expect(queueGets).toBeLessThanOrEqual(6);
    expect((await s.get(batch[29]!)).queuePosition).toBe(31);
    const cancelled = await fetch(`${s.base}/v1/comfyui/workflows?status=queued,running`, { method: "DELETE", headers: AUTH });
    expect((await cancelled.json()).cancelled).toBe(31);
    s.fake.nodeMs = 20;
  });

  test("progress counts executing nodes (cached excluded) with the node's value/max", async () => {
    s.fake.nodeMs = 80;
    const prompt: Record<string, { class_type: string; inputs: Record<string, unknown> }> = { ...chain(1, "steps"), "50": { class_type: "ImageBlur", inputs: { image: ["10", 0], blur_radius: 1, sigma: 1, steps: 4 } } };
    prompt["2"]!.inputs.images = ["50", 0];
    const events = await eventSocket(s.base);
    const { body } = await s.submit(prompt);
    events.send({ type: "subscribe", workflowId: body.workflowId });
    await s.until(body.workflowId, ["completed"]);
    await waitFor(() => events.messages.some((m) => m.type === "workflow:completed"));
    const progress = events.messages.filter((m) => m.type === "workflow:progress").map((m) => m.data!.progress as number);
    expect(progress.length).toBeGreaterThanOrEqual(4);
    for (let i = 1; i < progress.length; i++) expect(progress[i]!).toBeGreaterThanOrEqual(progress[i - 1]!);
    expect(progress.some((p) => p > 0 && p < 100)).toBe(true);
    expect(events.messages.some((m) => m.type === "workflow:progress" && m.data!.max === 4)).toBe(true);
    // The same prompt again: every node is cached, progress still reaches 100.
    const again = await s.submit(prompt);
    expect((await s.until(again.body.workflowId, ["completed"])).progress).toBe(100);
    events.ws.close();
    s.fake.nodeMs = 20;
  });

  test("cancel a queued workflow: removed from ComfyUI's queue, never runs", async () => {
    s.fake.nodeMs = 80;
    const running = await s.submit(chain(3, "long"));
    await s.until(running.body.workflowId, ["running"]);
    const queued = await s.submit(chain(1, "victim"));
    const res = await fetch(`${s.base}/v1/comfyui/workflow/${queued.body.workflowId}`, { method: "DELETE", headers: AUTH });
    expect(res.status).toBe(200);
    expect((await res.json()).status).toBe("cancelled");
    expect(s.fake.queue.some((i) => i.id === queued.body.workflowId)).toBe(false);
    await s.until(running.body.workflowId, ["completed"]);
    expect(s.fake.history.has(queued.body.workflowId)).toBe(false);
    expect((await s.get(queued.body.workflowId)).status).toBe("cancelled");
    s.fake.nodeMs = 20;
  });

  test("a workflow removed in ComfyUI's own UI (a delete, Clear Queue) is cancelled here too, not queued forever", async () => {
    // The running one must outlast both removals (6 nodes, 1.5 s): were it to end first, the next
    // would start and Clear Queue would leave it running (a fresh-clone CI run saw that at 80 ms).
    s.fake.nodeMs = 250;
    const running = await s.submit(chain(4, "long-running"));
    await s.until(running.body.workflowId, ["running"]);
    const deleted = await s.submit(chain(1, "deleted-there"));
    const cleared = await s.submit(chain(1, "cleared-there"));
    const post = (body: unknown) => fetch(`${s.fake.url}/queue`, { method: "POST", body: JSON.stringify(body) });
    await post({ delete: [deleted.body.workflowId] });
    const one = await s.until(deleted.body.workflowId, ["cancelled", "failed"], 3000);
    expect([one.status, one.error]).toEqual(["cancelled", "Removed from ComfyUI (local)'s queue outside this API (a delete or Clear Queue in ComfyUI itself)"]);
    await post({ clear: true });
    expect((await s.until(cleared.body.workflowId, ["cancelled", "failed"], 3000)).status).toBe("cancelled");
    // What ComfyUI still runs, or ran, is untouched.
    expect((await s.until(running.body.workflowId, ["completed"])).status).toBe("completed");
    s.fake.nodeMs = 20;
  });

  test("cancel a running workflow: interrupted at the next node, stays cancelled; then 409", async () => {
    s.fake.nodeMs = 100;
    const { body } = await s.submit(chain(4, "interrupt-me"));
    await s.until(body.workflowId, ["running"]);
    const res = await fetch(`${s.base}/v1/comfyui/workflow/${body.workflowId}`, { method: "DELETE", headers: AUTH });
    expect((await res.json()).status).toBe("cancelled");
    // The answer came once ComfyUI said so.
    expect(s.fake.history.get(body.workflowId)?.status.messages.map(([t]) => t)).toContain("execution_interrupted");
    expect((await s.get(body.workflowId)).status).toBe("cancelled");
    const again = await fetch(`${s.base}/v1/comfyui/workflow/${body.workflowId}`, { method: "DELETE", headers: AUTH });
    expect(again.status).toBe(409);
    expect((await again.json()).currentStatus).toBe("cancelled");
    s.fake.nodeMs = 20;
  });

  test("a cancel that reaches ComfyUI while the last node runs: ComfyUI completes the workflow, and so does the API, with its files (409 says so)", async () => {
    s.fake.nodeMs = 300;
    const { body } = await s.submit(chain(1, "too-late"));
    await waitFor(async () => (await s.get(body.workflowId)).currentNode === "2"); // SaveImage, the last
    const res = await fetch(`${s.base}/v1/comfyui/workflow/${body.workflowId}`, { method: "DELETE", headers: AUTH });
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ message: `Workflow ${body.workflowId} completed before the cancel reached ComfyUI`, currentStatus: "completed" });
    expect(s.fake.history.get(body.workflowId)?.status.status_str).toBe("success");
    const done = await s.get(body.workflowId);
    expect([done.status, done.outputs.length]).toEqual(["completed", 1]);
    const listed = await (await fetch(`${s.base}/v1/comfyui/outputs?workflowId=${body.workflowId}`, { headers: AUTH })).json();
    expect(listed.outputs).toHaveLength(1);
    s.fake.nodeMs = 20;
  });

  test("a cancel ComfyUI does not confirm within 3 s (a long node) answers cancelled then, and the workflow stays cancelled", async () => {
    s.fake.nodeMs = 5000;
    const { body } = await s.submit(chain(1, "long-node"));
    await s.until(body.workflowId, ["running"]);
    const started = performance.now();
    const res = await fetch(`${s.base}/v1/comfyui/workflow/${body.workflowId}`, { method: "DELETE", headers: AUTH });
    const seconds = (performance.now() - started) / 1000;
    expect([res.status, (await res.json()).status]).toEqual([200, "cancelled"]);
    expect(seconds).toBeGreaterThan(2.5);
    expect(seconds).toBeLessThan(4.9);
    await waitFor(() => s.fake.history.get(body.workflowId)?.status.messages.some(([t]) => t === "execution_interrupted"), 10_000);
    expect((await s.get(body.workflowId)).status).toBe("cancelled");
    s.fake.nodeMs = 20;
  }, 20_000);
});

describe("models and outputs", () => {
  test("models by type: any folder ComfyUI has, and upscale, clip, unet for upscale_models, text_encoders, diffusion_models; another 400 listing ComfyUI's", async () => {
    const ck = await (await fetch(`${s.base}/v1/comfyui/models?type=checkpoints`, { headers: AUTH })).json();
    expect(ck.models).toEqual([
      { name: "sd15.safetensors", type: "checkpoints", size: null, hash: null },
      { name: "sdxl/base.safetensors", type: "checkpoints", size: null, hash: null },
    ]);
    const up = await (await fetch(`${s.base}/v1/comfyui/models?type=upscale`, { headers: AUTH })).json();
    expect(up.models.map((m: { name: string }) => m.name)).toEqual(["4x.pth"]);
    // The folders of newer models (Flux, Wan, SD3), by their names or the ones ComfyUI had before.
    const names = async (type: string) => ((await (await fetch(`${s.base}/v1/comfyui/models?type=${type}`, { headers: AUTH })).json()).models as { name: string; type: string }[]).map((m) => `${m.type}:${m.name}`);
    expect(await names("diffusion_models")).toEqual(["diffusion_models:flux1-dev.safetensors"]);
    expect(await names("unet")).toEqual(["unet:flux1-dev.safetensors"]);
    expect(await names("clip")).toEqual(["clip:t5xxl_fp16.safetensors", "clip:clip_l.safetensors"]);
    expect(await names("embeddings")).toEqual([]);
    // A folder ComfyUI does not have: a 400 naming those it has, having asked it.
    const asked = s.fake.gets.length;
    const unknown = await fetch(`${s.base}/v1/comfyui/models?type=no_such_folder`, { headers: AUTH });
    const body = await unknown.json();
    expect([unknown.status, body.details[0].path]).toEqual([400, ["type"]]);
    expect(body.message).toStartWith("query/type must be one of ComfyUI's model folders (checkpoints, configs, loras, vae, text_encoders, diffusion_models,");
    expect(body.message).toEndWith(") or upscale, clip, unet; got 'no_such_folder'");
    const modelGets = () => s.fake.gets.slice(asked).filter((p) => p.startsWith("/models"));
    expect(modelGets()).toEqual(["/models/no_such_folder", "/models"]);
    // What could not be a folder's name is refused before ComfyUI is asked.
    for (const bad of ["Checkpoints", "..%2Fx", "a-b", "", "x".repeat(65)]) {
      const res = await fetch(`${s.base}/v1/comfyui/models?type=${bad}`, { headers: AUTH });
      expect([bad, res.status]).toEqual([bad, 400]);
    }
    expect(modelGets().length).toBe(2);
    // A ComfyUI without model listings at all (older than GET /models) fails as a backend, not as the request.
    s.fake.withoutRoutes = new Set(["/models", "/models/checkpoints"]);
    try {
      const old = await fetch(`${s.base}/v1/comfyui/models`, { headers: AUTH });
      expect([old.status, (await old.json()).message]).toEqual([502, "ComfyUI (local) answered 404 to GET /models"]);
    } finally {
      s.fake.withoutRoutes = new Set();
    }
  });

  test("output names: traversal and odd names 400, unknown 404; newest first, limit after filter", async () => {
    for (const bad of ["..%2F..%2Fetc%2Fpasswd", ".hidden", "a%5Cb.png"]) expect((await fetch(`${s.base}/v1/comfyui/output/${bad}`, { headers: AUTH })).status).toBe(400);
    expect((await fetch(`${s.base}/v1/comfyui/output/never_made.png`, { headers: AUTH })).status).toBe(404);
    // A filename_prefix may hold any character: such outputs are listed and served like any other.
    const named = await s.submit(chain(0, "café [v2], 日本"));
    const made = (await s.until(named.body.workflowId, ["completed"])).outputs[0];
    expect(made.filename).toStartWith("café [v2], 日本_");
    const file = await fetch(`${s.base}${made.url}`, { headers: AUTH });
    expect([file.status, file.headers.get("Content-Type")]).toEqual([200, "image/png"]);
    // Saved by a browser under its own name, accents and CJK included.
    const disposition = file.headers.get("Content-Disposition")!;
    // curl -OJ reads the ASCII filename: what is not ASCII is a _ there.
    expect(disposition).toStartWith(`inline; filename="caf_ [v2], ___`);
    expect(decodeURIComponent(disposition.split("filename*=UTF-8''")[1]!)).toBe(made.filename);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { body } = await s.submit(chain(0, `order${i}`));
      ids.push(body.workflowId);
      await s.until(body.workflowId, ["completed"]);
      await Bun.sleep(5);
    }
    const two = await (await fetch(`${s.base}/v1/comfyui/outputs?limit=2`, { headers: AUTH })).json();
    expect(two.outputs.map((o: { workflowId: string }) => o.workflowId)).toEqual([ids[2], ids[1]]);
    const one = await (await fetch(`${s.base}/v1/comfyui/outputs?workflowId=${ids[0]}&limit=1`, { headers: AUTH })).json();
    expect(one.outputs.map((o: { workflowId: string }) => o.workflowId)).toEqual([ids[0]]);
  });
});

describe("listing workflows", () => {
  test("pages with a cursor go through every workflow once, newest first; a made-up cursor is 400", async () => {
    const total = (await (await fetch(`${s.base}/v1/comfyui/workflows?limit=200`, { headers: AUTH })).json()).workflows.length;
    for (let i = 0; i < 3; i++) await s.submit(chain(0, `page${i}`));
    const seen: { workflowId: string; queuedAt: string }[] = [];
    let cursor: string | null = null;
    do {
      const page = await (await fetch(`${s.base}/v1/comfyui/workflows?limit=2${cursor ? `&cursor=${cursor}` : ""}`, { headers: AUTH })).json();
      expect(page.workflows.length).toBeLessThanOrEqual(2);
      seen.push(...page.workflows);
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen.length).toBe(total + 3);
    expect(new Set(seen.map((w) => w.workflowId)).size).toBe(seen.length);
    const times = seen.map((w) => Date.parse(w.queuedAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect((await fetch(`${s.base}/v1/comfyui/workflows?cursor=abc`, { headers: AUTH })).status).toBe(400);
  });
});

describe("listing outputs", () => {
  test("pages with a cursor go through every output once, the last saved first", async () => {
    const { body } = await s.submit(mediaPrompt(5, { image: "paged", video: "paged", sound: "paged" }));
    await s.until(body.workflowId, ["completed"]);
    const names: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await (await fetch(`${s.base}/v1/comfyui/outputs?workflowId=${body.workflowId}&limit=3${cursor ? `&cursor=${cursor}` : ""}`, { headers: AUTH })).json();
      expect(page.outputs.length).toBeLessThanOrEqual(3);
      names.push(...page.outputs.map((o: { filename: string }) => o.filename));
      cursor = page.nextCursor;
    } while (cursor);
    // Saved in one run: newest first is the order ComfyUI saved them in, reversed.
    expect(names).toEqual(["paged_00007_.flac", "paged_00006_.webm", "paged_00005_.png", "paged_00004_.png", "paged_00003_.png", "paged_00002_.png", "paged_00001_.png"]);
    expect((await fetch(`${s.base}/v1/comfyui/outputs?cursor=xyz`, { headers: AUTH })).status).toBe(400);
  });
});

describe("media outputs", () => {
  test("a batch saves one image each; a video and a sound are listed and served with their own types", async () => {
    const { body } = await s.submit(mediaPrompt(3, { image: "media", video: "media", sound: "media" }));
    const done = await s.until(body.workflowId, ["completed"]);
    const names = done.outputs.map((o: { filename: string }) => o.filename).sort();
    expect(names).toEqual(["media_00001_.png", "media_00002_.png", "media_00003_.png", "media_00004_.webm", "media_00005_.flac"]);
    const types: Record<string, string> = {};
    for (const o of done.outputs) types[o.filename] = (await fetch(`${s.base}${o.url}`, { headers: AUTH })).headers.get("Content-Type")!;
    expect(types).toMatchObject({ "media_00001_.png": "image/png", "media_00004_.webm": "video/webm", "media_00005_.flac": "audio/flac" });
  });
});

describe("status and metrics", () => {
  test("/v1/status and /ready report the backend; workflow metrics move", async () => {
    const ready = await (await fetch(`${s.base}/ready`)).json();
    expect(ready.comfyui).toEqual({ local: { reachable: true } });
    // ComfyUI's own view of its machine, as /system_stats gives it (recorded: a CPU, memory in bytes).
    const status = await (await fetch(`${s.base}/v1/status`, { headers: AUTH })).json();
    expect(status.comfyui.local).toEqual({ url: s.fake.url, reachable: true, queueLength: 0, version: "0.8.0", devices: [{ name: "cpu", type: "cpu", vramTotal: 24106, vramFree: 23389 }] });
    const metrics = await (await fetch(`${s.base}/metrics`)).text();
    expect(metrics).toMatch(/comfyui_workflow_total\{status="completed"\} [1-9]/);
    expect(metrics).toMatch(/comfyui_workflow_duration_seconds_count\{gpu_type="local"\} [1-9]/);
    expect(metrics).toMatch(/comfyui_workflow_errors_total\{error_type="prompt_outputs_failed_validation"\} [1-9]/);
  });
});
