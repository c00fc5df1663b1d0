/** Request models for flow runs and task runs (schemas/actions.py). */
import { t } from "elysia";
import { DateTime, Enum, JsonObjectSchema, Labels, Lenient, LimitOffset, LimitPage, Maybe, Strict, Tags, Uuid } from "./common";
import { FlowRunRelatedFilters, RunFilters } from "./filters";
import { StateCreate } from "./states";

/** Policies are core models: unknown keys are ignored, not rejected. */
const FlowRunPolicySchema = t.Object(
  {
    max_retries: Maybe(t.Integer()),
    retry_delay_seconds: Maybe(t.Number()),
    retries: Maybe(t.Integer()),
    retry_delay: Maybe(t.Integer()),
    pause_keys: Maybe(t.Array(t.String())),
    resuming: Maybe(t.Boolean()),
    retry_type: Maybe(t.Union([t.Literal("in_process"), t.Literal("reschedule")])),
  },
  { additionalProperties: true },
);

export const TaskRunPolicySchema = t.Object(
  {
    max_retries: Maybe(t.Integer()),
    retry_delay_seconds: Maybe(t.Number()),
    retries: Maybe(t.Integer()),
    // At most 50 delays and a jitter factor >= 0: checked by TaskRunService, in Prefect's words.
    retry_delay: Maybe(t.Union([t.Number(), t.Array(t.Number())])),
    retry_jitter_factor: Maybe(t.Number()),
  },
  { additionalProperties: true },
);

export const FlowRunCreate = Strict({
  flow_id: Uuid,
  name: Maybe(t.String()),
  state: Maybe(StateCreate),
  flow_version: Maybe(t.String()),
  parameters: t.Optional(JsonObjectSchema),
  context: t.Optional(JsonObjectSchema),
  parent_task_run_id: Maybe(Uuid),
  infrastructure_document_id: Maybe(Uuid),
  empirical_policy: t.Optional(FlowRunPolicySchema),
  tags: t.Optional(Tags),
  labels: Maybe(Labels),
  idempotency_key: Maybe(t.String()),
  work_pool_name: Maybe(t.String()),
  work_queue_name: Maybe(t.String()),
  job_variables: Maybe(JsonObjectSchema),
  deployment_id: Maybe(Uuid),
  // decisions.md #2: accepted; it becomes the scheduled time of an initial SCHEDULED state
  next_scheduled_start_time: Maybe(DateTime),
});

export const FlowRunUpdate = Strict({
  name: Maybe(t.String()),
  flow_version: Maybe(t.String()),
  parameters: t.Optional(JsonObjectSchema),
  empirical_policy: t.Optional(FlowRunPolicySchema),
  tags: t.Optional(Tags),
  infrastructure_pid: Maybe(t.String()),
  job_variables: Maybe(JsonObjectSchema),
});

export const SetStateBody = Lenient({ state: StateCreate, force: Maybe(t.Boolean()) });

export const FLOW_RUN_SORTS = [
  "ID_DESC",
  "START_TIME_ASC",
  "START_TIME_DESC",
  "EXPECTED_START_TIME_ASC",
  "EXPECTED_START_TIME_DESC",
  "NAME_ASC",
  "NAME_DESC",
  "NEXT_SCHEDULED_START_TIME_ASC",
  "END_TIME_DESC",
] as const;

export const TASK_RUN_SORTS = [
  "ID_DESC",
  "EXPECTED_START_TIME_ASC",
  "EXPECTED_START_TIME_DESC",
  "NAME_ASC",
  "NAME_DESC",
  "NEXT_SCHEDULED_START_TIME_ASC",
  "END_TIME_DESC",
] as const;

const runFilters = { ...RunFilters, ...FlowRunRelatedFilters };
/** `/filter`: the run filters, limit/offset and one of `sorts`. */
export const runListBody = <const S extends readonly string[]>(sorts: S) => Lenient({ ...runFilters, ...LimitOffset, sort: Maybe(Enum(sorts)) });
/** `/paginate`: the run filters, limit/page and one of `sorts`. */
export const runPageBody = <const S extends readonly string[]>(sorts: S) => Lenient({ ...runFilters, ...LimitPage, sort: Maybe(Enum(sorts)) });
export const RunCountBody = Lenient(runFilters);

export const HistoryBody = Lenient({
  ...runFilters,
  history_start: DateTime,
  history_end: DateTime,
  history_interval_seconds: t.Number(),
});

export const TaskRunCreate = Strict({
  id: Maybe(Uuid),
  name: Maybe(t.String()),
  flow_run_id: Maybe(Uuid),
  task_key: t.String(),
  dynamic_key: t.String(),
  cache_key: Maybe(t.String()),
  cache_expiration: Maybe(DateTime),
  task_version: Maybe(t.String()),
  empirical_policy: t.Optional(TaskRunPolicySchema),
  tags: t.Optional(Tags),
  labels: Maybe(Labels),
  task_inputs: t.Optional(t.Record(t.String(), t.Array(t.Record(t.String(), t.Any())))),
  state: Maybe(StateCreate),
});

export const TaskRunUpdate = Strict({ name: Maybe(t.String()) });
