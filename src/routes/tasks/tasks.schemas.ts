/** The shapes the task routes take and give: bodies, queries and views, shared by their routes and tests. */
import { z } from "@hono/zod-openapi";
import { cursorQuery, statusListQuery, timeoutSecondsField } from "../../http/openapi.ts";
import { TASK_STATUSES } from "../../tasks/task.ts";
import { WebhookSchema, webhookUrlField } from "../../webhooks/webhook-view.ts";
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

/** A model as the CLIs name them: an alias (sonnet), a full name, a Bedrock ARN or a Vertex name@version. */
const modelField = (description: string) =>
  z
    .string()
    .max(200)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._:\/@-]*$/, "must be a model name: letters, digits and . _ : / @ -, not starting with '-'")
    .nullable()
    .optional()
    .openapi({ description, example: "sonnet" });

const queueField = z
  .boolean()
  .optional()
  .openapi({ description: "When every MAX_ACTIVE_TASKS slot, or every one of its provider's maxActive, is busy, wait in the queue (the first queued starts first; at most 1,000 wait) rather than get a 503. Default false" });

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
    model: modelField(
      "The model the agent runs with, passed by the provider's `modelArgs` (claude-flow: `claude --model <model>`, an alias such as sonnet or opus, or a full name); a provider without them is a 422. Default: the provider's own",
    ),
    files: inputFiles,
    queue: queueField,
    labels: labelsField("Your own names for the task (`{\"job\": \"1234\"}`): shown with it and in its webhook; `?label=job=1234` finds or stops the tasks that carry them"),
    webhookUrl: webhookUrlField("POSTed the task's end (`task.completed`, `task.failed`, `task.stopped`, with the task as GET returns it), signed with WEBHOOK_SECRET; tried again for hours until a 2xx. Default: WEBHOOK_URL (none unless set); null for none"),
  })
  .strict()
  .openapi("CreateTaskRequest");

export const ContinueTaskBody = z
  .object({
    task: taskText.openapi({ description: "What the agent does next, in the session it left", example: "Now add tests for it" }),
    timeoutSeconds: timeoutSecondsField("Stop the task (as failed) once it has run this long; 0 for no limit. Default: the earlier task's own"),
    noOutputTimeoutSeconds: timeoutSecondsField("Stop the task (as failed) once its log has had no new output for this long; 0 for no limit. Default: the earlier task's own"),
    model: modelField("The model the agent goes on with. Default: the earlier task's own; null for the provider's default"),
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
    model: z.string().nullable().openapi({ description: "The model its request named; null: the provider's default" }),
    queuePosition: z.number().int().nullable().openapi({ description: "While queued: its place in the queue (1 starts next, unless its provider is at its maxActive: then those behind it of other providers go first); null otherwise" }),
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
      .openapi({
        format: "date-time",
        description: "When its log last grew (the agent's last output); null before its first. In GET /v1/tasks/{taskId}, and in lists for running tasks (a stuck agent shows there)",
      }),
    logTail: z.array(z.string()).optional().openapi({ description: "Last 50 log lines, from at most the log's last 256 KiB; a line over 8 KiB is cut and says so" }),
  })
  .openapi("Task");

export const TaskListSchema = z
  .object({
    activeTasks: z.array(z.object({ taskId: z.string(), agent: z.string(), startTime: z.string(), duration: z.number() })),
    tasks: z.array(TaskSchema.omit({ logTail: true, resources: true })),
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

export const PurgeResultSchema = z
  .object({
    taskId: z.string(),
    deleted: z.literal(true),
    folderDeleted: z.boolean().openapi({ description: "false when another task works, or worked, in the same folder (a continuation): it stays until the last of them goes" }),
    message: z.string(),
  })
  .openapi("TaskPurged");

export const StoppedTasksSchema = z.object({ stopped: z.number().int(), taskIds: z.array(z.string()) }).openapi("StoppedTasks");

export const PurgedTasksSchema = z
  .object({
    purged: z.number().int(),
    taskIds: z.array(z.string()).openapi({ description: "The tasks deleted: record, log and folder" }),
    foldersKept: z.array(z.string()).openapi({ description: "Of those, the ones whose folder stays, as a task not deleted works or worked in it (a continuation)" }),
  })
  .openapi("PurgedTasks");

export const StopQuery = z.object({
  purge: z
    .enum(["true", "false"])
    .optional()
    .openapi({ description: "true: delete an ended task now, its record, log and folder, as TASK_RETENTION would later (409 while it runs: stop it first)" }),
});

export const StreamQuery = z.object({
  token: z.string().optional().openapi({ description: "API key, for EventSource clients that cannot send headers" }),
  lastEventId: z.string().regex(/^\d+$/).optional().openapi({ description: "Resume after this event id (same as the Last-Event-ID header)" }),
  tail: z.coerce
    .number()
    .int()
    .min(1)
    .max(100_000)
    .optional()
    .openapi({ description: "Start with the last N lines rather than the whole log, lines as this stream sends them (a progress bar's redraws each count); a resume with Last-Event-ID goes on from there instead", example: 2000 }),
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
