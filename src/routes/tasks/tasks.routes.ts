import { createRoute, z } from "@hono/zod-openapi";
import { cursorQuery, errorResponses, jsonResponse, PROTECTED_ERRORS, requiredStatusListQuery, statusListQuery, timeoutSecondsField } from "../../http/openapi.ts";
import { IdempotencyHeaders } from "../../http/idempotency.ts";
import { waitQuery } from "../../http/long-poll.ts";
import { TASK_STATUSES } from "../../tasks/task.ts";
import { ResendWebhookBody, WebhookSchema, webhookUrlField } from "../../webhooks/webhook-view.ts";
import { labelQuery, labelsField } from "../../labels.ts";

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export const TaskIdParam = z.object({
  taskId: z
    .string()
    .regex(UUID, "must be a UUID")
    .toLowerCase() // UUIDs are case-insensitive; ours are stored lowercase
    .openapi({ param: { name: "taskId", in: "path" }, example: "2f1c5e0a-8d2b-4c3e-9f6a-1b2c3d4e5f60" }),
});

const taskText = z
  .string()
  .min(1)
  .max(10_000)
  // It becomes a command-line argument, which cannot hold a NUL (the spawn would fail: a 500).
  .regex(/^[^\u0000]*$/, "must not contain NUL characters");

/** Most files one request may put in a task's folder; their size is bounded by BODY_LIMIT. */
const MAX_INPUT_FILES = 1000;

const inputFiles = z
  .array(
    z
      .object({
        path: z.string().min(1).max(1024).openapi({ description: "Where it goes, relative to the task's folder", example: "data/sales.csv" }),
        content: z.string().openapi({ description: "Its contents: text, or base64 with `encoding: base64`", example: "region,total\nnorth,12\n" }),
        encoding: z.enum(["utf8", "base64"]).optional().openapi({ description: "`utf8` (the default) or `base64`, for a binary file" }),
      })
      .strict(),
  )
  .max(MAX_INPUT_FILES)
  .optional()
  .openapi({ description: `Files put in the task's folder before its agent starts (at most ${MAX_INPUT_FILES}, within BODY_LIMIT): what it is to work on` });

const queueField = z
  .boolean()
  .optional()
  .openapi({ description: "When every MAX_ACTIVE_TASKS slot is busy, wait in the queue (the first queued starts first; at most 1,000 wait) rather than get a 503. Default false" });

export const CreateTaskBody = z
  .object({
    agent: z
      .string()
      .min(1)
      .max(100)
      .regex(/^(?!-)[A-Za-z0-9._-]+$/, "must contain only letters, digits, '.', '_' and '-', and not start with '-'")
      .openapi({ example: "coder" }),
    task: taskText.openapi({ example: "Write a hello-world HTTP server in Go" }),
    provider: z.string().min(1).max(64).optional().openapi({ description: "A configured provider (default claude-flow)", example: "demo" }),
    timeoutSeconds: timeoutSecondsField("Stop the task (as failed) once it has run this long; 0 for no limit. Default: TASK_TIMEOUT (none unless set)"),
    noOutputTimeoutSeconds: timeoutSecondsField(
      "Stop the task (as failed) once its log has had no new output for this long: an agent stuck on a prompt or a hung call, found in minutes rather than at its time limit; 0 for no limit. Default: TASK_NO_OUTPUT_TIMEOUT (none unless set)",
    ),
    files: inputFiles,
    queue: queueField,
    labels: labelsField("Your own names for the task (`{\"job\": \"1234\"}`): shown with it and in its webhook; `?label=job=1234` finds or stops the tasks that carry them"),
    webhookUrl: webhookUrlField("POSTed the task's end (`task.completed`, `task.failed`, `task.stopped`, with the task as GET returns it), signed with WEBHOOK_SECRET; tried again for hours until a 2xx"),
  })
  .strict()
  .openapi("CreateTaskRequest");

export const ContinueTaskBody = z
  .object({
    task: taskText.openapi({ description: "What the agent does next, in the session it left", example: "Now add tests for it" }),
    timeoutSeconds: timeoutSecondsField("Stop the task (as failed) once it has run this long; 0 for no limit. Default: the earlier task's own"),
    noOutputTimeoutSeconds: timeoutSecondsField("Stop the task (as failed) once its log has had no new output for this long; 0 for no limit. Default: the earlier task's own"),
    files: inputFiles,
    queue: queueField,
    labels: labelsField("The new task's labels. Default: the earlier task's own; null for none"),
    webhookUrl: webhookUrlField("POSTed the new task's end, as for a new task. Default: the earlier task's own; null for none"),
  })
  .strict()
  .openapi("ContinueTaskRequest");

