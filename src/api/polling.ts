import { Elysia, t } from "elysia";
import type { AppContext } from "../context";
import { parseDateTime, type Micros } from "../lib/time";
import { DateTime, IdParams, Lenient, Maybe } from "../schemas/common";
import { recordPoll, selectLegacyQueueRuns, selectScheduledRuns, type PolledRun } from "../work-pools/polling";
import { notFound, objectNotFound } from "./errors";
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
      ({ params, body }) => {
        const { limit } = paging(body, config.defaultLimit);
        const now = clock.now();
        const polled = store.deployments.transaction(() => {
          const pool = store.workPools.poolByNameSync(params.name);
          if (!pool) throw notFound(`Work pool "${params.name}" not found.`);
          const queues = body.work_queue_names?.length
            ? body.work_queue_names.map((name) => {
                const queue = store.workPools.queueInPoolSync(params.name, name);
                if (!queue) throw notFound(`Work pool queue '${params.name}/${name}' not found.`);
                return queue;
              })
            : store.workPools.queuesOfPoolSync(pool.id);
          const runs = selectScheduledRuns(store, pool, queues, { before: time(body.scheduled_before), after: time(body.scheduled_after) }, limit);
          recordPoll(store, pool.id, queues.map((q) => q.id), now);
          return runs;
        });
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
      ({ params, body, headers }) => {
        const { limit } = paging(body, config.defaultLimit);
        const now = clock.now();
        const runs = store.deployments.transaction(() => {
          const queue = store.workPools.queueByIdSync(params.id);
          // models/work_queues.get_runs_in_work_queue raises ObjectNotFoundError
          if (!queue) throw objectNotFound(`Work queue with id ${params.id} not found.`);
          const selected = selectLegacyQueueRuns(store, queue, { before: time(body.scheduled_before), after: null }, limit);
          // the UI previews a queue without it counting as a poll
          if (!isTrue(headers["x-prefect-ui"])) recordPoll(store, queue.workPoolId, [queue.id], now);
          return selected;
        });
        return runs.map((r) => flowRunJson(r, now));
      },
      { params: IdParams, body: Lenient({ scheduled_before: Maybe(DateTime), limit: Maybe(t.Integer()), agent_id: Maybe(t.String()) }) },
    );
}
