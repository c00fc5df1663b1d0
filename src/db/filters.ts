/**
 * Prefect's filter grammar -> SQL conditions, written once for every resource and every
 * backend: `createFilters(tables, dialect)` builds it over one schema's tables, with the
 * few fragments whose SQL differs (booleans, tag arrays, JSON fields, LIKE, instants) from
 * the dialect. SQLite's dialect is here and its grammar is what this module exports;
 * PostgreSQL's twin is src/db/postgres/filters.ts.
 */
import { SQL, and, eq, gte, inArray, isNotNull, isNull, lte, not, notInArray, or, sql, type Column } from "drizzle-orm";
import { parseTextSearchQuery } from "../lib/text-search";
import { parseDateTime, type Micros } from "../lib/time";
import { canonicalUuids } from "../lib/uuid";
import type { BlockDocumentFilter, BlockDocumentFilterSet, BlockSchemaFilter, BlockTypeFilter } from "../schemas/blocks";
import type {
  ArtifactCollectionFilter,
  ArtifactFilter,
  ArtifactRelatedFilterSet,
  AutomationFilter,
  DeploymentFilter,
  FlowFilter,
  FlowRunFilter,
  LogFilter,
  RunFilterSet,
  TaskRunFilter,
  VariableFilter,
  WorkerFilter,
  WorkPoolFilter,
  WorkQueueFilter,
} from "../schemas/filters";
import type * as pgSchema from "./postgres/schema";
import * as sqliteSchema from "./schema";

type Cond = SQL | undefined;
type Operator = "and_" | "or_" | null | undefined;

type TableName =
  | "artifact"
  | "artifactCollection"
  | "automation"
  | "blockDocument"
  | "blockSchema"
  | "blockType"
  | "deployment"
  | "flow"
  | "flowRun"
  | "log"
  | "taskRun"
  | "variable"
  | "worker"
  | "workPool"
  | "workQueue";

/** The tables the grammar reads, from either schema (they have the same shapes). */
export type FilterTables = { [K in TableName]: (typeof sqliteSchema)[K] | (typeof pgSchema)[K] };

/** The SQL that differs between backends. */
export interface FilterDialect {
  readonly true: SQL;
  readonly false: SQL;
  /** Case-insensitive substring match, wildcards in `value` kept (Prefect: ILIKE '%x%'). */
  contains(column: Column | SQL, value: string): SQL;
  /** Case-insensitive prefix match, wildcards kept (Prefect: ILIKE 'x%'). */
  startsWith(column: Column, prefix: string): SQL;
  /** An instant (microseconds, or null for an unreadable one) to compare a column with. */
  instant(value: Micros | null): SQL;
  /** The column, kept off its index where the planner would wrongly prefer it. */
  unindexed(column: Column): SQL;
  /** The JSON array of strings holds at least one of `tags` (non-empty). */
  hasAnyTag(column: Column, tags: string[]): SQL;
  /** The JSON array of strings holds every one of `tags` (non-empty). */
  hasAllTags(column: Column, tags: string[]): SQL;
  emptyTags(column: Column): SQL;
  /** The JSON object's top-level `key` is one of `values` (non-empty). */
  jsonFieldIn(column: Column, key: string, values: string[]): SQL;
  /** `needle` occurs in `text` (both already lower-cased by the caller where needed), no escaping. */
  textContains(text: SQL, needle: string): SQL;
}

/**
 * The tag lists are bound as one JSON array each, so the SQL stays the same size however many
 * tags are asked for (one EXISTS per tag overflowed SQLite's expression depth past ~1,000).
 */
const wanted = (tags: string[]) => sql`(SELECT value FROM json_each(${JSON.stringify(tags)}))`;

