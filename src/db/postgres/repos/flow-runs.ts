import { and, asc, count, eq, gt, gte, inArray, lte, notInArray, sql, type Column, type SQL } from "drizzle-orm";
import { alias } from "drizzle-orm/pg-core";
import type { JsonObject } from "../../../lib/json";
import { formatDateTime, MICROS_PER_SECOND, type Micros } from "../../../lib/time";
import type { OrchestrationResult } from "../../../orchestration/context";
import { TERMINAL_STATES, type State, type StateType } from "../../../orchestration/states";
import type { RunFilterSet } from "../../../schemas/filters";
import type { FlowRunRepo } from "../../repositories";
import {
  CANCELLABLE_SUBFLOW_STATES,
  flowRunLabels,
  fromJoined,
  inputSchemaKey,
  resumption,
  type CreatedFlowRun,
  type FlowRunInputRow,
  type FlowRunInsert,
  type FlowRunPatch,
  type FlowRunSort,
  type FlowRunWithState,
  type InputCreation,
  type LateRunCandidate,
  type ScheduledRunInsert,
  type SubflowToCancel,
} from "../../repos/flow-runs";
import { stateRowValues, type FlowRunRow, type RunStateRef } from "../../repos/run-mapping";
import { ascNullsLast, descNullsFirst, runSortOrders } from "../../repos/run-sorts";
import type { TransitionOptions } from "../../repos/transitions";
import type { Op } from "../../unit-of-work";
import { byCodePoint, flowRunsWhere } from "../filters";
import { query, type PgConnection } from "../query";
import { deployment, flow, flowRun, flowRunInput, flowRunState, log, taskRun, workPool, workQueue } from "../schema";
import { PgRunRepository } from "./runs";
import type { PgRunTransitions } from "./transitions";

const effectiveStart = sql`COALESCE(${flowRun.startTime}, ${flowRun.expectedStartTime})`;
const ORDER: Record<FlowRunSort, SQL[]> = {
  ...runSortOrders(flowRun, byCodePoint),
  START_TIME_ASC: ascNullsLast(effectiveStart, flowRun.id),
  START_TIME_DESC: descNullsFirst(effectiveStart, flowRun.id),
};

const currentState = alias(flowRunState, "current_state");
/** The flow run that contains a subflow's parent task run. */
const containingRun = alias(flowRun, "containing_run");

/** Cursor paging in id order: rows after `afterId` (all rows when null). */
const afterRun = (afterId: string | null): SQL | undefined => (afterId === null ? undefined : gt(flowRun.id, afterId));

/** An instant as the integer microseconds SQLite stores, for arithmetic (exact: `numeric`). */
const micros = (instant: SQL | Column) => sql`(EXTRACT(EPOCH FROM ${instant}) * 1000000)`;
/** An instant bound in raw SQL (which bypasses the columns' mapping). */
const boundInstant = (value: Micros) => sql`${formatDateTime(value)}::timestamptz`;

/** Runs joined with their current state and their queue's work pool. */
const joined = (db: PgConnection) =>
  db
    .select({ run: flowRun, state: currentState, workPoolId: workPool.id, workPoolName: workPool.name })
    .from(flowRun)
    .leftJoin(currentState, eq(currentState.id, flowRun.stateId))
    .leftJoin(workQueue, eq(workQueue.id, flowRun.workQueueId))
    .leftJoin(workPool, eq(workPool.id, workQueue.workPoolId));

/** src/db/repos/flow-runs.ts on PostgreSQL. */
export class PgFlowRunRepository extends PgRunRepository<FlowRunWithState, FlowRunSort> implements FlowRunRepo {
  constructor(private readonly transitions: PgRunTransitions) {
    super({ run: flowRun, state: flowRunState, stateRunId: flowRunState.flowRunId, where: flowRunsWhere });
  }

