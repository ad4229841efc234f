/**
 * Live log following for SSE. One follower per task reads new bytes once, cuts them into whole
 * lines, encodes each line once as an SSE event and fans the same bytes out to every subscriber.
 * A subscriber first reads its own backlog from the file (with backpressure), from the offset it
 * asked for up to where the follower stood when it joined, then gets the follower's chunks: every
 * line exactly once, in order, never split.
 *
 * Event ids are byte offsets of line ends, so `Last-Event-ID` resumes exactly after that line.
 */
import { watch, type FSWatcher } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { fileSize, lineStartsBackward, readRange } from "./log-files.ts";
import { linesToEvents, MAX_LINE } from "./sse-lines.ts";

/**
 * What the backlog reads at a time: a line of MAX_LINE bytes and its newline fit, so a longer line
 * is always seen to be longer and cut where the live path cuts it (the same pieces, the same ids).
 */
const READ_BLOCK = MAX_LINE + 1;
/** What the live path reads at a time; more waiting is read in further rounds. */
const LIVE_READ_BLOCK = 256 * 1024;
/** A subscriber this far behind the live stream is dropped; it reconnects and catches up from the file. */
const MAX_QUEUED_BYTES = 16 * 1024 * 1024;

/**
 * Where the follower starts: just after the file's last line end (a newline, or a CR that
 * linesToEvents takes as one: followed by anything but a newline), or past the pieces already cut
 * from the long line the file ends in. linesToEvents cuts a line every MAX_LINE bytes from its
 * start, so counting from there gives the backlog's cuts; taking the end of the file as a cut, as
 * this did, split a long line still being written where the backlog does not (a stream opened
 * while a task wrote one got other pieces and ids than one opened after).
 */
export async function lastLineBoundary(path: string): Promise<number> {
  const size = await fileSize(path);
  const fh = await open(path, "r").catch(() => undefined);
  if (!fh) return 0;
  try {
    let lineStart = 0;
    for await (const start of lineStartsBackward(fh, size, { carriageReturns: true })) {
      lineStart = start;
      break;
    }
    // linesToEvents cuts only once more than MAX_LINE bytes wait: the next byte may end the line.
    let boundary = lineStart;
    while (size - boundary > MAX_LINE) boundary += MAX_LINE;
    return boundary;
  } finally {
    await fh.close();
  }
}

export interface Subscriber {
  /** Enqueue bytes; returns the queue's free space (negative when the client lags). */
  write(bytes: Uint8Array): number;
  /** Ends the stream after an optional last message. */
  close(last?: Uint8Array): void;
}

interface Chunk {
  from: number;
  /** The events, back to back. */
  data: Uint8Array;
  /** Each event's id (the offset past its line) and where it starts in `data`. */
  ends: number[];
  starts: number[];
}

interface Sub {
  sink: Subscriber;
  live: boolean;
  pending: Chunk[];
  /** Events ending at or before this offset were already seen by the client. */
  after: number;
}

export interface FollowerOptions {
  path: string;
  /** Called (once) when the follower has nothing more to do: task ended and subscribers are done. */
  onIdle: () => void;
  pollMs?: number;
}

export class LogFollower {
  readonly #o: FollowerOptions;
  #offset = 0;
  #carry: Buffer = Buffer.alloc(0);
  readonly #subs = new Set<Sub>();
  #end: Uint8Array | undefined;
  #closed = false;
  #started = false;
  #pumping: Promise<void> | undefined;
  #again = false;
  #watcher: FSWatcher | undefined;
  #timer: Timer | undefined;
  readonly ready: Promise<void>;

