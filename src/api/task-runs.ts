import { Elysia } from "elysia";
import type { AppContext } from "../context";
import type { TaskRunSort, TaskRunWithState } from "../db/repos/task-runs";
import { taskRunPolicy } from "../domain/run-policies";
import type { JsonObject } from "../lib/json";
import { randomRunName } from "../lib/names";
import { formatDateTime, formatNullable, microsToSeconds, parseDateTime, type Micros } from "../lib/time";
import { newState } from "../orchestration/states";
import { IdParams } from "../schemas/common";
import { HistoryBody, RunCountBody, SetStateBody, TaskRunCreate, TaskRunListBody, TaskRunPageBody, TaskRunUpdate } from "../schemas/runs";
import { stateInit } from "../schemas/states";
import { notFound, objectNotFound } from "./errors";
import { historyResponse } from "./history";
import { pagePaging, paginated, paging } from "./paging";
import { requestApiVersion } from "./request";
import { estimatedRunTime, estimatedStartTimeDelta } from "./run-json";
import { nullableStateJson, orchestrationResultJson } from "./state-json";

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

export function taskRunRoutes({ store, clock, config }: AppContext) {
  const sortOf = (sort: TaskRunSort | null | undefined): TaskRunSort => sort ?? "ID_DESC";

  return new Elysia({ prefix: "/task_runs" })
    .post(
      "/",
      async ({ body, set, headers }) => {
        const apiVersion = requestApiVersion(headers);
        const now = clock.now();
        const initial = newState(body.state?.type ?? "PENDING", now, body.state ? stateInit(body.state) : {});
        const result = await store.write((tx) =>
          tx.taskRuns.create(
            {
              id: body.id ?? null,
              name: body.name ?? randomRunName(),
              flowRunId: body.flow_run_id ?? null,
              taskKey: body.task_key,
              dynamicKey: body.dynamic_key,
              cacheKey: body.cache_key ?? null,
              cacheExpiration: body.cache_expiration ? parseDateTime(body.cache_expiration) : null,
              taskVersion: body.task_version ?? null,
              empiricalPolicy: taskRunPolicy(body.empirical_policy as JsonObject | undefined) as unknown as JsonObject,
              tags: body.tags ?? [],
              labels: body.labels ?? {},
              taskInputs: (body.task_inputs ?? {}) as JsonObject,
            },
            initial,
            { force: true, apiVersion },
            now,
          ),
        );
        set.status = result.created ? 201 : 200;
        return taskRunJson(result, clock.now());
      },
      { body: TaskRunCreate },
    )
    .post(
      "/filter",
      async ({ body }) => {
        const { limit, offset } = paging(body, config.defaultLimit);
        const runs = await store.read((q) => q.taskRuns.list(body, sortOf(body.sort), limit, offset));
        const now = clock.now();
        return runs.map((r) => taskRunJson(r, now));
      },
      { body: TaskRunListBody },
    )
    .post("/count", ({ body }) => store.read((q) => q.taskRuns.count(body)), { body: RunCountBody })
    .post(
      "/paginate",
      async ({ body }) => {
        const { limit, offset, page } = pagePaging(body, config.defaultLimit);
        const [runs, count] = await Promise.all([
          store.read((q) => q.taskRuns.list(body, sortOf(body.sort), limit, offset)),
          store.read((q) => q.taskRuns.count(body)),
        ]);
        const now = clock.now();
        return paginated(
          runs.map((r) => taskRunResponseJson(r, now)),
          count,
          limit,
          page,
        );
      },
      { body: TaskRunPageBody },
    )
    .post(
      "/history",
      ({ body }) => historyResponse(body, (from, to) => store.read((q) => q.taskRuns.historyRows(body, from, to)), clock.now()),
      { body: HistoryBody },
    )
    .get(
      "/:id",
      async ({ params }) => {
        const run = await store.read((q) => q.taskRuns.get(params.id));
        if (!run) throw notFound("Task not found");
        return taskRunJson(run, clock.now());
      },
      { params: IdParams },
    )
    .patch(
      "/:id",
      async ({ params, body, set }) => {
        if (!(await store.write((tx) => tx.taskRuns.rename(params.id, body.name ?? null, clock.now())))) throw notFound("Task run not found");
        set.status = 204;
      },
      { params: IdParams, body: TaskRunUpdate },
    )
    .delete(
      "/:id",
      async ({ params, set }) => {
        if (!(await store.write((tx) => tx.taskRuns.delete(params.id)))) throw notFound("Task not found");
        set.status = 204;
      },
      { params: IdParams },
    )
    .post(
      "/:id/set_state",
      async ({ params, body, set, headers }) => {
        const apiVersion = requestApiVersion(headers);
        const now = clock.now();
        const proposed = newState(body.state.type, now, stateInit(body.state));
        const result = await store.write((tx) => tx.taskRuns.setState(params.id, proposed, { force: body.force ?? false, apiVersion }, now));
        if (!result) throw objectNotFound(`Task run with id ${params.id} not found`);
        set.status = result.state && result.state.timestamp >= now ? 201 : 200;
        return orchestrationResultJson(result);
      },
      { params: IdParams, body: SetStateBody },
    );
}
