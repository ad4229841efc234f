/**
 * The folders the API writes to (DATA_DIR, WORKSPACE, LOGS_DIR) and its state database, made ready
 * at start. When one cannot be used the server refuses to start with a message that names the
 * setting, the path and what to do: the usual cause is a volume or bind mount owned by another user
 * than the one the API runs as (the container's uid 10001), which the runtime reports only as
 * "EACCES: permission denied, mkdir …", or, for a database file left by another user, SQLite's
 * "disk I/O error".
 */
import { accessSync, constants, existsSync, mkdirSync, statSync } from "node:fs";

/** A folder the API needs, and the setting that chose it. */
export interface DataFolder {
  setting: string;
  path: string;
}

/** A folder or file the API must write to cannot be used; the message says why and what to do. */
export class DataFolderError extends Error {}

/** The file-system calls used, replaceable in tests (a root user passes every permission check). */
export interface FolderFs {
  mkdir(path: string, mode: number): void;
  /** Throws unless the path can be written (for a folder: entries made in it). */
  checkWritable(path: string): void;
  /** Whether the path is a folder; false when it does not exist. */
  isFolder(path: string): boolean;
  exists(path: string): boolean;
}

/** The real file system. */
export const nodeFolderFs: FolderFs = {
  mkdir: (path, mode) => void mkdirSync(path, { recursive: true, mode }),
  checkWritable: (path) => accessSync(path, constants.W_OK | (isFolder(path) ? constants.X_OK : 0)),
  isFolder,
  exists: existsSync,
};

/** Whether `path` is a folder; false when it does not exist. */
export function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The SQLite files of the state database: the database, its write-ahead log and its shared memory. */
export const stateFiles = (dbPath: string) => [dbPath, `${dbPath}-wal`, `${dbPath}-shm`];

/**
 * Says what went wrong with `path` (chosen by `setting`) in words an operator can act on. `what`
 * names the path when it is not the setting's folder itself ("state.sqlite, the state database").
 */
export function describeFolderError(setting: string, path: string, err: NodeJS.ErrnoException, what?: string): string {
  const named = what ? `${path}, ${what}` : path;
  switch (err.code) {
    case "EACCES":
    case "EPERM": {
      const uid = process.getuid?.();
      const user = uid === undefined ? "this user" : `uid ${uid}`;
      const chown = uid === undefined ? "" : ` (for a bind mount, on the host: chown -R ${uid} <folder>)`;
      return `${setting}: ${user} may not write to ${named}. Give it to ${user}${chown}, or set ${setting} to another folder.`;
    }
    case "EROFS":
      return `${setting}: ${named} is on a read-only file system. Mount a writable volume there, or set ${setting} to another folder.`;
    case "EEXIST":
    case "ENOTDIR":
      return `${setting}: ${path} cannot be a folder: a file is in the way (at that path or above it).`;
    case "ENOSPC":
      return `${setting}: no space left on the device that holds ${named}.`;
    default:
      return `${setting}: cannot use ${named}: ${err.message}`;
  }
}

/**
 * Creates each folder (mode `mode`, parents as needed) and checks that the API can write to it and
 * to the state database's files where they exist. Throws DataFolderError for the first that fails.
 */
export function prepareDataFolders(folders: readonly DataFolder[], dbPath: string, mode: number, fs: FolderFs = nodeFolderFs) {
  for (const { setting, path } of folders) {
    try {
      fs.mkdir(path, mode);
      if (!fs.isFolder(path)) throw Object.assign(new Error("not a folder"), { code: "ENOTDIR" });
      fs.checkWritable(path);
    } catch (err) {
      throw new DataFolderError(describeFolderError(setting, path, err as NodeJS.ErrnoException));
    }
  }
  // A database made by another user (the API once run as root on the same volume) opens read-only,
  // and its first write fails as "disk I/O error".
  for (const file of stateFiles(dbPath)) {
    if (!fs.exists(file)) continue;
    try {
      fs.checkWritable(file);
    } catch (err) {
      throw new DataFolderError(describeFolderError("DATA_DIR", file, err as NodeJS.ErrnoException, "a file of the state database that another user made (root, perhaps)"));
    }
  }
}

/** The folders of a configuration, DATA_DIR first (the others are under it unless set). */
export function dataFolders(config: { dataDir: string; workspaceDir: string; logsDir: string }): DataFolder[] {
  return [
    { setting: "DATA_DIR", path: config.dataDir },
    { setting: "WORKSPACE", path: config.workspaceDir },
    { setting: "LOGS_DIR", path: config.logsDir },
  ];
}