  constructor(options: FollowerOptions) {
    this.#o = options;
    this.ready = lastLineBoundary(options.path).then((b) => {
      this.#offset = b;
      this.#started = true;
      if (this.#closed) return;
      try {
        this.#watcher = watch(options.path, () => this.#kick());
      } catch {
        // No inotify: the poll timer below still follows the file.
      }
      this.#timer = setInterval(() => this.#kick(), options.pollMs ?? 250);
      this.#kick();
    });
  }

  get subscriberCount() {
    return this.#subs.size;
  }

  /** Adds a client that has seen everything up to byte `from` (0 for a fresh client). */
  async subscribe(sink: Subscriber, from: number): Promise<() => void> {
    await this.ready;
    const sub: Sub = { sink, live: false, pending: [], after: from };
    this.#subs.add(sub);
    const unsubscribe = () => this.#remove(sub);
    void this.#catchUp(sub, from, this.#offset);
    return unsubscribe;
  }

  /** The task ended: read to the end of the file, flush the last partial line, then send `last` and close. */
  end(last: Uint8Array) {
    this.#end = last;
    this.#kick();
  }

  /** Closes every subscriber with `last` (e.g. a shutdown notice) and stops following. */
  shutdown(last: Uint8Array) {
    for (const sub of [...this.#subs]) {
      sub.sink.close(last);
      this.#remove(sub);
    }
    this.#dispose();
  }

  async #catchUp(sub: Sub, from: number, to: number) {
    try {
      let pos = from;
      while (pos < to && this.#subs.has(sub)) {
        const buf = await readRange(this.#o.path, pos, Math.min(to, pos + READ_BLOCK));
        if (buf.length === 0) break;
        // `to` is always a line boundary: the last piece of the backlog is flushed whole.
        const { data, consumed } = linesToEvents(buf, pos, pos + buf.length >= to);
        if (consumed === 0) break;
        pos += consumed;
        if (data.length) {
          let free = sub.sink.write(data);
          while (free <= 0 && this.#subs.has(sub)) {
            await Bun.sleep(5);
            free = sub.sink.write(new Uint8Array(0));
          }
        }
      }
    } catch {
      // The log vanished (pruned); what follows still arrives through the live chunks.
    }
    if (!this.#subs.has(sub)) return;
    for (const chunk of sub.pending) this.#deliver(sub, chunk);
    sub.pending = [];
    sub.live = true;
    sub.after = Math.max(sub.after, to);
    this.#maybeFinish();
  }

  #deliver(sub: Sub, chunk: Chunk) {
    let data = chunk.data;
    if (chunk.from < sub.after) {
      const first = chunk.ends.findIndex((end) => end > sub.after);
      if (first === -1) return;
      data = data.subarray(chunk.starts[first]);
    }
    if (sub.sink.write(data) < -MAX_QUEUED_BYTES) {
      sub.sink.close();
      this.#remove(sub);
    }
  }

  #kick() {
    // Before the start offset is known there is nothing to read; `ready` kicks once it is.
    if (this.#closed || !this.#started) return;
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pumping = this.#pump()
      .catch(() => {
        // The log vanished or the follower closed mid-read; the next kick (if any) starts over.
      })
      .finally(() => {
      this.#pumping = undefined;
      if (this.#again) {
        this.#again = false;
        this.#kick();
      } else this.#maybeFinish();
    });
  }

  async #pump() {
    const ending = this.#end !== undefined;
    for (;;) {
      const readFrom = this.#offset + this.#carry.length;
      // One descriptor for the follower's life: the live path reads, it does not reopen.
      if (!this.#fd) {
        const fd = await open(this.#o.path, "r");
        // Disposed while opening: nobody else would close this one.
        if (this.#closed) return void (await fd.close());
        this.#fd = fd;
      }
      // One buffer for the follower's life: a chatty task kicks a read per line, and a fresh
      // megabyte each time kept the garbage collector busy. Nothing keeps a view of it past
      // this iteration (events are strings, the carry is a copy).
      const piece = (this.#readBuffer ??= Buffer.allocUnsafe(LIVE_READ_BLOCK));
      const { bytesRead } = await this.#fd.read(piece, 0, piece.length, readFrom);
      if (!bytesRead) break;
      const data = piece.subarray(0, bytesRead);
      const buf = this.#carry.length ? Buffer.concat([this.#carry, data]) : data;
      const lines = linesToEvents(buf, this.#offset, false);
      this.#carry = Buffer.from(buf.subarray(lines.consumed));
      this.#dispatch(lines);
    }
    if (ending && this.#carry.length) {
      const lines = linesToEvents(this.#carry, this.#offset, true);
      this.#carry = Buffer.alloc(0);
      this.#dispatch(lines);
    }
    if (ending) this.#endSeen = true;
  }

  #endSeen = false;
  #fd: FileHandle | undefined;
  #readBuffer: Buffer | undefined;

  #dispatch({ data, ends, starts }: { data: Uint8Array; ends: number[]; starts: number[] }) {
    if (!ends.length) return;
    const chunk: Chunk = { from: this.#offset, data, ends, starts };
    this.#offset = ends[ends.length - 1]!;
    for (const sub of this.#subs) {
      if (sub.live) this.#deliver(sub, chunk);
      else sub.pending.push(chunk);
    }
  }

  /** Once the task ended and the file was read to its end, live subscribers get `end` and close. */
  #maybeFinish() {
    if (!this.#endSeen || !this.#end) return;
    for (const sub of [...this.#subs]) {
      if (!sub.live) continue;
      sub.sink.close(this.#end);
      this.#remove(sub);
    }
    if (this.#subs.size === 0) this.#dispose();
  }

  #remove(sub: Sub) {
    this.#subs.delete(sub);
    if (this.#subs.size === 0 && !this.#end) this.#dispose();
  }

  #dispose() {
    if (this.#closed) return;
    this.#closed = true;
    this.#watcher?.close();
    clearInterval(this.#timer);
    void this.#fd?.close().catch(() => {});
    this.#readBuffer = undefined;
    this.#o.onIdle();
  }

  get closed() {
    return this.#closed;
  }
}
