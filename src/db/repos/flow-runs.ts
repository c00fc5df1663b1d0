import { and, asc, eq, gt, gte, inArray, lte, sql, type SQL } from "drizzle-orm";
import { alias } from "drizzle-orm/sqlite-core";
import type { JsonObject } from "../../lib/json";
import { MICROS_PER_SECOND, type Micros } from "../../lib/time";
import type { OrchestrationResult } from "../../orchestration/context";
import { newState, TERMINAL_STATES, type State, type StateType } from "../../orchestration/states";
import type { RunFilterSet } from "../../schemas/filters";
import { BulkInsert } from "../bulk-insert";
import type { SqliteDb } from "../client";
import { flowRunsWhere } from "../filters";
import { deployment, flow, flowRun, flowRunInput, flowRunState, log, taskRun, workPool, workQueue } from "../schema";
import { ascNullsLast, descNullsFirst, runSortOrders } from "./run-sorts";
import { stateFromRow, stateRowValues, type FlowRunRow, type RunStateRef, type StateRow } from "./run-mapping";
import { RunRepository, type RunTables } from "./runs";
import { RunTransitions, type TransitionOptions } from "./transitions";
import type { Op } from "../unit-of-work";

export type FlowRunSort =
  | "ID_DESC"
  | "START_TIME_ASC"
  | "START_TIME_DESC"
  | "EXPECTED_START_TIME_ASC"
  | "EXPECTED_START_TIME_DESC"
  | "NAME_ASC"
  | "NAME_DESC"
  | "NEXT_SCHEDULED_START_TIME_ASC"
  | "END_TIME_DESC";

const effectiveStart = sql`COALESCE(${flowRun.startTime}, ${flowRun.expectedStartTime})`;
const ORDER: Record<FlowRunSort, SQL[]> = {
  ...runSortOrders(flowRun),
  START_TIME_ASC: ascNullsLast(effectiveStart, flowRun.id),
  START_TIME_DESC: descNullsFirst(effectiveStart, flowRun.id),
};

/** A flow run with its current state and work pool, as the API returns it. */
export interface FlowRunWithState {
  run: FlowRunRow;
  state: State | null;
  workPool: { id: string; name: string } | null;
}

type JoinedRow = { run: FlowRunRow; state: StateRow | null; workPoolId: string | null; workPoolName: string | null };

/** A run joined with its current state and its queue's work pool, as the API reads it (either backend's row). */
export const fromJoined = (r: JoinedRow): FlowRunWithState => ({
  run: r.run,
  state: r.state ? stateFromRow(r.state) : null,
  workPool: r.workPoolId && r.workPoolName ? { id: r.workPoolId, name: r.workPoolName } : null,
});

export interface FlowRunInsert {
  flowId: string;
  workQueueName: string | null;
  deploymentVersion: string | null;
  name: string;
  flowVersion: string | null;
  parameters: JsonObject;
  context: JsonObject;
  parentTaskRunId: string | null;
  infrastructureDocumentId: string | null;
  empiricalPolicy: JsonObject;
  tags: string[];
  labels: JsonObject;
  idempotencyKey: string | null;
  deploymentId: string | null;
  workQueueId: string | null;
  jobVariables: JsonObject | null;
  createdBy: JsonObject | null;
}

/** A run the scheduler creates directly, with its first state (no orchestration, as in Prefect). */
export type ScheduledRunInsert = Omit<typeof flowRun.$inferInsert, "created" | "updated" | "stateId" | "stateType" | "stateName" | "stateTimestamp"> & {
  id: string;
  state: State;
};

/** What `create` answers: the run, and whether this call inserted it (false: an idempotent repeat). */
export type CreatedFlowRun = FlowRunWithState & { created: boolean };

export type FlowRunInputRow = typeof flowRunInput.$inferSelect;

/** What `createInput` did. */
export type InputCreation = "created" | "missing_run" | "duplicate";

export type FlowRunPatch = Partial<
  Pick<FlowRunRow, "name" | "flowVersion" | "parameters" | "empiricalPolicy" | "tags" | "infrastructurePid" | "jobVariables" | "labels">
