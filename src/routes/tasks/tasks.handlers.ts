import type { RouteHandler } from "@hono/zod-openapi";
import { ApiError } from "../../http/errors.ts";
import { contentDisposition, fileResponse } from "../../http/file-response.ts";
import { eventStreamResponse, streamResponse } from "../../http/streaming.ts";
import { idempotent, type IdempotencyStore } from "../../http/idempotency.ts";
import type { AppEnv } from "../../http/types.ts";
import type { TaskRecord, TaskStatus } from "../../tasks/task.ts";
import { actorOf } from "../../http/request-context.ts";
import type { TaskService } from "../../tasks/task-service.ts";
import type { taskEventsRoute, continueTaskRoute, createTaskRoute, getTaskArchiveRoute, getTaskFileRoute, stopTasksRoute, getTaskLogRoute, getTaskRoute, listTaskFilesRoute, listTasksRoute, resendTaskWebhookRoute, stopTaskRoute, streamTaskLogsRoute } from "./tasks.routes.ts";
import { listTaskFiles, taskFilePath } from "../../tasks/task-files.ts";
import { tarFolder, tarGzResponse } from "../../tasks/tar.ts";
import { lastLinesStart } from "../../tasks/log-files.ts";
import { ENDED_STATUSES, type EndedStatus } from "../../tasks/task-purge.ts";

const QUEUED = "Task queued: no slot is free for it (MAX_ACTIVE_TASKS, or its provider's maxActive), and it starts when one frees (GET it for its status)";

/** The statuses a bulk stop takes. */
const LIVE_STATUSES = ["running", "queued"] as const;
type LiveStatus = (typeof LIVE_STATUSES)[number];

type H<R extends Parameters<typeof import("@hono/zod-openapi").createRoute>[0]> = RouteHandler<R, AppEnv>;

