/** What a task's start asks of the supervisor, and how it answers: the contract of TaskSupervisor.start. */
import type { DecodedInput } from "./task-inputs.ts";
import type { TaskRecord } from "./task.ts";

export interface StartInput {
  agent: string;
  task: string;
  provider: string;
  createdBy: string | null;
  /** Longest the task may run; null for no limit. */
  timeoutMs: number | null;
  /** Longest the task may go without writing to its log; null for no limit. */
  noOutputTimeoutMs?: number | null;
  /** The model to run it with (the provider's modelArgs); null for the provider's default. */
  model?: string | null;
  /** With every slot busy, wait in the queue (up to MAX_QUEUED tasks, task-queue.ts) rather than be refused. */
  queue?: boolean;
  /** An earlier task whose agent session this one goes on with, in that task's folder. */
  continues?: { taskId: string; taskDir: string; sessionId: string };
  /** Written into the task's folder before its agent starts. */
  files?: readonly DecodedInput[];
  /** Where the task's end is POSTed. */
  webhookUrl?: string | null;
  /** The client's labels, as stored (labels.ts). */
  labels?: string | null;
}

export type StartResult =
  | { ok: true; task: TaskRecord }
  /** Every MAX_ACTIVE_TASKS slot is taken (`provider` undefined), or every one of the provider's maxActive. */
  | { ok: false; reason: "busy"; provider?: { name: string; maxActive: number } }
  | { ok: false; reason: "start-failed"; task: TaskRecord; error: string }
  /** The task's folder or log could not be made (a full disk, a read-only one): nothing was recorded. */
  | { ok: false; reason: "storage"; error: string; code: string | undefined }
  /** A file of the request would go through a link, or over a folder, in a continuation's folder: nothing was recorded. */
  | { ok: false; reason: "inputs"; error: string };
