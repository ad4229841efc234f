/** Test set-up that installs a Debian package when a test needs a program the machine lacks. */

/** Path of `program`, installing `pkg` with apt-get when it is missing (we run as root in CI). */
export function ensureProgram(program: string, pkg: string): string {
  const found = Bun.which(program);
  if (found) return found;
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" } as Record<string, string>;
  const run = (args: string[]) => Bun.spawnSync(args, { env, stdout: "ignore", stderr: "pipe" });
  let r = run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", pkg]);
  if (r.exitCode !== 0) {
    run(["apt-get", "update", "-qq"]);
    r = run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", pkg]);
  }
  const after = Bun.which(program);
  if (!after) throw new Error(`${program} is needed and could not be installed (apt-get install ${pkg}): ${r.stderr.toString().slice(-500)}`);
  return after;
}
