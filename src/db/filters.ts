/**
 * Prefect's filter grammar -> SQL conditions, written once for every resource.
 * SQLite specifics (json_each for tag arrays, json_extract) stay in this file.
 */
import { and, eq, gte, inArray, isNotNull, isNull, lte, not, notInArray, or, sql, type SQL } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import { parseDateTime } from "../lib/time";
import type { FlowFilter, FlowRunFilter, RunFilterSet, TaskRunFilter } from "../schemas/filters";
import { flow, flowRun, taskRun } from "./schema";

type Cond = SQL | undefined;
type Operator = "and_" | "or_" | null | undefined;

/** Combines criteria with the object's operator; no criteria means "no restriction". */
export function combine(operator: Operator, conds: (Cond | null)[]): Cond {
  const present = conds.filter((c): c is SQL => c != null);
  if (present.length === 0) return undefined;
  return operator === "or_" ? or(...present) : and(...present);
}

export const anyOf = <T>(column: SQLiteColumn, values: T[] | null | undefined): Cond =>
  values == null ? undefined : values.length === 0 ? sql`0` : inArray(column, values);

export const notAnyOf = <T>(column: SQLiteColumn, values: T[] | null | undefined): Cond =>
  values == null || values.length === 0 ? undefined : notInArray(column, values);

/** Case-insensitive substring match (Prefect: ILIKE '%x%'). */
export const like = (column: SQLiteColumn | SQL, value: string | null | undefined): Cond =>
  value == null ? undefined : sql`${column} LIKE ${"%" + value + "%"}`;

export const isNullCond = (column: SQLiteColumn, value: boolean | null | undefined): Cond =>
  value == null ? undefined : value ? isNull(column) : isNotNull(column);

export const before = (column: SQLiteColumn | SQL, value: string | null | undefined): Cond =>
  value == null ? undefined : sql`${column} <= ${parseDateTime(value)}`;

export const after = (column: SQLiteColumn | SQL, value: string | null | undefined): Cond =>
  value == null ? undefined : sql`${column} >= ${parseDateTime(value)}`;

export const ge = (column: SQLiteColumn, value: number | null | undefined): Cond =>
  value == null ? undefined : gte(column, value);
export const le = (column: SQLiteColumn, value: number | null | undefined): Cond =>
  value == null ? undefined : lte(column, value);
export const eqOf = <T>(column: SQLiteColumn, value: T | null | undefined): Cond =>
  value == null ? undefined : eq(column, value);

const hasTag = (column: SQLiteColumn, tag: string) =>
  sql`EXISTS (SELECT 1 FROM json_each(${column}) WHERE json_each.value = ${tag})`;

interface TagCriteria {
  operator?: Operator;
  all_?: string[] | null;
  any_?: string[] | null;
  is_null_?: boolean | null;
}

/** Tag arrays: all_ = contains every tag, any_ = at least one, is_null_ = empty list. */
export function tagsCond(column: SQLiteColumn, f: TagCriteria | null | undefined): Cond {
  if (!f) return undefined;
  const empty = sql`json_array_length(${column}) = 0`;
  return combine(f.operator, [
    f.all_ == null ? undefined : and(...f.all_.map((tag) => hasTag(column, tag)), sql`1`),
    f.any_ == null ? undefined : f.any_.length === 0 ? sql`0` : or(...f.any_.map((tag) => hasTag(column, tag))),
    f.is_null_ == null ? undefined : f.is_null_ ? empty : not(empty),
  ]);
}

interface TypeNameCriteria {
  any_?: string[] | null;
  not_any_?: string[] | null;
}

function stateCond(
  stateType: SQLiteColumn,
  stateName: SQLiteColumn,
  f: { operator?: Operator; type?: TypeNameCriteria | null; name?: TypeNameCriteria | null } | null | undefined,
): Cond {
  if (!f) return undefined;
  return combine(f.operator, [
    anyOf(stateType, f.type?.any_),
    notAnyOf(stateType, f.type?.not_any_),
    anyOf(stateName, f.name?.any_),
    notAnyOf(stateName, f.name?.not_any_),
  ]);
}

export function flowCond(f: FlowFilter | null | undefined): Cond {
  if (!f) return undefined;
  return combine(f.operator, [
    anyOf(flow.id, f.id?.any_),
    notAnyOf(flow.id, f.id?.not_any_),
    anyOf(flow.name, f.name?.any_),
    like(flow.name, f.name?.like_),
    tagsCond(flow.tags, f.tags),
  ]);
}

/** Flow-run start_time before/after compare COALESCE(start_time, expected_start_time), as Prefect does. */
const effectiveStart = sql`COALESCE(${flowRun.startTime}, ${flowRun.expectedStartTime})`;

