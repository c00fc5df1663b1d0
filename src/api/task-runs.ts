import { Elysia } from "elysia";
import type { AppContext } from "../context";
import type { TaskRunWithState } from "../db/repos/task-runs";
import { taskRunPolicy } from "../domain/run-policies";
import { formatDateTime, formatNullable, microsToSeconds, type Micros } from "../lib/time";
import { estimatedRunTime, estimatedStartTimeDelta } from "../runs/estimates";
import { TaskRunService } from "../runs/task-runs";
import { IdParams } from "../schemas/common";
import { TASK_RUN_SORTS, TaskRunCreate, TaskRunUpdate } from "../schemas/runs";
import { requestApiVersion } from "./request";
import { runRoutes } from "./run-routes";
import { nullableStateJson, stateProposal } from "./state-json";
import { ScheduledTaskSubscription } from "./task-subscriptions";
import { acceptSubprotocol } from "./websocket";

export function taskRunJson({ run, state }: TaskRunWithState, now: Micros) {
  return {
    id: run.id,
    created: formatDateTime(run.created),
    updated: formatDateTime(run.updated),
    name: run.name,
    flow_run_id: run.flowRunId,
    task_key: run.taskKey,
    dynamic_key: run.dynamicKey,
    cache_key: run.cacheKey,
    cache_expiration: formatNullable(run.cacheExpiration),
    task_version: run.taskVersion,
    empirical_policy: taskRunPolicy(run.empiricalPolicy),
    tags: run.tags,
    labels: run.labels,
    state_id: run.stateId,
    task_inputs: run.taskInputs,
    state_type: run.stateType,
    state_name: run.stateName,
    run_count: run.runCount,
    flow_run_run_count: run.flowRunRunCount,
    expected_start_time: formatNullable(run.expectedStartTime),
    next_scheduled_start_time: formatNullable(run.nextScheduledStartTime),
    start_time: formatNullable(run.startTime),
    end_time: formatNullable(run.endTime),
    total_run_time: microsToSeconds(run.totalRunTime),
    estimated_run_time: estimatedRunTime(run, now),
    estimated_start_time_delta: estimatedStartTimeDelta(run, now),
    state: nullableStateJson(state),
  };
}

/** The slimmer TaskRunResponse used by /task_runs/paginate. */
function taskRunResponseJson(taskRun: TaskRunWithState, now: Micros) {
  const full = taskRunJson(taskRun, now);
  return {
    id: full.id,
    created: full.created,
    updated: full.updated,
    name: full.name,
    flow_run_id: full.flow_run_id,
    task_key: full.task_key,
    state_id: full.state_id,
    state: full.state,
    task_version: full.task_version,
    task_inputs: full.task_inputs,
    empirical_policy: full.empirical_policy,
    tags: full.tags,
    start_time: full.start_time,
    end_time: full.end_time,
    total_run_time: full.total_run_time,
    estimated_run_time: full.estimated_run_time,
    estimated_start_time_delta: full.estimated_start_time_delta,
  };
}

export function taskRunRoutes(ctx: AppContext) {
  const { clock } = ctx;
  const taskRuns = new TaskRunService(ctx);
  const subscriptions = new WeakMap<object, ScheduledTaskSubscription>();

  return new Elysia({ prefix: "/task_runs" })
    .ws("/subscriptions/scheduled", {
      upgrade: acceptSubprotocol,
      open(ws) {
        subscriptions.set(ws.raw, new ScheduledTaskSubscription(ws, ws.data.request, ctx, taskRuns, taskRunJson));
      },
      message(ws, message) {
        subscriptions.get(ws.raw)?.message(message);
      },
      close(ws) {
        subscriptions.get(ws.raw)?.closed();
        subscriptions.delete(ws.raw);
      },
    })
    .use(
      runRoutes(ctx, taskRuns, {
        prefix: "",
        sorts: TASK_RUN_SORTS,
        defaultSort: "ID_DESC",
        json: taskRunJson,
        pageJson: taskRunResponseJson,
        notFound: "Task not found",
        versions: (headers) => ({ apiVersion: requestApiVersion(headers) }),
      }),
    )
    .post(
      "/",
      async ({ body, set, headers }) => {
        const result = await taskRuns.create(body, requestApiVersion(headers), body.state ? stateProposal(body.state) : null);
        set.status = result.created ? 201 : 200;
        return taskRunJson(result, clock.now());
      },
      { body: TaskRunCreate },
    )
    .patch(
      "/:id",
      async ({ params, body, set }) => {
        await taskRuns.rename(params.id, body.name);
        set.status = 204;
      },
      { params: IdParams, body: TaskRunUpdate },
    )
    .delete(
      "/:id",
      async ({ params, set }) => {
        await taskRuns.delete(params.id);
        set.status = 204;
      },
      { params: IdParams },
    );
}
