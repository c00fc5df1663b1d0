import { Elysia, t } from "elysia";
import type { AppContext } from "../context";
import type { DeploymentScheduleRow, DeploymentSort, DeploymentView } from "../db/repos/deployments";
import { DeploymentService, maxScheduledRunsIssue, parseSchedule, scheduleInserts } from "../deployments/service";
import { createFlowRunFromDeployment } from "../deployments/flow-runs";
import { formatDateTime, formatNullable, MICROS_PER_SECOND, parseDateTime, type Micros } from "../lib/time";
import { DeploymentScheduling } from "../deployments/scheduling";
import { IdParams, Lenient, Maybe, Uuid } from "../schemas/common";
import {
  DeploymentCountBody,
  DeploymentCreate,
  DeploymentFlowRunCreate,
  DeploymentListBody,
  DeploymentPageBody,
  DeploymentScheduleCreate,
  DeploymentScheduleUpdate,
  DeploymentUpdate,
  LEGACY_DEPLOYMENT_KEYS,
  ScheduleBackfillBody,
  ScheduledRunsBody,
} from "../schemas/deployments";
import { DeploymentFilter } from "../schemas/filters";
import { globalConcurrencyLimitJson } from "./concurrency-limits-v2";
import { detail, invalidField, notFound, validationError } from "./errors";
import { flowRunJson } from "./flow-runs";
import { pagePaging, paginated, paging } from "./paging";
import { requestApiVersion, requestProvenance } from "./request";
import { coreWorkQueueJson } from "./work-pools";

export function deploymentScheduleJson(s: DeploymentScheduleRow) {
  return {
    id: s.id,
    created: formatDateTime(s.created),
    updated: formatDateTime(s.updated),
    deployment_id: s.deploymentId,
    schedule: s.schedule,
    active: s.active,
    max_scheduled_runs: s.maxScheduledRuns,
    parameters: s.parameters,
    slug: s.slug,
  };
}

export function deploymentJson({ row, schedules, workPoolName, workQueueName, concurrencyLimit }: DeploymentView, now: Micros) {
  return {
    id: row.id,
    created: formatDateTime(row.created),
    updated: formatDateTime(row.updated),
    name: row.name,
    version: row.version,
    description: row.description,
    flow_id: row.flowId,
    paused: row.paused,
    schedules: schedules.map(deploymentScheduleJson),
    // deprecated: the limit lives in global_concurrency_limit
    concurrency_limit: null,
    global_concurrency_limit: concurrencyLimit ? globalConcurrencyLimitJson(concurrencyLimit, now) : null,
    concurrency_options: row.concurrencyOptions,
    job_variables: row.jobVariables,
    parameters: row.parameters,
    tags: row.tags,
    labels: row.labels,
    work_queue_name: workQueueName,
    work_queue_id: row.workQueueId,
    last_polled: formatNullable(row.lastPolled),
    parameter_openapi_schema: row.parameterOpenapiSchema,
    path: row.path,
    pull_steps: row.pullSteps,
    entrypoint: row.entrypoint,
    storage_document_id: row.storageDocumentId,
    infrastructure_document_id: row.infrastructureDocumentId,
    created_by: row.createdBy,
    updated_by: row.updatedBy,
    work_pool_name: workPoolName,
    status: row.status,
    enforce_parameter_schema: row.enforceParameterSchema,
  };
}

/** Old clients still send these keys; Prefect drops them before validating. */
function stripLegacyKeys({ body }: { body: unknown }) {
  if (body && typeof body === "object") for (const key of LEGACY_DEPLOYMENT_KEYS) delete (body as Record<string, unknown>)[key];
}

