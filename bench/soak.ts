/**
 * A sidecar runs for weeks: whatever a request, a task, a stream or a workflow leaves behind in
 * memory adds up. Rounds of the same mixed work (requests, 404s and refused keys, tasks started,
 * followed and purged, event streams and WebSockets opened and dropped, workflows through a fake
 * ComfyUI) run against one API; after each, the API's live JS heap is measured after a full
 * collection. The reference is the API itself after the first round: a leak shows as the heap
 * growing round after round, where a healthy server's returns to the same floor.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { FakeComfyUI } from "../test/fake-comfyui.ts";
import { fmt, KEY, ROOT, rssMiB, startApi, waitForComfyUI } from "./lib.ts";

const ROUNDS = 8;
const REQUESTS = 20_000;
const TASKS = 100;
const SOCKETS = 200;
const WORKFLOWS = 20;

type Api = Awaited<ReturnType<typeof startApi>>;
const AUTH = { Authorization: `Bearer ${KEY}` };
const JSON_AUTH = { ...AUTH, "Content-Type": "application/json" };

/** The API's live JS heap in MiB, after a full collection (bench/heap-probe.ts answers SIGUSR2). */
async function liveHeapMiB(api: Api, probeFile: string): Promise<number> {
  rmSync(probeFile, { force: true });
  api.proc.kill("SIGUSR2");
  for (let i = 0; i < 200 && !existsSync(probeFile); i++) await Bun.sleep(25);
  if (!existsSync(probeFile)) throw new Error("the API did not answer SIGUSR2: is bench/heap-probe.ts preloaded?");
  return Number(readFileSync(probeFile, "utf8")) / 2 ** 20;
}

/** `n` requests, 64 at a time. */
async function burst(n: number, request: (i: number) => Promise<Response>) {
  for (let i = 0; i < n; i += 64) await Promise.all(Array.from({ length: Math.min(64, n - i) }, (_, j) => request(i + j).then((r) => r.arrayBuffer())));
}

async function requests(api: Api) {
  const unique = () => `${Date.now()}-${Math.random()}`;
  await burst(REQUESTS, () => fetch(`${api.base}/v1/tasks?limit=5`, { headers: { ...AUTH, "x-request-id": unique() } }));
  // Every unmatched path, refused key and request id is new: none may leave a label or an entry behind.
  await burst(REQUESTS / 10, () => fetch(`${api.base}/nope/${unique()}`, { headers: AUTH }));
  await burst(REQUESTS / 10, () => fetch(`${api.base}/v1/status`, { headers: { Authorization: `Bearer wrong-${unique()}` } }));
}

async function tasks(api: Api) {
  for (let i = 0; i < TASKS; i += 10) {
    const started = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const r = await fetch(`${api.base}/v1/tasks`, { method: "POST", headers: JSON_AUTH, body: JSON.stringify({ agent: "soak", task: "x", provider: "stamp" }) });
        if (r.status !== 202) throw new Error(`task: ${r.status} ${await r.text()}`);
        return ((await r.json()) as { taskId: string }).taskId;
      }),
    );
    await Promise.all(started.map((id) => fetch(`${api.base}/v1/tasks/${id}?wait=30`, { headers: AUTH }).then((r) => r.arrayBuffer())));
    await Promise.all(started.map((id) => fetch(`${api.base}/v1/tasks/${id}/logs/stream`, { headers: AUTH }).then((r) => r.text())));
  }
  // Streams dropped by their clients while open.
  await Promise.all(
    Array.from({ length: SOCKETS / 10 }, async () => {
      const ac = new AbortController();
      const r = await fetch(`${api.base}/v1/tasks/events`, { headers: AUTH, signal: ac.signal });
      await r.body!.getReader().read();
      ac.abort();
    }),
  );
  const purged = await fetch(`${api.base}/v1/tasks?status=completed,failed,stopped&purge=true`, { method: "DELETE", headers: AUTH });
  if (!purged.ok) throw new Error(`purge: ${purged.status} ${await purged.text()}`);
}

async function sockets(api: Api) {
  const url = `${api.base.replace("http", "ws")}/v1/comfyui/stream`;
  for (let i = 0; i < SOCKETS; i += 20) {
    await Promise.all(
      Array.from({ length: 20 }, () => new Promise<void>((resolve, reject) => {
        const ws = new WebSocket(url, ["Bearer", KEY]);
        ws.onopen = () => {
          ws.send(JSON.stringify({ type: "subscribe", workflowId: "*" }));
          ws.close();
        };
        ws.onclose = () => resolve();
        ws.onerror = () => reject(new Error("socket failed"));
      })),
    );
  }
}

async function workflows(api: Api) {
  const prompt = (n: number) => ({
    "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color: n } },
    "2": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "soak" } },
  });
  const ids = await Promise.all(
    Array.from({ length: WORKFLOWS }, async (_, n) => {
      const r = await fetch(`${api.base}/v1/comfyui/workflow`, { method: "POST", headers: JSON_AUTH, body: JSON.stringify({ workflow: prompt(n) }) });
      if (r.status !== 202) throw new Error(`workflow: ${r.status} ${await r.text()}`);
      return ((await r.json()) as { workflowId: string }).workflowId;
    }),
  );
  for (const id of ids) {
    const w = (await (await fetch(`${api.base}/v1/comfyui/workflow/${id}?wait=60`, { headers: AUTH })).json()) as { status: string };
    if (w.status !== "completed") throw new Error(`workflow ${id} ended ${w.status}`);
  }
}

export async function benchSoak(rounds = ROUNDS) {
  const fake = new FakeComfyUI({ nodeMs: 1 }).start();
  const probeFile = join(mkdtempSync(join(tmpdir(), "mapi-soak-")), "heap");
  const api = await startApi({ COMFYUI_URL: fake.url, HEAP_PROBE_FILE: probeFile }, ["--preload", join(ROOT, "bench/heap-probe.ts")]);
  try {
    await waitForComfyUI(api.base);
    const start = { heap: await liveHeapMiB(api, probeFile), rss: await rssMiB(api.proc.pid) };
    console.log(`Soak: ${rounds} rounds of ${fmt(REQUESTS * 1.2, 0)} requests, ${TASKS} tasks (followed, then purged), ${SOCKETS} WebSockets and ${SOCKETS / 10} event streams dropped, ${WORKFLOWS} workflows`);
    console.log(`  before          heap ${fmt(start.heap, 1).padStart(5)} MiB  rss ${fmt(start.rss, 0)} MiB`);
    const heaps: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      const t0 = performance.now();
      await requests(api);
      await tasks(api);
      await sockets(api);
      await workflows(api);
      const ms = performance.now() - t0;
      heaps.push(await liveHeapMiB(api, probeFile));
      console.log(`  round ${String(round).padEnd(2)} ${fmt(ms / 1000, 1).padStart(5)} s  heap ${fmt(heaps.at(-1)!, 1).padStart(5)} MiB  rss ${fmt(await rssMiB(api.proc.pid), 0)} MiB`);
    }
    // Round 1 fills caches, pools and lazily built code; growth is judged from there on.
    const first = heaps[0]!;
    const last = heaps.at(-1)!;
    const perRound = (last - first) / Math.max(1, rounds - 1);
    console.log(`  heap at the end over after round 1: ${fmt(last / first, 2)}x (${perRound >= 0 ? "+" : ""}${fmt(perRound * 1024, 0)} KiB a round; ${last / first <= 1.25 ? "no growth beyond noise" : "GROWING"})`);
  } finally {
    await api.stop();
    fake.stop();
    rmSync(dirname(probeFile), { recursive: true, force: true });
  }
}
