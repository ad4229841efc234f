/**
 * Every task's changes as Server-Sent Events (GET /v1/tasks/events): queued, running, stopping, its
 * end and its deletion, for a dashboard or a bot that follows all the work without polling the list or giving
 * each task a webhook. Fed by the store, after each write that changes a status and after each
 * deletion (task-store.ts).
 */
import { hasLabels, type Labels } from "../labels.ts";
import type { TaskRecord } from "./task.ts";

const encoder = new TextEncoder();
const SHUTDOWN = 'event: shutdown\ndata: {"reason":"Server is shutting down"}\n\n';

/** Bytes queued for a client that does not read, past which its stream is closed (it reconnects). */
export const MAX_QUEUED_BYTES = 1024 * 1024;

/** `task.queued`, `task.running`, `task.stopping` (a stop asked for, the process not yet gone) or the end: `task.completed|failed|stopped`. */
export function changeType(t: TaskRecord): string {
  if (t.exitTime !== null) return `task.${t.status}`;
  if (t.stopRequestedAt !== null) return "task.stopping";
  return `task.${t.status}`;
}

interface Subscriber {
  labels: Labels | undefined;
  send(event: string, json: string): void;
  end(last?: string): void;
}

export class TaskEvents {
  readonly #subs = new Set<Subscriber>();
  readonly #heartbeatMs: number;
  readonly #stopping: AbortSignal;

  constructor(o: { heartbeatMs: number; stopping: AbortSignal }) {
    this.#heartbeatMs = o.heartbeatMs;
    this.#stopping = o.stopping;
    o.stopping.addEventListener("abort", () => {
      for (const s of this.#subs) s.end(SHUTDOWN);
    });
  }

  /** Whether anyone listens: a change is read and shown only then. */
  get listening(): boolean {
    return this.#subs.size > 0;
  }

  /** Sends a task's change (`type`: as its record says, or `task.deleted`) to those whose label filter it passes; `data` is the task as lists show it. */
  publish(t: TaskRecord, data: unknown, type = changeType(t)) {
    let json: string | undefined;
    for (const s of this.#subs) {
      if (!hasLabels(t.labels, s.labels)) continue;
      json ??= JSON.stringify({ type, timestamp: new Date().toISOString(), data });
      s.send(type, json);
    }
  }

  /** A client's stream: every change from now on, of the tasks carrying all of `labels`. */
  stream(labels: Labels | undefined): ReadableStream<Uint8Array> {
    const subs = this.#subs;
    let sub: Subscriber | undefined;
    let heartbeat: Timer | undefined;
    const stop = () => {
      clearInterval(heartbeat);
      if (sub) subs.delete(sub);
    };
    return new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          let open = true;
          const end = (last?: string) => {
            if (!open) return;
            open = false;
            if (last) controller.enqueue(encoder.encode(last));
            stop();
            controller.close();
          };
          sub = {
            labels,
            send(event, json) {
              if (!open) return;
              controller.enqueue(encoder.encode(`event: ${event}\ndata: ${json}\n\n`));
              if ((controller.desiredSize ?? 0) < 0) end();
            },
            end,
          };
          controller.enqueue(encoder.encode("retry: 2000\n: connected to task events\n\n"));
          if (this.#stopping.aborted) return end(SHUTDOWN);
          subs.add(sub);
          heartbeat = setInterval(() => open && controller.enqueue(encoder.encode(": heartbeat\n\n")), this.#heartbeatMs);
        },
        cancel: stop,
      },
      new ByteLengthQueuingStrategy({ highWaterMark: MAX_QUEUED_BYTES }),
    );
  }
}
