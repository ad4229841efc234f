/**
 * What a task left in its directory (the code an agent wrote, a report, a patch): listed and read
 * through the API, so a client that cannot reach the machine's disk gets the results too. Only
 * regular files inside the task's directory: symbolic links are listed as such and never
 * followed, so a task cannot make the API read a file outside it.
 */
import { lstat, readdir, realpath } from "node:fs/promises";
import { join, relative, resolve, sep } from "node:path";
import { ApiError } from "../http/errors.ts";

export interface TaskFile {
  /** Relative to the task's directory, with "/" between folders. */
  path: string;
  type: "file" | "symlink";
  size: number;
  modifiedAt: string;
}

/** Most entries listed: a task may leave a node_modules behind. */
export const MAX_LISTED = 10_000;
/** Most entries looked at, folders included: a deep tree of mostly folders stops here too. */
const MAX_VISITED = 100_000;

/**
 * The files below `dir`, breadth first so the top of the tree comes first when the list is cut (at
 * MAX_LISTED files, or MAX_VISITED entries looked at); folders are walked, not listed. Entries that
 * vanish while being read are skipped.
 */
export async function listTaskFiles(dir: string): Promise<{ files: TaskFile[]; truncated: boolean }> {
  const files: TaskFile[] = [];
  const folders = [dir];
  let visited = 0;
  while (folders.length > 0) {
    const folder = folders.shift()!;
    const names = await readdir(folder).catch(() => [] as string[]);
    names.sort();
    for (const name of names) {
      if (++visited > MAX_VISITED) return { files, truncated: true };
      const path = join(folder, name);
      const st = await lstat(path).catch(() => undefined);
      if (!st) continue;
      if (st.isDirectory()) {
        folders.push(path);
        continue;
      }
      if (!st.isFile() && !st.isSymbolicLink()) continue;
      if (files.length >= MAX_LISTED) return { files, truncated: true };
      files.push({ path: relative(dir, path).split(sep).join("/"), type: st.isFile() ? "file" : "symlink", size: st.size, modifiedAt: st.mtime.toISOString() });
    }
  }
  return { files, truncated: false };
}

/** Why `path` is not a plain path relative to a task's directory ("a/b.txt"), or undefined when it is. */
export function relativePathProblem(path: string): string | undefined {
  const steps = path.split("/");
  if (path === "" || path.startsWith("/") || /[\\\u0000]/.test(path) || steps.some((s) => s === "" || s === "." || s === "..")) {
    return "must be a path relative to the task's directory (no '.', '..' or empty steps)";
  }
  return undefined;
}

/**
 * The absolute path of the regular file `path` names inside `dir`. A 400 for a path that is not a
 * plain relative one, a 404 for one that is not there, a 403 for one that leaves the directory
 * through a symbolic link (itself or a folder on the way).
 */
export async function taskFilePath(dir: string, path: string): Promise<string> {
  const problem = relativePathProblem(path);
  if (problem) throw new ApiError(400, `query/path ${problem}, got '${path.slice(0, 80)}'`);
  const steps = path.split("/");
  const full = resolve(dir, ...steps);
  const st = await lstat(full).catch(() => undefined);
  if (!st) throw new ApiError(404, `The task's directory has no ${path}`);
  const root = await realpath(dir);
  const real = await realpath(full).catch(() => undefined);
  if (st.isSymbolicLink() || !real || !real.startsWith(root + sep)) throw new ApiError(403, `${path} is a symbolic link or leads out of the task's directory; only its own files are served`);
  if (!st.isFile()) throw new ApiError(400, `${path} is not a file`);
  return real;
}
