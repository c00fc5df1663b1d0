import { Elysia, t } from "elysia";
import type { AppContext } from "../context";
import { parseDateTime, type Micros } from "../lib/time";
import { DateTime, IdParams, Lenient, Maybe } from "../schemas/common";
import { pollLegacyQueue, pollWorkPool, type PolledRun } from "../work-pools/polling";
import { flowRunJson } from "./flow-runs";
import { paging } from "./paging";

/** WorkerFlowRunResponse: the run as the core FlowRun model (no work pool fields of its own). */
function workerFlowRunJson({ workPoolId, workQueueId, run }: PolledRun, now: Micros) {
  const { work_pool_id: _pool, work_pool_name: _poolName, ...flowRun } = flowRunJson(run, now);
  return { work_pool_id: workPoolId, work_queue_id: workQueueId, flow_run: flowRun };
}

const time = (value: string | null | undefined) => (value ? parseDateTime(value) : null);

/** A header pydantic reads as a true bool (`true`, `1`, `yes`, `on`, `t`, `y`, any case). */
const isTrue = (value: string | undefined) => value !== undefined && /^(true|1|yes|on|t|y)$/i.test(value.trim());

/** Worker polling routes: `/work_pools/{name}/get_scheduled_flow_runs` and legacy `/work_queues/{id}/get_runs`. */
export function pollingRoutes({ store, clock, config }: AppContext) {
  return new Elysia()
    .post(
      "/work_pools/:name/get_scheduled_flow_runs",
      async ({ params, body }) => {
        const { limit } = paging(body, config.defaultLimit);
        const now = clock.now();
        const window = { before: time(body.scheduled_before), after: time(body.scheduled_after) };
        const polled = await pollWorkPool(store, params.name, body.work_queue_names, window, limit, now);
        return polled.map((p) => workerFlowRunJson(p, now));
      },
      {
        body: Lenient({
          work_queue_names: Maybe(t.Array(t.String())),
          scheduled_before: Maybe(DateTime),
          scheduled_after: Maybe(DateTime),
          limit: Maybe(t.Integer()),
        }),
      },
    )
    .post(
      "/work_queues/:id/get_runs",
      async ({ params, body, headers }) => {
        const { limit } = paging(body, config.defaultLimit);
        const now = clock.now();
        // the UI previews a queue without it counting as a poll
        const runs = await pollLegacyQueue(store, params.id, { before: time(body.scheduled_before), after: null }, limit, !isTrue(headers["x-prefect-ui"]), now);
        return runs.map((r) => flowRunJson(r, now));
      },
      { params: IdParams, body: Lenient({ scheduled_before: Maybe(DateTime), limit: Maybe(t.Integer()), agent_id: Maybe(t.String()) }) },
    );
}
