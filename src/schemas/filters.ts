/**
 * Prefect's filter models (schemas/filters.py). Every filter object forbids
 * unknown keys; objects with an `operator` combine their criteria with and_/or_.
 */
import { t, type Static } from "elysia";
import { DateTime, Maybe, Strict, Uuid } from "./common";

const Operator = Maybe(t.Union([t.Literal("and_"), t.Literal("or_")]));
const List = <S extends Parameters<typeof t.Array>[0]>(item: S) => Maybe(t.Array(item));

const IdAny = Maybe(Strict({ any_: List(Uuid), not_any_: List(Uuid) }));
const NameFilter = Maybe(Strict({ any_: List(t.String()), like_: Maybe(t.String()) }));
const TagsFilter = Maybe(
  Strict({ operator: Operator, all_: List(t.String()), any_: List(t.String()), is_null_: Maybe(t.Boolean()) }),
);
const TimeRange = Maybe(Strict({ before_: Maybe(DateTime), after_: Maybe(DateTime), is_null_: Maybe(t.Boolean()) }));
const TimeBeforeAfter = Maybe(Strict({ before_: Maybe(DateTime), after_: Maybe(DateTime) }));

export const FlowFilter = Strict({
  operator: Operator,
  id: IdAny,
  deployment: Maybe(Strict({ operator: Operator, is_null_: Maybe(t.Boolean()) })),
  name: NameFilter,
  tags: TagsFilter,
});

const StateFilter = Maybe(
  Strict({
    operator: Operator,
    type: Maybe(Strict({ any_: List(t.String()), not_any_: List(t.String()) })),
    name: Maybe(Strict({ any_: List(t.String()), not_any_: List(t.String()) })),
  }),
);

/** The fields Prefect's FlowRunFilter and TaskRunFilter share. */
const SharedRunFilter = {
  operator: Operator,
  id: IdAny,
  name: NameFilter,
  tags: TagsFilter,
  state: StateFilter,
  start_time: TimeRange,
  end_time: TimeRange,
  expected_start_time: TimeBeforeAfter,
};

export const FlowRunFilter = Strict({
  ...SharedRunFilter,
  deployment_id: Maybe(Strict({ operator: Operator, any_: List(Uuid), is_null_: Maybe(t.Boolean()) })),
  work_queue_name: Maybe(Strict({ operator: Operator, any_: List(t.String()), is_null_: Maybe(t.Boolean()) })),
  flow_version: Maybe(Strict({ any_: List(t.String()) })),
  next_scheduled_start_time: TimeBeforeAfter,
  parent_flow_run_id: Maybe(Strict({ operator: Operator, any_: List(Uuid) })),
  parent_task_run_id: Maybe(Strict({ operator: Operator, any_: List(Uuid), is_null_: Maybe(t.Boolean()) })),
  idempotency_key: Maybe(Strict({ any_: List(t.String()), not_any_: List(t.String()) })),
  created_by: Maybe(
    Strict({ operator: Operator, id_: List(Uuid), type_: List(t.String()), is_null_: Maybe(t.Boolean()) }),
  ),
});

export const TaskRunFilter = Strict({
  ...SharedRunFilter,
  subflow_runs: Maybe(Strict({ exists_: Maybe(t.Boolean()) })),
  flow_run_id: Maybe(Strict({ operator: Operator, any_: List(Uuid), is_null_: Maybe(t.Boolean()) })),
});

export type FlowFilter = Static<typeof FlowFilter>;
export type FlowRunFilter = Static<typeof FlowRunFilter>;
export type TaskRunFilter = Static<typeof TaskRunFilter>;

/** The cross-object filters accepted by flow, flow-run and task-run list/count endpoints. */
export const RunFilters = {
  flows: Maybe(FlowFilter),
  flow_runs: Maybe(FlowRunFilter),
  task_runs: Maybe(TaskRunFilter),
};

export interface RunFilterSet {
  flows?: FlowFilter | null;
  flow_runs?: FlowRunFilter | null;
  task_runs?: TaskRunFilter | null;
  deployments?: DeploymentFilter | null;
  work_pools?: WorkPoolFilter | null;
  work_pool_queues?: WorkQueueFilter | null;
}

export const VariableFilter = Strict({
  operator: Operator,
  id: Maybe(Strict({ any_: List(Uuid) })),
  name: NameFilter,
  tags: Maybe(Strict({ operator: Operator, all_: List(t.String()), is_null_: Maybe(t.Boolean()) })),
});

/** `text.query` is capped at 200 characters by the route (pydantic counts code points, TypeBox UTF-16 units). */
export const LogFilter = Strict({
  operator: Operator,
  level: Maybe(Strict({ ge_: Maybe(t.Integer()), le_: Maybe(t.Integer()) })),
  timestamp: TimeBeforeAfter,
  flow_run_id: Maybe(Strict({ any_: List(Uuid) })),
  task_run_id: Maybe(Strict({ any_: List(Uuid), is_null_: Maybe(t.Boolean()) })),
  text: Maybe(Strict({ query: t.String() })),
});

