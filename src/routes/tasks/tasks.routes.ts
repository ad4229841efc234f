/** The task routes' OpenAPI definitions (their shapes are in tasks.schemas.ts). */
import { createRoute, z } from "@hono/zod-openapi";
import { errorResponses, eventStreamDoc, jsonResponse, PROTECTED_ERRORS, requiredStatusListQuery } from "../../http/openapi.ts";
import { IdempotencyHeaders } from "../../http/idempotency.ts";
import { waitQuery } from "../../http/long-poll.ts";
import { labelQuery } from "../../labels.ts";
import { ResendWebhookBody, WebhookSchema } from "../../webhooks/webhook-view.ts";
import {
  ContinueTaskBody,
  CreateTaskBody,
  ListQuery,
  LogQuery,
  PurgedTasksSchema,
  PurgeResultSchema,
  StopQuery,
  StoppedTasksSchema,
  StopResultSchema,
  StreamQuery,
  TaskAcceptedSchema,
  TaskFilesSchema,
  TaskIdParam,
  TaskListSchema,
  TaskSchema,
} from "./tasks.schemas.ts";

const errors = (...s: number[]) => errorResponses(...PROTECTED_ERRORS, ...s);

export const createTaskRoute = createRoute({
  operationId: "createTask",
  method: "post",
  path: "/v1/tasks",
  tags: ["Tasks"],
  summary: "Start an agent task",
  request: { headers: IdempotencyHeaders, body: { required: true, content: { "application/json": { schema: CreateTaskBody } } } },
  responses: { 202: jsonResponse(TaskAcceptedSchema, "Task started (or, for a repeated Idempotency-Key, the first start's answer)"), ...errors(400, 409, 413, 415, 422, 503, 507) },
});

export const continueTaskRoute = createRoute({
  operationId: "continueTask",
  method: "post",
  path: "/v1/tasks/{taskId}/continue",
  tags: ["Tasks"],
  summary: "Go on with a finished task's agent session, as a new task in the same folder",
  description:
    "A follow-up instruction for the agent that ran the task: a new task, with the same agent and provider, runs in the earlier " +
    "task's folder (its files are there) and resumes its session (claude-flow: `claude --resume <sessionId>`), so the agent " +
    "remembers the conversation. 422 when the task left no session (its agent reported none) or its provider cannot resume one; " +
    "409 while a task is running in that folder, or while the task is being deleted.",
  request: { params: TaskIdParam, headers: IdempotencyHeaders, body: { required: true, content: { "application/json": { schema: ContinueTaskBody } } } },
  responses: { 202: jsonResponse(TaskAcceptedSchema, "The new task, started (or, for a repeated Idempotency-Key, the first start's answer)"), ...errors(400, 404, 409, 413, 415, 422, 503, 507) },
});

export const listTasksRoute = createRoute({
  operationId: "listTasks",
  method: "get",
  path: "/v1/tasks",
  tags: ["Tasks"],
  summary: "List tasks (running ones by default)",
  request: { query: ListQuery },
  responses: { 200: jsonResponse(TaskListSchema, "Tasks, newest first"), ...errors(400) },
});

export const getTaskRoute = createRoute({
  operationId: "getTask",
  method: "get",
  path: "/v1/tasks/{taskId}",
  tags: ["Tasks"],
  summary: "A task with its status, exit and the tail of its log",
  description: "With `?wait=N`, the answer comes once the task has ended (or after N seconds): `GET /v1/tasks/{taskId}?wait=600` waits for an agent's answer in one request.",
  request: { params: TaskIdParam, query: z.object({ wait: waitQuery }) },
  responses: { 200: jsonResponse(TaskSchema, "The task"), ...errors(400, 404) },
});

