/** Deleting a finished task's files, including folders an agent left read-only. */
import { chmodSync, lstatSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";

/**
 * Deletes a file or a directory tree, like `rm -rf`. Tools leave read-only folders behind (Go's
 * module cache, `chmod -R a-w`, build sandboxes), and a folder without write permission cannot
 * lose its entries, even to its owner. Where the first attempt is refused, every folder of the
 * tree is given back its owner's permissions (the task ran as this user, so the folders are ours)
 * and the delete runs again; what is still refused throws.
 */
export function removeTree(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "EACCES" && code !== "EPERM") throw err;
    restoreOwnerAccess(path);
    rmSync(path, { recursive: true, force: true });
  }
}

/** chmod u+rwx on every folder below `root` (with its own stack: trees may be deep). */
function restoreOwnerAccess(root: string) {
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    try {
      const st = lstatSync(dir);
      if (!st.isDirectory()) continue;
      chmodSync(dir, st.mode | 0o700);
      for (const name of readdirSync(dir)) stack.push(join(dir, name));
    } catch {
      // Not ours or gone: the second rmSync reports what still stands in the way.
    }
  }
}
