/** Deleting a finished task's files, including folders an agent left read-only. */
import { chmod, lstat, readdir, rm } from "node:fs/promises";
import { join } from "node:path";

/**
 * Deletes a file or a directory tree, like `rm -rf`, off the event loop: an agent's folder may
 * hold a node_modules or a clone, a hundred thousand files, and deleting those in one synchronous
 * call stopped the server (no request, probe, log line or task check) for seconds.
 *
 * Tools leave read-only folders behind (Go's module cache, `chmod -R a-w`, build sandboxes), and a
 * folder without write permission cannot lose its entries, even to its owner. Where the first
 * attempt is refused, every folder of the tree is given back its owner's permissions (the task ran
 * as this user, so the folders are ours) and the delete runs again; what is still refused throws.
 */
export async function removeTree(path: string): Promise<void> {
  try {
    await rm(path, { recursive: true, force: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "EACCES" && code !== "EPERM") throw err;
    await restoreOwnerAccess(path);
    await rm(path, { recursive: true, force: true });
  }
}

/** chmod u+rwx on every folder below `root` (with its own stack: trees may be deep). */
async function restoreOwnerAccess(root: string) {
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    try {
      const st = await lstat(dir);
      if (!st.isDirectory()) continue;
      await chmod(dir, st.mode | 0o700);
      for (const name of await readdir(dir)) stack.push(join(dir, name));
    } catch {
      // Not ours or gone: the second rm reports what still stands in the way.
    }
  }
}