export const TaskAcceptedSchema = z
  .object({
    taskId: z.string(),
    status: z.literal("accepted"),
    message: z.string(),
    taskDir: z.string(),
    logFile: z.string(),
  })
  .openapi("TaskAccepted");

const count = (description: string) => z.number().nullable().openapi({ description });
export const AgentResultSchema = z
  .object({
    text: z
      .string()
      .nullable()
      .optional()
      .openapi({ description: "The agent's final answer (its first 64 KiB; the whole of it is the log's last line). Only in GET /v1/tasks/{taskId} and the stream's task-complete, not in lists" }),
    costUsd: count("What the session cost in US dollars, as claude reports it"),
    turns: count("Turns the session took"),
    sessionId: z.string().nullable().openapi({ description: "The claude session, for `claude --resume <sessionId>` in the task's folder" }),
    usage: z.object({
      inputTokens: count("Input tokens"),
      outputTokens: count("Output tokens"),
      cacheReadInputTokens: count("Input tokens read from the prompt cache"),
      cacheCreationInputTokens: count("Input tokens written to the prompt cache"),
    }),
  })
  .openapi("AgentResult");

const StatusEnum = z.enum(TASK_STATUSES as unknown as [string, ...string[]]);

export const TaskSchema = z
  .object({
    taskId: z.string(),
    agent: z.string(),
    task: z.string(),
    provider: z.string(),
    status: StatusEnum,
    startTime: z.string().openapi({ format: "date-time" }),
    exitTime: z.string().nullable().openapi({ format: "date-time" }),
    exitCode: z.number().int().nullable(),
    signal: z.string().nullable(),
    duration: z.number().openapi({ description: "Seconds; stops growing at exit" }),
    timeoutSeconds: z.number().nullable().openapi({ description: "The task's time limit in seconds (null: none); past it the task is stopped and failed" }),
    noOutputTimeoutSeconds: z
      .number()
      .nullable()
      .openapi({ description: "How long the task may go without new output in its log, in seconds (null: no limit); past it the task is stopped and failed" }),
    queuePosition: z.number().int().nullable().openapi({ description: "While queued: its place in the queue (1 starts next); null otherwise" }),
    continuedFrom: z.string().nullable().openapi({ description: "The earlier task whose session and folder this one went on with (POST /v1/tasks/{taskId}/continue); null for a new session" }),
    error: z
      .string()
      .nullable()
      .openapi({ description: "Why it failed: how it ended, and the reason a claude session's last event gives", example: "Exited with code 1: Not logged in · Please run /login" }),
    result: AgentResultSchema.nullable().openapi({
      description: "What the agent said of its end: a claude session's final result event (its final answer, cost, turns, session id, tokens); null for other agents, and while it runs",
    }),
    labels: z.record(z.string(), z.string()).openapi({ description: "The labels its request gave ({} for none)" }),
    webhook: WebhookSchema,
    taskDir: z.string(),
    logFile: z.string(),
    resources: z
      .object({
        processes: z.number().int().openapi({ description: "Its live processes: its own, and the descendants that left its process group" }),
        memoryBytes: z.number().int().openapi({ description: "The sum of their resident memory (pages they share counted in each)" }),
        cpuSeconds: z.number().openapi({ description: "CPU time they, and the children they reaped, have used so far" }),
      })
      .nullable()
      .optional()
      .openapi({ description: "Only in GET /v1/tasks/{taskId}: what the task's processes use now; null once it has ended, and while it is queued" }),
    lastOutputTime: z
      .string()
      .nullable()
      .optional()
      .openapi({ format: "date-time", description: "Only in GET /v1/tasks/{taskId}: when its log last grew (the agent's last output); null before its first" }),
    logTail: z.array(z.string()).optional().openapi({ description: "Last 50 log lines, from at most the log's last 256 KiB; a line over 8 KiB is cut and says so" }),
  })
  .openapi("Task");

export const TaskListSchema = z
  .object({
    activeTasks: z.array(z.object({ taskId: z.string(), agent: z.string(), startTime: z.string(), duration: z.number() })),
    tasks: z.array(TaskSchema.omit({ logTail: true, resources: true, lastOutputTime: true })),
    count: z.number().int(),
    nextCursor: z.string().nullable(),
  })
  .openapi("TaskList");

