/**
 * The one adapter that starts processes. A task runs under a small `sh` supervisor in its own
 * session and process group, writing straight to its log file and recording its exit status in a
 * file, so it neither depends on the API's pipes nor on the API being alive when it ends.
 * Also here: reading that status back, and whether a command can be found at all.
 */
import { readFileSync, statSync } from "node:fs";
import { constants } from "node:os";

/**
 * Runs the command with stdin closed and output appended to the log, then records `$?`. Only shell
 * builtins, so it works whatever PATH the task has; the status is one short write, which readers
 * see whole or not at all. The TERM/INT trap lets the shell outlive the signal that ends its child.
 */
const SUPERVISOR = `status_file=$1; log=$2; shift 2
trap : TERM INT
"$@" </dev/null >>"$log" 2>&1
code=$?
printf '%s\\n' "$code" >"$status_file"
exit "$code"`;

export interface SpawnRequest {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  logFile: string;
  statusFile: string;
}

export interface SpawnedProcess {
  /** Pid of the supervisor shell; also the process-group id of everything the task starts. */
  pid: number;
  /** Resolves when the supervisor exits: its exit code, or the signal that killed it. */
  exited: Promise<{ code: number | null; signal: string | null }>;
}

export type SpawnFn = (req: SpawnRequest) => SpawnedProcess;

/** Starts a task process with Bun.spawn (detached: setsid, so it leads its own group). */
export const spawnTask: SpawnFn = (req) => {
  const proc = Bun.spawn(["/bin/sh", "-c", SUPERVISOR, "task-supervisor", req.statusFile, req.logFile, ...req.argv], {
    cwd: req.cwd,
    env: req.env,
    stdin: "ignore",
    stdout: "ignore",
    stderr: "ignore",
    detached: true,
  });
  return {
    pid: proc.pid,
    exited: proc.exited.then((code) => ({ code: proc.signalCode ? null : code, signal: proc.signalCode ? String(proc.signalCode) : null })),
  };
};

const SIGNAL_NAMES = Object.fromEntries(Object.entries(constants.signals).map(([name, n]) => [n, name]));

/** Reads "<code>\n" written by the supervisor shell; codes above 128 mean death by signal 128+n. */
export function readExitFile(path: string): { exitCode: number | null; signal: string | null } | undefined {
  try {
    const text = readFileSync(path, "utf8");
    if (!/^\d+\n$/.test(text)) return undefined; // not written yet
    const code = Number(text);
    if (code > 128 && SIGNAL_NAMES[code - 128]) return { exitCode: null, signal: SIGNAL_NAMES[code - 128]! };
    return { exitCode: code, signal: null };
  } catch {
    return undefined;
  }
}

/** Whether argv[0] can be executed with this PATH. */
export function resolveCommand(cmd: string, env: Record<string, string>, cwd: string): boolean {
  if (cmd.includes("/")) {
    try {
      return statSync(cmd).isFile();
    } catch {
      return false;
    }
  }
  return Bun.which(cmd, { PATH: env.PATH, cwd }) !== null;
}
