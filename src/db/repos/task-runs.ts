import { and, desc, eq, inArray, isNull, lt, sql, type SQL } from "drizzle-orm";
import { alias } from "drizzle-orm/sqlite-core";
import type { JsonObject } from "../../lib/json";
import { randomRunName } from "../../lib/names";
import type { Micros } from "../../lib/time";
import type { OrchestrationResult } from "../../orchestration/context";
import { NON_TERMINAL_STATES, type State } from "../../orchestration/states";
import type { RunFilterSet } from "../../schemas/filters";
import type { SqliteDb } from "../client";
import { taskRunsWhere } from "../filters";
import { flowRun, taskRun, taskRunState } from "../schema";
import { runSortOrders } from "./run-sorts";
import { taskRunPolicy } from "../../domain/run-policies";
import { stateFromRow, stateRowValues, type RunStateRef, type StateRow, type TaskRunRow } from "./run-mapping";
import { RunRepository, type RunTables } from "./runs";
import { RunTransitions, type TransitionOptions } from "./transitions";
import type { Op } from "../unit-of-work";

export type TaskRunSort =
  | "ID_DESC"
  | "EXPECTED_START_TIME_ASC"
  | "EXPECTED_START_TIME_DESC"
  | "NAME_ASC"
  | "NAME_DESC"
  | "NEXT_SCHEDULED_START_TIME_ASC"
  | "END_TIME_DESC";

const ORDER: Record<TaskRunSort, SQL[]> = runSortOrders(taskRun);

export interface TaskRunWithState {
  run: TaskRunRow;
  state: State | null;
}

export interface TaskRunInsert {
  id: string | null;
  name: string;
  flowRunId: string | null;
  taskKey: string;
  dynamicKey: string;
  cacheKey: string | null;
  cacheExpiration: Micros | null;
  taskVersion: string | null;
  empiricalPolicy: JsonObject;
  tags: string[];
  labels: JsonObject;
  taskInputs: JsonObject;
}

/**
 * A task run as a client reported it in a state event (the task-run recorder). Besides
 * the keys, only the columns the event carried are written; the rest keep their stored
 * values (or their defaults on insert).
 */
export interface ReportedTaskRun {
  id: string;
  flowRunId: string | null;
  taskKey: string;
  dynamicKey: string;
  columns: Partial<Omit<typeof taskRun.$inferInsert, "id" | "flowRunId" | "taskKey" | "dynamicKey" | "stateId" | "stateType" | "stateName" | "stateTimestamp">>;
  /** The new state: id = the event's id, timestamp = when it occurred. */
  state: State;
}

/** What `create` answers: the run, whether this call inserted it, and whether to queue it (a background task). */
export type CreatedTaskRun = TaskRunWithState & { created: boolean; enqueue: { retry: boolean } | null };

export type ReportOutcome = "recorded" | "missing_flow_run";

/** A task run joined with its current state, as the API reads it (either backend's row). */
export const taskRunFromJoined = (r: { run: TaskRunRow; state: StateRow | null }): TaskRunWithState => ({ run: r.run, state: r.state ? stateFromRow(r.state) : null });

/** Prefect's system labels of a task run: its flow run's labels, then prefect.flow-run.id, then its own. */
export const taskRunLabels = (input: TaskRunInsert, flowRunLabels: JsonObject | undefined): JsonObject => ({
  ...(flowRunLabels ?? {}),
  ...(input.flowRunId ? { "prefect.flow-run.id": input.flowRunId } : {}),
  ...input.labels,
});

const currentState = alias(taskRunState, "current_state");

const TABLES: RunTables = {
  run: { ...taskRun, table: taskRun },
  state: { table: taskRunState, id: taskRunState.id, runId: taskRunState.taskRunId, timestamp: taskRunState.timestamp },
  where: taskRunsWhere,
};

export class TaskRunRepository extends RunRepository<TaskRunWithState, TaskRunSort> {
  private readonly byId;

  constructor(
    db: SqliteDb,
    private readonly transitions: RunTransitions,
  ) {
    super(db, TABLES);
    this.byId = db
      .select({ run: taskRun, state: currentState })
      .from(taskRun)
      .leftJoin(currentState, eq(currentState.id, taskRun.stateId))
      .where(eq(taskRun.id, sql.placeholder("id")))
      .prepare();
  }

  private readRun(id: string): TaskRunWithState | undefined {
    const row = this.byId.get({ id });
    return row && taskRunFromJoined(row);
  }

  *get(id: string): Op<TaskRunWithState | undefined> {
    return this.readRun(id);
  }

  /**
   * Inserts a task run and forces its initial state, or returns the existing run
   * with the same (flow_run_id, task_key, dynamic_key) untouched.
   */
  *create(input: TaskRunInsert, initialState: State, options: TransitionOptions, now: Micros): Op<CreatedTaskRun> {
    const existing = this.db
      .select({ id: taskRun.id })
      .from(taskRun)
      .where(
        and(
          input.flowRunId === null ? isNull(taskRun.flowRunId) : eq(taskRun.flowRunId, input.flowRunId),
          eq(taskRun.taskKey, input.taskKey),
          eq(taskRun.dynamicKey, input.dynamicKey),
        ),
      )
      .get();
    if (existing) return { ...this.readRun(existing.id)!, created: false, enqueue: null };
    const parent = input.flowRunId
      ? this.db.select({ labels: flowRun.labels }).from(flowRun).where(eq(flowRun.id, input.flowRunId)).get()
      : undefined;
    const id = input.id ?? Bun.randomUUIDv7();
    this.db
      .insert(taskRun)
      .values({
        ...input,
        id,
        created: now,
        updated: now,
        labels: taskRunLabels(input, parent?.labels),
      })
      .run();
    const result = yield* this.transitions.setTaskRunState(id, initialState, { ...options, force: true }, now);
    return { ...this.readRun(id)!, created: true, enqueue: result?.enqueue ?? null };
  }

