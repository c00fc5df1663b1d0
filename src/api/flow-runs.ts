import { Elysia, t } from "elysia";
import type { AppContext } from "../context";
import type { FlowRunSort, FlowRunWithState } from "../db/repos/flow-runs";
import { flowRunPolicy } from "../domain/run-policies";
import type { TaskRunWithState } from "../db/repos/task-runs";
import type { JsonObject } from "../lib/json";
import { validateJsonSchema } from "../lib/json-schema";
import { randomRunName } from "../lib/names";
import { formatDateTime, formatNullable, microsToSeconds, parseDateTime, type Micros } from "../lib/time";
import { newState } from "../orchestration/states";
import { DateTime, IdParams, Labels, Lenient, Maybe, Uuid } from "../schemas/common";
import { FlowRunFilter } from "../schemas/filters";
import {
  FlowRunCreate,
  FlowRunListBody,
  FlowRunPageBody,
  FlowRunUpdate,
  HistoryBody,
  RunCountBody,
  SetStateBody,
} from "../schemas/runs";
import { StateCreate, stateInit } from "../schemas/states";
import { conflict, detail, invalidField, notFound, objectNotFound } from "./errors";
import { graphV1, graphV2 } from "./flow-run-graph";
import { graphArtifacts } from "../ui/graph-artifacts";
import { historyResponse } from "./history";
import { pagePaging, paginated, paging } from "./paging";
import { requestVersions } from "./request";
import { estimatedRunTime, estimatedStartTimeDelta } from "./run-json";
import { nullableStateJson, orchestrationResultJson } from "./state-json";

export function flowRunJson({ run, state, workPool }: FlowRunWithState, now: Micros) {
  return {
    id: run.id,
    created: formatDateTime(run.created),
    updated: formatDateTime(run.updated),
    name: run.name,
    flow_id: run.flowId,
    state_id: run.stateId,
    deployment_id: run.deploymentId,
    deployment_version: run.deploymentVersion,
    work_queue_id: run.workQueueId,
    work_queue_name: run.workQueueName,
    flow_version: run.flowVersion,
    parameters: run.parameters,
    idempotency_key: run.idempotencyKey,
    context: run.context,
    empirical_policy: flowRunPolicy(run.empiricalPolicy),
    tags: run.tags,
    labels: run.labels,
    parent_task_run_id: run.parentTaskRunId,
    state_type: run.stateType,
    state_name: run.stateName,
    run_count: run.runCount,
    expected_start_time: formatNullable(run.expectedStartTime),
    next_scheduled_start_time: formatNullable(run.nextScheduledStartTime),
    start_time: formatNullable(run.startTime),
    end_time: formatNullable(run.endTime),
    total_run_time: microsToSeconds(run.totalRunTime),
    estimated_run_time: estimatedRunTime(run, now),
    estimated_start_time_delta: estimatedStartTimeDelta(run, now),
    auto_scheduled: run.autoScheduled,
    infrastructure_document_id: run.infrastructureDocumentId,
    infrastructure_pid: run.infrastructurePid,
    created_by: run.createdBy,
    work_pool_id: workPool?.id ?? null,
    work_pool_name: workPool?.name ?? null,
    state: nullableStateJson(state),
    job_variables: run.jobVariables,
  };
}

/** PREFECT_SERVER_FLOW_RUN_GRAPH_MAX_NODES */
const MAX_GRAPH_NODES = 10_000;
/** Task runs read per query while building the v1 graph. */
const GRAPH_PAGE_SIZE = 1_000;

/** Python's `json.dumps(..., separators=(",", ":"))` byte length, close enough for the size guard. */
const serializedSize = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