export function flowRunCond(f: FlowRunFilter | null | undefined): Cond {
  if (!f) return undefined;
  return combine(f.operator, [
    anyOf(flowRun.id, f.id?.any_),
    notAnyOf(flowRun.id, f.id?.not_any_),
    anyOf(flowRun.name, f.name?.any_),
    like(flowRun.name, f.name?.like_),
    tagsCond(flowRun.tags, f.tags),
    f.deployment_id &&
      combine(f.deployment_id.operator, [
        anyOf(flowRun.deploymentId, f.deployment_id.any_),
        isNullCond(flowRun.deploymentId, f.deployment_id.is_null_),
      ]),
    f.work_queue_name &&
      combine(f.work_queue_name.operator, [
        anyOf(flowRun.workQueueName, f.work_queue_name.any_),
        isNullCond(flowRun.workQueueName, f.work_queue_name.is_null_),
      ]),
    stateCond(flowRun.stateType, flowRun.stateName, f.state),
    anyOf(flowRun.flowVersion, f.flow_version?.any_),
    before(effectiveStart, f.start_time?.before_),
    after(effectiveStart, f.start_time?.after_),
    isNullCond(flowRun.startTime, f.start_time?.is_null_),
    before(flowRun.endTime, f.end_time?.before_),
    after(flowRun.endTime, f.end_time?.after_),
    isNullCond(flowRun.endTime, f.end_time?.is_null_),
    before(flowRun.expectedStartTime, f.expected_start_time?.before_),
    after(flowRun.expectedStartTime, f.expected_start_time?.after_),
    before(flowRun.nextScheduledStartTime, f.next_scheduled_start_time?.before_),
    after(flowRun.nextScheduledStartTime, f.next_scheduled_start_time?.after_),
    f.parent_flow_run_id?.any_ == null
      ? undefined
      : sql`${flowRun.parentTaskRunId} IN (SELECT ${taskRun.id} FROM ${taskRun} WHERE ${anyOf(taskRun.flowRunId, f.parent_flow_run_id.any_)})`,
    f.parent_task_run_id &&
      combine(f.parent_task_run_id.operator, [
        anyOf(flowRun.parentTaskRunId, f.parent_task_run_id.any_),
        isNullCond(flowRun.parentTaskRunId, f.parent_task_run_id.is_null_),
      ]),
    anyOf(flowRun.idempotencyKey, f.idempotency_key?.any_),
    notAnyOf(flowRun.idempotencyKey, f.idempotency_key?.not_any_),
    f.created_by &&
      combine(f.created_by.operator, [
        f.created_by.id_ == null ? undefined : sql`json_extract(${flowRun.createdBy}, '$.id') IN ${f.created_by.id_.length ? f.created_by.id_ : [null]}`,
        f.created_by.type_ == null ? undefined : sql`json_extract(${flowRun.createdBy}, '$.type') IN ${f.created_by.type_.length ? f.created_by.type_ : [null]}`,
        isNullCond(flowRun.createdBy, f.created_by.is_null_),
      ]),
  ]);
}

export function taskRunCond(f: TaskRunFilter | null | undefined): Cond {
  if (!f) return undefined;
  const subflows = sql`EXISTS (SELECT 1 FROM ${flowRun} WHERE ${flowRun.parentTaskRunId} = ${taskRun.id})`;
  return combine(f.operator, [
    anyOf(taskRun.id, f.id?.any_),
    notAnyOf(taskRun.id, f.id?.not_any_),
    anyOf(taskRun.name, f.name?.any_),
    like(taskRun.name, f.name?.like_),
    tagsCond(taskRun.tags, f.tags),
    stateCond(taskRun.stateType, taskRun.stateName, f.state),
    before(taskRun.startTime, f.start_time?.before_),
    after(taskRun.startTime, f.start_time?.after_),
    isNullCond(taskRun.startTime, f.start_time?.is_null_),
    before(taskRun.endTime, f.end_time?.before_),
    after(taskRun.endTime, f.end_time?.after_),
    isNullCond(taskRun.endTime, f.end_time?.is_null_),
    before(taskRun.expectedStartTime, f.expected_start_time?.before_),
    after(taskRun.expectedStartTime, f.expected_start_time?.after_),
    f.subflow_runs?.exists_ == null ? undefined : f.subflow_runs.exists_ ? subflows : not(subflows),
    // Prefect's default: a present flow_run_id filter without any_ means "not a background task".
    f.flow_run_id &&
      combine(f.flow_run_id.operator, [
        anyOf(taskRun.flowRunId, f.flow_run_id.any_),
        f.flow_run_id.is_null_ ? isNull(taskRun.flowRunId) : f.flow_run_id.any_ == null ? isNotNull(taskRun.flowRunId) : undefined,
      ]),
  ]);
}

/** Flows restricted by the other objects (4.3 of the API reference): present filters join even when empty. */
export function flowsWhere(filters: RunFilterSet): Cond {
  if (filters.flow_runs == null && filters.task_runs == null) return flowCond(filters.flows);
  const runCond = and(flowRunCond(filters.flow_runs), taskRunsOfRun(filters.task_runs));
  return and(
    flowCond(filters.flows),
    sql`EXISTS (SELECT 1 FROM ${flowRun} WHERE ${flowRun.flowId} = ${flow.id}${runCond ? sql` AND ${runCond}` : sql``})`,
  );
}

function taskRunsOfRun(f: TaskRunFilter | null | undefined): Cond {
  if (f == null) return undefined;
  const cond = taskRunCond(f);
  return sql`EXISTS (SELECT 1 FROM ${taskRun} WHERE ${taskRun.flowRunId} = ${flowRun.id}${cond ? sql` AND ${cond}` : sql``})`;
}

export function flowRunsWhere(filters: RunFilterSet): Cond {
  const flows = filters.flows != null ? flowCond(filters.flows) : undefined;
  return and(
    flowRunCond(filters.flow_runs),
    filters.flows != null ? sql`${flowRun.flowId} IN (SELECT ${flow.id} FROM ${flow}${flows ? sql` WHERE ${flows}` : sql``})` : undefined,
    taskRunsOfRun(filters.task_runs),
  );
}

export function taskRunsWhere(filters: RunFilterSet): Cond {
  const needsRun = filters.flow_runs != null || filters.flows != null;
  const runCond = needsRun ? flowRunsWhere({ flows: filters.flows, flow_runs: filters.flow_runs }) : undefined;
  return and(
    taskRunCond(filters.task_runs),
    needsRun ? sql`${taskRun.flowRunId} IN (SELECT ${flowRun.id} FROM ${flowRun}${runCond ? sql` WHERE ${runCond}` : sql``})` : undefined,
  );
}