>;

const currentState = alias(flowRunState, "current_state");
/** The flow run that contains a subflow's parent task run. */
const containingRun = alias(flowRun, "containing_run");

/** Subflow states the cancellation-cleanup service still has to act on (Prefect's list). */
export const CANCELLABLE_SUBFLOW_STATES: StateType[] = ["PENDING", "SCHEDULED", "RUNNING", "PAUSED", "CANCELLING"];

/** Cursor paging in id order: rows after `afterId` (all rows when null). */
const afterRun = (afterId: string | null): SQL | undefined => (afterId === null ? undefined : gt(flowRun.id, afterId));

/**
 * Prefect's system labels: a deployment run starts from its deployment's labels plus
 * prefect.flow.id and prefect.deployment.id; any other run from its flow's labels plus
 * prefect.flow.id. The run's own labels win.
 */
export function flowRunLabels(input: FlowRunInsert, deploymentLabels: JsonObject | undefined, flowLabels: JsonObject | undefined): JsonObject {
  if (deploymentLabels) {
    return { ...deploymentLabels, "prefect.flow.id": input.flowId, "prefect.deployment.id": input.deploymentId!, ...input.labels };
  }
  return { ...(flowLabels ?? {}), "prefect.flow.id": input.flowId, ...input.labels };
}

/** How a resume goes, decided from the run's current state before anything is written. */
export type Resumption = { answer: OrchestrationResult } | { proposed: State; responseKey: string | null };

/**
 * Resuming a run in `state`: not paused is an abort; with a run-input keyset, the input must
 * validate against the schema the pause stored (`schemaRow`, read by the caller) or it is
 * rejected. Otherwise Running is proposed (Scheduled "Resuming" for a suspended run), and
 * the input is kept under `responseKey` if the transition is accepted.
 */
export function resumption(
  state: State | null,
  runInput: JsonObject | null,
  schemaRow: FlowRunInputRow | undefined,
  validate: (value: unknown, schema: object) => string | null,
  now: Micros,
): Resumption {
  if (state?.type !== "PAUSED") {
    return { answer: { state: null, status: "ABORT", details: { type: "abort_details", reason: "Cannot resume a flow run that is not paused." } } };
  }
  const keyset = state.state_details.run_input_keyset;
  if (keyset) {
    const reject = (reason: string): Resumption => ({ answer: { state, status: "REJECT", details: { type: "reject_details", reason } } });
    if (!schemaRow) return reject("Run input schema not found.");
    let schema: unknown;
    try {
      schema = JSON.parse(schemaRow.value);
    } catch {
      return reject("Run input schema is not valid JSON.");
    }
    const failure = validate(runInput ?? {}, schema as object);
    if (failure) return reject(`Reason: ${failure}`);
  }
  const proposed = state.state_details.pause_reschedule
    ? newState("SCHEDULED", now, { name: "Resuming", state_details: { scheduled_time: now } })
    : newState("RUNNING", now);
  const keepsInput = keyset?.response && runInput && Object.keys(runInput).length > 0;
  return { proposed, responseKey: keepsInput ? keyset.response! : null };
}

/** The schema key a paused state's run-input keyset names, if any. */
export const inputSchemaKey = (state: State | null): string | null => (state?.type === "PAUSED" ? (state.state_details.run_input_keyset?.schema ?? null) : null);

export interface LateRunCandidate extends RunStateRef {
  nextScheduledStartTime: Micros | null;
}

export interface SubflowToCancel extends RunStateRef {
  stateType: StateType;
  deploymentId: string | null;
}

const TABLES: RunTables = {
  run: { ...flowRun, table: flowRun },
  state: { table: flowRunState, id: flowRunState.id, runId: flowRunState.flowRunId, timestamp: flowRunState.timestamp },
  where: flowRunsWhere,
};

export class FlowRunRepository extends RunRepository<FlowRunWithState, FlowRunSort> {
  private readonly byId;
  private readonly byIdempotencyKey;
  private readonly scheduledRuns: BulkInsert<typeof flowRun>;
  private readonly scheduledStates: BulkInsert<typeof flowRunState>;