export function flowRunRoutes({ store, clock, config }: AppContext) {
  const sortOf = (sort: FlowRunSort | null | undefined): FlowRunSort => sort ?? "ID_DESC";

  return new Elysia({ prefix: "/flow_runs" })
    .post(
      "/",
      async ({ body, set, headers }) => {
        const versions = requestVersions(headers);
        const params = body.parameters ?? {};
        if (config.maxParameterSize > 0 && Object.keys(params).length > 0) {
          const size = serializedSize(params);
          if (size > config.maxParameterSize) {
            throw invalidField(
              ["parameters"],
              `Value error, Flow run parameters must be less than ${config.maxParameterSize.toLocaleString("en-US")} bytes when serialized (got ${size.toLocaleString("en-US")} bytes).`,
              params,
              body,
            );
          }
        }
        const now = clock.now();
        const init = body.state ? stateInit(body.state) : {};
        const nextScheduled = body.next_scheduled_start_time ? parseDateTime(body.next_scheduled_start_time) : null;
        if (body.state?.type === "SCHEDULED" && nextScheduled != null && init.state_details?.scheduled_time == null) {
          init.state_details = { ...init.state_details, scheduled_time: nextScheduled };
        }
        const initial = newState(body.state?.type ?? "PENDING", now, init);
        const result = await store.write(function* (tx) {
          const queue = body.work_pool_name ? yield* tx.workPools.resolveQueue(body.work_pool_name, body.work_queue_name ?? null) : null;
          if (queue && !queue.found) throw notFound(queue.detail);
          return yield* tx.flowRuns.create(
          {
            flowId: body.flow_id,
            name: body.name ?? randomRunName(),
            flowVersion: body.flow_version ?? null,
            parameters: params,
            context: body.context ?? {},
            parentTaskRunId: body.parent_task_run_id ?? null,
            infrastructureDocumentId: body.infrastructure_document_id ?? null,
            empiricalPolicy: flowRunPolicy(body.empirical_policy as JsonObject | undefined) as unknown as JsonObject,
            tags: body.tags ?? [],
            labels: body.labels ?? {},
            idempotencyKey: body.idempotency_key ?? null,
            deploymentId: body.deployment_id ?? null,
            workQueueId: queue?.found ? queue.queueId : null,
            workQueueName: queue?.found ? queue.queueName : (body.work_queue_name ?? null),
            deploymentVersion: null,
            jobVariables: body.job_variables ?? {},
            createdBy: null,
          },
          initial,
          { force: true, ...versions },
          now,
        );
        });
        set.status = result.created ? 201 : 200;
        return flowRunJson(result, clock.now());
      },
      { body: FlowRunCreate },
    )
    .post(
      "/filter",
      async ({ body }) => {
        const { limit, offset } = paging(body, config.defaultLimit);
        const runs = await store.read((q) => q.flowRuns.list(body, sortOf(body.sort), limit, offset));
        const now = clock.now();
        return runs.map((r) => flowRunJson(r, now));
      },
      { body: FlowRunListBody },
    )
    .post("/count", ({ body }) => store.read((q) => q.flowRuns.count(body)), { body: RunCountBody })
    .post(
      "/paginate",
      async ({ body }) => {
        const { limit, offset, page } = pagePaging(body, config.defaultLimit);
        const [runs, count] = await Promise.all([
          store.read((q) => q.flowRuns.list(body, sortOf(body.sort), limit, offset)),
          store.read((q) => q.flowRuns.count(body)),
        ]);
        const now = clock.now();
        return paginated(
          runs.map((r) => flowRunJson(r, now)),
          count,
          limit,
          page,
        );
      },
      { body: FlowRunPageBody },
    )
    .post(
      "/lateness",
      async ({ body }) => {
        const now = clock.now();
        return store.read((q) => q.flowRuns.averageLateness(body, now));
      },
      { body: RunCountBody },
    )
    .post(
      "/history",
      ({ body }) => historyResponse(body, (from, to) => store.read((q) => q.flowRuns.historyRows(body, from, to)), clock.now()),
      { body: HistoryBody },
    )
    .post(
      "/bulk_delete",
      async ({ body }) => {
        const limit = body.limit ?? 50;
        if (limit < 1 || limit > 50) throw invalidField(["limit"], "Input should be between 1 and 50", limit, body);
        return { deleted: await store.write((tx) => tx.flowRuns.bulkDelete({ flow_runs: body.flow_runs }, limit)) };
      },
      { body: Lenient({ flow_runs: Maybe(FlowRunFilter), limit: Maybe(t.Integer()) }) },
    )
    .post(
      "/bulk_set_state",
      async ({ body, headers }) => {
        const versions = requestVersions(headers);
        const limit = body.limit ?? 50;
        if (limit < 1 || limit > 50) throw invalidField(["limit"], "Input should be between 1 and 50", limit, body);
        const ids = await store.read((q) => q.flowRuns.ids({ flow_runs: body.flow_runs }, limit));
        const results = [];
        for (const id of ids) {
          const now = clock.now();
          const result = await store.write((tx) => tx.flowRuns.setState(id, newState(body.state.type, now, stateInit(body.state)), { force: body.force ?? false, ...versions }, now));
          results.push(
            result
              ? { flow_run_id: id, ...orchestrationResultJson(result) }
              : { flow_run_id: id, state: null, status: "ABORT", details: { type: "abort_details", reason: "Flow run not found" } },
          );
        }
        return { results };
      },
      { body: Lenient({ flow_runs: Maybe(FlowRunFilter), state: StateCreate, force: Maybe(t.Boolean()), limit: Maybe(t.Integer()) }) },
    )
    .get(
      "/:id",
      async ({ params }) => {
        const run = await store.read((q) => q.flowRuns.get(params.id));
        if (!run) throw notFound("Flow run not found");
        return flowRunJson(run, clock.now());
      },
      { params: IdParams },
    )
    .patch(
      "/:id",
      async ({ params, body, set }) => {
        const patch = {
          ...(body.name != null && { name: body.name }),
          ...(body.flow_version !== undefined && { flowVersion: body.flow_version }),
          ...(body.parameters !== undefined && { parameters: body.parameters }),
          ...(body.empirical_policy !== undefined && {
            empiricalPolicy: flowRunPolicy(body.empirical_policy as JsonObject) as unknown as JsonObject,
          }),
          ...(body.tags !== undefined && { tags: body.tags }),
          ...(body.infrastructure_pid !== undefined && { infrastructurePid: body.infrastructure_pid }),
        };
        if (body.job_variables != null) {
          // Job variables only change while a deployment run waits to be picked up.
          const run = await store.read((q) => q.flowRuns.get(params.id));
          if (!run) throw notFound("Flow run not found");
          if (!run.state) throw detail(400, "Flow run state is required to update job variables but none exists");
          if (run.state.type !== "SCHEDULED") {
            throw detail(400, `Job variables for a flow run in state ${run.state.type} cannot be updated`);
          }
          if (!run.run.deploymentId) throw detail(400, "A deployment for the flow run could not be found");
        }
        if (!(await store.write((tx) => tx.flowRuns.update(params.id, patch, clock.now())))) throw notFound("Flow run not found");
        set.status = 204;
      },
      { params: IdParams, body: FlowRunUpdate },
    )
    .delete(
      "/:id",
      async ({ params, set }) => {
        if (!(await store.write((tx) => tx.flowRuns.delete(params.id)))) throw notFound("Flow run not found");
        set.status = 204;
      },
      { params: IdParams },
    )
    .post(
      "/:id/set_state",
      async ({ params, body, set, headers }) => {
        const versions = requestVersions(headers);
        const now = clock.now();
        const proposed = newState(body.state.type, now, stateInit(body.state));
        const result = await store.write((tx) => tx.flowRuns.setState(params.id, proposed, { force: body.force ?? false, ...versions }, now));
        if (!result) throw objectNotFound(`Flow run with id ${params.id} not found`);
        set.status = result.state && result.state.timestamp >= now ? 201 : 200;
        return orchestrationResultJson(result);
      },
      { params: IdParams, body: SetStateBody },
    )
    .post(
      "/:id/resume",
      async ({ params, body, set, headers }) => {
        const versions = requestVersions(headers);
        const now = clock.now();
        const result = await store.write((tx) => tx.flowRuns.resume(params.id, body?.run_input ?? null, validateJsonSchema, { force: false, ...versions }, now));
        if (!result) throw objectNotFound(`Flow run with id ${params.id} not found`);
        set.status = result.state && result.state.timestamp >= now ? 201 : 200;
        return orchestrationResultJson(result);
      },
      { params: IdParams, body: t.Optional(Lenient({ run_input: Maybe(t.Record(t.String(), t.Any())) })) },
    )
    .patch(
      "/:id/labels",
      async ({ params, body, set }) => {
        if (!(await store.write((tx) => tx.flowRuns.mergeLabels(params.id, body, clock.now())))) throw notFound("Flow run not found");
        set.status = 204;
      },
      { params: IdParams, body: Labels },
    )
    .post(
      "/:id/input",
      async ({ params, body, set }) => {
        if (!/^[a-z0-9-]*$/.test(body.key)) {
          throw invalidField(["key"], "Value error, Key must only contain lowercase letters, numbers, and dashes.", body.key, body);
        }
        const outcome = await store.write((tx) => tx.flowRuns.createInput(params.id, body.key, body.value, body.sender ?? null, clock.now()));
        if (outcome === "missing_run") throw notFound("Flow run not found");
        if (outcome === "duplicate") throw conflict("A flow run input with this key already exists.");
        set.status = 201;
      },
      { params: IdParams, body: Lenient({ key: t.String(), value: t.String(), sender: Maybe(t.String()) }) },
    )
    .post(
      "/:id/input/filter",
      async ({ params, body }) => {
        const rows = await store.read((q) => q.flowRuns.filterInputs(params.id, body.prefix, body.limit ?? 1, body.exclude_keys ?? []));
        return rows.map((r) => ({
          id: r.id,
          created: formatDateTime(r.created),
          updated: formatDateTime(r.updated),
          flow_run_id: r.flowRunId,
          key: r.key,
          value: r.value,
          sender: r.sender,
        }));
      },
      {
        params: IdParams,
        body: Lenient({ prefix: t.String(), limit: Maybe(t.Integer()), exclude_keys: Maybe(t.Array(t.String())) }),
      },
    )
    .get(
      "/:id/input/:key",
      async ({ params }) => {
        const row = await store.read((q) => q.flowRuns.readInput(params.id, params.key));
        if (!row) throw notFound("Flow run input not found");
        return new Response(row.value, { headers: { "content-type": "text/plain; charset=utf-8" } });
      },
      { params: t.Object({ id: Uuid, key: t.String() }) },
    )
    .delete(
      "/:id/input/:key",
      async ({ params, set }) => {
        if (!(await store.write((tx) => tx.flowRuns.deleteInput(params.id, params.key)))) throw notFound("Flow run input not found");
        set.status = 204;
      },
      { params: t.Object({ id: Uuid, key: t.String() }) },
    )
    .get(
      "/:id/graph",
      async ({ params }) => {
        if (!(await store.read((q) => q.flowRuns.exists(params.id)))) throw objectNotFound(`Flow run with id ${params.id} not found`);
        // Page by page, so a flow run with many task runs never holds the database (or the event loop) in one read.
        const taskRuns: TaskRunWithState[] = [];
        for (let beforeId: string | null = null; ; ) {
          const page = await store.read((q) => q.taskRuns.pageOfFlowRun(params.id, beforeId, GRAPH_PAGE_SIZE));
          taskRuns.push(...page);
          if (page.length < GRAPH_PAGE_SIZE) break;
          beforeId = page[page.length - 1]!.run.id;
        }
        return graphV1(taskRuns, clock.now());
      },
      { params: IdParams },
    )
    .get(
      "/:id/graph-v2",
      async ({ params, query }) => {
        const current = await store.read((q) => q.flowRuns.get(params.id));
        if (!current) throw notFound("Flow run not found");
        const taskRuns = await store.read((q) => q.taskRuns.list({ flow_runs: { id: { any_: [params.id] } } }, "ID_DESC", MAX_GRAPH_NODES + 1, 0));
        if (taskRuns.length > MAX_GRAPH_NODES) {
          throw detail(400, `The graph of flow run ${params.id} has more than ${MAX_GRAPH_NODES} nodes.`);
        }
        return graphV2({
          flowRun: current.run,
          taskRuns,
          subflows: await store.read((q) => q.flowRuns.subflowsByParentTask(params.id)),
          states: await store.read((q) => q.flowRuns.states(params.id)),
          since: query.since ? parseDateTime(query.since)! : Number.MIN_SAFE_INTEGER,
          artifacts: await graphArtifacts(store, params.id),
        });
      },
      { params: IdParams, query: t.Object({ since: t.Optional(DateTime) }) },
    )
    .get(
      "/:id/logs/download",
      async ({ params }) => {
        if (!(await store.read((q) => q.flowRuns.exists(params.id)))) throw notFound("Flow run not found");
        const logs = await store.read((q) => q.logs.forFlowRun(params.id));
        const csv = [
          "timestamp,level,flow_run_id,task_run_id,message",
          ...logs.map((l) => [formatDateTime(l.timestamp), l.level, l.flowRunId ?? "", l.taskRunId ?? "", csvField(l.message)].join(",")),
        ].join("\n");
        return new Response(csv + "\n", {
          headers: { "content-type": "text/csv", "content-disposition": `attachment; filename=flow_run_${params.id}.csv` },
        });
      },
      { params: IdParams },
    );
}

function csvField(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}
