/**
 * Follows ComfyUI's execution messages for our workflows: start, cached and executing nodes,
 * progress, saved files and the end. Live state is kept per running prompt (not persisted: it is
 * rebuilt from the messages after a reconnect); what clients see is stored and published.
 */
import type { ComfyBackend } from "./backend.ts";
import { describeError, filesOf, progressOf, type Run } from "./execution.ts";
import type { RunDeadlines } from "./run-deadlines.ts";
import { endOfPrompt, type StopRequests } from "./stop-requests.ts";
import type { WorkflowEvent } from "./stream-hub.ts";
import { FINAL, type OutputFile, type WorkflowRecord, type WorkflowStatus, type WorkflowStore } from "./workflow-store.ts";

export interface RunTrackerDeps {
  store: WorkflowStore;
  deadlines: RunDeadlines;
  stops: StopRequests;
  publish: (type: WorkflowEvent["type"], workflowId: string, data: Record<string, unknown>) => void;
  /** Records a final status (once). */
  finish: (w: WorkflowRecord, status: WorkflowStatus, extra: { error?: string | null }) => void;
}

export class RunTracker {
  readonly #d: RunTrackerDeps;
  readonly #runs = new Map<string, Run>();

  constructor(deps: RunTrackerDeps) {
    this.#d = deps;
  }

  /** The files a running workflow has saved so far, if it is being followed. */
  outputsOf(workflowId: string): OutputFile[] | undefined {
    return this.#runs.get(workflowId)?.outputs;
  }

  /** Drops a workflow's live state (it has ended). */
  forget(workflowId: string) {
    this.#runs.delete(workflowId);
  }

  /** One of ComfyUI's execution messages about one of our workflows. */
  onMessage(backend: ComfyBackend, w: WorkflowRecord, msg: { type: string; data: Record<string, unknown> }) {
    const id = w.workflowId;
    if (FINAL.has(w.status)) {
      // Cancelled or past its time limit here, perhaps while ComfyUI could not be told: stopped there
      // rather than run for nothing.
      if (w.status !== "completed") this.#d.stops.onMessage(backend, id, msg);
      return;
    }
    const d = msg.data;
    switch (msg.type) {
      case "execution_start": {
        const total = Object.keys(JSON.parse(w.prompt)).length;
        this.#runs.set(id, { total, cached: new Set(), started: new Set(), value: 0, max: 1, outputs: [] });
        const startTime = Date.now();
        this.#d.store.update(id, { status: "running", startTime, progress: 0 });
        this.#d.deadlines.arm({ ...w, startTime });
        this.#d.publish("workflow:started", id, {});
        return;
      }
      case "execution_cached": {
        const run = this.#run(w);
        for (const n of (d.nodes as string[]) ?? []) run.cached.add(String(n));
        return this.#progress(id, run, null);
      }
      case "executing": {
        if (endOfPrompt(msg)) return; // the final status came before
        const run = this.#run(w);
        run.started.add(String(d.node));
        run.value = 0;
        run.max = 1;
        return this.#progress(id, run, String(d.node));
      }
      case "progress": {
        const run = this.#run(w);
        run.value = Number(d.value ?? 0);
        run.max = Math.max(1, Number(d.max ?? 1));
        return this.#progress(id, run, typeof d.node === "string" ? d.node : null);
      }
      case "executed": {
        const run = this.#run(w);
        run.outputs.push(...filesOf(String(d.node), d.output as Record<string, unknown>));
        return;
      }
      case "execution_success":
        return this.#d.finish(w, "completed", {});
      case "execution_error":
        return this.#d.finish(w, "failed", { error: describeError(d) });
      case "execution_interrupted":
        return this.#d.finish(w, "cancelled", {});
    }
  }

  #run(w: WorkflowRecord): Run {
    const id = w.workflowId;
    let run = this.#runs.get(id);
    if (!run) {
      // Messages for a prompt that started before we (re)connected.
      run = { total: Object.keys(JSON.parse(w.prompt)).length, cached: new Set(), started: new Set(), value: 0, max: 1, outputs: JSON.parse(w.outputs) };
      this.#runs.set(id, run);
      if (w.status !== "running") {
        const startTime = w.startTime ?? Date.now();
        this.#d.store.update(id, { status: "running", startTime });
        this.#d.deadlines.arm({ ...w, startTime });
      }
    }
    return run;
  }

  #progress(id: string, run: Run, node: string | null) {
    const progress = progressOf(run);
    this.#d.store.update(id, { progress, ...(node ? { currentNode: node } : {}) });
    this.#d.publish("workflow:progress", id, { progress, currentNode: node, value: run.value, max: run.max });
  }
}