  constructor(
    db: SqliteDb,
    private readonly transitions: RunTransitions,
  ) {
    super(db, TABLES);
    this.byId = this.joined().where(eq(flowRun.id, sql.placeholder("id"))).prepare();
    this.byIdempotencyKey = db
      .select({ id: flowRun.id })
      .from(flowRun)
      .where(and(eq(flowRun.flowId, sql.placeholder("flowId")), eq(flowRun.idempotencyKey, sql.placeholder("key"))))
      .prepare();
    this.scheduledRuns = new BulkInsert(db.$client, flowRun, { skipConflictsOn: [flowRun.flowId, flowRun.idempotencyKey] });
    this.scheduledStates = new BulkInsert(db.$client, flowRunState);
  }

  /**
   * Inserts a run and writes its initial state (forced, as Prefect does), or returns
   * the existing run with the same (flow_id, idempotency_key) untouched.
   */
  *create(input: FlowRunInsert, initialState: State, options: TransitionOptions, now: Micros): Op<CreatedFlowRun> {
    if (input.idempotencyKey != null) {
      const existing = this.byIdempotencyKey.get({ flowId: input.flowId, key: input.idempotencyKey });
      if (existing) return { ...this.readRun(existing.id)!, created: false };
    }
    const id = Bun.randomUUIDv7();
    this.db
      .insert(flowRun)
      .values({ id, created: now, updated: now, ...input, labels: this.systemLabels(input) })
      .run();
    yield* this.transitions.setFlowRunState(id, initialState, { ...options, force: true }, now);
    return { ...this.readRun(id)!, created: true };
  }

  /**
   * Prefect's system labels: a deployment run starts from its deployment's labels plus
   * prefect.flow.id and prefect.deployment.id; any other run from its flow's labels plus
   * prefect.flow.id. The run's own labels win.
   */
  private systemLabels(input: FlowRunInsert): JsonObject {
    const parent = input.deploymentId
      ? this.db.select({ labels: deployment.labels }).from(deployment).where(eq(deployment.id, input.deploymentId)).get()
      : undefined;
    const flowLabels = parent ? undefined : this.db.select({ labels: flow.labels }).from(flow).where(eq(flow.id, input.flowId)).get();
    return flowRunLabels(input, parent?.labels, flowLabels?.labels);
  }

  /** Runs joined with their current state and their queue's work pool. */
  private joined() {
    return this.db
      .select({ run: flowRun, state: currentState, workPoolId: workPool.id, workPoolName: workPool.name })
      .from(flowRun)
      .leftJoin(currentState, eq(currentState.id, flowRun.stateId))
      .leftJoin(workQueue, eq(workQueue.id, flowRun.workQueueId))
      .leftJoin(workPool, eq(workPool.id, workQueue.workPoolId));
  }

  private readRun(id: string): FlowRunWithState | undefined {
    const row = this.byId.get({ id });
    return row && fromJoined(row);
  }

  *get(id: string): Op<FlowRunWithState | undefined> {
    return this.readRun(id);
  }

  *exists(id: string): Op<boolean> {
    return this.db.select({ id: flowRun.id }).from(flowRun).where(eq(flowRun.id, id)).get() !== undefined;
  }

  *list(filters: RunFilterSet, sort: FlowRunSort, limit: number, offset: number): Op<FlowRunWithState[]> {
    return this.joined().where(flowRunsWhere(filters)).orderBy(...ORDER[sort]).limit(limit).offset(offset).all().map(fromJoined);
  }

  /**
   * The average `estimated_start_time_delta` in seconds of the matching runs, computed in
   * SQL (null when none match): how late a run started, or for one not started, not final
   * and past its expected start, how late it is at `now`.
   */
  *averageLateness(filters: RunFilterSet, now: Micros): Op<number | null> {
    const { startTime: start, expectedStartTime: expected, stateType } = flowRun;
    const lateness = sql`CASE
      WHEN ${start} IS NOT NULL AND ${expected} IS NOT NULL AND ${start} > ${expected} THEN ${start} - ${expected}
      WHEN ${start} IS NULL AND ${expected} IS NOT NULL AND ${expected} < ${now}
        AND (${stateType} IS NULL OR ${stateType} NOT IN ${[...TERMINAL_STATES]}) THEN ${now} - ${expected}
      ELSE 0 END`;
    const row = this.db.select({ average: sql<number | null>`avg(${lateness})` }).from(flowRun).where(flowRunsWhere(filters)).get();
    return row?.average == null ? null : row.average / MICROS_PER_SECOND;
  }

