/**
 * Preloaded into the API by the soak benchmark (`bun --preload`): on SIGUSR2 it collects garbage
 * fully and writes the live JS heap, in bytes, to HEAP_PROBE_FILE. Without a full collection the
 * heap read between rounds is whatever garbage happens to be waiting, tens of MiB either way.
 */
import { renameSync, writeFileSync } from "node:fs";

const file = process.env.HEAP_PROBE_FILE;
if (file) {
  process.on("SIGUSR2", () => {
    Bun.gc(true);
    // Whole or not at all: the benchmark reads the file as soon as it appears.
    writeFileSync(`${file}.part`, String(process.memoryUsage().heapUsed));
    renameSync(`${file}.part`, file);
  });
}
