/**
 * Workflows ended here (cancelled, or past their time limit) that ComfyUI must be told to stop.
 * When it could not be told (a gateway's 503, a timeout, a partition) and the workflow then starts
 * or goes on running there, it is interrupted at its next message, once a second at most.
 */
import type { Logger } from "pino";
import type { ComfyBackend } from "./backend.ts";

/** ComfyUI's messages about a prompt that is starting or running. */
const RUN_MESSAGES = new Set(["execution_start", "execution_cached", "executing", "progress", "executed"]);

/** How long a cancel that ComfyUI was told of is remembered. */
const REMEMBERED_MS = 600_000;

export class StopRequests {
  readonly #logger: Logger;
  /**
   * Workflows ComfyUI was told to stop, by when. Its messages until the interrupt takes effect (the
   * next node's `executing`) need no second one. An interrupt under way counts too, so that progress,
   * which comes often, does not send more.
   */
  readonly #told = new Map<string, number>();

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** ComfyUI answered the cancel of this workflow. */
  told(workflowId: string) {
    const now = performance.now(); // monotonic: how long a cancel is remembered does not move with the wall clock
    for (const [id, at] of this.#told) {
      if (now - at < REMEMBERED_MS) break; // in the order they were told
      this.#told.delete(id);
    }
    this.#told.delete(workflowId); // to the end, so that the map stays in the order of its times
    this.#told.set(workflowId, now);
  }

  /** A message from ComfyUI about a workflow that ended here without completing. */
  onMessage(backend: ComfyBackend, workflowId: string, msg: { type: string; data: Record<string, unknown> }) {
    if (!RUN_MESSAGES.has(msg.type) || endOfPrompt(msg) || this.#told.has(workflowId)) return;
    this.#logger.info({ backend: backend.name, workflowId }, "a workflow that ended here while ComfyUI could not be told runs there; interrupting it");
    this.interrupt(backend, workflowId);
  }

  /** Tells ComfyUI to stop a workflow; when it cannot be told, the workflow's next message tries again (a second later at the soonest). */
  interrupt(backend: ComfyBackend, workflowId: string) {
    this.told(workflowId);
    backend.interrupt(workflowId).catch((err: Error) => {
      this.#logger.warn({ backend: backend.name, workflowId, err: err.message }, "interrupting a workflow that ended here failed");
      setTimeout(() => this.#told.delete(workflowId), 1_000).unref?.();
    });
  }
}

/** `executing` with no node: the prompt has ended (after its final status, or an interrupt). */
export const endOfPrompt = (msg: { type: string; data: Record<string, unknown> }) => msg.type === "executing" && (msg.data.node === null || msg.data.node === undefined);
