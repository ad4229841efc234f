/** Signal dispositions this process started with. */
import { readFileSync } from "node:fs";

/**
 * Whether signal `signo` was ignored when this process started, as `nohup` leaves SIGHUP (Linux:
 * /proc/self/status; false where there is none). A handler installed for it would undo that.
 */
export function ignoredAtStart(signo: number, status = readStatus()): boolean {
  const mask = /^SigIgn:\s*([0-9a-f]+)$/im.exec(status)?.[1];
  return mask !== undefined && (BigInt(`0x${mask}`) & (1n << BigInt(signo - 1))) !== 0n;
}

function readStatus(): string {
  try {
    return readFileSync("/proc/self/status", "utf8");
  } catch {
    return "";
  }
}
