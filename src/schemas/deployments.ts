/** Deployment request models (schemas/actions.py). */
import { t } from "elysia";
import { DeploymentFilter, RunFilters, WorkPoolFilter, WorkQueueFilter } from "./filters";
import { DateTime, Enum, JsonObjectSchema, Labels, Lenient, LimitOffset, LimitPage, Maybe, Strict, Tags, Uuid } from "./common";
import { StateCreate } from "./states";

export const ConcurrencyOptions = Strict({
  collision_strategy: t.Optional(Enum(["ENQUEUE", "CANCEL_NEW"])),
  grace_period_seconds: Maybe(t.Integer({ minimum: 60, maximum: 86400 })),
});

/** The schedule itself is checked by validateSchedule (src/schedules), which gives Prefect's exact 422 list. */
export const DeploymentScheduleCreate = Strict({
  schedule: t.Unknown(),
  active: Maybe(t.Boolean()),
  max_scheduled_runs: Maybe(t.Integer({ exclusiveMinimum: 0 })),
  parameters: t.Optional(JsonObjectSchema),
  slug: Maybe(t.String()),
  replaces: Maybe(t.String()),
});

export const DeploymentScheduleUpdate = Strict({
  schedule: t.Optional(t.Unknown()),
  active: Maybe(t.Boolean()),
  max_scheduled_runs: Maybe(t.Integer({ exclusiveMinimum: 0 })),
  parameters: t.Optional(JsonObjectSchema),
  slug: Maybe(t.String()),
  replaces: Maybe(t.String()),
});

const VersionInfo = t.Object({ type: t.String(), version: t.String() }, { additionalProperties: true });

const deploymentFields = {
  version: Maybe(t.String()),
  description: Maybe(t.String()),
  paused: Maybe(t.Boolean()),
  concurrency_limit: Maybe(t.Integer({ exclusiveMinimum: 0 })),
  concurrency_options: Maybe(ConcurrencyOptions),
  global_concurrency_limit_id: Maybe(Uuid),
  enforce_parameter_schema: Maybe(t.Boolean()),
  parameter_openapi_schema: Maybe(JsonObjectSchema),
  parameters: Maybe(JsonObjectSchema),
  tags: t.Optional(Tags),
  labels: Maybe(Labels),
  pull_steps: Maybe(t.Array(JsonObjectSchema)),
  work_queue_name: Maybe(t.String()),
  work_pool_name: Maybe(t.String()),
  storage_document_id: Maybe(Uuid),
  infrastructure_document_id: Maybe(Uuid),
  path: Maybe(t.String()),
  entrypoint: Maybe(t.String()),
  job_variables: Maybe(JsonObjectSchema),
  version_info: Maybe(VersionInfo),
};

export const DeploymentCreate = Strict({
  name: t.String(),
  flow_id: Uuid,
  schedules: t.Optional(t.Array(DeploymentScheduleCreate)),
  ...deploymentFields,
});

export const DeploymentUpdate = Strict({
  schedules: t.Optional(t.Array(DeploymentScheduleUpdate)),
  ...deploymentFields,
});

/** Keys older clients still send; Prefect strips them before validating. */
export const LEGACY_DEPLOYMENT_KEYS = ["worker_pool_queue_id", "worker_pool_name", "worker_pool_queue_name", "work_pool_queue_name"];

export const DeploymentFlowRunCreate = Strict({
  name: Maybe(t.String()),
  state: Maybe(StateCreate),
  parameters: t.Optional(JsonObjectSchema),
  enforce_parameter_schema: Maybe(t.Boolean()),
  context: t.Optional(JsonObjectSchema),
  infrastructure_document_id: Maybe(Uuid),
  empirical_policy: t.Optional(t.Object({}, { additionalProperties: true })),
  tags: t.Optional(Tags),
  idempotency_key: Maybe(t.String()),
  labels: Maybe(Labels),
  parent_task_run_id: Maybe(Uuid),
  work_queue_name: Maybe(t.String()),
  job_variables: Maybe(JsonObjectSchema),
});

export const DEPLOYMENT_SORTS = ["NAME_ASC", "NAME_DESC", "CREATED_DESC", "UPDATED_DESC"] as const;

const deploymentFilters = {
  ...RunFilters,
  deployments: Maybe(DeploymentFilter),
  work_pools: Maybe(WorkPoolFilter),
  work_pool_queues: Maybe(WorkQueueFilter),
};
export const DeploymentListBody = Lenient({ ...deploymentFilters, ...LimitOffset, sort: Maybe(Enum(DEPLOYMENT_SORTS)) });
export const DeploymentPageBody = Lenient({ ...deploymentFilters, ...LimitPage, sort: Maybe(Enum(DEPLOYMENT_SORTS)) });
export const DeploymentCountBody = Lenient(deploymentFilters);

export const ScheduledRunsBody = Lenient({
  deployment_ids: t.Array(Uuid),
  scheduled_before: Maybe(DateTime),
  limit: Maybe(t.Integer()),
});

export const ScheduleBackfillBody = Lenient({
  start_time: Maybe(DateTime),
  end_time: Maybe(DateTime),
  min_time: Maybe(t.Number()),
  min_runs: Maybe(t.Integer()),
  max_runs: Maybe(t.Integer()),
});