export function taskHandlers(tasks: TaskService, idempotency: IdempotencyStore) {
  const accepted = (t: TaskRecord, message: string) => ({ status: 202 as const, body: { taskId: t.taskId, status: "accepted" as const, message, taskDir: t.taskDir, logFile: t.logFile } });

  const create: H<typeof createTaskRoute> = (c) => {
    const body = c.req.valid("json");
    return idempotent(c, idempotency, body, () => {
      const t = tasks.create(body, actorOf(c));
      return accepted(t, t.status === "queued" ? QUEUED : `Task started with provider ${t.provider}`);
    }) as never;
  };

  const continueTask: H<typeof continueTaskRoute> = (c) => {
    const { taskId } = c.req.valid("param");
    const body = c.req.valid("json");
    // The key covers the task continued too: the same body for another task is another request.
    return idempotent(c, idempotency, { taskId, ...body }, () => {
      const t = tasks.continue(taskId, body, actorOf(c));
      return accepted(t, t.status === "queued" ? `${QUEUED}; it continues task ${taskId}` : `Task started with provider ${t.provider}, continuing task ${taskId}`);
    }) as never;
  };

  const list: H<typeof listTasksRoute> = (c) => {
    const q = c.req.valid("query");
    const status = q.status ?? ["running"];
    const statuses = status.includes("all") ? undefined : (status as TaskStatus[]);
    const page = tasks.list({ statuses, agent: q.agent, provider: q.provider, continuedFrom: q.continuedFrom, labels: q.label, limit: q.limit ?? 100, cursor: q.cursor });
    const views = page.tasks;
    return c.json(
      {
        activeTasks: views.filter((v) => v.status === "running").map(({ taskId, agent, startTime, duration }) => ({ taskId, agent, startTime, duration })),
        tasks: views,
        count: views.length,
        nextCursor: page.nextCursor,
      },
      200,
    );
  };

  const get: H<typeof getTaskRoute> = async (c) => {
    const { wait } = c.req.valid("query");
    return c.json(await tasks.detail(c.req.valid("param").taskId, (wait ?? 0) * 1000), 200);
  };

  const stop: H<typeof stopTaskRoute> = async (c) => {
    const { taskId } = c.req.valid("param");
    if (c.req.valid("query").purge === "true") {
      const { folderDeleted } = await tasks.purge(taskId, actorOf(c));
      const message = folderDeleted ? "Task deleted: its record, log and folder" : "Task deleted: its record and log; its folder stays, as another task works or worked in it";
      return c.json({ taskId, deleted: true as const, folderDeleted, message }, 200);
    }
    const t = tasks.stop(taskId, actorOf(c));
    const message = t.pid === null ? "Task removed from the queue; it never ran" : "Task stop requested: SIGTERM sent to its process group";
    return c.json({ taskId: t.taskId, status: t.status, message }, 200);
  };

  const stopMany: H<typeof stopTasksRoute> = async (c) => {
    const { status, agent, provider, label, purge } = c.req.valid("query");
    const purging = purge === "true";
    const wanted: readonly string[] = purging ? ENDED_STATUSES : LIVE_STATUSES;
    const wrong = status.filter((s) => !wanted.includes(s));
    if (wrong.length) {
      throw new ApiError(400, purging
        ? `query/status must be completed, failed or stopped (or several) with purge=true; got ${wrong.join(",")}: stop running and queued tasks first, without purge=true`
        : `query/status must be running or queued (or both) to stop tasks; got ${wrong.join(",")}: ended tasks are deleted with purge=true`);
    }
    if (purging) {
      const done = await tasks.purgeMany({ statuses: status as EndedStatus[], agent, provider, labels: label }, actorOf(c));
      return c.json({ purged: done.taskIds.length, ...done }, 200);
    }
    const stopped = tasks.stopMany({ statuses: status as LiveStatus[], agent, provider, labels: label }, actorOf(c));
    return c.json({ stopped: stopped.length, taskIds: stopped.map((t) => t.taskId) }, 200);
  };

  const resendWebhook: H<typeof resendTaskWebhookRoute> = (c) =>
    c.json(tasks.resendWebhook(c.req.valid("param").taskId, c.req.valid("json").url, actorOf(c)), 202);

  const stream: H<typeof streamTaskLogsRoute> = async (c) => {
    const { taskId } = c.req.valid("param");
    const resume = c.req.header("last-event-id") ?? c.req.valid("query").lastEventId;
    if (resume !== undefined && !/^\d{1,15}$/.test(resume.trim())) throw new ApiError(400, "Last-Event-ID must be an event id received from this stream");
    const tail = c.req.valid("query").tail;
    const body = await tasks.stream(taskId, resume ? { after: Number(resume) } : tail ? { lastLines: tail } : { after: 0 });
    return eventStreamResponse(c, body) as never;
  };

  const events: H<typeof taskEventsRoute> = (c) => eventStreamResponse(c, tasks.eventStream(c.req.valid("query").label)) as never;

  const log: H<typeof getTaskLogRoute> = async (c) => {
    const t = tasks.get(c.req.valid("param").taskId);
    const file = Bun.file(t.logFile);
    if (!(await file.exists())) throw new ApiError(404, `The log of task ${t.taskId} is gone`);
    const headers = { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store", "Content-Disposition": contentDisposition("inline", `${t.taskId}.log`) };
    const { follow, tail } = c.req.valid("query");
    const range = c.req.header("range");
    if (follow !== "true" && tail === undefined) return fileResponse(file, range, headers, `the log of task ${t.taskId}`) as never;
    if (range !== undefined && tail !== undefined) throw new ApiError(400, "query/tail cannot be combined with a Range header: the range already says where to start");
    if (follow !== "true") return new Response(file.slice(await lastLinesStart(t.logFile, tail!)), { headers }) as never;
    const from = range === undefined ? undefined : openRangeStart(range, file.size, t.taskId);
    const body = await tasks.followLog(t.taskId, from === undefined ? (tail ? { lastLines: tail } : { from: 0 }) : { from });
    return streamResponse(c, body, headers) as never;
  };

  const folderGone = (taskId: string) => new ApiError(404, `The directory of task ${taskId} is gone`);

  /** The task's directory, or a 404 once retention deleted it. */
  const dirOf = async (taskId: string) => {
    const t = tasks.get(taskId);
    if (!(await Bun.file(t.taskDir).stat().catch(() => undefined))) throw folderGone(t.taskId);
    return t.taskDir;
  };

  const files: H<typeof listTaskFilesRoute> = async (c) => c.json(await listTaskFiles(await dirOf(c.req.valid("param").taskId)), 200);

  const file: H<typeof getTaskFileRoute> = async (c) => {
    const { path } = c.req.valid("query");
    const real = await taskFilePath(await dirOf(c.req.valid("param").taskId), path);
    const f = Bun.file(real);
    const name = path.split("/").pop()!;
    // An attachment, never rendered: what an agent wrote is not to run in the API's origin.
    const headers = { "Content-Type": f.type || "application/octet-stream", "Cache-Control": "no-store", "Content-Disposition": contentDisposition("attachment", name) };
    return fileResponse(f, c.req.header("range"), headers, path) as never;
  };

  const archive: H<typeof getTaskArchiveRoute> = async (c) => {
    const t = tasks.get(c.req.valid("param").taskId);
    const blocks = await tarFolder(t.taskDir, t.taskId);
    if (!blocks) throw folderGone(t.taskId);
    return tarGzResponse(blocks, t.taskId) as never;
  };

  return { create, continue: continueTask, list, get, stop, stopMany, resendWebhook, stream, events, log, files, file, archive };
}

/** Where `Range: bytes=<offset>-` asks a followed log to start: the one form a stream that goes on can take. */
function openRangeStart(range: string, size: number, taskId: string): number {
  const m = /^bytes=(\d{1,15})-$/.exec(range.trim());
  if (!m) throw new ApiError(400, "With follow=true, Range must be bytes=<offset>- (from an offset to whatever the task writes)");
  const from = Number(m[1]);
  if (from > size) throw new ApiError(416, `The range ${range} is not in the log of task ${taskId} (${size} bytes)`, { headers: { "Content-Range": `bytes */${size}` } });
  return from;
}