  /**
   * Inserts a run and writes its initial state (forced, as Prefect does), or returns the
   * existing run with the same (flow_id, idempotency_key) untouched. ON CONFLICT, not
   * look-then-insert: two creates with one key at once (two replicas, or two requests of
   * one) insert one run and both answer it.
   */
  *create(input: FlowRunInsert, initialState: State, options: TransitionOptions, now: Micros): Op<CreatedFlowRun> {
    const id = Bun.randomUUIDv7();
    const values = { id, created: now, updated: now, ...input, labels: yield* this.systemLabels(input) };
    const inserted = yield* query((db) =>
      db.insert(flowRun).values(values).onConflictDoNothing({ target: [flowRun.flowId, flowRun.idempotencyKey] }).returning({ id: flowRun.id }),
    );
    if (inserted.length === 0) {
      const [existing] = yield* query((db) =>
        db
          .select({ id: flowRun.id })
          .from(flowRun)
          .where(and(eq(flowRun.flowId, input.flowId), eq(flowRun.idempotencyKey, input.idempotencyKey!))),
      );
      return { ...(yield* this.get(existing!.id))!, created: false };
    }
    yield* this.transitions.setFlowRunState(id, initialState, { ...options, force: true }, now);
    return { ...(yield* this.get(id))!, created: true };
  }

  /** Prefect's system labels (`flowRunLabels`), from the deployment's labels or else the flow's. */
  private *systemLabels(input: FlowRunInsert): Op<JsonObject> {
    const deploymentId = input.deploymentId;
    const [parent] = deploymentId
      ? yield* query((db) => db.select({ labels: deployment.labels }).from(deployment).where(eq(deployment.id, deploymentId)))
      : [];
    const [flowRow] = parent ? [] : yield* query((db) => db.select({ labels: flow.labels }).from(flow).where(eq(flow.id, input.flowId)));
    return flowRunLabels(input, parent?.labels, flowRow?.labels);
  }

  *get(id: string): Op<FlowRunWithState | undefined> {
    const [row] = yield* query((db) => joined(db).where(eq(flowRun.id, id)));
    return row && fromJoined(row);
  }

  *exists(id: string): Op<boolean> {
    return (yield* query((db) => db.select({ id: flowRun.id }).from(flowRun).where(eq(flowRun.id, id)))).length > 0;
  }

  *list(filters: RunFilterSet, sort: FlowRunSort, limit: number, offset: number): Op<FlowRunWithState[]> {
    const rows = yield* query((db) => joined(db).where(flowRunsWhere(filters)).orderBy(...ORDER[sort]).limit(limit).offset(offset));
    return rows.map(fromJoined);
  }

  /**
   * The average `estimated_start_time_delta` in seconds of the matching runs (null when none
   * match): how late a run started, or for one not started, not final and past its expected
   * start, how late it is at `now`. Summed exactly in microseconds and divided here, so the
   * answer is SQLite's to the last bit (its avg() divides its exact integer sum).
   */
  *averageLateness(filters: RunFilterSet, now: Micros): Op<number | null> {
    const { startTime: start, expectedStartTime: expected, stateType } = flowRun;
    const at = boundInstant(now);
    const lateness = sql`CASE
      WHEN ${start} IS NOT NULL AND ${expected} IS NOT NULL AND ${start} > ${expected} THEN ${micros(start)} - ${micros(expected)}
      WHEN ${start} IS NULL AND ${expected} IS NOT NULL AND ${expected} < ${at}
        AND (${stateType} IS NULL OR ${stateType} NOT IN ${[...TERMINAL_STATES]}) THEN ${micros(at)} - ${micros(expected)}
      ELSE 0 END`;
    const [row] = yield* query((db) =>
      db.select({ total: sql<string | null>`sum(${lateness})::text`, n: count() }).from(flowRun).where(flowRunsWhere(filters)),
    );
    return row!.n === 0 || row!.total === null ? null : Number(row!.total) / row!.n / MICROS_PER_SECOND;
  }

  *update(id: string, patch: FlowRunPatch, now: Micros): Op<boolean> {
    return (yield* query((db) => db.update(flowRun).set({ ...patch, updated: now }).where(eq(flowRun.id, id)).returning({ id: flowRun.id }))).length > 0;
  }

