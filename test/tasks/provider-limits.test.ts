/** A provider's maxActive (PROVIDERS_FILE): its tasks wait or are refused past it; other providers' go ahead. */
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_PROVIDERS, loadProviders } from "../../src/tasks/providers.ts";
import { AGENTS, AUTH, tempDir, testApp, waitFor } from "../helpers.ts";

const json = { ...AUTH, "Content-Type": "application/json" };
const dir = tempDir();
const providersFile = join(dir, "providers.json");
writeFileSync(
  providersFile,
  JSON.stringify({
    gpu: { command: [join(AGENTS, "sleeper.sh")], maxActive: 1, description: "takes the GPU" },
    sleeper: { command: [join(AGENTS, "sleeper.sh")] },
  }),
);
const t = testApp({ PROVIDERS_FILE: providersFile, TASK_STOP_GRACE_MS: "300" });
afterAll(() => t.close());

async function start(provider: string, queue = false) {
  const res = await t.request("/v1/tasks", { method: "POST", headers: json, body: JSON.stringify({ agent: "a", task: "x", provider, queue }) });
  return { res, body: await res.json() };
}
const get = async (id: string) => (await t.request(`/v1/tasks/${id}`, { headers: AUTH })).json();
const stop = (id: string) => t.request(`/v1/tasks/${id}`, { method: "DELETE", headers: AUTH });

describe("a provider's maxActive", () => {
  test("past it a task is refused, or queued; other providers' tasks start meanwhile; a slot freed starts the one queued", async () => {
    const first = await start("gpu");
    expect(first.res.status).toBe(202);
    const refused = await start("gpu");
    expect(refused.res.status).toBe(503);
    expect(refused.res.headers.get("Retry-After")).toBe("10");
    expect(refused.body.message).toBe('Provider gpu is at its maxActive (1 running); try again later, or ask with "queue": true');
    const waiting = await start("gpu", true);
    expect(waiting.body).toMatchObject({ status: "accepted", message: "Task queued: no slot is free for it (MAX_ACTIVE_TASKS, or its provider's maxActive), and it starts when one frees (GET it for its status)" });
    expect(await get(waiting.body.taskId)).toMatchObject({ status: "queued", queuePosition: 1 });
    // Queued behind the gpu task, another provider's task does not wait for it.
    const other = await start("sleeper", true);
    expect((await get(other.body.taskId)).status).toBe("running");
    const status = await (await t.request("/v1/status", { headers: AUTH })).json();
    expect(status.taskProviders.gpu).toMatchObject({ active: 1, maxActive: 1 });
    expect(status.taskProviders.sleeper).toMatchObject({ active: 1, maxActive: null });
    expect(status.tasks).toEqual({ active: 2, queued: 1 });
    const metrics = await (await t.request("/metrics")).text();
    for (const line of ['provider_active_tasks{provider="gpu"} 1', 'provider_active_tasks{provider="sleeper"} 1', 'provider_active_tasks{provider="demo"} 0']) expect(metrics).toContain(`${line}\n`);

    // A slot of MAX_ACTIVE_TASKS freed is not the provider's: the gpu task still waits.
    await stop(other.body.taskId);
    await waitFor(async () => (await get(other.body.taskId)).exitTime);
    expect((await get(waiting.body.taskId)).status).toBe("queued");
    await stop(first.body.taskId);
    await waitFor(async () => (await get(waiting.body.taskId)).status === "running");
    await stop(waiting.body.taskId);
    await waitFor(async () => (await get(waiting.body.taskId)).exitTime);
  });
});

describe("PROVIDERS_FILE entries without a command", () => {
  test("change the built-in provider of their name, field by field", () => {
    const file = join(dir, "partial.json");
    writeFileSync(file, JSON.stringify({ "claude-flow": { maxActive: 2, env: ["ANTHROPIC_API_KEY"] } }));
    const p = loadProviders(file)["claude-flow"]!;
    expect(p).toMatchObject({ command: DEFAULT_PROVIDERS["claude-flow"]!.command, resume: ["--resume", "{sessionId}"], maxActive: 2, env: ["ANTHROPIC_API_KEY"] });
  });

  test("name no other provider, and are checked as a whole provider is", () => {
    const file = join(dir, "bad.json");
    writeFileSync(file, JSON.stringify({ mine: { maxActive: 1 }, gemini: { maxActive: 0 }, demo: { mxActive: 1 } }));
    expect(() => loadProviders(file)).toThrow(
      "PROVIDERS_FILE: mine.command: required (only a built-in provider, claude-flow, gemini, openai, demo, can be changed without one); gemini.maxActive: Too small: expected number to be >=1; demo: Unrecognized key: \"mxActive\"",
    );
  });
});