export const stopTaskRoute = createRoute({
  operationId: "stopTask",
  method: "delete",
  path: "/v1/tasks/{taskId}",
  tags: ["Tasks"],
  summary: "Stop a running task (SIGTERM to its process group, SIGKILL after TASK_STOP_GRACE_MS); with ?purge=true, delete an ended one",
  description:
    "The task is `stopped` at once; its `exitTime` stays null until its processes are gone, and with them the memory they held (a GPU's too). " +
    "`GET /v1/tasks/{taskId}?wait=N` answers then: wait for it before starting what needs that memory. One that had ended on its own " +
    "a moment before, its end not yet recorded, keeps that end: a 409 with `currentStatus`, as for any task that has ended.",
  request: { params: TaskIdParam, query: StopQuery },
  responses: {
    200: jsonResponse(z.union([StopResultSchema, PurgeResultSchema]), "Stop under way (TaskStopped), or the ended task deleted (TaskPurged)"),
    ...errors(400, 404, 409, 507),
  },
});

export const stopTasksRoute = createRoute({
  operationId: "stopTasks",
  method: "delete",
  path: "/v1/tasks",
  tags: ["Tasks"],
  summary: "Stop every running (or queued) task, or an agent's, a provider's, or those labelled so, at once; with ?purge=true, delete ended ones",
  description:
    "For agents gone wrong, or before maintenance: one request, where a DELETE each would use up the rate limit. Each is stopped as " +
    "`DELETE /v1/tasks/{taskId}` stops one. `status` is required, so that nothing goes by accident: `running` and `queued` to stop, " +
    "and with `purge=true` `completed`, `failed` and `stopped`, whose tasks are deleted as `?purge=true` deletes one (a finished batch: " +
    "`?status=completed,failed,stopped&label=batch=42&purge=true`). A task whose files cannot be deleted is kept, to try again, and the " +
    "answer is then a 500 whose `details` list what was deleted (`purged`) and what was not (`failed`).",
  request: {
    query: z.object({
      status: requiredStatusListQuery(
        ["running", "queued", "completed", "failed", "stopped"],
        "The tasks in these statuses: `running`, `queued` or both to stop them (a queued one leaves the queue without running); " +
          "with purge=true, any of `completed`, `failed` and `stopped` to delete them",
      ),
      agent: ListQuery.shape.agent,
      provider: ListQuery.shape.provider,
      label: labelQuery,
      purge: z
        .enum(["true", "false"])
        .optional()
        .openapi({ description: "true: delete the ended tasks the other parameters name, their records, logs and folders, as TASK_RETENTION would later" }),
    }),
  },
  responses: {
    200: jsonResponse(
      z.union([StoppedTasksSchema, PurgedTasksSchema]),
      "What was asked to stop (StoppedTasks: SIGTERM now, SIGKILL after TASK_STOP_GRACE_MS), or what was deleted (PurgedTasks)",
    ),
    ...errors(400, 507),
  },
});

export const resendTaskWebhookRoute = createRoute({
  operationId: "resendTaskWebhook",
  method: "post",
  path: "/v1/tasks/{taskId}/webhook",
  tags: ["Tasks"],
  summary: "Send an ended task's webhook again (after its receiver's outage, or to a new URL)",
  description:
    "Its notification is due again now, with the same webhook-id, and is tried again as at first. `{}` sends it to the task's own " +
    "webhookUrl; `{url}` to another, which becomes the task's. 409 while the task runs or its notification is still being sent; 422 without a URL.",
  request: { params: TaskIdParam, body: { required: true, content: { "application/json": { schema: ResendWebhookBody } } } },
  responses: { 202: jsonResponse(WebhookSchema.unwrap(), "To be sent now"), ...errors(400, 404, 409, 413, 415, 422, 507) },
});

export const taskEventsRoute = createRoute({
  operationId: "streamTaskEvents",
  method: "get",
  path: "/v1/tasks/events",
  tags: ["Tasks"],
  summary: "Follow every task's changes (Server-Sent Events): queued, running, stopping, ended, deleted",
  description:
    "From now on, each change of a task's status as an event named by its type (`task.queued`, `task.running`, `task.stopping`, " +
    "`task.completed`, `task.failed`, `task.stopped`) with `{type, timestamp, data}`, `data` the task as lists show it: for a dashboard or a bot " +
    "that follows all the work. `task.deleted` tells of a task purged or past TASK_RETENTION, `data` the task as lists showed it last. `?label=name=value` (repeatable) keeps to the tasks carrying them. `: heartbeat` comments keep it open; " +
    "`event: shutdown` ends it.",
  request: { query: z.object({ label: labelQuery, token: StreamQuery.shape.token }) },
  responses: {
    200: eventStreamDoc,
    ...errors(400),
  },
});