export const ListQuery = z.object({
  status: statusListQuery(["queued", "running", "completed", "failed", "stopped", "all"], "Tasks in this status, or in any of several (`queued,running`); `all` for every task. Default: running"),
  limit: z.coerce.number().int().min(1).max(500).default(100).optional(),
  cursor: cursorQuery,
  agent: z.string().max(100).optional().openapi({ description: "Only this agent's tasks", example: "coder" }),
  provider: z.string().max(64).optional().openapi({ description: "Only tasks run by this provider", example: "claude-flow" }),
  continuedFrom: z.string().regex(UUID, "must be a UUID").toLowerCase().optional().openapi({ description: "Only the tasks that continued this one (its follow-ups)" }),
  label: labelQuery,
});

export const StopResultSchema = z
  .object({ taskId: z.string(), status: StatusEnum, message: z.string() })
  .openapi("TaskStopped");

export const StreamQuery = z.object({
  token: z.string().optional().openapi({ description: "API key, for EventSource clients that cannot send headers" }),
  lastEventId: z.string().regex(/^\d+$/).optional().openapi({ description: "Resume after this event id (same as the Last-Event-ID header)" }),
  tail: z.coerce
    .number()
    .int()
    .min(1)
    .max(100_000)
    .optional()
    .openapi({ description: "Start with the last N lines rather than the whole log (a resume with Last-Event-ID goes on from there instead)", example: 2000 }),
});

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
    "409 while a task is running in that folder.",
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
  summary: "Stop a running task (SIGTERM to its process group, SIGKILL after TASK_STOP_GRACE_MS)",
  request: { params: TaskIdParam },
  responses: { 200: jsonResponse(StopResultSchema, "Stop under way"), ...errors(400, 404, 409, 507) },
});

export const stopTasksRoute = createRoute({
  operationId: "stopTasks",
  method: "delete",
  path: "/v1/tasks",
  tags: ["Tasks"],
  summary: "Stop every running (or queued) task, or an agent's, a provider's, or those labelled so, at once",
  description:
    "For agents gone wrong, or before maintenance: one request, where a DELETE each would use up the rate limit. Each is stopped as " +
    "`DELETE /v1/tasks/{taskId}` stops one. `status=running` is required, so that nothing is stopped by accident.",
  request: {
    query: z.object({
      status: requiredStatusListQuery(["running", "queued"], "Stop the tasks in this status, or in either: `running,queued` (a queued one leaves the queue without running)"),
      agent: ListQuery.shape.agent,
      provider: ListQuery.shape.provider,
      label: labelQuery,
    }),
  },
  responses: {
    200: jsonResponse(z.object({ stopped: z.number().int(), taskIds: z.array(z.string()) }).openapi("StoppedTasks"), "What was asked to stop (SIGTERM now, SIGKILL after TASK_STOP_GRACE_MS)"),
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

export const streamTaskLogsRoute = createRoute({
  operationId: "streamTaskLogs",
  method: "get",
  path: "/v1/tasks/{taskId}/logs/stream",
  tags: ["Tasks"],
  summary: "Follow a task's log (Server-Sent Events)",
  description:
    "Sends the log so far, then follows it live. Each line is `data: {\"line\",\"timestamp\"}` with an `id:` " +
    "(byte offset) for resuming with `Last-Event-ID`; `: heartbeat` comments keep the connection open; " +
    "`event: task-complete` with `{status, exitCode, signal, error, result, timestamp}` ends the stream (`error` and `result` as in the task: why it failed, what a claude session reported).",
  request: {
    params: TaskIdParam,
    query: StreamQuery,
    headers: z.object({ "last-event-id": z.string().optional().openapi({ description: "Resume after this event id" }) }),
  },
  responses: {
    200: { description: "An event stream", content: { "text/event-stream": { schema: z.string() } } },
    ...errors(400, 404),
  },
});

export const LogQuery = z.object({
  follow: z
    .enum(["true", "false"])
    .optional()
    .openapi({
      description:
        "true: keep the answer open and send what the task writes as it writes it, until its end (as `tail -f`, `docker logs -f`): " +
        "`curl -N …/logs?follow=true`. With `Range: bytes=<offset>-` it starts there",
    }),
  tail: z.coerce.number().int().min(1).max(100_000).optional().openapi({ description: "Only the last N lines (to follow from there, with follow=true)", example: 100 }),
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

export const TaskFilesSchema = z
  .object({
    files: z.array(
      z.object({
        path: z.string().openapi({ description: "Relative to the task's directory", example: "src/main.go" }),
        type: z.enum(["file", "symlink"]).openapi({ description: "Symbolic links are listed, never followed or served" }),
        size: z.number().int(),
        modifiedAt: z.string().openapi({ format: "date-time" }),
      }),
    ),
    truncated: z.boolean().openapi({ description: "The list stopped at 10,000 files (the top of the tree comes first)" }),
  })
  .openapi("TaskFiles");

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
