/** A task as the API shows it: in GET answers, lists, and webhooks. */
import type { TaskUsage } from "./process-group.ts";
import { durationSeconds, type TaskRecord } from "./task.ts";
import type { Delivery } from "../webhooks/webhook-store.ts";
import { webhookView } from "../webhooks/webhook-view.ts";
import { parseLabels } from "../labels.ts";

/**
 * What the agent said of its end (a claude session's final result event), or null. Lists leave its
 * final answer out, which may run to 64 KiB a task.
 */
export function resultView(t: TaskRecord, withText: boolean) {
  if ([t.resultText, t.costUsd, t.turns, t.sessionId, t.inputTokens, t.outputTokens].every((v) => v === null)) return null;
  return {
    ...(withText ? { text: t.resultText } : {}),
    costUsd: t.costUsd,
    turns: t.turns,
    sessionId: t.sessionId,
    usage: { inputTokens: t.inputTokens, outputTokens: t.outputTokens, cacheReadInputTokens: t.cacheReadTokens, cacheCreationInputTokens: t.cacheCreationTokens },
  };
}

/** What a task's view needs besides its record. */
export interface ViewContext {
  /** The ids of the queued tasks, first first, for a queued one's place. */
  queued: readonly string[];
  /** One task's view (GET /v1/tasks/{taskId}, a webhook): with the agent's final answer, which lists leave out. */
  full?: boolean;
  /** The tail of its log (GET /v1/tasks/{taskId}). */
  logTail?: string[];
  /** The notification of its end, if one was made. */
  delivery?: Delivery;
  /** What its processes use now (GET /v1/tasks/{taskId}); null when it has none. */
  resources?: TaskUsage | null;
  /** When its log last grew, epoch ms (GET /v1/tasks/{taskId}); null before its first output. */
  lastOutput?: number | null;
}

/** The public view of a task, as the API returns it. */
export function taskView(t: TaskRecord, ctx: ViewContext) {
  return {
    taskId: t.taskId,
    agent: t.agent,
    task: t.task,
    provider: t.provider,
    status: t.status,
    startTime: new Date(t.startTime).toISOString(),
    exitTime: t.exitTime === null ? null : new Date(t.exitTime).toISOString(),
    exitCode: t.exitCode,
    signal: t.signal,
    duration: durationSeconds(t),
    timeoutSeconds: t.timeoutMs === null ? null : t.timeoutMs / 1000,
    noOutputTimeoutSeconds: t.noOutputTimeoutMs === null ? null : t.noOutputTimeoutMs / 1000,
    model: t.model,
    continuedFrom: t.continuedFrom,
    queuePosition: t.status === "queued" ? ctx.queued.indexOf(t.taskId) + 1 || null : null,
    error: t.error,
    result: resultView(t, ctx.full === true),
    labels: parseLabels(t.labels),
    webhook: webhookView(t.webhookUrl, ctx.delivery),
    taskDir: t.taskDir,
    logFile: t.logFile,
    ...(ctx.resources !== undefined ? { resources: ctx.resources } : {}),
    ...(ctx.lastOutput !== undefined ? { lastOutputTime: ctx.lastOutput === null ? null : new Date(ctx.lastOutput).toISOString() } : {}),
    ...(ctx.logTail ? { logTail: ctx.logTail } : {}),
  };
}