  /** Merges labels over the run's existing labels in one statement (jsonb `||`: the right side's keys win); false when the run does not exist. */
  *mergeLabels(id: string, labels: JsonObject, now: Micros): Op<boolean> {
    const merged = sql`${flowRun.labels} || ${JSON.stringify(labels)}::jsonb`;
    return (yield* query((db) => db.update(flowRun).set({ labels: merged, updated: now }).where(eq(flowRun.id, id)).returning({ id: flowRun.id }))).length > 0;
  }

  /** Deletes the run (states, task runs and inputs cascade) and its logs. */
  *delete(id: string): Op<boolean> {
    const deleted = (yield* query((db) => db.delete(flowRun).where(eq(flowRun.id, id)).returning({ id: flowRun.id }))).length > 0;
    if (deleted) yield* query((db) => db.delete(log).where(eq(log.flowRunId, id)));
    return deleted;
  }

  *bulkDelete(filters: RunFilterSet, limit: number): Op<string[]> {
    const ids = (yield* query((db) => db.select({ id: flowRun.id }).from(flowRun).where(flowRunsWhere(filters)).limit(limit))).map((r) => r.id);
    if (ids.length > 0) {
      yield* query((db) => db.delete(flowRun).where(inArray(flowRun.id, ids)));
      yield* query((db) => db.delete(log).where(inArray(log.flowRunId, ids)));
    }
    return ids;
  }

  *setState(id: string, proposed: State, options: TransitionOptions, now: Micros): Op<OrchestrationResult | null> {
    return yield* this.transitions.setFlowRunState(id, proposed, options, now);
  }

  /**
   * Resumes a paused run: validates input against the schema the pause stored, proposes
   * Running (or Scheduled "Resuming" for a suspended run), and keeps the input when the
   * transition is accepted. The run is locked first, so the PAUSED state checked here is
   * the one the transition leaves. Null when the run does not exist.
   */
  *resume(
    id: string,
    runInput: JsonObject | null,
    validate: (value: unknown, schema: object) => string | null,
    options: TransitionOptions,
    now: Micros,
  ): Op<OrchestrationResult | null> {
    if ((yield* query((db) => db.select({ id: flowRun.id }).from(flowRun).where(eq(flowRun.id, id)).for("update"))).length === 0) return null;
    const current = (yield* this.get(id))!;
    const schemaKey = inputSchemaKey(current.state);
    const decision = resumption(current.state, runInput, schemaKey ? yield* this.readInput(id, schemaKey) : undefined, validate, now);
    if ("answer" in decision) return decision.answer;
    const result = (yield* this.transitions.setFlowRunState(id, decision.proposed, options, now))!;
    const responseKey = decision.responseKey;
    if (responseKey && result.status === "ACCEPT") {
      const row = { id: Bun.randomUUIDv7(), created: now, updated: now, flowRunId: id, key: responseKey, value: JSON.stringify(runInput), sender: null };
      yield* query((db) => db.insert(flowRunInput).values(row));
    }
    return result;
  }

  /** Subflow runs of a flow run, keyed by their tracking task run id, with their flow's name. */
  *subflowsByParentTask(flowRunId: string): Op<Map<string, { run: FlowRunRow; flowName: string }>> {
    const rows = yield* query((db) =>
      db
        .select({ run: flowRun, flowName: flow.name })
        .from(flowRun)
        .innerJoin(flow, eq(flow.id, flowRun.flowId))
        .where(inArray(flowRun.parentTaskRunId, db.select({ id: taskRun.id }).from(taskRun).where(eq(taskRun.flowRunId, flowRunId)))),
    );
    return new Map(rows.map((r) => [r.run.parentTaskRunId!, r]));
  }

