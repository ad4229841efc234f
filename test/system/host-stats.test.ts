/** Memory and CPU as the API and its tasks really have them: a container's cgroup limits when set. */
import { describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { totalmem } from "node:os";
import { hostStats } from "../../src/system/host-stats.ts";
import { tempDir } from "../helpers.ts";

const MiB = 1024 * 1024;

/** A cgroup mount with `files` (path -> content) and /proc/self/cgroup's text. */
function cgroups(selfCgroup: string, files: Record<string, string>) {
  const root = tempDir("cgroup-");
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, ".."), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return { root, selfCgroup: () => selfCgroup };
}

describe("hostStats memory", () => {
  test("cgroup v2 with a limit: the limit is the total, reclaimable page cache counts as available", () => {
    const src = cgroups("0::/\n", { "memory.max": `${2048 * MiB}\n`, "memory.current": `${1536 * MiB}\n`, "memory.stat": `anon 1000\ninactive_file ${512 * MiB}\nactive_file 5\n` });
    expect(hostStats("/tmp", src).memory).toEqual({ total: 2048, used: 1024, free: 512, available: 1024, percentUsed: 50, unit: "MiB", source: "cgroup" });
  });

  test("cgroup v2 in a nested group (no cgroup namespace): found through /proc/self/cgroup", () => {
    const src = cgroups("0::/system.slice/api.service\n", {
      "system.slice/api.service/memory.max": `${1024 * MiB}`,
      "system.slice/api.service/memory.current": `${256 * MiB}`,
      "system.slice/api.service/memory.stat": "inactive_file 0\n",
    });
    expect(hostStats("/tmp", src).memory).toMatchObject({ total: 1024, used: 256, source: "cgroup" });
  });

  test("cgroup v1 with a limit", () => {
    const src = cgroups("4:memory:/docker/abc\n1:cpu:/\n0::/\n", {
      "memory/docker/abc/memory.limit_in_bytes": `${1024 * MiB}`,
      "memory/docker/abc/memory.usage_in_bytes": `${600 * MiB}`,
      "memory/docker/abc/memory.stat": `cache 1\ntotal_inactive_file ${100 * MiB}\n`,
    });
    expect(hostStats("/tmp", src).memory).toMatchObject({ total: 1024, used: 500, available: 524, free: 424, source: "cgroup" });
  });

  test("no limit (v2 'max', v1's huge number, a limit above the host's) or no cgroup files: the host's memory", () => {
    const host = Math.round(totalmem() / MiB);
    const cases = [
      cgroups("0::/\n", { "memory.max": "max\n", "memory.current": "1\n", "memory.stat": "" }),
      cgroups("4:memory:/\n", { "memory/memory.limit_in_bytes": "9223372036854771712", "memory/memory.usage_in_bytes": "1", "memory/memory.stat": "" }),
      cgroups("0::/\n", { "memory.max": String(totalmem() * 4), "memory.current": "1", "memory.stat": "" }),
      cgroups("0::/\n", {}),
    ];
    for (const src of cases) {
      const memory = hostStats("/tmp", src).memory;
      expect(memory.source).toBe("host");
      expect(Math.abs(memory.total - host)).toBeLessThanOrEqual(1);
    }
  });
});

describe("hostStats cpu", () => {
  test("the cgroup's CPU quota over its period, v2 and v1; null without one", () => {
    const limit = (selfCgroup: string, files: Record<string, string>) => hostStats("/tmp", cgroups(selfCgroup, files)).cpu.limit;
    expect(limit("0::/\n", { "cpu.max": "250000 100000\n" })).toBe(2.5);
    expect(limit("0::/a/b\n", { "a/b/cpu.max": "50000 100000" })).toBe(0.5);
    expect(limit("0::/\n", { "cpu.max": "max 100000\n" })).toBeNull();
    expect(limit("3:cpu,cpuacct:/docker/x\n0::/\n", { "cpu/docker/x/cpu.cfs_quota_us": "400000", "cpu/docker/x/cpu.cfs_period_us": "100000" })).toBe(4);
    expect(limit("3:cpu,cpuacct:/\n", { "cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000" })).toBeNull();
    expect(limit("0::/\n", {})).toBeNull();
  });
});