export const sqliteDialect: FilterDialect = {
  true: sql`1`,
  false: sql`0`,
  contains: (column, value) => sql`${column} LIKE ${"%" + value + "%"}`,
  startsWith: (column, prefix) => sql`${column} LIKE ${prefix + "%"}`,
  instant: (value) => sql`${value}`,
  // `+` keeps SQLite off the state_type index: a state matches a large share of the runs, and
  // without statistics the planner would prefer it to the time range or the sort order.
  unindexed: (column) => sql`+${column}`,
  hasAnyTag: (column, tags) => sql`EXISTS (SELECT 1 FROM json_each(${column}) WHERE json_each.value IN ${wanted(tags)})`,
  hasAllTags: (column, tags) =>
    sql`(SELECT COUNT(DISTINCT json_each.value) FROM json_each(${column}) WHERE json_each.value IN ${wanted(tags)}) = ${new Set(tags).size}`,
  emptyTags: (column) => sql`json_array_length(${column}) = 0`,
  jsonFieldIn: (column, key, values) => sql`json_extract(${column}, ${"$." + key}) IN ${values}`,
  // instr() needs no LIKE escaping
  textContains: (text, needle) => sql`instr(${text}, ${needle}) > 0`,
};

/** The run columns the shared filter fields read. */
interface RunFilterColumns {
  id: Column;
  name: Column;
  tags: Column;
  stateType: Column;
  stateName: Column;
  startTime: Column;
  endTime: Column;
  expectedStartTime: Column;
}