  /**
   * Inserts scheduler-generated runs with their Scheduled state, skipping any whose
   * (flow_id, idempotency_key) already exists: running the scheduler twice, or on two
   * replicas at once, never duplicates a run. Returns the inserted ids.
   */
  *insertScheduled(runs: ScheduledRunInsert[], now: Micros): Op<string[]> {
    const inserted: string[] = [];
    for (const { state, ...run } of runs) {
      const values = { ...run, created: now, updated: now, stateId: state.id, stateType: state.type, stateName: state.name, stateTimestamp: state.timestamp };
      const [row] = yield* query((db) =>
        db.insert(flowRun).values(values).onConflictDoNothing({ target: [flowRun.flowId, flowRun.idempotencyKey] }).returning({ id: flowRun.id }),
      );
      if (!row) continue;
      yield* query((db) => db.insert(flowRunState).values({ ...stateRowValues(state), flowRunId: row.id }));
      inserted.push(row.id);
    }
    return inserted;
  }

  /** Runs per queue whose state type is one of `stateTypes` (what queue and pool concurrency limits count). */
  *activeCounts(queueIds: string[], stateTypes: string[]): Op<Map<string, number>> {
    if (queueIds.length === 0) return new Map();
    const rows = yield* query((db) =>
      db
        .select({ queueId: flowRun.workQueueId, n: count() })
        .from(flowRun)
        .where(and(inArray(flowRun.workQueueId, queueIds), inArray(flowRun.stateType, stateTypes)))
        .groupBy(flowRun.workQueueId),
    );
    return new Map(rows.map((r) => [r.queueId!, r.n]));
  }

  /**
   * A queue's SCHEDULED runs that a worker may pick up, soonest first: not in-process
   * retries (their engine is still running them), within the optional time window.
   */
  *pollableInQueue(queueId: string, window: { before: Micros | null; after: Micros | null }, limit: number): Op<FlowRunWithState[]> {
    if (limit <= 0) return [];
    const rows = yield* query((db) =>
      joined(db)
        .where(
          and(
            eq(flowRun.workQueueId, queueId),
            eq(flowRun.stateType, "SCHEDULED"),
            sql`coalesce(${flowRun.empiricalPolicy} ->> 'retry_type', '') != 'in_process'`,
            window.before === null ? undefined : lte(flowRun.nextScheduledStartTime, window.before),
            window.after === null ? undefined : gte(flowRun.nextScheduledStartTime, window.after),
          ),
        )
        .orderBy(asc(flowRun.nextScheduledStartTime))
        .limit(limit),
    );
    return rows.map(fromJoined);
  }

  // Background-service selections. Services page through them by id and re-check each
  // run with setStateIfCurrent, so a selection may be slightly stale.

  /**
   * SCHEDULED runs due by `dueBy` whose state is named exactly "Scheduled": AwaitingRetry,
   * AwaitingConcurrencySlot, Resuming and runs already Late are not late-run candidates.
   */
  *lateRunCandidates(dueBy: Micros, limit: number): Op<LateRunCandidate[]> {
    return yield* query((db) =>
      db
        .select({ id: flowRun.id, stateId: flowRun.stateId, nextScheduledStartTime: flowRun.nextScheduledStartTime })
        .from(flowRun)
        .where(and(eq(flowRun.stateType, "SCHEDULED"), eq(flowRun.stateName, "Scheduled"), lte(flowRun.nextScheduledStartTime, dueBy)))
        .limit(limit),
    );
  }

  /** CANCELLED runs that ended at or after `since`. */
  *cancelledSince(since: Micros, afterId: string | null, limit: number): Op<{ id: string }[]> {
    return yield* query((db) =>
      db
        .select({ id: flowRun.id })
        .from(flowRun)
        .where(and(eq(flowRun.stateType, "CANCELLED"), gte(flowRun.endTime, since), afterRun(afterId)))
        .orderBy(asc(flowRun.id))
        .limit(limit),
    );
  }

  /** Unfinished subflow runs whose containing flow run (their parent task run's flow run) is CANCELLED. */
  *subflowsOfCancelledRuns(afterId: string | null, limit: number): Op<SubflowToCancel[]> {
    const rows = yield* query((db) =>
      db
        .select({ id: flowRun.id, stateId: flowRun.stateId, stateType: flowRun.stateType, deploymentId: flowRun.deploymentId })
        .from(flowRun)
        .innerJoin(taskRun, eq(taskRun.id, flowRun.parentTaskRunId))
        .innerJoin(containingRun, eq(containingRun.id, taskRun.flowRunId))
        .where(and(inArray(flowRun.stateType, CANCELLABLE_SUBFLOW_STATES), eq(containingRun.stateType, "CANCELLED"), afterRun(afterId)))
        .orderBy(asc(flowRun.id))
        .limit(limit),
    );
    return rows.map((r) => ({ ...r, stateType: r.stateType as StateType }));
  }

