/**
 * A log as raw bytes that goes on as the file grows, as `tail -f`, `docker logs -f` and
 * `kubectl logs -f` give it: for `curl -N …/logs?follow=true | jq` where the SSE stream's framing
 * is in the way. Read on demand (the client's pace sets the reads), so a slow reader costs a file
 * position, never a buffer.
 */
import { open, type FileHandle } from "node:fs/promises";

/** What one read takes: a burst of output goes out in a few chunks, not a line at a time. */
const READ_BYTES = 64 * 1024;

export interface FollowOptions {
  /** Byte offset to start at. */
  from: number;
  /** Settles once nothing more will be written (the task's end is recorded). */
  ended: Promise<unknown>;
  /** Ends the stream early (the server shutting down). */
  stop: AbortSignal;
  /** How often a quiet file is looked at again. */
  pollMs?: number;
  /** Called once the stream is done, or the client went away. */
  onClose?: () => void;
}

/** The file from `from` on, following it until `ended`, then to its last byte. */
export function followFile(path: string, o: FollowOptions): ReadableStream<Uint8Array> {
  let pos = o.from;
  let fh: FileHandle | undefined;
  let ended = false;
  let closed = false;
  /** Cuts the current pause short. */
  let wake: (() => void) | undefined;
  const onEnd = () => {
    ended = true;
    wake?.();
  };
  void o.ended.then(onEnd, onEnd);
  const onStop = () => wake?.();
  o.stop.addEventListener("abort", onStop);
  /** Resolves after pollMs, or as soon as the task ends or the server stops. */
  const pause = () =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => (wake = undefined, resolve()), o.pollMs ?? 250);
      wake = () => {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      };
    });
  const close = async () => {
    if (closed) return;
    closed = true;
    wake?.(); // a read waiting out a pause stops there
    o.stop.removeEventListener("abort", onStop);
    o.onClose?.();
    const h = fh;
    fh = undefined;
    await h?.close();
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        fh ??= await open(path, "r");
        // Reused while the file is quiet; a new one once a chunk has gone out in it.
        const buf = Buffer.allocUnsafe(READ_BYTES);
        for (;;) {
          if (closed || !fh) return;
          // Taken before the read: what the task wrote before its end was recorded is read too.
          const last = ended || o.stop.aborted;
          const { bytesRead } = await fh.read(buf, 0, READ_BYTES, pos);
          if (bytesRead > 0) {
            pos += bytesRead;
            controller.enqueue(buf.subarray(0, bytesRead));
            return;
          }
          if (last) {
            await close();
            controller.close();
            return;
          }
          await pause();
        }
      },
      cancel: close,
    },
    { highWaterMark: 0 },
  );
}
