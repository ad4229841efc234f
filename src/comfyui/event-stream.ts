/**
 * One workflow's events as Server-Sent Events, for clients that cannot open a WebSocket (`curl -N`,
 * a script, EventSource): its state now, then each event as the WebSocket carries it, until its end.
 */
import { ENDS, type StreamHub } from "./stream-hub.ts";
import { FINAL, type WorkflowStatus } from "./workflow-store.ts";

const encoder = new TextEncoder();

/** Bytes queued for a client that does not read, past which its stream is closed (it reconnects and gets the state). */
export const MAX_QUEUED_BYTES = 1024 * 1024;

/**
 * The stream: `event: state` (status, progress, currentNode, outputs, error) first, then
 * `event: workflow:started|progress|completed|failed|cancelled` with `{type, workflowId, data,
 * timestamp}`. It ends after the workflow's end, or after `state` when it had ended already.
 */
export function workflowEventStream(hub: StreamHub, workflowId: string, heartbeatMs: number): ReadableStream<Uint8Array> {
  let stop = () => {};
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        let open = true;
        let heartbeat: Timer | undefined;
        let unfollow = () => {};
        stop = () => {
          open = false;
          clearInterval(heartbeat);
          unfollow();
        };
        const end = () => {
          if (!open) return;
          stop();
          controller.close();
        };
        const send = (event: string, json: string) => {
          if (!open) return;
          controller.enqueue(encoder.encode(`event: ${event}\ndata: ${json}\n\n`));
          if ((controller.desiredSize ?? 0) < 0) end();
        };
        controller.enqueue(encoder.encode(`retry: 2000\n: connected to workflow ${workflowId}\n\n`));
        // Followed before the state is read: no event can fall between the two.
        unfollow = hub.follow(workflowId, ({ type, json }) => {
          send(type, json);
          if (type === "shutdown" || ENDS.has(type)) end();
        });
        const state = hub.stateOf(workflowId);
        send("state", JSON.stringify(state ?? null));
        if (!state || FINAL.has(state.status as WorkflowStatus)) return end();
        heartbeat = setInterval(() => open && controller.enqueue(encoder.encode(": heartbeat\n\n")), heartbeatMs);
      },
      cancel() {
        stop();
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: MAX_QUEUED_BYTES }),
  );
}
