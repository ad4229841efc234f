/** Runs the real entry point as `npm start` runs it (or another command: the binary), for restart and signal tests. */
import { resolve } from "node:path";
import type { Subprocess } from "bun";
import pkg from "../package.json" with { type: "json" };

export const ROOT = resolve(import.meta.dir, "..");
export const MAIN = resolve(ROOT, "src/main.ts");

/** The words of an npm script of ours, this bun for `bun`: what `npm run <name>` runs (in ROOT). */
export function npmScript(name: "start" | "build"): string[] {
  return pkg.scripts[name].split(" ").map((word) => (word === "bun" ? process.execPath : word === "src/main.ts" ? MAIN : word));
}

/** The server as `npm start` runs it. */
export const START = npmScript("start");

/** A free TCP port on 127.0.0.1. */
export function freePort(): number {
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = s.port!;
  s.stop(true);
  return port;
}

export interface ApiProcess {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  base: string;
  output: () => Promise<string>;
}

/**
 * Servers started here and not yet exited: a test that fails before stopping its server would
 * otherwise leave it running after the test run (one was found 20 minutes later). test/setup.ts
 * stops them when the run ends (bun test runs no "exit" handlers).
 */
const running = new Set<Subprocess>();
export function killStartedApis() {
  for (const proc of running) proc.kill("SIGKILL");
}

/** Starts the API with `env` (in `cwd`, ROOT by default) and waits until /ready answers 200. */
export async function startApi(env: Record<string, string | undefined>, cmd: string[] = START, cwd = ROOT): Promise<ApiProcess> {
  const port = freePort();
  const proc = Bun.spawn(cmd, {
    cwd,
    env: { ...env, PORT: String(port) } as Record<string, string>,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  running.add(proc);
  void proc.exited.then(() => running.delete(proc));
  const base = `http://127.0.0.1:${port}`;
  const until = Date.now() + 15_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`API exited early: ${await new Response(proc.stderr).text()}`);
    try {
      if ((await fetch(`${base}/ready`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > until) throw new Error("API did not become ready");
    await Bun.sleep(50);
  }
  return { proc, base, output: async () => (await new Response(proc.stdout).text()) + (await new Response(proc.stderr).text()) };
}
