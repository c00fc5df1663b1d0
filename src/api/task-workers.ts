/** `POST /task_workers/filter` (Prefect's api/task_workers.py): the task workers subscribed now. */
import { Elysia, t } from "elysia";
import type { AppContext } from "../context";
import { formatDateTime } from "../lib/time";
import { backgroundTasks } from "../runs/background-tasks";
import { Lenient, Maybe } from "../schemas/common";

export function taskWorkerRoutes(ctx: AppContext) {
  return new Elysia({ prefix: "/task_workers" }).post(
    "/filter",
    ({ body }) =>
      backgroundTasks(ctx)
        .workers.list(body?.task_worker_filter?.task_keys ?? null)
        .map((worker) => ({ identifier: worker.identifier, task_keys: worker.taskKeys, timestamp: formatDateTime(worker.timestamp) })),
    { body: t.Optional(Lenient({ task_worker_filter: Maybe(Lenient({ task_keys: t.Array(t.String()) })) })) },
  );
}
