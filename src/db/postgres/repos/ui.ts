import { and, asc, count, eq, inArray, isNotNull, min, sql } from "drizzle-orm";
import { parseDateTime, type Micros } from "../../../lib/time";
import type { RunFilterSet } from "../../../schemas/filters";
import type { UiRepo } from "../../repositories";
import type { NextScheduledRun, ObservedState } from "../../repos/ui";
import type { Op } from "../../unit-of-work";
import { flowRunsWhere, taskRunCond } from "../filters";
import { query } from "../query";
import { deployment, flowRun, flowRunState, taskRun, taskRunState } from "../schema";

/** Task runs restricted by themselves and through their flow run (its flow, deployment, queue and pool). */
function taskRunsMatching(filters: RunFilterSet) {
  const { task_runs, ...runFilters } = filters;
  const throughRun = Object.values(runFilters).some((filter) => filter != null);
  const runCond = throughRun ? flowRunsWhere(runFilters) : undefined;
  return and(
    taskRunCond(task_runs),
    throughRun
      ? sql`EXISTS (SELECT 1 FROM ${flowRun} WHERE ${flowRun.id} = ${taskRun.flowRunId}${runCond ? sql` AND ${runCond}` : sql``})`
      : undefined,
  );
}

/** An instant a raw query returned as PostgreSQL's text. */
function instantOf(text: string): Micros {
  const micros = parseDateTime(text);
  if (micros === null) throw new Error(`unreadable timestamptz from PostgreSQL: ${text}`);
  return micros;
}

/** src/db/repos/ui.ts on PostgreSQL. */
export class PgUiQueries implements UiRepo {
  /** How many deployments each flow has, for the flows that have any. */
  *deploymentCounts(flowIds: string[]): Op<Map<string, number>> {
    const rows = yield* query((db) =>
      db.select({ flowId: deployment.flowId, n: count() }).from(deployment).where(inArray(deployment.flowId, flowIds)).groupBy(deployment.flowId),
    );
    return new Map(rows.map((row) => [row.flowId, row.n]));
  }

  /** Each flow's SCHEDULED run with the earliest next scheduled start (the last one read on a tie, as in Prefect). */
  *nextScheduledRuns(flowIds: string[]): Op<Map<string, NextScheduledRun>> {
    const scheduled = and(inArray(flowRun.flowId, flowIds), eq(flowRun.stateType, "SCHEDULED"));
    const rows = yield* query((db) => {
      const earliest = db
        .select({ flowId: flowRun.flowId, first: min(flowRun.nextScheduledStartTime).as("first") })
        .from(flowRun)
        .where(scheduled)
        .groupBy(flowRun.flowId)
        .as("earliest");
      return db
        .select({
          id: flowRun.id,
          flowId: flowRun.flowId,
          name: flowRun.name,
          stateName: flowRun.stateName,
          stateType: flowRun.stateType,
          nextScheduledStartTime: flowRun.nextScheduledStartTime,
        })
        .from(flowRun)
        .innerJoin(earliest, and(eq(earliest.flowId, flowRun.flowId), eq(earliest.first, flowRun.nextScheduledStartTime)))
        .where(eq(flowRun.stateType, "SCHEDULED"))
        .orderBy(asc(flowRun.id));
    });
    return new Map(rows.map((row) => [row.flowId, row]));
  }

  /** How many task runs each flow run has, leaving out the task runs that stand for subflow runs. */
  *taskRunCounts(flowRunIds: string[]): Op<Map<string, number>> {
    const subflow = sql`EXISTS (SELECT 1 FROM ${flowRun} AS subflow WHERE subflow.parent_task_run_id = ${taskRun.id})`;
    const rows = yield* query((db) =>
      db
        .select({ flowRunId: taskRun.flowRunId, n: count() })
        .from(taskRun)
        .where(and(inArray(taskRun.flowRunId, flowRunIds), sql`NOT ${subflow}`))
        .groupBy(taskRun.flowRunId),
    );
    return new Map(rows.flatMap((row) => (row.flowRunId === null ? [] : [[row.flowRunId, row.n] as const])));
  }

  /** Matching task runs counted by state type (runs without a state are left out). */
  *taskRunCountsByState(filters: RunFilterSet): Op<Map<string, number>> {
    const rows = yield* query((db) =>
      db
        .select({ stateType: taskRun.stateType, n: count() })
        .from(taskRun)
        .where(and(isNotNull(taskRun.stateType), taskRunsMatching(filters)))
        .groupBy(taskRun.stateType),
    );
    return new Map(rows.flatMap((row) => (row.stateType === null ? [] : [[row.stateType, row.n] as const])));
  }

  /** Start time and state type of the matching task runs that have started. */
  *taskRunStarts(filters: RunFilterSet): Op<{ startTime: Micros; stateType: string | null }[]> {
    const rows = yield* query((db) =>
      db
        .select({ startTime: taskRun.startTime, stateType: taskRun.stateType })
        .from(taskRun)
        .where(and(isNotNull(taskRun.startTime), taskRunsMatching(filters))),
    );
    return rows.flatMap((row) => (row.startTime === null ? [] : [{ startTime: row.startTime, stateType: row.stateType }]));
  }

  /**
   * Every (state type, state name) pair seen in flow-run and task-run histories, with when
   * it was first and last seen; `prefix` matches the start of either (Prefect's observed-states).
   * ILIKE for SQLite's LIKE (case-insensitive), and names sorted by code point as SQLite sorts them.
   */
  *observedStates(prefix: string | null, order: "NAME_ASC" | "LAST_SEEN_DESC", limit: number): Op<ObservedState[]> {
    const pattern = prefix ? `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%` : null;
    const byName = sql`type COLLATE "C", name COLLATE "C"`;
    const orderBy = order === "LAST_SEEN_DESC" ? sql`last_seen DESC, ${byName}` : byName;
    // One group per history, then combined: only distinct pairs reach the union, as in Prefect.
    const rows = yield* query((db) =>
      db.execute<{ type: string; name: string; first_seen: string; last_seen: string }>(sql`
        SELECT type, name, min(first_seen) AS first_seen, max(last_seen) AS last_seen FROM (
          SELECT ${flowRunState.type} AS type, ${flowRunState.name} AS name, min(${flowRunState.timestamp}) AS first_seen, max(${flowRunState.timestamp}) AS last_seen
            FROM ${flowRunState} GROUP BY 1, 2
          UNION ALL
          SELECT ${taskRunState.type}, ${taskRunState.name}, min(${taskRunState.timestamp}), max(${taskRunState.timestamp})
            FROM ${taskRunState} GROUP BY 1, 2
        ) AS seen
        WHERE ${pattern}::text IS NULL OR type ILIKE ${pattern}::text ESCAPE '\\' OR name ILIKE ${pattern}::text ESCAPE '\\'
        GROUP BY 1, 2 ORDER BY ${orderBy} LIMIT ${limit}`),
    );
    return rows.map((row) => ({ stateType: row.type, stateName: row.name, firstSeen: instantOf(row.first_seen), lastSeen: instantOf(row.last_seen) }));
  }
}
