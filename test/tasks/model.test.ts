/** `model` on a task: passed to its CLI by the provider's modelArgs (claude-flow: --model), kept by continuations. */
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { buildArgv, DEFAULT_PROVIDERS } from "../../src/tasks/providers.ts";
import { AUTH, testApp, waitFor } from "../helpers.ts";

const t = testApp();
afterAll(() => t.close());
const json = { ...AUTH, "Content-Type": "application/json" };

async function start(body: Record<string, unknown>) {
  const res = await t.request("/v1/tasks", { method: "POST", headers: json, body: JSON.stringify({ agent: "coder", task: "x", provider: "claude-session", ...body }) });
  return { res, body: await res.json() };
}
async function follow(taskId: string, body: Record<string, unknown>) {
  const res = await t.request(`/v1/tasks/${taskId}/continue`, { method: "POST", headers: json, body: JSON.stringify({ task: "more", ...body }) });
  return { res, body: await res.json() };
}
const get = async (id: string) => (await t.request(`/v1/tasks/${id}`, { headers: AUTH })).json();
const ended = (id: string) => waitFor(async () => ((await get(id)).exitTime ? get(id) : undefined));
const modelLine = (logFile: string) => readFileSync(logFile, "utf8").split("\n").find((l) => l.startsWith("model ")) ?? null;

describe("model", () => {
  test("reaches the CLI as the provider's modelArgs say, and shows on the task", async () => {
    const { res, body } = await start({ model: "sonnet" });
    expect(res.status).toBe(202);
    const done = await ended(body.taskId);
    expect(done).toMatchObject({ status: "completed", model: "sonnet" });
    expect(modelLine(done.logFile)).toBe("model sonnet");
    // None named: no --model, the CLI's own default.
    const plain = await ended((await start({})).body.taskId);
    expect([plain.model, modelLine(plain.logFile)]).toEqual([null, null]);
  });

  test("a continuation keeps the earlier task's model unless it names another, or null for the default", async () => {
    const first = await ended((await start({ model: "claude-sonnet-4-5@20250929" })).body.taskId);
    const same = await ended((await follow(first.taskId, {})).body.taskId);
    expect([same.model, modelLine(same.logFile)]).toEqual(["claude-sonnet-4-5@20250929", "model claude-sonnet-4-5@20250929"]);
    const other = await ended((await follow(same.taskId, { model: "opus" })).body.taskId);
    expect([other.model, modelLine(other.logFile)]).toEqual(["opus", "model opus"]);
    const byDefault = await ended((await follow(other.taskId, { model: null })).body.taskId);
    expect([byDefault.model, modelLine(byDefault.logFile)]).toEqual([null, null]);
  });

  test("a provider without modelArgs is a 422, and nothing starts", async () => {
    const before = (await (await t.request("/v1/tasks?status=all", { headers: AUTH })).json()).count;
    const { res, body } = await start({ provider: "exit0", model: "sonnet" });
    expect(res.status).toBe(422);
    expect(body.message).toBe(`Provider 'exit0' cannot pick a model: it has no "modelArgs" (as claude-flow has: ["--model", "{model}"])`);
    expect((await (await t.request("/v1/tasks?status=all", { headers: AUTH })).json()).count).toBe(before);
  });

  test("a model that is not a name (an option, spaces, too long) is a 400", async () => {
    for (const bad of ["-rf", "--model", "two words", "x".repeat(201), "", 7]) {
      const { res, body } = await start({ model: bad });
      expect(res.status).toBe(400);
      expect(body.message).toContain("body/model");
    }
    for (const good of ["haiku", "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-5", "openai/gpt-4o"]) {
      expect((await start({ model: good })).res.status).toBe(202);
    }
  });

  test("claude-flow passes it as claude --model, after a resume; /v1/status says which providers take one", async () => {
    const vars = { agent: "a", task: "t", taskId: "i", taskDir: "/d", permissionMode: "acceptEdits", port: "", sessionId: "s1", model: "opus" };
    expect(buildArgv(DEFAULT_PROVIDERS["claude-flow"]!, vars, true).slice(-4)).toEqual(["--resume", "s1", "--model", "opus"]);
    expect(buildArgv(DEFAULT_PROVIDERS["claude-flow"]!, { ...vars, model: "" })).not.toContain("--model");
    const status = await (await t.request("/v1/status", { headers: AUTH })).json();
    const takes = (name: string) => status.taskProviders[name].takesModel;
    expect(["claude-flow", "gemini", "claude-session", "openai", "demo"].map(takes)).toEqual([true, true, true, false, false]);
    expect(buildArgv(DEFAULT_PROVIDERS.gemini!, vars).slice(-2)).toEqual(["--model", "opus"]);
  });
});
