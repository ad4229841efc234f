/**
 * Fan-out of workflow events to API WebSocket clients and event streams (SSE), and of workflows'
 * ends to the requests that wait for them (`?wait=`). Each socket subscribes to workflow ids or `*`;
 * an event is serialised once and sent to every interested socket and stream.
 */
import type { ServerWebSocket } from "bun";
import { preview } from "../http/openapi.ts";
import { KeyedListeners, OnceListeners } from "../keyed-listeners.ts";

export interface WorkflowEvent {
  type: `workflow:${"queued" | "started" | "progress" | "completed" | "failed" | "cancelled"}`;
  workflowId: string;
  data: Record<string, unknown>;
}

/** What Bun keeps per socket (`ws.data`): the hub routes open/message/close through it. */
export interface SocketData {
  handler: StreamHub;
  subs: Set<string>;
}

type Socket = ServerWebSocket<SocketData>;

/** What an event stream is told: a workflow's events, and the server's shutdown. */
export type FollowedType = WorkflowEvent["type"] | "shutdown";

/** Workflow ids one socket may follow: each is held in memory for as long as the socket lives. */
export const MAX_SUBSCRIPTIONS = 1000;

/** A workflow's state as the `subscribed` reply carries it; undefined for an id we do not know. */
export type StateOf = (workflowId: string) => Record<string, unknown> | undefined;

export const ENDS: ReadonlySet<WorkflowEvent["type"]> = new Set(["workflow:completed", "workflow:failed", "workflow:cancelled"]);

export class StreamHub {
  readonly #sockets = new Set<Socket>();
  readonly #endWaiters = new OnceListeners<void>();
  /** Event streams, by the workflow each follows: each gets the event's type and its JSON. */
  readonly #followers = new KeyedListeners<{ type: FollowedType; json: string }>();
  readonly #stateOf: StateOf;

  /**
   * `stateOf` gives the reply to a subscription the workflow's state at that moment: a client
   * subscribes after its POST returned, and a workflow ComfyUI had cached may have finished by
   * then. Without it the client would wait for events that were already sent.
   */
  constructor(stateOf: StateOf = () => undefined) {
    this.#stateOf = stateOf;
  }

  get size() {
    return this.#sockets.size;
  }

  /** Subscriptions held across all sockets (for leak checks). */
  get subscriptionCount() {
    let n = 0;
    for (const s of this.#sockets) n += s.data.subs.size;
    return n;
  }

  open(ws: Socket) {
    this.#sockets.add(ws);
    ws.send(JSON.stringify({ type: "connected", timestamp: new Date().toISOString() }));
  }

  close(ws: Socket) {
    this.#sockets.delete(ws);
    ws.data.subs.clear();
  }

  message(ws: Socket, raw: string | Buffer) {
    let msg: { type?: unknown; workflowId?: unknown };
    try {
      msg = JSON.parse(String(raw));
    } catch {
      return this.#error(ws, "Message is not JSON");
    }
    if (!msg || typeof msg !== "object") return this.#error(ws, "Message must be a JSON object");
    switch (msg.type) {
      case "ping":
        return void ws.send(JSON.stringify({ type: "pong", timestamp: new Date().toISOString() }));
      case "subscribe":
      case "unsubscribe": {
        const id = msg.workflowId;
        if (typeof id !== "string" || !(id === "*" || /^[0-9a-f-]{36}$/i.test(id))) {
          return this.#error(ws, `${msg.type} needs a workflowId (a UUID, or "*" for all workflows)`);
        }
        const key = id.toLowerCase();
        const subs = ws.data.subs;
        if (msg.type === "unsubscribe") subs.delete(key);
        else if (subs.size < MAX_SUBSCRIPTIONS || subs.has(key)) subs.add(key);
        else return this.#error(ws, `At most ${MAX_SUBSCRIPTIONS} subscriptions per socket; subscribe to "*" for every workflow`);
        if (msg.type === "unsubscribe" || key === "*") return void ws.send(JSON.stringify({ type: `${msg.type}d`, workflowId: id }));
        return void ws.send(JSON.stringify({ type: "subscribed", workflowId: id, state: this.#stateOf(key) ?? null }));
      }
      default:
        // Never echoed whole: a client's value may be huge or nested past what JSON.stringify survives.
        return this.#error(ws, `Message type must be subscribe, unsubscribe or ping, got ${preview(msg.type)}`);
    }
  }

  #error(ws: Socket, message: string) {
    ws.send(JSON.stringify({ type: "error", message }));
  }

  /** The workflow's state now (as the `subscribed` reply carries it); undefined for an unknown id. */
  stateOf(workflowId: string) {
    return this.#stateOf(workflowId);
  }

  /** Calls `fn` with each event of one workflow (and a shutdown): its type and its JSON; returns what undoes it. */
  follow(workflowId: string, fn: (event: { type: FollowedType; json: string }) => void): () => void {
    return this.#followers.add(workflowId, fn);
  }

  /** Event streams open (for leak checks). */
  get followerCount() {
    return this.#followers.size;
  }

  /** Calls `fn` once the workflow ends (completed, failed or cancelled); returns what undoes it. */
  onEnded(workflowId: string, fn: () => void): () => void {
    return this.#endWaiters.add(workflowId, fn);
  }

  /** Requests waiting for a workflow's end (for leak checks). */
  get endWaiterCount() {
    return this.#endWaiters.size;
  }

  publish(event: WorkflowEvent) {
    if (ENDS.has(event.type)) this.#endWaiters.fire(event.workflowId);
    const followed = this.#followers.has(event.workflowId);
    if (!this.#sockets.size && !followed) return;
    const text = JSON.stringify({ ...event, timestamp: new Date().toISOString() });
    if (followed) this.#followers.fire(event.workflowId, { type: event.type, json: text });
    for (const ws of this.#sockets) {
      if (ws.data.subs.has(event.workflowId) || ws.data.subs.has("*")) ws.send(text);
    }
  }

  /** Says goodbye to every socket (shutdown). */
  closeAll(reason: string) {
    const text = JSON.stringify({ type: "shutdown", message: reason, timestamp: new Date().toISOString() });
    this.#followers.fireAll({ type: "shutdown", json: text });
    for (const ws of [...this.#sockets]) {
      ws.send(text);
      ws.close(1001, reason);
    }
  }
}