  /** Runs whose current CANCELLING state began at or before `enteredBy`. */
  *cancellingSince(enteredBy: Micros, afterId: string | null, limit: number): Op<RunStateRef[]> {
    return yield* query((db) =>
      db
        .select({ id: flowRun.id, stateId: flowRun.stateId })
        .from(flowRun)
        .where(and(eq(flowRun.stateType, "CANCELLING"), lte(flowRun.stateTimestamp, enteredBy), afterRun(afterId)))
        .orderBy(asc(flowRun.id))
        .limit(limit),
    );
  }

  /** PAUSED runs whose current state's `pause_timeout` (microseconds in the state's details) is before `now`. */
  *expiredPauses(now: Micros, afterId: string | null, limit: number): Op<RunStateRef[]> {
    return yield* query((db) =>
      db
        .select({ id: flowRun.id, stateId: flowRun.stateId })
        .from(flowRun)
        .innerJoin(currentState, eq(currentState.id, flowRun.stateId))
        .where(
          and(
            eq(flowRun.stateType, "PAUSED"),
            sql`(${currentState.stateDetails} ->> 'pause_timeout')::numeric < ${now}::bigint`,
            afterRun(afterId),
          ),
        )
        .orderBy(asc(flowRun.id))
        .limit(limit),
    );
  }

  // Flow-run inputs (pause/suspend with input, send_input/receive_input).

  /**
   * Returns "missing_run" or "duplicate" instead of inserting when those apply. The run is
   * locked against deletion (FOR KEY SHARE, what the foreign key itself takes) and a key
   * another transaction inserts at the same time is a duplicate (ON CONFLICT), not a 409.
   */
  *createInput(flowRunId: string, key: string, value: string, sender: string | null, now: Micros): Op<InputCreation> {
    const run = yield* query((db) => db.select({ id: flowRun.id }).from(flowRun).where(eq(flowRun.id, flowRunId)).for("key share"));
    if (run.length === 0) return "missing_run";
    const inserted = yield* query((db) =>
      db
        .insert(flowRunInput)
        .values({ id: Bun.randomUUIDv7(), created: now, updated: now, flowRunId, key, value, sender })
        .onConflictDoNothing({ target: [flowRunInput.flowRunId, flowRunInput.key] })
        .returning({ id: flowRunInput.id }),
    );
    return inserted.length > 0 ? "created" : "duplicate";
  }

  *readInput(flowRunId: string, key: string): Op<FlowRunInputRow | undefined> {
    const [row] = yield* query((db) => db.select().from(flowRunInput).where(and(eq(flowRunInput.flowRunId, flowRunId), eq(flowRunInput.key, key))));
    return row;
  }

  *filterInputs(flowRunId: string, prefix: string, limit: number, excludeKeys: string[]): Op<FlowRunInputRow[]> {
    return yield* query((db) =>
      db
        .select()
        .from(flowRunInput)
        .where(
          and(
            eq(flowRunInput.flowRunId, flowRunId),
            sql`starts_with(${flowRunInput.key}, ${prefix})`,
            excludeKeys.length ? notInArray(flowRunInput.key, excludeKeys) : undefined,
          ),
        )
        .orderBy(asc(flowRunInput.created))
        .limit(limit),
    );
  }

  *deleteInput(flowRunId: string, key: string): Op<boolean> {
    const deleted = yield* query((db) =>
      db
        .delete(flowRunInput)
        .where(and(eq(flowRunInput.flowRunId, flowRunId), eq(flowRunInput.key, key)))
        .returning({ id: flowRunInput.id }),
    );
    return deleted.length > 0;
  }
}
