/** QueuePositions: true positions without fetching ComfyUI's /queue (every queued prompt, whole) at each change. */
import { describe, expect, test } from "bun:test";
import type { ComfyBackend } from "../../src/comfyui/backend.ts";
import type { QueueSnapshot } from "../../src/comfyui/comfy-wire.ts";
import { QueuePositions } from "../../src/comfyui/queue-positions.ts";
import type { WorkflowRecord, WorkflowStore } from "../../src/comfyui/workflow-store.ts";

type Entry = { number: number; promptId: string };

/** A backend whose /queue is `next()` (what ComfyUI holds then), counting fetches. */
function backend(next: () => QueueSnapshot | Promise<QueueSnapshot>) {
  const b = { name: "local", connected: true, fetches: 0, queue: async () => (b.fetches++, next()) };
  return b;
}
const snapshot = (running: Entry[], pending: Entry[], o: { fetchMs?: number; age?: number } = {}): QueueSnapshot => ({
  running,
  pending,
  fetchMs: o.fetchMs ?? 1,
  at: performance.now() - (o.age ?? 0),
});
const queued = (workflowId: string) => ({ workflowId, backend: "local", status: "queued", submitted: 1 }) as WorkflowRecord;
const entry = (i: number): Entry => ({ number: 1000 + i, promptId: `w${i}` });

describe("queue positions", () => {
  test("what we send joins the snapshot in line, and a status count that agrees keeps it: one fetch for a batch", async () => {
    const positions = new QueuePositions({} as WorkflowStore);
    const b = backend(() => snapshot([entry(0)], []));
    const at = (id: string) => positions.of(queued(id), b as unknown as ComfyBackend);
    expect(await at("w0")).toBe(0);
    // ComfyUI's status message (one running, i waiting) comes before our POST's answer, or after it.
    for (let i = 1; i <= 20; i++) {
      if (i % 2) {
        positions.changed("local", 1 + i);
        positions.sent("local", `w${i}`, 1000 + i);
      } else {
        positions.sent("local", `w${i}`, 1000 + i);
        expect(await at(`w${i}`)).toBe(i);
        positions.changed("local", 1 + i);
      }
      expect(await at(`w${i}`)).toBe(i);
    }
    // A high-priority one (a lower number) goes ahead of them all.
    positions.sent("local", "urgent", 10);
    positions.changed("local", 22);
    expect([await at("urgent"), await at("w1"), await at("w20")]).toEqual([1, 2, 21]);
    expect(b.fetches).toBe(1);
  });

  test("a start of ours moves the line, though ComfyUI's count stays as it was", async () => {
    const positions = new QueuePositions({} as WorkflowStore);
    const b = backend(() => snapshot([entry(0)], [entry(1), entry(2)]));
    const at = (id: string) => positions.of(queued(id), b as unknown as ComfyBackend);
    expect([await at("w1"), await at("w2")]).toEqual([1, 2]);
    positions.started("local", "w1");
    positions.changed("local", 2); // w0 ended, w1 taken from the line
    expect([await at("w1"), await at("w2")]).toEqual([0, 1]);
    expect(b.fetches).toBe(1);
  });

  test("one of ours that ended (here cancelled: deleted from ComfyUI's queue) leaves the line, though a send hides the count's drop", async () => {
    const positions = new QueuePositions({} as WorkflowStore);
    const b = backend(() => snapshot([entry(0)], [entry(1), entry(2)]));
    const at = (id: string) => positions.of(queued(id), b as unknown as ComfyBackend);
    expect(await at("w2")).toBe(2);
    positions.ended("local", "w1");
    positions.sent("local", "w3", 1003); // its POST answered before ComfyUI's status message about w1
    expect([await at("w2"), await at("w3")]).toEqual([1, 2]);
    expect(b.fetches).toBe(1);
  });

  test("a status count the snapshot does not show (a prompt queued in ComfyUI itself, one ended) asks again", async () => {
    const positions = new QueuePositions({} as WorkflowStore);
    // Fetched in no time: a snapshot that no longer agrees is fetched again at once.
    let held = snapshot([entry(0)], [entry(1)], { fetchMs: 0 });
    const b = backend(() => held);
    const at = (id: string) => positions.of(queued(id), b as unknown as ComfyBackend);
    expect(await at("w1")).toBe(1);
    held = snapshot([entry(0)], [{ number: 5, promptId: "theirs" }, entry(1)], { fetchMs: 0 });
    positions.changed("local", 3);
    expect(await at("w1")).toBe(2);
    expect(b.fetches).toBe(2);
  });

  test("a fetch that started before a sending, and does not show it, keeps the sent one in line", async () => {
    const positions = new QueuePositions({} as WorkflowStore);
    let answer!: (s: QueueSnapshot) => void;
    const b = backend(() => new Promise<QueueSnapshot>((r) => (answer = r)));
    const at = (id: string) => positions.of(queued(id), b as unknown as ComfyBackend);
    const asked = at("w1");
    const before = snapshot([entry(0)], []);
    await Bun.sleep(5);
    positions.sent("local", "w1", 1001);
    answer(before);
    await asked;
    expect(await at("w1")).toBe(1);
    expect(b.fetches).toBe(1);
  });

  test("a snapshot fetched after the sending that does not show it: it ran and went, and is in no line", async () => {
    const positions = new QueuePositions({} as WorkflowStore);
    const b = backend(() => snapshot([], []));
    positions.sent("local", "w1", 1001);
    await Bun.sleep(5);
    expect(await positions.of(queued("w1"), b as unknown as ComfyBackend)).toBeNull();
  });

  test("a snapshot that no longer agrees is fetched again only once older than ten times its fetch took", async () => {
    const positions = new QueuePositions({} as WorkflowStore);
    const b = backend(() => snapshot([entry(0)], [entry(1)], { fetchMs: 100 }));
    const at = () => positions.of(queued("w1"), b as unknown as ComfyBackend);
    positions.remember("local", snapshot([entry(0)], [entry(1)], { fetchMs: 100, age: 500 }));
    positions.changed("local", 7);
    expect(await at()).toBe(1);
    expect(b.fetches).toBe(0);
    positions.remember("local", snapshot([entry(0)], [entry(1)], { fetchMs: 100, age: 1_001 }));
    positions.changed("local", 7);
    expect(await at()).toBe(1);
    expect(b.fetches).toBe(1);
  });
});