export function createFilters(t: FilterTables, d: FilterDialect) {
  const { artifact, artifactCollection, automation, blockDocument, blockSchema, blockType, deployment, flow, flowRun, log, taskRun, variable, worker, workPool, workQueue } =
    t;

  /** Combines criteria with the object's operator; no criteria means "no restriction". */
  function combine(operator: Operator, conds: (Cond | null)[]): Cond {
    const present = conds.filter((c): c is SQL => c != null);
    if (present.length === 0) return undefined;
    return operator === "or_" ? or(...present) : and(...present);
  }

  /**
   * A nested filter object (`name`, `tags`, `state`...): its criteria combined by its own
   * operator (default and_). Prefect makes a present-but-empty object TRUE, which
   * matters under the parent's `or_`; an absent one contributes nothing.
   */
  function group(f: object | null | undefined, conds: (Cond | null)[]): Cond {
    if (f == null) return undefined;
    const operator = "operator" in f ? (f.operator as Operator) : undefined;
    return combine(operator, conds) ?? d.true;
  }

  const anyOf = <T>(column: Column | SQL, values: T[] | null | undefined): Cond =>
    values == null ? undefined : values.length === 0 ? d.false : column instanceof SQL ? sql`${column} IN ${values}` : inArray(column, values);

  const notAnyOf = <T>(column: Column | SQL, values: T[] | null | undefined): Cond =>
    values == null || values.length === 0 ? undefined : column instanceof SQL ? sql`${column} NOT IN ${values}` : notInArray(column, values);

  /** Case-insensitive substring match (Prefect: ILIKE '%x%'). */
  const like = (column: Column | SQL, value: string | null | undefined): Cond =>
    value == null ? undefined : d.contains(column, value);

  const isNullCond = (column: Column, value: boolean | null | undefined): Cond =>
    value == null ? undefined : value ? isNull(column) : isNotNull(column);

  const before = (column: Column | SQL, value: string | null | undefined): Cond =>
    value == null ? undefined : sql`${column} <= ${d.instant(parseDateTime(value))}`;

  const after = (column: Column | SQL, value: string | null | undefined): Cond =>
    value == null ? undefined : sql`${column} >= ${d.instant(parseDateTime(value))}`;

  const ge = (column: Column, value: number | null | undefined): Cond =>
    value == null ? undefined : gte(column, value);
  const le = (column: Column, value: number | null | undefined): Cond =>
    value == null ? undefined : lte(column, value);
  const eqOf = <T>(column: Column, value: T | null | undefined): Cond =>
    value == null ? undefined : eq(column, value);

  interface TagCriteria {
    operator?: Operator;
    all_?: string[] | null;
    any_?: string[] | null;
    is_null_?: boolean | null;
  }

  /** Tag arrays: all_ = contains every tag, any_ = at least one, is_null_ = empty list. */
  function tagsCond(column: Column, f: TagCriteria | null | undefined): Cond {
    if (f == null) return undefined;
    const empty = d.emptyTags(column);
    return group(f, [
      f.all_ == null ? undefined : f.all_.length === 0 ? d.true : d.hasAllTags(column, f.all_),
      f.any_ == null ? undefined : f.any_.length === 0 ? d.false : d.hasAnyTag(column, f.any_),
      f.is_null_ == null ? undefined : f.is_null_ ? empty : not(empty),
    ]);
  }

  interface TypeNameCriteria {
    any_?: string[] | null;
    not_any_?: string[] | null;
  }

  function stateCond(
    stateType: Column,
    stateName: Column,
    f: { operator?: Operator; type?: TypeNameCriteria | null; name?: TypeNameCriteria | null } | null | undefined,
  ): Cond {
    const type = d.unindexed(stateType);
    return group(f, [
      group(f?.type, [anyOf(type, f?.type?.any_), notAnyOf(type, f?.type?.not_any_)]),
      group(f?.name, [anyOf(stateName, f?.name?.any_), notAnyOf(stateName, f?.name?.not_any_)]),
    ]);
  }

  function flowCond(f: FlowFilter | null | undefined): Cond {
    if (!f) return undefined;
    return combine(f.operator, [
      group(f.id, [anyOf(flow.id, f.id?.any_), notAnyOf(flow.id, f.id?.not_any_)]),
      group(f.name, [anyOf(flow.name, f.name?.any_), like(flow.name, f.name?.like_)]),
      tagsCond(flow.tags, f.tags),
      group(f.deployment, [flowHasDeployment(f.deployment?.is_null_)]),
    ]);
  }

  /** FlowFilterDeployment: `is_null_` true keeps flows without deployments, false those with one. */
  function flowHasDeployment(isNull: boolean | null | undefined): Cond {
    if (isNull == null) return undefined;
    const deployed = sql`${flow.id} IN (SELECT ${deployment.flowId} FROM ${deployment})`;
    return isNull ? not(deployed) : deployed;
  }

  /** Flow-run start_time before/after compare COALESCE(start_time, expected_start_time), as Prefect does. */
  const effectiveStart = sql`COALESCE(${flowRun.startTime}, ${flowRun.expectedStartTime})`;

  /**
   * The conditions of the fields flow-run and task-run filters share. `start` is what a
   * start-time range compares: a flow run that has not started counts from its expected start.
   */
  function sharedRunConds(run: RunFilterColumns, start: Column | SQL, f: FlowRunFilter | TaskRunFilter): Cond[] {
    return [
      group(f.id, [anyOf(run.id, f.id?.any_), notAnyOf(run.id, f.id?.not_any_)]),
      group(f.name, [anyOf(run.name, f.name?.any_), like(run.name, f.name?.like_)]),
      tagsCond(run.tags, f.tags),
      stateCond(run.stateType, run.stateName, f.state),
      group(f.start_time, [before(start, f.start_time?.before_), after(start, f.start_time?.after_), isNullCond(run.startTime, f.start_time?.is_null_)]),
      group(f.end_time, [before(run.endTime, f.end_time?.before_), after(run.endTime, f.end_time?.after_), isNullCond(run.endTime, f.end_time?.is_null_)]),
      group(f.expected_start_time, [before(run.expectedStartTime, f.expected_start_time?.before_), after(run.expectedStartTime, f.expected_start_time?.after_)]),
    ];
  }

  function flowRunCond(f: FlowRunFilter | null | undefined): Cond {
    if (!f) return undefined;
    const createdBy = f.created_by;
    return combine(f.operator, [
      ...sharedRunConds(flowRun, effectiveStart, f),
      group(f.deployment_id, [
        anyOf(flowRun.deploymentId, f.deployment_id?.any_),
        isNullCond(flowRun.deploymentId, f.deployment_id?.is_null_),
      ]),
      group(f.work_queue_name, [
        anyOf(flowRun.workQueueName, f.work_queue_name?.any_),
        isNullCond(flowRun.workQueueName, f.work_queue_name?.is_null_),
      ]),
      group(f.flow_version, [anyOf(flowRun.flowVersion, f.flow_version?.any_)]),
      group(f.next_scheduled_start_time, [
        before(flowRun.nextScheduledStartTime, f.next_scheduled_start_time?.before_),
        after(flowRun.nextScheduledStartTime, f.next_scheduled_start_time?.after_),
      ]),
      group(f.parent_flow_run_id, [
        f.parent_flow_run_id?.any_ == null
          ? undefined
          : sql`${flowRun.parentTaskRunId} IN (SELECT ${taskRun.id} FROM ${taskRun} WHERE ${anyOf(taskRun.flowRunId, f.parent_flow_run_id.any_)})`,
      ]),
      group(f.parent_task_run_id, [
        anyOf(flowRun.parentTaskRunId, f.parent_task_run_id?.any_),
        isNullCond(flowRun.parentTaskRunId, f.parent_task_run_id?.is_null_),
      ]),
      group(f.idempotency_key, [
        anyOf(flowRun.idempotencyKey, f.idempotency_key?.any_),
        notAnyOf(flowRun.idempotencyKey, f.idempotency_key?.not_any_),
      ]),
      group(createdBy, [
        createdBy?.id_ == null ? undefined : jsonFieldIn(flowRun.createdBy, "id", createdBy.id_),
        createdBy?.type_ == null ? undefined : jsonFieldIn(flowRun.createdBy, "type", createdBy.type_),
        isNullCond(flowRun.createdBy, createdBy?.is_null_),
      ]),
    ]);
  }

  const jsonFieldIn = (column: Column, key: string, values: string[]): SQL =>
    values.length === 0 ? d.false : d.jsonFieldIn(column, key, values);

  function taskRunCond(f: TaskRunFilter | null | undefined): Cond {
    if (!f) return undefined;
    const subflows = sql`EXISTS (SELECT 1 FROM ${flowRun} WHERE ${flowRun.parentTaskRunId} = ${taskRun.id})`;
    const flowRunId = f.flow_run_id;
    return combine(f.operator, [
      ...sharedRunConds(taskRun, taskRun.startTime, f),
      group(f.subflow_runs, [f.subflow_runs?.exists_ == null ? undefined : f.subflow_runs.exists_ ? subflows : not(subflows)]),
      // Prefect's default: a present flow_run_id filter without any_ means "not a background task".
      group(flowRunId, [
        anyOf(taskRun.flowRunId, flowRunId?.any_),
        flowRunId?.is_null_ ? isNull(taskRun.flowRunId) : flowRunId?.any_ == null ? isNotNull(taskRun.flowRunId) : undefined,
      ]),
    ]);
  }

  /** Flows restricted by the other objects (4.3 of the API reference): present filters join even when empty. */
  function flowsWhere(filters: RunFilterSet): Cond {
    const hasRuns = filters.flow_runs != null || filters.task_runs != null;
    const runCond = and(flowRunCond(filters.flow_runs), taskRunsOfRun(filters.task_runs));
    const hasDeployments = filters.deployments != null || filters.work_pools != null;
    const deploymentCondition = and(deploymentCond(filters.deployments), queueOf(deployment.workQueueId, filters.work_pools, null));
    return and(
      flowCond(filters.flows),
      hasRuns ? sql`EXISTS (SELECT 1 FROM ${flowRun} WHERE ${flowRun.flowId} = ${flow.id}${runCond ? sql` AND ${runCond}` : sql``})` : undefined,
      hasDeployments
        ? sql`EXISTS (SELECT 1 FROM ${deployment} WHERE ${deployment.flowId} = ${flow.id}${deploymentCondition ? sql` AND ${deploymentCondition}` : sql``})`
        : undefined,
    );
  }

  /** `queueId` names a queue matching the queue filter whose pool matches the pool filter (nothing when both are absent). */
  function queueOf(queueId: Column, pools: WorkPoolFilter | null | undefined, queues: WorkQueueFilter | null | undefined): Cond {
    if (pools == null && queues == null) return undefined;
    const cond = and(workQueueCond(queues), workPoolCond(pools));
    return sql`${queueId} IN (SELECT ${workQueue.id} FROM ${workQueue} JOIN ${workPool} ON ${workPool.id} = ${workQueue.workPoolId}${cond ? sql` WHERE ${cond}` : sql``})`;
  }

  function taskRunsOfRun(f: TaskRunFilter | null | undefined): Cond {
    if (f == null) return undefined;
    const cond = taskRunCond(f);
    return sql`EXISTS (SELECT 1 FROM ${taskRun} WHERE ${taskRun.flowRunId} = ${flowRun.id}${cond ? sql` AND ${cond}` : sql``})`;
  }

  function flowRunsWhere(filters: RunFilterSet): Cond {
    const flows = filters.flows != null ? flowCond(filters.flows) : undefined;
    const deployments = deploymentCond(filters.deployments);
    return and(
      flowRunCond(filters.flow_runs),
      filters.flows != null ? sql`${flowRun.flowId} IN (SELECT ${flow.id} FROM ${flow}${flows ? sql` WHERE ${flows}` : sql``})` : undefined,
      taskRunsOfRun(filters.task_runs),
      filters.deployments != null
        ? sql`${flowRun.deploymentId} IN (SELECT ${deployment.id} FROM ${deployment}${deployments ? sql` WHERE ${deployments}` : sql``})`
        : undefined,
      queueOf(flowRun.workQueueId, filters.work_pools, filters.work_pool_queues),
    );
  }

  function taskRunsWhere(filters: RunFilterSet): Cond {
    const needsRun = filters.flow_runs != null || filters.flows != null || filters.deployments != null;
    const runCond = needsRun ? flowRunsWhere({ flows: filters.flows, flow_runs: filters.flow_runs, deployments: filters.deployments }) : undefined;
    return and(
      taskRunCond(filters.task_runs),
      needsRun ? sql`${taskRun.flowRunId} IN (SELECT ${flowRun.id} FROM ${flowRun}${runCond ? sql` WHERE ${runCond}` : sql``})` : undefined,
    );
  }

  function variableCond(f: VariableFilter | null | undefined): Cond {
    if (!f) return undefined;
    return combine(f.operator, [
      group(f.id, [anyOf(variable.id, canonicalUuids(f.id?.any_))]),
      group(f.name, [anyOf(variable.name, f.name?.any_), like(variable.name, f.name?.like_)]),
      // Prefect ignores an empty all_ here (where tagsCond would read it as TRUE, which differs under or_).
      f.tags && (tagsCond(variable.tags, { ...f.tags, all_: f.tags.all_?.length ? f.tags.all_ : null }) ?? d.true),
    ]);
  }

  /** Lowercased `message || ' ' || name`, the text Prefect's log search looks in. */
  const logSearchText = sql`lower(${log.message} || ' ' || ${log.name})`;
  // lower() on both sides matches Prefect's lower(..).contains(term.lower()).
  const logContains = (term: string) => d.textContains(logSearchText, term.toLowerCase());

  /** Include terms OR-ed, exclude terms NOT-ed, required terms AND-ed: three separate criteria, as in Prefect. */
  function logTextConds(query: string | null | undefined): Cond[] {
    if (query == null) return [];
    const { include, exclude, required } = parseTextSearchQuery(query);
    return [
      include.length ? or(...include.map(logContains)) : undefined,
      exclude.length ? and(...exclude.map((term) => not(logContains(term)))) : undefined,
      required.length ? and(...required.map(logContains)) : undefined,
    ];
  }

  function logCond(f: LogFilter | null | undefined): Cond {
    if (!f) return undefined;
    return combine(f.operator, [
      group(f.level, [ge(log.level, f.level?.ge_), le(log.level, f.level?.le_)]),
      group(f.timestamp, [before(log.timestamp, f.timestamp?.before_), after(log.timestamp, f.timestamp?.after_)]),
      group(f.flow_run_id, [anyOf(log.flowRunId, canonicalUuids(f.flow_run_id?.any_))]),
      group(f.task_run_id, [
        anyOf(log.taskRunId, canonicalUuids(f.task_run_id?.any_)),
        isNullCond(log.taskRunId, f.task_run_id?.is_null_),
      ]),
      // Prefect splices the text criteria into this list rather than grouping them, so `or_` applies to each.
      ...logTextConds(f.text?.query),
    ]);
  }

  function deploymentCond(f: DeploymentFilter | null | undefined): Cond {
    if (!f) return undefined;
    const nameLike = f.flow_or_deployment_name?.like_;
    return combine(f.operator, [
      group(f.id, [anyOf(deployment.id, f.id?.any_), notAnyOf(deployment.id, f.id?.not_any_)]),
      group(f.name, [anyOf(deployment.name, f.name?.any_), like(deployment.name, f.name?.like_)]),
      group(f.flow_or_deployment_name, [
        nameLike == null
          ? undefined
          : or(like(deployment.name, nameLike), sql`${deployment.flowId} IN (SELECT ${flow.id} FROM ${flow} WHERE ${like(flow.name, nameLike)})`),
      ]),
      group(f.paused, [eqOf(deployment.paused, f.paused?.eq_)]),
      tagsCond(deployment.tags, f.tags),
      group(f.work_queue_name, [anyOf(deployment.workQueueName, f.work_queue_name?.any_)]),
    ]);
  }


  /** Deployments restricted by their flow, by having runs (and task runs) that match, and by their queue and pool. */
  function deploymentsWhere(filters: DeploymentFilterSet): Cond {
    const hasRuns = filters.flow_runs != null || filters.task_runs != null;
    const runCond = and(flowRunCond(filters.flow_runs), taskRunsOfRun(filters.task_runs));
    const flows = flowCond(filters.flows);
    const hasQueue = filters.work_pools != null || filters.work_pool_queues != null;
    const queueCond = and(workQueueCond(filters.work_pool_queues), workPoolCond(filters.work_pools));
    return and(
      deploymentCond(filters.deployments),
      filters.flows != null ? sql`${deployment.flowId} IN (SELECT ${flow.id} FROM ${flow}${flows ? sql` WHERE ${flows}` : sql``})` : undefined,
      hasRuns
        ? sql`EXISTS (SELECT 1 FROM ${flowRun} WHERE ${flowRun.deploymentId} = ${deployment.id}${runCond ? sql` AND ${runCond}` : sql``})`
        : undefined,
      // models/deployments.py _apply_deployment_filters: EXISTS over the deployment's queue (joined to its pool)
      hasQueue
        ? sql`EXISTS (SELECT 1 FROM ${workQueue} JOIN ${workPool} ON ${workPool.id} = ${workQueue.workPoolId} WHERE ${workQueue.id} = ${deployment.workQueueId}${queueCond ? sql` AND ${queueCond}` : sql``})`
        : undefined,
    );
  }

  function workPoolCond(f: WorkPoolFilter | null | undefined): Cond {
    if (!f) return undefined;
    return combine(f.operator, [
      group(f.id, [anyOf(workPool.id, canonicalUuids(f.id?.any_))]),
      group(f.name, [anyOf(workPool.name, f.name?.any_)]),
      group(f.type, [anyOf(workPool.type, f.type?.any_)]),
    ]);
  }

  /**
   * Case-insensitive prefix match on any of the prefixes (Prefect: ILIKE 'x%', wildcards
   * unescaped). An empty list restricts nothing: SQLAlchemy drops an empty or_().
   */
  const startsWithAny = (column: Column, prefixes: string[] | null | undefined): Cond =>
    prefixes == null || prefixes.length === 0 ? undefined : or(...prefixes.map((p) => d.startsWith(column, p)));

  function workQueueCond(f: WorkQueueFilter | null | undefined): Cond {
    if (!f) return undefined;
    return combine(f.operator, [
      group(f.id, [anyOf(workQueue.id, canonicalUuids(f.id?.any_))]),
      group(f.name, [anyOf(workQueue.name, f.name?.any_), startsWithAny(workQueue.name, f.name?.startswith_)]),
    ]);
  }

  function workerCond(f: WorkerFilter | null | undefined): Cond {
    if (!f) return undefined;
    return combine(f.operator, [
      group(f.last_heartbeat_time, [
        before(worker.lastHeartbeatTime, f.last_heartbeat_time?.before_),
        after(worker.lastHeartbeatTime, f.last_heartbeat_time?.after_),
      ]),
      group(f.status, [anyOf(worker.status, f.status?.any_), notAnyOf(worker.status, f.status?.not_any_)]),
    ]);
  }

  /** `exists_`: true keeps rows with a key, false rows without one. */
  const existsCond = (column: Column, exists: boolean | null | undefined): Cond =>
    exists == null ? undefined : exists ? isNotNull(column) : isNull(column);

  /** Artifacts and artifact collections share their filter fields; `id` is `latest_id` on a collection. */
  type ArtifactColumns = typeof artifact | typeof artifactCollection;

  function artifactFieldConds(table: ArtifactColumns, f: ArtifactFilter | ArtifactCollectionFilter): Cond[] {
    return [
      group(f.key, [anyOf(table.key, f.key?.any_), f.key?.like_ ? like(table.key, f.key.like_) : undefined, existsCond(table.key, f.key?.exists_)]),
      group(f.flow_run_id, [anyOf(table.flowRunId, canonicalUuids(f.flow_run_id?.any_))]),
      group(f.task_run_id, [anyOf(table.taskRunId, canonicalUuids(f.task_run_id?.any_))]),
      group(f.type, [anyOf(table.type, f.type?.any_), notAnyOf(table.type, f.type?.not_any_)]),
    ];
  }

  function artifactCond(f: ArtifactFilter | null | undefined): Cond {
    if (!f) return undefined;
    return combine(f.operator, [group(f.id, [anyOf(artifact.id, canonicalUuids(f.id?.any_))]), ...artifactFieldConds(artifact, f)]);
  }

  function artifactCollectionCond(f: ArtifactCollectionFilter | null | undefined): Cond {
    if (!f) return undefined;
    return combine(f.operator, [
      group(f.latest_id, [anyOf(artifactCollection.latestId, canonicalUuids(f.latest_id?.any_))]),
      ...artifactFieldConds(artifactCollection, f),
    ]);
  }

  /**
   * Artifacts (or collections) restricted through their flow run (its flow and deployment too)
   * and their task run, as EXISTS subqueries (models/artifacts.py). A present filter requires
   * the run to exist even when it is empty; a deployment filter requires the run's deployment.
   */
  function artifactRelationsWhere(table: ArtifactColumns, filters: ArtifactRelatedFilterSet): Cond {
    const { flows, flow_runs, task_runs, deployments } = filters;
    const runCond = and(
      flowRunCond(flow_runs),
      flows != null ? sql`${flowRun.flowId} IN (SELECT ${flow.id} FROM ${flow}${optionalWhere(flowCond(flows))})` : undefined,
      deployments != null
        ? sql`${flowRun.deploymentId} IN (SELECT ${deployment.id} FROM ${deployment}${optionalWhere(deploymentCond(deployments))})`
        : undefined,
    );
    const taskCond = taskRunCond(task_runs);
    return and(
      flows != null || flow_runs != null || deployments != null
        ? sql`EXISTS (SELECT 1 FROM ${flowRun} WHERE ${flowRun.id} = ${table.flowRunId}${runCond ? sql` AND ${runCond}` : sql``})`
        : undefined,
      task_runs != null
        ? sql`EXISTS (SELECT 1 FROM ${taskRun} WHERE ${taskRun.id} = ${table.taskRunId}${taskCond ? sql` AND ${taskCond}` : sql``})`
        : undefined,
    );
  }

  const optionalWhere = (cond: Cond): SQL => (cond ? sql` WHERE ${cond}` : sql``);

  function automationCond(f: AutomationFilter | null | undefined): Cond {
    if (!f) return undefined;
    return combine(f.operator, [
      group(f.id, [anyOf(automation.id, f.id?.any_)]),
      group(f.name, [anyOf(automation.name, f.name?.any_)]),
      group(f.created, [before(automation.created, f.created?.before_)]),
      tagsCond(automation.tags, f.tags),
    ]);
  }

  function blockTypeCond(f: BlockTypeFilter): Cond {
    return combine("and_", [
      group(f.name, [f.name?.like_ ? like(blockType.name, f.name.like_) : undefined]),
      group(f.slug, [anyOf(blockType.slug, f.slug?.any_)]),
    ]);
  }

  function blockSchemaCond(f: BlockSchemaFilter): Cond {
    const capabilities = f.block_capabilities?.all_;
    return combine(f.operator, [
      group(f.block_type_id, [anyOf(blockSchema.blockTypeId, canonicalUuids(f.block_type_id?.any_))]),
      // capabilities are a JSON array of strings, as tags are
      group(f.block_capabilities, [capabilities?.length ? d.hasAllTags(blockSchema.capabilities, capabilities) : undefined]),
      group(f.id, [anyOf(blockSchema.id, canonicalUuids(f.id?.any_))]),
      group(f.version, [anyOf(blockSchema.version, f.version?.any_)]),
    ]);
  }

  /** Anonymous documents are hidden unless the filter explicitly says otherwise (§4.2). */
  function blockDocumentCond(f: BlockDocumentFilter | null | undefined): Cond {
    const hideAnonymous = eq(blockDocument.isAnonymous, false);
    if (f == null) return hideAnonymous;
    const anonymity =
      f.is_anonymous === undefined
        ? hideAnonymous
        : group(f.is_anonymous, [f.is_anonymous?.eq_ == null ? undefined : eq(blockDocument.isAnonymous, f.is_anonymous.eq_)]);
    return combine(f.operator, [
      group(f.id, [anyOf(blockDocument.id, canonicalUuids(f.id?.any_))]),
      anonymity,
      group(f.block_type_id, [anyOf(blockDocument.blockTypeId, canonicalUuids(f.block_type_id?.any_))]),
      group(f.name, [anyOf(blockDocument.name, f.name?.any_), f.name?.like_ ? like(blockDocument.name, f.name.like_) : undefined]),
    ]);
  }

  /** Documents restricted by their block type and their schema, as EXISTS subqueries. */
  function blockDocumentsWhere(filters: BlockDocumentFilterSet): Cond {
    const typeCond = filters.block_types ? blockTypeCond(filters.block_types) : undefined;
    const schemaCond = filters.block_schemas ? blockSchemaCond(filters.block_schemas) : undefined;
    return and(
      blockDocumentCond(filters.block_documents),
      typeCond && sql`EXISTS (SELECT 1 FROM ${blockType} WHERE ${blockType.id} = ${blockDocument.blockTypeId} AND ${typeCond})`,
      schemaCond && sql`EXISTS (SELECT 1 FROM ${blockSchema} WHERE ${blockSchema.id} = ${blockDocument.blockSchemaId} AND ${schemaCond})`,
    );
  }

  return {
    combine,
    group,
    anyOf,
    notAnyOf,
    like,
    isNullCond,
    before,
    after,
    ge,
    le,
    eqOf,
    tagsCond,
    flowCond,
    flowRunCond,
    taskRunCond,
    flowsWhere,
    flowRunsWhere,
    taskRunsWhere,
    variableCond,
    logCond,
    deploymentCond,
    deploymentsWhere,
    workPoolCond,
    workQueueCond,
    workerCond,
    artifactCond,
    artifactCollectionCond,
    artifactRelationsWhere,
    automationCond,
    blockTypeCond,
    blockSchemaCond,
    blockDocumentsWhere,
  };
}

export interface DeploymentFilterSet extends RunFilterSet {
  deployments?: DeploymentFilter | null;
  work_pools?: WorkPoolFilter | null;
  work_pool_queues?: WorkQueueFilter | null;
}

export type Filters = ReturnType<typeof createFilters>;

export const {
  combine,
  group,
  anyOf,
  notAnyOf,
  like,
  isNullCond,
  before,
  after,
  ge,
  le,
  eqOf,
  tagsCond,
  flowCond,
  flowRunCond,
  taskRunCond,
  flowsWhere,
  flowRunsWhere,
  taskRunsWhere,
  variableCond,
  logCond,
  deploymentCond,
  deploymentsWhere,
  workPoolCond,
  workQueueCond,
  workerCond,
  artifactCond,
  artifactCollectionCond,
  artifactRelationsWhere,
  automationCond,
  blockTypeCond,
  blockSchemaCond,
  blockDocumentsWhere,
} = createFilters(sqliteSchema, sqliteDialect);
