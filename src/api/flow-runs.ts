import { Elysia, t } from "elysia";
import type { AppContext } from "../context";
import type { FlowRunWithState } from "../db/repos/flow-runs";
import { flowRunPolicy } from "../domain/run-policies";
import { formatDateTime, formatNullable, microsToSeconds, parseDateTime, type Micros } from "../lib/time";
import { estimatedRunTime, estimatedStartTimeDelta } from "../runs/estimates";
import { FlowRunService } from "../runs/flow-runs";
import { DateTime, IdParams, Labels, Lenient, Maybe, Uuid } from "../schemas/common";
import { FlowRunFilter } from "../schemas/filters";
import { FLOW_RUN_SORTS, FlowRunCreate, FlowRunUpdate, RunCountBody } from "../schemas/runs";
import { StateCreate } from "../schemas/states";
import { graphArtifacts } from "../ui/graph-artifacts";
import { detail } from "./errors";
import { graphV1, graphV2 } from "./flow-run-graph";
import { requestProvenance, requestVersions } from "./request";
import { runRoutes } from "./run-routes";
import { nullableStateJson, orchestrationResultJson, setStateResponse, stateProposal } from "./state-json";

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

export function flowRunRoutes(ctx: AppContext) {
  const { store, clock } = ctx;
  const flowRuns = new FlowRunService(ctx);

  return new Elysia({ prefix: "/flow_runs" })
    .use(
      runRoutes(ctx, flowRuns, {
        prefix: "",
        sorts: FLOW_RUN_SORTS,
        defaultSort: "ID_DESC",
        json: flowRunJson,
        pageJson: flowRunJson,
        notFound: "Flow run not found",
        versions: requestVersions,
      }),
    )
    .post(
      "/",
      async ({ body, set, headers }) => {
        const initial = body.state ? stateProposal(body.state) : null;
        const result = await flowRuns.create(body, requestVersions(headers), initial, requestProvenance(headers).createdBy);
        set.status = result.created ? 201 : 200;
        return flowRunJson(result, clock.now());
      },
      { body: FlowRunCreate },
    )
    .post("/lateness", ({ body }) => flowRuns.lateness(body), { body: RunCountBody })
    .post(
      "/bulk_delete",
      async ({ body }) => ({ deleted: await flowRuns.bulkDelete({ flow_runs: body.flow_runs }, body.limit, body) }),
      { body: Lenient({ flow_runs: Maybe(FlowRunFilter), limit: Maybe(t.Integer()) }) },
    )
    .post(
      "/bulk_set_state",
      async ({ body, headers }) => {
        const options = { force: body.force ?? false, ...requestVersions(headers) };
        const outcomes = await flowRuns.bulkSetState({ flow_runs: body.flow_runs }, stateProposal(body.state), options, body.limit, body);
        return {
          results: outcomes.map(({ flowRunId, outcome }) =>
            outcome
              ? { flow_run_id: flowRunId, ...orchestrationResultJson(outcome.result) }
              : { flow_run_id: flowRunId, state: null, status: "ABORT", details: { type: "abort_details", reason: "Flow run not found" } },
          ),
        };
      },
      { body: Lenient({ flow_runs: Maybe(FlowRunFilter), state: StateCreate, force: Maybe(t.Boolean()), limit: Maybe(t.Integer()) }) },
    )
    .patch(
      "/:id",
      async ({ params, body, set }) => {
        await flowRuns.update(params.id, body);
        set.status = 204;
      },
      { params: IdParams, body: FlowRunUpdate },
    )
    .delete(
      "/:id",
      async ({ params, set }) => {
        await flowRuns.delete(params.id);
        set.status = 204;
      },
      { params: IdParams },
    )
    .post(
      "/:id/resume",
      async ({ params, body, set, headers }) => {
        const options = { force: false, ...requestVersions(headers) };
        return setStateResponse(await flowRuns.resume(params.id, body?.run_input ?? null, options), set);
      },
      { params: IdParams, body: t.Optional(Lenient({ run_input: Maybe(t.Record(t.String(), t.Any())) })) },
    )
    .patch(
      "/:id/labels",
      async ({ params, body, set }) => {
        await flowRuns.mergeLabels(params.id, body);
        set.status = 204;
      },
      { params: IdParams, body: Labels },
    )
    .post(
      "/:id/input",
      async ({ params, body, set }) => {
        await flowRuns.createInput(params.id, body.key, body.value, body.sender ?? null, body);
        set.status = 201;
      },
      { params: IdParams, body: Lenient({ key: t.String(), value: t.String(), sender: Maybe(t.String()) }) },
    )
    .post(
      "/:id/input/filter",
      async ({ params, body }) => {
        const rows = await flowRuns.filterInputs(params.id, body.prefix, body.limit ?? 1, body.exclude_keys ?? []);
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
        const row = await flowRuns.readInput(params.id, params.key);
        return new Response(row.value, { headers: { "content-type": "text/plain; charset=utf-8" } });
      },
      { params: t.Object({ id: Uuid, key: t.String() }) },
    )
    .delete(
      "/:id/input/:key",
      async ({ params, set }) => {
        await flowRuns.deleteInput(params.id, params.key);
        set.status = 204;
      },
      { params: t.Object({ id: Uuid, key: t.String() }) },
    )
    .get("/:id/graph", async ({ params }) => graphV1(await flowRuns.taskRunsOf(params.id), clock.now()), { params: IdParams })
    .get(
      "/:id/graph-v2",
      async ({ params, query }) => {
        const graph = await flowRuns.graphRows(params.id, MAX_GRAPH_NODES);
        if (graph.taskRuns.length > MAX_GRAPH_NODES) {
          throw detail(400, `The graph of flow run ${params.id} has more than ${MAX_GRAPH_NODES} nodes.`);
        }
        return graphV2({
          flowRun: graph.run.run,
          taskRuns: graph.taskRuns,
          subflows: graph.subflows,
          states: graph.states,
          since: query.since ? parseDateTime(query.since)! : Number.MIN_SAFE_INTEGER,
          artifacts: await graphArtifacts(store, params.id),
        });
      },
      { params: IdParams, query: t.Object({ since: t.Optional(DateTime) }) },
    )
    .get(
      "/:id/logs/download",
      async ({ params }) => {
        const logs = await flowRuns.logs(params.id);
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
