import { Elysia } from "elysia";
import type { AppContext } from "../context";
import type { TaskRunWithState } from "../db/repos/task-runs";
import { taskRunPolicy } from "../domain/run-policies";
import { formatDateTime, formatNullable, microsToSeconds, type Micros } from "../lib/time";
import { estimatedRunTime, estimatedStartTimeDelta } from "../runs/estimates";
import { TaskRunService } from "../runs/task-runs";
import { IdParams } from "../schemas/common";
import { HistoryBody, RunCountBody, SetStateBody, TaskRunCreate, TaskRunListBody, TaskRunPageBody, TaskRunUpdate } from "../schemas/runs";
import { notFound } from "./errors";
import { pagePaging, paginated, paging } from "./paging";
import { requestApiVersion } from "./request";
import { historyJson, nullableStateJson, setStateResponse, stateProposal } from "./state-json";

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
  const { clock, config } = ctx;
  const taskRuns = new TaskRunService(ctx);

  return new Elysia({ prefix: "/task_runs" })
    .post(
      "/",
      async ({ body, set, headers }) => {
        const result = await taskRuns.create(body, requestApiVersion(headers), body.state ? stateProposal(body.state) : null);
        set.status = result.created ? 201 : 200;
        return taskRunJson(result, clock.now());
      },
      { body: TaskRunCreate },
    )
    .post(
      "/filter",
      async ({ body }) => {
        const { limit, offset } = paging(body, config.defaultLimit);
        const runs = await taskRuns.list(body, body.sort ?? "ID_DESC", limit, offset);
        const now = clock.now();
        return runs.map((r) => taskRunJson(r, now));
      },
      { body: TaskRunListBody },
    )
    .post("/count", ({ body }) => taskRuns.count(body), { body: RunCountBody })
    .post(
      "/paginate",
      async ({ body }) => {
        const { limit, offset, page } = pagePaging(body, config.defaultLimit);
        const { runs, count } = await taskRuns.page(body, body.sort ?? "ID_DESC", limit, offset);
        const now = clock.now();
        return paginated(runs.map((r) => taskRunResponseJson(r, now)), count, limit, page);
      },
      { body: TaskRunPageBody },
    )
    .post("/history", async ({ body }) => historyJson(await taskRuns.history(body, body)), { body: HistoryBody })
    .get(
      "/:id",
      async ({ params }) => {
        const run = await taskRuns.get(params.id);
        if (!run) throw notFound("Task not found");
        return taskRunJson(run, clock.now());
      },
      { params: IdParams },
    )
    .patch(
      "/:id",
      async ({ params, body, set }) => {
        await taskRuns.rename(params.id, body.name ?? null);
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
    )
    .post(
      "/:id/set_state",
      async ({ params, body, set, headers }) => {
        const options = { force: body.force ?? false, apiVersion: requestApiVersion(headers) };
        return setStateResponse(await taskRuns.setState(params.id, stateProposal(body.state), options), set);
      },
      { params: IdParams, body: SetStateBody },
    );
}