  *update(id: string, patch: FlowRunPatch, now: Micros): Op<boolean> {
    return this.db.update(flowRun).set({ ...patch, updated: now }).where(eq(flowRun.id, id)).returning({ id: flowRun.id }).all().length > 0;
  }

  /** Merges labels over the run's existing labels; false when the run does not exist. */
  *mergeLabels(id: string, labels: JsonObject, now: Micros): Op<boolean> {
    const row = this.db.select({ labels: flowRun.labels }).from(flowRun).where(eq(flowRun.id, id)).get();
    if (!row) return false;
    this.db.update(flowRun).set({ labels: { ...row.labels, ...labels }, updated: now }).where(eq(flowRun.id, id)).run();
    return true;
  }

  /** Deletes the run (states, task runs and inputs cascade) and its logs. */
  *delete(id: string): Op<boolean> {
    const deleted = this.db.delete(flowRun).where(eq(flowRun.id, id)).returning({ id: flowRun.id }).all().length > 0;
    if (deleted) this.db.delete(log).where(eq(log.flowRunId, id)).run();
    return deleted;
  }

  *bulkDelete(filters: RunFilterSet, limit: number): Op<string[]> {
    const ids = this.db.select({ id: flowRun.id }).from(flowRun).where(flowRunsWhere(filters)).limit(limit).all().map((r) => r.id);
    for (const id of ids) {
      this.db.delete(flowRun).where(eq(flowRun.id, id)).run();
      this.db.delete(log).where(eq(log.flowRunId, id)).run();
    }
    return ids;
  }

  *setState(id: string, proposed: State, options: TransitionOptions, now: Micros): Op<OrchestrationResult | null> {
    return yield* this.transitions.setFlowRunState(id, proposed, options, now);
  }

  /**
   * Resumes a paused run (one transaction): validates input against the schema the
   * pause stored, proposes Running (or Scheduled "Resuming" for a suspended run), and
   * keeps the input when the transition is accepted. Null when the run does not exist.
   */
  *resume(
    id: string,
    runInput: JsonObject | null,
    validate: (value: unknown, schema: object) => string | null,
    options: TransitionOptions,
    now: Micros,
  ): Op<OrchestrationResult | null> {
    const current = this.readRun(id);
    if (!current) return null;
    const schemaKey = inputSchemaKey(current.state);
    const decision = resumption(current.state, runInput, schemaKey ? this.readInputRow(id, schemaKey) : undefined, validate, now);
    if ("answer" in decision) return decision.answer;
    const result = (yield* this.transitions.setFlowRunState(id, decision.proposed, options, now))!;
    if (decision.responseKey && result.status === "ACCEPT") {
      this.db
        .insert(flowRunInput)
        .values({ id: Bun.randomUUIDv7(), created: now, updated: now, flowRunId: id, key: decision.responseKey, value: JSON.stringify(runInput), sender: null })
        .run();
    }
    return result;
  }

  private readInputRow(flowRunId: string, key: string): FlowRunInputRow | undefined {
    return this.db
      .select()
      .from(flowRunInput)
      .where(and(eq(flowRunInput.flowRunId, flowRunId), eq(flowRunInput.key, key)))
      .get();
  }

  /** Subflow runs of a flow run, keyed by their tracking task run id, with their flow's name. */
  *subflowsByParentTask(flowRunId: string): Op<Map<string, { run: FlowRunRow; flowName: string }>> {
    const rows = this.db
      .select({ run: flowRun, flowName: flow.name })
      .from(flowRun)
      .innerJoin(flow, eq(flow.id, flowRun.flowId))
      .where(sql`${flowRun.parentTaskRunId} IN (SELECT ${taskRun.id} FROM ${taskRun} WHERE ${taskRun.flowRunId} = ${flowRunId})`)
      .all();
    return new Map(rows.map((r) => [r.run.parentTaskRunId!, r]));
  }

