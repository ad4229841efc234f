import { apiRouter } from "../../http/api-router.ts";
import type { AppEnv } from "../../http/types.ts";
import type { IdempotencyStore } from "../../http/idempotency.ts";
import type { TaskService } from "../../tasks/task-service.ts";
import { taskHandlers } from "./tasks.handlers.ts";
import { taskEventsRoute, continueTaskRoute, createTaskRoute, getTaskArchiveRoute, getTaskFileRoute, stopTasksRoute, getTaskLogRoute, getTaskRoute, listTaskFilesRoute, listTasksRoute, resendTaskWebhookRoute, stopTaskRoute, streamTaskLogsRoute } from "./tasks.routes.ts";

export function taskRoutes(tasks: TaskService, idempotency: IdempotencyStore) {
  const h = taskHandlers(tasks, idempotency);
  return apiRouter<AppEnv>()
    .openapi(createTaskRoute, h.create)
    .openapi(continueTaskRoute, h.continue)
    .openapi(listTasksRoute, h.list)
    // Before /v1/tasks/{taskId}, which would take "events" for an id.
    .openapi(taskEventsRoute, h.events)
    .openapi(getTaskRoute, h.get)
    .openapi(stopTaskRoute, h.stop)
    .openapi(stopTasksRoute, h.stopMany)
    .openapi(resendTaskWebhookRoute, h.resendWebhook)
    .openapi(streamTaskLogsRoute, h.stream)
    .openapi(getTaskLogRoute, h.log)
    .openapi(listTaskFilesRoute, h.files)
    .openapi(getTaskFileRoute, h.file)
    .openapi(getTaskArchiveRoute, h.archive);
}