export function deploymentRoutes(ctx: AppContext) {
  const { store, clock, config } = ctx;
  const service = new DeploymentService(ctx);
  const scheduling = new DeploymentScheduling(store, config.services, ctx.logger);
  const sortOf = (sort: DeploymentSort | null | undefined): DeploymentSort => sort ?? "NAME_ASC";
  // the schedule routes word their 404 "Deployment not found." (with the period), the others without
  const read = async (id: string, missing = "Deployment not found") => {
    const view = await store.read((q) => q.deployments.get(id));
    if (!view) throw notFound(missing);
    return view;
  };
  const readForSchedules = (id: string) => read(id, "Deployment not found.");

  return new Elysia({ prefix: "/deployments" })
    .post(
      "/",
      async ({ body, set, headers }) => {
        const { id, created } = await service.upsert(body, requestProvenance(headers));
        set.status = created ? 201 : 200;
        return deploymentJson(await read(id), clock.now());
      },
      { body: DeploymentCreate, transform: stripLegacyKeys },
    )
    .post(
      "/filter",
      async ({ body }) => {
        const { limit, offset } = paging(body, config.defaultLimit);
        const now = clock.now();
        return (await store.read((q) => q.deployments.list(body, sortOf(body.sort), limit, offset))).map((d) => deploymentJson(d, now));
      },
      { body: DeploymentListBody },
    )
    .post(
      "/paginate",
      async ({ body }) => {
        const { limit, offset, page } = pagePaging(body, config.defaultLimit);
        const [views, count] = await Promise.all([store.read((q) => q.deployments.list(body, sortOf(body.sort), limit, offset)), store.read((q) => q.deployments.count(body))]);
        const now = clock.now();
        return paginated(
          views.map((d) => deploymentJson(d, now)),
          count,
          limit,
          page,
        );
      },
      { body: DeploymentPageBody },
    )
    .post("/count", ({ body }) => store.read((q) => q.deployments.count(body)), { body: DeploymentCountBody })
    .post(
      "/bulk_delete",
      async ({ body }) => {
        const limit = body.limit ?? 50;
        if (limit < 1 || limit > 50) throw invalidField(["limit"], "Input should be between 1 and 50", limit, body);
        return { deleted: await store.write((tx) => tx.deployments.bulkDelete({ deployments: body.deployments }, limit, clock.now())) };
      },
      { body: Lenient({ deployments: Maybe(DeploymentFilter), limit: Maybe(t.Integer()) }) },
    )
    .post(
      "/get_scheduled_flow_runs",
      async ({ body }) => {
        const { limit } = paging(body, config.defaultLimit);
        const now = clock.now();
        const before = body.scheduled_before ? parseDateTime(body.scheduled_before) : null;
        const runs = await service.scheduledRunsForRunners(body.deployment_ids, before, limit, now);
        return runs.map((r) => flowRunJson(r, now));
      },
      { body: ScheduledRunsBody },
    )
    .get(
      "/name/:flow_name/:deployment_name",
      async ({ params }) => {
        const view = await store.read((q) => q.deployments.getByName(params.flow_name, params.deployment_name));
        if (!view) throw notFound("Deployment not found");
        return deploymentJson(view, clock.now());
      },
    )
    .get("/:id", async ({ params }) => deploymentJson(await read(params.id), clock.now()), { params: IdParams })
    .patch(
      "/:id",
      async ({ params, body, set }) => {
        await service.update(params.id, body);
        set.status = 204;
      },
      { params: IdParams, body: DeploymentUpdate, transform: stripLegacyKeys },
    )
    .delete(
      "/:id",
      async ({ params, set }) => {
        if (!(await store.write((tx) => tx.deployments.delete(params.id, clock.now())))) throw notFound("Deployment not found");
        set.status = 204;
      },
      { params: IdParams },
    )
    .post(
      "/:id/create_flow_run",
      async ({ params, body, set, headers }) => {
        const { createdBy } = requestProvenance(headers);
        const { run, created } = await createFlowRunFromDeployment(ctx, params.id, body, requestApiVersion(headers), { createdBy });
        set.status = created ? 201 : 200;
        return flowRunJson(run, clock.now());
      },
      { params: IdParams, body: DeploymentFlowRunCreate },
    )
    .post(
      "/:id/create_flow_run/bulk",
      async ({ params, body, headers }) => {
        // api/deployments.py bulk_create_flow_runs_from_deployment: the size check, then 404 (even for an empty list)
        if (body.length > 100) throw detail(400, "Cannot create more than 100 flow runs at once.");
        await read(params.id);
        const apiVersion = requestApiVersion(headers);
        const { createdBy } = requestProvenance(headers);
        const results = [];
        for (const item of body) {
          try {
            const { run } = await createFlowRunFromDeployment(ctx, params.id, item, apiVersion, { bulk: true, createdBy });
            results.push({ flow_run_id: run.run.id, status: "CREATED", error: null });
          } catch (error) {
            results.push({ flow_run_id: null, status: "FAILED", error: error instanceof Error ? error.message : String(error) });
          }
        }
        return { results };
      },
      { params: IdParams, body: t.Array(DeploymentFlowRunCreate) },
    )
    // decisions.md #5 and #6: 204 with no body (the SDK pauses through PATCH and ignores these answers)
    .post(
      "/:id/pause_deployment",
      async ({ params, set }) => {
        await read(params.id);
        await service.pause(params.id, clock.now());
        set.status = 204;
      },
      { params: IdParams },
    )
    .post(
      "/:id/resume_deployment",
      async ({ params, set }) => {
        await read(params.id);
        await service.resume(params.id, clock.now());
        set.status = 204;
      },
      { params: IdParams },
    )
    .post(
      "/:id/schedule",
      // Prefect schedules nothing for an unknown deployment and answers null all the same.
      async ({ params, body }) => {
        const now = clock.now();
        const defaults = scheduling.defaultWindow(now);
        const start = body.start_time ? parseDateTime(body.start_time)! : now;
        await scheduling.schedule(
          [params.id],
          {
            start,
            end: body.end_time ? parseDateTime(body.end_time)! : start + (defaults.end - now),
            minTime: body.min_time != null ? Math.round(body.min_time * MICROS_PER_SECOND) : defaults.minTime,
            minRuns: body.min_runs ?? defaults.minRuns,
            maxRuns: body.max_runs ?? defaults.maxRuns,
          },
          now,
        );
        return null;
      },
      { params: IdParams, body: ScheduleBackfillBody },
    )
    .get("/:id/work_queue_check", async ({ params }) => (await service.workQueuesFor(params.id)).map(coreWorkQueueJson), { params: IdParams })
    .get("/:id/schedules", async ({ params }) => (await readForSchedules(params.id)).schedules.map(deploymentScheduleJson), { params: IdParams })
    .post(
      "/:id/schedules",
      async ({ params, body, set }) => {
        await readForSchedules(params.id);
        // decisions.md #7: a single schedule object is accepted as a list of one
        const list = Array.isArray(body) ? body : [body];
        const now = clock.now();
        const inserts = scheduleInserts(list, now, body, (i) => (Array.isArray(body) ? ["body", i] : ["body"]));
        const rows = await service.createSchedules(params.id, inserts, now);
        set.status = 201;
        return rows.map(deploymentScheduleJson);
      },
      { params: IdParams, body: t.Union([t.Array(DeploymentScheduleCreate), DeploymentScheduleCreate]) },
    )
    .patch(
      "/:id/schedules/:schedule_id",
      async ({ params, body, set }) => {
        await readForSchedules(params.id);
        const now = clock.now();
        const patch = { ...(body.active != null && { active: body.active }), ...(body.max_scheduled_runs !== undefined && { maxScheduledRuns: body.max_scheduled_runs }), ...(body.parameters !== undefined && { parameters: body.parameters }), ...(body.slug != null && { slug: body.slug }) } as Record<string, unknown>;
        const tooMany = maxScheduledRunsIssue(body.max_scheduled_runs, ["body", "max_scheduled_runs"]);
        if (tooMany) throw validationError([tooMany], body);
        if (body.schedule != null) {
          const parsed = parseSchedule(body.schedule, ["body", "schedule"], now);
          if (Array.isArray(parsed)) throw validationError(parsed, body);
          patch.schedule = parsed;
        }
        if (!(await service.updateSchedule(params.id, params.schedule_id, patch, now))) throw notFound("Schedule not found.");
        set.status = 204;
      },
      { params: t.Object({ id: Uuid, schedule_id: Uuid }), body: DeploymentScheduleUpdate },
    )
    .delete(
      "/:id/schedules/:schedule_id",
      async ({ params, set }) => {
        await readForSchedules(params.id);
        const now = clock.now();
        if (!(await service.deleteSchedule(params.id, params.schedule_id, now))) throw notFound("Schedule not found.");
        set.status = 204;
      },
      { params: t.Object({ id: Uuid, schedule_id: Uuid }) },
    );
}
