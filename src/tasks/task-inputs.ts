/**
 * Files a request puts in a task's folder before its agent starts (`files` of POST /v1/tasks and of
 * a continuation): the CSV to analyse, the spec to follow, the patch to review. Written inside the
 * folder only. A continuation's folder holds what its agent left, links included: a folder on the
 * way that is a symbolic link, or a file that is one, is refused rather than followed, so a request
 * cannot write outside.
 */
import { closeSync, constants, lstatSync, mkdirSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { ApiError } from "../http/errors.ts";
import { relativePathProblem } from "./task-files.ts";

export interface InputFile {
  path: string;
  content: string;
  encoding?: "utf8" | "base64";
}

/** A file to write: its path inside the folder and its bytes. */
export interface DecodedInput {
  path: string;
  bytes: Uint8Array;
}

/** What a continuation's folder holds in the way of a file (a link, a folder): refused, nothing written. */
export class InputPathError extends Error {}

/** Standard base64, its "=" padding optional (some encoders leave it out). */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;

/** The request's files as bytes, checked before anything is made: a 400 names the first that is wrong. */
export function decodeInputs(files: readonly InputFile[] | undefined): DecodedInput[] {
  const seen = new Set<string>();
  return (files ?? []).map((f, i) => {
    const problem = relativePathProblem(f.path);
    if (problem) throw new ApiError(400, `body/files/${i}/path ${problem}, got '${f.path.slice(0, 80)}'`);
    if (seen.has(f.path)) throw new ApiError(400, `body/files/${i}/path names ${f.path} twice`);
    // A file and a folder of the same name cannot both be: "a" and "a/b".
    for (const other of seen) {
      if (other.startsWith(`${f.path}/`) || f.path.startsWith(`${other}/`)) throw new ApiError(400, `body/files/${i}/path ${f.path} and ${other} cannot both be: one would be a folder`);
    }
    seen.add(f.path);
    if (f.encoding !== "base64") return { path: f.path, bytes: new TextEncoder().encode(f.content) };
    const compact = f.content.replace(/\s+/g, "");
    if (!BASE64.test(compact)) throw new ApiError(400, `body/files/${i}/content is not base64 (encoding is "base64")`);
    return { path: f.path, bytes: Buffer.from(compact, "base64") };
  });
}

/**
 * Writes the files into `dir` (0600, folders 0700). Throws InputPathError for a link or a folder in
 * the way, having written none of them (all are checked first), else the fs error.
 */
export function writeInputs(dir: string, files: readonly DecodedInput[]) {
  for (const f of files) place(dir, f.path, false);
  for (const f of files) {
    const target = place(dir, f.path, true);
    // O_NOFOLLOW: a link put there since the check is refused by the kernel, not followed.
    const fd = openSync(target, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600);
    try {
      for (let done = 0; done < f.bytes.length; ) done += writeSync(fd, f.bytes, done);
    } finally {
      closeSync(fd);
    }
  }
}

/**
 * Where `path` goes in `dir`, checking each folder on the way (and making the missing ones, with
 * `make`): a link, or a file where a folder goes, or anything but a file where the file goes, is an
 * InputPathError.
 */
function place(dir: string, path: string, make: boolean): string {
  const steps = path.split("/");
  let at = dir;
  for (const step of steps.slice(0, -1)) {
    at = join(at, step);
    const st = lstatOrUndefined(at);
    if (!st && !make) return at; // the rest is made in the second pass
    if (!st) mkdirSync(at, { mode: 0o700 });
    else if (!st.isDirectory()) throw new InputPathError(`${path}: ${at.slice(dir.length + 1)} is ${st.isSymbolicLink() ? "a symbolic link" : "a file"} in the task's folder, not a folder`);
  }
  const target = join(at, steps.at(-1)!);
  const st = lstatOrUndefined(target);
  if (st && !st.isFile()) throw new InputPathError(`${path} is ${st.isSymbolicLink() ? "a symbolic link" : "a folder"} in the task's folder; only a file is replaced`);
  return target;
}

function lstatOrUndefined(path: string) {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}
