/**
 * Preloaded into the API by the soak benchmark (`bun --preload`): on SIGUSR2 it collects garbage
 * fully and writes the live JS heap, in bytes, to HEAP_PROBE_FILE. Without a full collection the
 * heap read between rounds is whatever garbage happens to be waiting, tens of MiB either way.
 */
import { writeFileSync } from "node:fs";

const file = process.env.HEAP_PROBE_FILE;
if (file) {
  process.on("SIGUSR2", () => {
    Bun.gc(true);
    writeFileSync(file, String(process.memoryUsage().heapUsed));
  });
}
