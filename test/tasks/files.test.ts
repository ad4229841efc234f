/** A task's files: listed and downloaded through the API, never anything outside its directory. */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createServer } from "../../src/server.ts";
import { ensureProgram } from "../debian.ts";
import { AUTH, silentLogger, tempDir, testApp, testConfig, waitFor } from "../helpers.ts";

const t = testApp();
afterAll(() => t.close());

async function finishedWriter() {
  const res = await t.request("/v1/tasks", { method: "POST", headers: { ...AUTH, "Content-Type": "application/json" }, body: JSON.stringify({ agent: "writer", task: "the task", provider: "writer" }) });
  const { taskId } = await res.json();
  await waitFor(async () => (await (await t.request(`/v1/tasks/${taskId}`, { headers: AUTH })).json()).exitTime);
  return taskId as string;
}
const file = (id: string, path: string, headers: Record<string, string> = {}) => t.request(`/v1/tasks/${id}/file?path=${encodeURIComponent(path)}`, { headers: { ...AUTH, ...headers } });

describe("task files", () => {
  test("the list has every file, folder by folder; symbolic links are listed as such", async () => {
    const id = await finishedWriter();
    const res = await t.request(`/v1/tasks/${id}/files`, { headers: AUTH });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.truncated).toBe(false);
    expect(body.files.map((f: { path: string; type: string }) => `${f.type} ${f.path}`)).toEqual(["symlink leak", "symlink linked-dir", "file out/report.md", "file out/task é.txt", "file src/main.go"]);
    expect(body.files.find((f: { path: string }) => f.path === "src/main.go")).toMatchObject({ size: 13, modifiedAt: expect.any(String) });
  });

  test("a huge tree (a node_modules) is cut at 10,000 files, the top of the tree first", async () => {
    const id = await finishedWriter();
    const deps = join(t.services.tasks!.get(id).taskDir, "node_modules", "pkg");
    mkdirSync(deps, { recursive: true });
    for (let i = 0; i < 10_050; i++) writeFileSync(join(deps, `f${i}.js`), "");
    const body = await (await t.request(`/v1/tasks/${id}/files`, { headers: AUTH })).json();
    expect([body.truncated, body.files.length]).toEqual([true, 10_000]);
    expect(body.files.slice(0, 5).map((f: { path: string }) => f.path)).toEqual(["leak", "linked-dir", "out/report.md", "out/task é.txt", "src/main.go"]);
  });

  test("a file downloads as an attachment under its own name, with ranges", async () => {
    const id = await finishedWriter();
    const res = await file(id, "src/main.go");
    expect([res.status, res.headers.get("Content-Disposition"), res.headers.get("Accept-Ranges"), await res.text()]).toEqual([200, "attachment; filename=\"main.go\"; filename*=UTF-8''main.go", "bytes", "package main\n"]);
    expect(await (await file(id, "out/task é.txt")).text()).toBe("the task");
    const part = await file(id, "src/main.go", { Range: "bytes=0-6" });
    expect([part.status, await part.text()]).toEqual([206, "package"]);
  });

  test("curl -OJ saves a file, the archive and the log under their own names (curl reads filename, not filename*)", async () => {
    const curl = ensureProgram("curl", "curl");
    const server = await createServer(testConfig(), silentLogger);
    try {
      const base = `http://127.0.0.1:${server.port}`;
      const started = await fetch(`${base}/v1/tasks`, { method: "POST", headers: { ...AUTH, "Content-Type": "application/json" }, body: JSON.stringify({ agent: "writer", task: "the task", provider: "writer" }) });
      const { taskId } = await started.json();
      await waitFor(async () => (await (await fetch(`${base}/v1/tasks/${taskId}`, { headers: AUTH })).json()).exitTime);
      const dir = tempDir("curl-");
      for (const path of [`file?path=${encodeURIComponent("out/task é.txt")}`, "file?path=src/main.go", "archive", "logs"]) {
        // Not spawnSync: the server answering it runs on this thread.
        const run = Bun.spawn([curl, "-sSf", "-OJ", "-H", `Authorization: ${AUTH.Authorization}`, `${base}/v1/tasks/${taskId}/${path}`], { cwd: dir, stderr: "pipe" });
        expect([path, await run.exited, await new Response(run.stderr).text()]).toEqual([path, 0, ""]);
      }
      // Outside ASCII, a name keeps its shape in curl's copy; a browser takes filename* and the é.
      expect(readdirSync(dir).sort()).toEqual([`${taskId}.log`, `${taskId}.tar.gz`, "main.go", "task _.txt"]);
    } finally {
      await server.shutdown();
    }
  });

  test("nothing outside the task's directory: '..' and absolute paths 400, symbolic links 403, folders 400, unknown 404", async () => {
    const id = await finishedWriter();
    const cases: [string, number][] = [
      ["../../../etc/hostname", 400],
      ["/etc/hostname", 400],
      ["src/../../x", 400],
      ["src//main.go", 400],
      ["leak", 403],
      ["linked-dir/hostname", 403],
      ["src", 400],
      ["nope.txt", 404],
    ];
    for (const [path, status] of cases) expect([path, (await file(id, path)).status]).toEqual([path, status]);
    expect((await t.request(`/v1/tasks/${crypto.randomUUID()}/files`, { headers: AUTH })).status).toBe(404);
  });

  test("the whole directory comes as one .tar.gz, unpacking to a folder named after the task; links stay links", async () => {
    const id = await finishedWriter();
    const res = await t.request(`/v1/tasks/${id}/archive`, { headers: { ...AUTH, "Accept-Encoding": "gzip, br" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("application/gzip");
    expect(res.headers.get("Content-Disposition")).toBe(`attachment; filename="${id}.tar.gz"; filename*=UTF-8''${id}.tar.gz`);
    // Already gzip: not compressed again, whatever the client accepts.
    expect(res.headers.get("Content-Encoding")).toBeNull();
    const dir = tempDir("archive-");
    writeFileSync(join(dir, "a.tar.gz"), new Uint8Array(await res.arrayBuffer()));
    const listing = Bun.spawnSync(["tar", "-tvzf", join(dir, "a.tar.gz")]).stdout.toString().trim().split("\n");
    expect(listing.map((l) => l.split(/\s+/).slice(5).join(" ")).sort()).toEqual(
      [`${id}/`, `${id}/leak -> /etc/hostname`, `${id}/linked-dir -> /etc`, `${id}/out/`, `${id}/out/report.md`, `${id}/out/task é.txt`, `${id}/src/`, `${id}/src/main.go`, `${id}/src/pkg/`].sort(),
    );
    expect(Bun.spawnSync(["tar", "-xOzf", join(dir, "a.tar.gz"), `${id}/out/task é.txt`]).stdout.toString()).toBe("the task");
  });

  test("once the task's directory is gone (retention), the list, a file and the archive answer 404 saying so", async () => {
    const id = await finishedWriter();
    rmSync(t.services.tasks!.get(id).taskDir, { recursive: true });
    for (const res of [await t.request(`/v1/tasks/${id}/files`, { headers: AUTH }), await file(id, "src/main.go"), await t.request(`/v1/tasks/${id}/archive`, { headers: AUTH })]) {
      expect([res.status, (await res.json()).message]).toEqual([404, expect.stringContaining("is gone")]);
    }
  });
});
