/** `files` of POST /v1/tasks and of a continuation: put in the task's folder before its agent starts, never outside it. */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { AUTH, tempDir, testApp, waitFor } from "../helpers.ts";

const t = testApp({ BODY_LIMIT: "65536" });
afterAll(() => t.close());
const json = { ...AUTH, "Content-Type": "application/json" };

const post = async (path: string, body: unknown) => {
  const res = await t.request(path, { method: "POST", headers: json, body: JSON.stringify(body) });
  return { res, body: await res.json() };
};
const ended = (id: string) =>
  waitFor(async () => {
    const b = await (await t.request(`/v1/tasks/${id}`, { headers: AUTH })).json();
    return b.exitTime ? b : undefined;
  });
const count = async () => (await (await t.request("/v1/tasks?status=all&limit=500", { headers: AUTH })).json()).count;

describe("input files", () => {
  test("are in the task's folder when its agent starts: text, base64, in folders, readable by the API's user only", async () => {
    const binary = new Uint8Array([0, 1, 2, 250, 255]);
    const { res, body } = await post("/v1/tasks", {
      agent: "a",
      task: "read them",
      provider: "reader",
      files: [
        { path: "data/in.txt", content: "héllo" },
        { path: "blob.bin", content: Buffer.from(binary).toString("base64"), encoding: "base64" },
        { path: "deep/er/empty.txt", content: "" },
        // Unpadded, as some encoders write it: "hi!" is aGkh, "hi" aGk.
        { path: "unpadded.txt", content: "aGk", encoding: "base64" },
      ],
    });
    expect(res.status).toBe(202);
    const done = await ended(body.taskId);
    expect(done.logTail).toEqual(["./blob.bin 5", "./data/in.txt 6", "./deep/er/empty.txt 0", "./unpadded.txt 2", "in.txt: héllo"]);
    expect(new Uint8Array(readFileSync(join(body.taskDir, "blob.bin")))).toEqual(binary);
    expect(statSync(join(body.taskDir, "data/in.txt")).mode & 0o777).toBe(0o600);
    expect(statSync(join(body.taskDir, "data")).mode & 0o777).toBe(0o700);
  });

  test("a path out of the folder, twice the same, a file where a folder goes, or bad base64 is a 400, and no task is made", async () => {
    const before = await count();
    const cases: [unknown[], string][] = [
      [[{ path: "../escape.txt", content: "x" }], "body/files/0/path must be a path relative to the task's directory"],
      [[{ path: "/etc/passwd", content: "x" }], "body/files/0/path must be a path relative"],
      [[{ path: "a//b", content: "x" }], "body/files/0/path must be a path relative"],
      [[{ path: "a", content: "1" }, { path: "a", content: "2" }], "body/files/1/path names a twice"],
      [[{ path: "a", content: "1" }, { path: "a/b", content: "2" }], "body/files/1/path a/b and a cannot both be: one would be a folder"],
      [[{ path: "x.bin", content: "not base64!", encoding: "base64" }], 'body/files/0/content is not base64 (encoding is "base64")'],
      [[{ path: "x", content: "y", mode: 777 }], "body/files/0"],
    ];
    for (const [files, message] of cases) {
      const { res, body } = await post("/v1/tasks", { agent: "a", task: "x", provider: "reader", files });
      expect([res.status, body.message]).toEqual([400, expect.stringContaining(message)]);
    }
    // Within BODY_LIMIT, as any body.
    const big = await post("/v1/tasks", { agent: "a", task: "x", provider: "reader", files: [{ path: "big", content: "x".repeat(70_000) }] });
    expect(big.res.status).toBe(413);
    expect(await count()).toBe(before);
  });

  test("a continuation adds files to its folder; one through a link the agent left is a 409, and none of the request's is written", async () => {
    const first = await ended((await post("/v1/tasks", { agent: "a", task: "one", provider: "claude-session" })).body.taskId);
    // What an agent may leave: a link out of its folder.
    const outside = tempDir("outside-");
    symlinkSync(outside, join(first.taskDir, "linked"));
    mkdirSync(join(first.taskDir, "notes"));
    const refused = await post(`/v1/tasks/${first.taskId}/continue`, { task: "two", files: [{ path: "ok.txt", content: "fine" }, { path: "linked/x.txt", content: "escape" }] });
    expect([refused.res.status, refused.body.message]).toEqual([409, "body/files: linked/x.txt: linked is a symbolic link in the task's folder, not a folder"]);
    expect([existsSync(join(outside, "x.txt")), existsSync(join(first.taskDir, "ok.txt"))]).toEqual([false, false]);
    const overFolder = await post(`/v1/tasks/${first.taskId}/continue`, { task: "two", files: [{ path: "notes", content: "x" }] });
    expect([overFolder.res.status, overFolder.body.message]).toEqual([409, "body/files: notes is a folder in the task's folder; only a file is replaced"]);
    const linkItself = await post(`/v1/tasks/${first.taskId}/continue`, { task: "two", files: [{ path: "linked", content: "x" }] });
    expect(linkItself.res.status).toBe(409);

    const ok = await post(`/v1/tasks/${first.taskId}/continue`, { task: "two", files: [{ path: "notes/todo.md", content: "- tests" }] });
    expect(ok.res.status).toBe(202);
    await ended(ok.body.taskId);
    expect(readFileSync(join(first.taskDir, "notes/todo.md"), "utf8")).toBe("- tests");
  });
});