export const streamTaskLogsRoute = createRoute({
  operationId: "streamTaskLogs",
  method: "get",
  path: "/v1/tasks/{taskId}/logs/stream",
  tags: ["Tasks"],
  summary: "Follow a task's log (Server-Sent Events)",
  description:
    "Sends the log so far, then follows it live. Each line is `data: {\"line\",\"timestamp\"}` with an `id:` " +
    "(byte offset) for resuming with `Last-Event-ID`. A carriage return alone ends a line too and stays at its end (`\"dl 20%\\r\"`): " +
    "a progress bar's redraw, which the next line replaces, as on a terminal. `: heartbeat` comments keep the connection open; " +
    "`event: task-complete` with `{status, exitCode, signal, error, result, timestamp}` ends the stream (`error` and `result` as in the task: why it failed, what a claude session reported).",
  request: {
    params: TaskIdParam,
    query: StreamQuery,
    headers: z.object({ "last-event-id": z.string().optional().openapi({ description: "Resume after this event id" }) }),
  },
  responses: {
    200: eventStreamDoc,
    ...errors(400, 404),
  },
});

export const getTaskLogRoute = createRoute({
  operationId: "getTaskLog",
  method: "get",
  path: "/v1/tasks/{taskId}/logs",
  tags: ["Tasks"],
  summary: "A task's whole log as plain text (stdout and stderr as written)",
  description:
    "The log file as it stands, for `curl -o`; a running task's grows. `Range: bytes=<offset>-` fetches what was " +
    "written since an earlier read (206), for scripts that poll instead of following the stream. `?follow=true` " +
    "goes on sending the log as it grows until the task ends; `?tail=N` starts at its last N lines.",
  request: { params: TaskIdParam, query: LogQuery },
  responses: {
    200: { description: "The log (with follow=true, streamed until the task ends)", content: { "text/plain": { schema: z.string() } } },
    206: { description: "The part of the log a Range header asked for", content: { "text/plain": { schema: z.string() } } },
    ...errors(400, 404, 416),
  },
});

export const listTaskFilesRoute = createRoute({
  operationId: "listTaskFiles",
  method: "get",
  path: "/v1/tasks/{taskId}/files",
  tags: ["Tasks"],
  summary: "The files a task has in its directory (what the agent wrote)",
  request: { params: TaskIdParam },
  responses: { 200: jsonResponse(TaskFilesSchema, "The files, folder by folder"), ...errors(400, 404) },
});

export const getTaskFileRoute = createRoute({
  operationId: "getTaskFile",
  method: "get",
  path: "/v1/tasks/{taskId}/file",
  tags: ["Tasks"],
  summary: "Download one file from a task's directory",
  description: "Only the task's own regular files: a path with '..' is a 400, one through a symbolic link a 403. `Range: bytes=…` gets a part (206).",
  request: {
    params: TaskIdParam,
    query: z.object({ path: z.string().min(1).max(4096).openapi({ description: "As listed by /files", example: "src/main.go" }) }),
  },
  responses: {
    200: { description: "The file, typed by its extension (saved under its own name)", content: { "*/*": { schema: z.string().openapi({ format: "binary" }) } } },
    206: { description: "The part a Range header asked for", content: { "*/*": { schema: z.string().openapi({ format: "binary" }) } } },
    ...errors(400, 404, 416),
  },
});

export const getTaskArchiveRoute = createRoute({
  operationId: "getTaskArchive",
  method: "get",
  path: "/v1/tasks/{taskId}/archive",
  tags: ["Tasks"],
  summary: "Download everything in a task's directory as one .tar.gz",
  description:
    "What the agent made, in one request: `curl -H 'Authorization: Bearer …' …/archive | tar xz` unpacks it into a folder named after the task. " +
    "Folders, files and symbolic links (as links, never followed); a running task's files as they are when read.",
  request: { params: TaskIdParam },
  responses: {
    200: { description: "A gzipped tar (POSIX pax) of the task's directory, under a folder named after the task", content: { "application/gzip": { schema: z.string().openapi({ format: "binary" }) } } },
    ...errors(400, 404),
  },
});