  /**
   * Records reported task runs and their states without orchestration (Prefect's
   * task_run_recorder): the run with the same (flow_run_id, task_key, dynamic_key), else
   * the same id, is updated only when the report's state is newer than the stored one,
   * so an event that arrives late never rolls a run back; otherwise the run is inserted.
   * The state row is written once (its id is the event's), so re-delivered events change
   * nothing. A report for a flow run that does not exist is not recorded.
   */
  *record(reports: ReportedTaskRun[], now: Micros): Op<ReportOutcome[]> {
    return reports.map((report) => this.recordOne(report, now));
  }

  private recordOne(report: ReportedTaskRun, now: Micros): ReportOutcome {
    const { state } = report;
    if (report.flowRunId && !this.db.select({ id: flowRun.id }).from(flowRun).where(eq(flowRun.id, report.flowRunId)).get()) {
      return "missing_flow_run";
    }
    const byNaturalKey = report.flowRunId
      ? this.db
          .select({ id: taskRun.id })
          .from(taskRun)
          .where(and(eq(taskRun.flowRunId, report.flowRunId), eq(taskRun.taskKey, report.taskKey), eq(taskRun.dynamicKey, report.dynamicKey)))
          .get()
      : undefined;
    const existing = byNaturalKey ?? this.db.select({ id: taskRun.id }).from(taskRun).where(eq(taskRun.id, report.id)).get();
    const values = {
      ...report.columns,
      flowRunId: report.flowRunId,
      taskKey: report.taskKey,
      dynamicKey: report.dynamicKey,
      stateId: state.id,
      stateType: state.type,
      stateName: state.name,
      stateTimestamp: state.timestamp,
      updated: now,
    };
    if (existing) {
      this.db
        .update(taskRun)
        .set(values)
        .where(and(eq(taskRun.id, existing.id), lt(taskRun.stateTimestamp, state.timestamp)))
        .run();
    } else {
      this.db
        .insert(taskRun)
        .values({
          name: randomRunName(),
          empiricalPolicy: taskRunPolicy({}) as unknown as JsonObject,
          tags: [],
          labels: {},
          taskInputs: {},
          ...values,
          id: report.id,
          created: now,
        })
        .run();
    }
    // the run may already have held another id: its state belongs to that row
    const taskRunId = existing?.id ?? report.id;
    const details = { ...state.state_details, task_run_id: taskRunId, flow_run_id: report.flowRunId };
    this.db
      .insert(taskRunState)
      .values({ ...stateRowValues({ ...state, state_details: details }), created: now, updated: now, taskRunId })
      // an event seen before, or a second state at the same instant (which could never be current)
      .onConflictDoNothing()
      .run();
    return "recorded";
  }

  *list(filters: RunFilterSet, sort: TaskRunSort, limit: number, offset: number): Op<TaskRunWithState[]> {
    return this.db
      .select({ run: taskRun, state: currentState })
      .from(taskRun)
      .leftJoin(currentState, eq(currentState.id, taskRun.stateId))
      .where(taskRunsWhere(filters))
      .orderBy(...ORDER[sort])
      .limit(limit)
      .offset(offset)
      .all()
      .map(taskRunFromJoined);
  }

  /** One page of a flow run's task runs, newest id first, after `beforeId` (keyset paging for the run graph). */
  *pageOfFlowRun(flowRunId: string, beforeId: string | null, limit: number): Op<TaskRunWithState[]> {
    return this.db
      .select({ run: taskRun, state: currentState })
      .from(taskRun)
      .leftJoin(currentState, eq(currentState.id, taskRun.stateId))
      .where(and(eq(taskRun.flowRunId, flowRunId), beforeId === null ? undefined : lt(taskRun.id, beforeId)))
      .orderBy(desc(taskRun.id))
      .limit(limit)
      .all()
      .map(taskRunFromJoined);
  }

  *rename(id: string, name: string | null, now: Micros): Op<boolean> {
    const patch = name == null ? { updated: now } : { name, updated: now };
    return this.db.update(taskRun).set(patch).where(eq(taskRun.id, id)).returning({ id: taskRun.id }).all().length > 0;
  }

  *delete(id: string): Op<boolean> {
    return this.db.delete(taskRun).where(eq(taskRun.id, id)).returning({ id: taskRun.id }).all().length > 0;
  }

  *setState(id: string, proposed: State, options: TransitionOptions, now: Micros): Op<OrchestrationResult | null> {
    return yield* this.transitions.setTaskRunState(id, proposed, options, now);
  }

  /** Up to `limit` task runs of the flow run that are not in a terminal state (nor stateless). */
  *unfinishedOfFlowRun(flowRunId: string, limit: number): Op<RunStateRef[]> {
    return this.db
      .select({ id: taskRun.id, stateId: taskRun.stateId })
      .from(taskRun)
      .where(and(eq(taskRun.flowRunId, flowRunId), inArray(taskRun.stateType, [...NON_TERMINAL_STATES])))
      .limit(limit)
      .all();
  }
}