export type VariableFilter = Static<typeof VariableFilter>;
export type LogFilter = Static<typeof LogFilter>;

export const DeploymentFilter = Strict({
  operator: Operator,
  id: IdAny,
  name: NameFilter,
  flow_or_deployment_name: Maybe(Strict({ like_: Maybe(t.String()) })),
  paused: Maybe(Strict({ eq_: Maybe(t.Boolean()) })),
  tags: TagsFilter,
  work_queue_name: Maybe(Strict({ any_: List(t.String()) })),
  // deprecated in Prefect and ignored, but still accepted
  concurrency_limit: Maybe(Strict({ ge_: Maybe(t.Integer()), le_: Maybe(t.Integer()), is_null_: Maybe(t.Boolean()) })),
});
export type DeploymentFilter = Static<typeof DeploymentFilter>;

export const WorkPoolFilter = Strict({
  operator: Operator,
  id: Maybe(Strict({ any_: List(Uuid) })),
  name: Maybe(Strict({ any_: List(t.String()) })),
  type: Maybe(Strict({ any_: List(t.String()) })),
});

/** `startswith_` is a case-insensitive prefix match on any of the given prefixes. */
export const WorkQueueFilter = Strict({
  operator: Operator,
  id: Maybe(Strict({ any_: List(Uuid) })),
  name: Maybe(Strict({ any_: List(t.String()), startswith_: List(t.String()) })),
});

const WorkerStatus = t.Union([t.Literal("ONLINE"), t.Literal("OFFLINE")]);

/** `status` matches the stored status, which the foreman keeps (responses recompute it from the heartbeat). */
export const WorkerFilter = Strict({
  operator: Operator,
  last_heartbeat_time: TimeBeforeAfter,
  status: Maybe(Strict({ any_: List(WorkerStatus), not_any_: List(WorkerStatus) })),
});

export type WorkPoolFilter = Static<typeof WorkPoolFilter>;
export type WorkQueueFilter = Static<typeof WorkQueueFilter>;
export type WorkerFilter = Static<typeof WorkerFilter>;

/** Flow, flow-run and task-run lists also filter through the run's deployment and work queue (pool). */
export const FlowRunRelatedFilters = {
  deployments: Maybe(DeploymentFilter),
  work_pools: Maybe(WorkPoolFilter),
  work_pool_queues: Maybe(WorkQueueFilter),
};

/** `ArtifactFilter`; `key.like_` keeps SQL wildcards, as in Prefect. */
export const ArtifactFilter = Strict({
  operator: Operator,
  id: Maybe(Strict({ any_: List(Uuid) })),
  key: Maybe(Strict({ any_: List(t.String()), like_: Maybe(t.String()), exists_: Maybe(t.Boolean()) })),
  flow_run_id: Maybe(Strict({ any_: List(Uuid) })),
  task_run_id: Maybe(Strict({ any_: List(Uuid) })),
  type: Maybe(Strict({ any_: List(t.String()), not_any_: List(t.String()) })),
});

/** `ArtifactCollectionFilter`: as ArtifactFilter, with `latest_id` in place of `id`. */
export const ArtifactCollectionFilter = Strict({
  operator: Operator,
  latest_id: Maybe(Strict({ any_: List(Uuid) })),
  key: Maybe(Strict({ any_: List(t.String()), like_: Maybe(t.String()), exists_: Maybe(t.Boolean()) })),
  flow_run_id: Maybe(Strict({ any_: List(Uuid) })),
  task_run_id: Maybe(Strict({ any_: List(Uuid) })),
  type: Maybe(Strict({ any_: List(t.String()), not_any_: List(t.String()) })),
});

export type ArtifactFilter = Static<typeof ArtifactFilter>;
export type ArtifactCollectionFilter = Static<typeof ArtifactCollectionFilter>;

/** The objects an artifact list or count is restricted by (the artifact's own filter is typed per table). */
export const ArtifactRelatedFilters = {
  flows: Maybe(FlowFilter),
  flow_runs: Maybe(FlowRunFilter),
  task_runs: Maybe(TaskRunFilter),
  deployments: Maybe(DeploymentFilter),
};

export interface ArtifactRelatedFilterSet {
  flows?: FlowFilter | null;
  flow_runs?: FlowRunFilter | null;
  task_runs?: TaskRunFilter | null;
  deployments?: DeploymentFilter | null;
}

/** `AutomationFilter` (events/filters.py); `created.before_` is inclusive. */
export const AutomationFilter = Strict({
  operator: Operator,
  id: Maybe(Strict({ any_: List(Uuid) })),
  name: Maybe(Strict({ any_: List(t.String()) })),
  created: Maybe(Strict({ before_: Maybe(DateTime) })),
  tags: TagsFilter,
});
export type AutomationFilter = Static<typeof AutomationFilter>;