  /**
   * Inserts scheduler-generated runs with their Scheduled state, skipping any whose
   * (flow_id, idempotency_key) already exists: running the scheduler twice, or on two
   * processes sharing the database, never duplicates a run. Returns the inserted ids.
   * Multi-row inserts: a scheduler tick writes thousands of runs in one transaction.
   */
  *insertScheduled(runs: ScheduledRunInsert[], now: Micros): Op<string[]> {
    if (runs.length === 0) return [];
    const inserted = new Set(
      this.scheduledRuns.run(
        runs.map(({ state, ...run }) => ({
          ...run,
          created: now,
          updated: now,
          stateId: state.id,
          stateType: state.type,
          stateName: state.name,
          stateTimestamp: state.timestamp,
        })),
      ),
    );
    const kept = runs.filter((run) => inserted.has(run.id));
    this.scheduledStates.run(kept.map(({ id, state }) => ({ ...stateRowValues(state), flowRunId: id })));
    return kept.map((run) => run.id);
  }

  /** Runs per queue whose state type is one of `stateTypes` (what queue and pool concurrency limits count). */
  *activeCounts(queueIds: string[], stateTypes: string[]): Op<Map<string, number>> {
    if (queueIds.length === 0) return new Map();
    const rows = this.db
      .select({ queueId: flowRun.workQueueId, n: sql<number>`count(*)` })
      .from(flowRun)
      .where(and(inArray(flowRun.workQueueId, queueIds), inArray(flowRun.stateType, stateTypes)))
      .groupBy(flowRun.workQueueId)
      .all();
    return new Map(rows.map((r) => [r.queueId!, r.n]));
  }

  /**
   * A queue's SCHEDULED runs that a worker may pick up, soonest first: not in-process
   * retries (their engine is still running them), within the optional time window.
   */
  *pollableInQueue(queueId: string, window: { before: Micros | null; after: Micros | null }, limit: number): Op<FlowRunWithState[]> {
    if (limit <= 0) return [];
    return this.joined()
      .where(
        and(
          eq(flowRun.workQueueId, queueId),
          eq(flowRun.stateType, "SCHEDULED"),
          sql`coalesce(json_extract(${flowRun.empiricalPolicy}, '$.retry_type'), '') != 'in_process'`,
          window.before === null ? undefined : lte(flowRun.nextScheduledStartTime, window.before),
          window.after === null ? undefined : gte(flowRun.nextScheduledStartTime, window.after),
        ),
      )
      .orderBy(asc(flowRun.nextScheduledStartTime))
      .limit(limit)
      .all()
      .map(fromJoined);
  }

  // Background-service selections. Services page through them by id and re-check each
  // run with setStateIfCurrent, so a selection may be slightly stale.

  /**
   * SCHEDULED runs due by `dueBy` whose state is named exactly "Scheduled": AwaitingRetry,
   * AwaitingConcurrencySlot, Resuming and runs already Late are not late-run candidates.
   */
  *lateRunCandidates(dueBy: Micros, limit: number): Op<LateRunCandidate[]> {
    return this.db
      .select({ id: flowRun.id, stateId: flowRun.stateId, nextScheduledStartTime: flowRun.nextScheduledStartTime })
      .from(flowRun)
      .where(and(eq(flowRun.stateType, "SCHEDULED"), eq(flowRun.stateName, "Scheduled"), lte(flowRun.nextScheduledStartTime, dueBy)))
      .limit(limit)
      .all();
  }

  /** CANCELLED runs that ended at or after `since`. */
  *cancelledSince(since: Micros, afterId: string | null, limit: number): Op<{ id: string }[]> {
    return this.db
      .select({ id: flowRun.id })
      .from(flowRun)
      .where(and(eq(flowRun.stateType, "CANCELLED"), gte(flowRun.endTime, since), afterRun(afterId)))
      .orderBy(asc(flowRun.id))
      .limit(limit)
      .all();
  }

  /** Unfinished subflow runs whose containing flow run (their parent task run's flow run) is CANCELLED. */
  *subflowsOfCancelledRuns(afterId: string | null, limit: number): Op<SubflowToCancel[]> {
    return this.db
      .select({ id: flowRun.id, stateId: flowRun.stateId, stateType: flowRun.stateType, deploymentId: flowRun.deploymentId })
      .from(flowRun)
      .innerJoin(taskRun, eq(taskRun.id, flowRun.parentTaskRunId))
      .innerJoin(containingRun, eq(containingRun.id, taskRun.flowRunId))
      .where(and(inArray(flowRun.stateType, CANCELLABLE_SUBFLOW_STATES), eq(containingRun.stateType, "CANCELLED"), afterRun(afterId)))
      .orderBy(asc(flowRun.id))
      .limit(limit)
      .all()
      .map((r) => ({ ...r, stateType: r.stateType as StateType }));
  }

  /** Runs whose current CANCELLING state began at or before `enteredBy`. */
  *cancellingSince(enteredBy: Micros, afterId: string | null, limit: number): Op<RunStateRef[]> {
    return this.db
      .select({ id: flowRun.id, stateId: flowRun.stateId })
      .from(flowRun)
      .where(and(eq(flowRun.stateType, "CANCELLING"), lte(flowRun.stateTimestamp, enteredBy), afterRun(afterId)))
      .orderBy(asc(flowRun.id))
      .limit(limit)
      .all();
  }

  /** PAUSED runs whose current state's `pause_timeout` is before `now`. */
  *expiredPauses(now: Micros, afterId: string | null, limit: number): Op<RunStateRef[]> {
    return this.db
      .select({ id: flowRun.id, stateId: flowRun.stateId })
      .from(flowRun)
      .innerJoin(currentState, eq(currentState.id, flowRun.stateId))
      .where(
        and(
          eq(flowRun.stateType, "PAUSED"),
          sql`json_extract(${currentState.stateDetails}, '$.pause_timeout') < ${now}`,
          afterRun(afterId),
        ),
      )
      .orderBy(asc(flowRun.id))
      .limit(limit)
      .all();
  }

  // Flow-run inputs (pause/suspend with input, send_input/receive_input).

  /** Returns "missing_run" or "duplicate" instead of inserting when those apply. */
  *createInput(flowRunId: string, key: string, value: string, sender: string | null, now: Micros): Op<InputCreation> {
    if (!this.db.select({ id: flowRun.id }).from(flowRun).where(eq(flowRun.id, flowRunId)).get()) return "missing_run";
    const existing = this.db
      .select({ id: flowRunInput.id })
      .from(flowRunInput)
      .where(and(eq(flowRunInput.flowRunId, flowRunId), eq(flowRunInput.key, key)))
      .get();
    if (existing) return "duplicate";
    this.db.insert(flowRunInput).values({ id: Bun.randomUUIDv7(), created: now, updated: now, flowRunId, key, value, sender }).run();
    return "created";
  }

  *readInput(flowRunId: string, key: string): Op<FlowRunInputRow | undefined> {
    return this.readInputRow(flowRunId, key);
  }

  *filterInputs(flowRunId: string, prefix: string, limit: number, excludeKeys: string[]): Op<FlowRunInputRow[]> {
    return this.db
      .select()
      .from(flowRunInput)
      .where(
        and(
          eq(flowRunInput.flowRunId, flowRunId),
          sql`substr(${flowRunInput.key}, 1, ${prefix.length}) = ${prefix}`,
          excludeKeys.length ? sql`${flowRunInput.key} NOT IN ${excludeKeys}` : undefined,
        ),
      )
      .orderBy(asc(flowRunInput.created))
      .limit(limit)
      .all();
  }

  *deleteInput(flowRunId: string, key: string): Op<boolean> {
    return (
      this.db
        .delete(flowRunInput)
        .where(and(eq(flowRunInput.flowRunId, flowRunId), eq(flowRunInput.key, key)))
        .returning({ id: flowRunInput.id })
        .all().length > 0
    );
  }
}
