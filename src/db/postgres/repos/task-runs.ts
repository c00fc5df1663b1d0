import { and, desc, eq, inArray, isNull, lt, sql, type SQL } from "drizzle-orm";
import { alias } from "drizzle-orm/pg-core";
import { taskRunPolicy } from "../../../domain/run-policies";
import type { JsonObject } from "../../../lib/json";
import { randomRunName } from "../../../lib/names";
import type { Micros } from "../../../lib/time";
import type { OrchestrationResult } from "../../../orchestration/context";
import { NON_TERMINAL_STATES, type State } from "../../../orchestration/states";
import type { RunFilterSet } from "../../../schemas/filters";
import type { TaskRunRepo } from "../../repositories";
import { stateRowValues, type RunStateRef } from "../../repos/run-mapping";
import { runSortOrders } from "../../repos/run-sorts";
import {
  taskRunFromJoined,
  taskRunLabels,
  type CreatedTaskRun,
  type ReportedTaskRun,
  type ReportOutcome,
  type TaskRunInsert,
  type TaskRunSort,
  type TaskRunWithState,
} from "../../repos/task-runs";
import type { TransitionOptions } from "../../repos/transitions";
import type { Op } from "../../unit-of-work";
import { byCodePoint, taskRunsWhere } from "../filters";
import { query, type PgConnection } from "../query";
import { flowRun, taskRun, taskRunState } from "../schema";
import { PgRunRepository } from "./runs";
import type { PgRunTransitions } from "./transitions";

const ORDER: Record<TaskRunSort, SQL[]> = runSortOrders(taskRun, byCodePoint);

const currentState = alias(taskRunState, "current_state");

/** Task runs joined with their current state. */
const joined = (db: PgConnection) => db.select({ run: taskRun, state: currentState }).from(taskRun).leftJoin(currentState, eq(currentState.id, taskRun.stateId));

/** The task runs with this (flow_run_id, task_key, dynamic_key); a null flow run matches runs without one. */
const naturalKey = (flowRunId: string | null, taskKey: string, dynamicKey: string) =>
  and(flowRunId === null ? isNull(taskRun.flowRunId) : eq(taskRun.flowRunId, flowRunId), eq(taskRun.taskKey, taskKey), eq(taskRun.dynamicKey, dynamicKey));

/** The flow run, locked against deletion until the transaction ends (what its foreign keys take); false when it does not exist. */
function* flowRunKept(flowRunId: string): Op<boolean> {
  return (yield* query((db) => db.select({ id: flowRun.id }).from(flowRun).where(eq(flowRun.id, flowRunId)).for("key share"))).length > 0;
}

/** src/db/repos/task-runs.ts on PostgreSQL. */
export class PgTaskRunRepository extends PgRunRepository<TaskRunWithState, TaskRunSort> implements TaskRunRepo {
  constructor(private readonly transitions: PgRunTransitions) {
    super({ run: taskRun, state: taskRunState, stateRunId: taskRunState.taskRunId, where: taskRunsWhere });
  }

  *get(id: string): Op<TaskRunWithState | undefined> {
    const [row] = yield* query((db) => joined(db).where(eq(taskRun.id, id)));
    return row && taskRunFromJoined(row);
  }

  /**
   * Inserts a task run and forces its initial state, or returns the existing run with the
   * same (flow_run_id, task_key, dynamic_key) untouched. Two creates of one task run at once
   * must find one run: with a flow run the unique index decides (ON CONFLICT); without one
   * (NULLs never conflict) a transaction-scoped advisory lock on the keys makes the second
   * wait for the first before it looks.
   */
  *create(input: TaskRunInsert, initialState: State, options: TransitionOptions, now: Micros): Op<CreatedTaskRun> {
    const { flowRunId } = input;
    const [parent] = flowRunId ? yield* query((db) => db.select({ labels: flowRun.labels }).from(flowRun).where(eq(flowRun.id, flowRunId))) : [];
    const id = input.id ?? Bun.randomUUIDv7();
    const values = {
      ...input,
      id,
      created: now,
      updated: now,
      labels: taskRunLabels(input, parent?.labels),
    };
    let inserted: boolean;
    if (flowRunId === null) {
      const lockKey = JSON.stringify(["task_run", input.taskKey, input.dynamicKey]);
      yield* query((db) => db.execute(sql`SELECT pg_advisory_xact_lock(hashtextextended(${lockKey}, 0))`));
      const [existing] = yield* query((db) => db.select({ id: taskRun.id }).from(taskRun).where(naturalKey(null, input.taskKey, input.dynamicKey)));
      if (existing) return { ...(yield* this.get(existing.id))!, created: false, enqueue: null };
      yield* query((db) => db.insert(taskRun).values(values));
      inserted = true;
    } else {
      const rows = yield* query((db) =>
        db
          .insert(taskRun)
          .values(values)
          .onConflictDoNothing({ target: [taskRun.flowRunId, taskRun.taskKey, taskRun.dynamicKey] })
          .returning({ id: taskRun.id }),
      );
      inserted = rows.length > 0;
    }
    if (!inserted) {
      const [existing] = yield* query((db) => db.select({ id: taskRun.id }).from(taskRun).where(naturalKey(flowRunId, input.taskKey, input.dynamicKey)));
      return { ...(yield* this.get(existing!.id))!, created: false, enqueue: null };
    }
    const result = yield* this.transitions.setTaskRunState(id, initialState, { ...options, force: true }, now);
    return { ...(yield* this.get(id))!, created: true, enqueue: result?.enqueue ?? null };
  }

  /**
   * Records reported task runs and their states without orchestration (Prefect's
   * task_run_recorder), as the SQLite repository does. A report first tries to insert its
   * run (ON CONFLICT on either key does nothing), then updates the run that exists only when
   * the report's state is newer, in one statement: two recorders reporting one run at once
   * never both insert it, and the newer state wins whichever commits first.
   */
  *record(reports: ReportedTaskRun[], now: Micros): Op<ReportOutcome[]> {
    const outcomes: ReportOutcome[] = [];
    for (const report of reports) outcomes.push(yield* this.recordOne(report, now));
    return outcomes;
  }

  private *recordOne(report: ReportedTaskRun, now: Micros): Op<ReportOutcome> {
    const { state, flowRunId } = report;
    if (flowRunId && !(yield* flowRunKept(flowRunId))) return "missing_flow_run";
    const values = {
      ...report.columns,
      flowRunId,
      taskKey: report.taskKey,
      dynamicKey: report.dynamicKey,
      stateId: state.id,
      stateType: state.type,
      stateName: state.name,
      stateTimestamp: state.timestamp,
      updated: now,
    };
    const insert = {
      name: randomRunName(),
      empiricalPolicy: taskRunPolicy({}) as unknown as JsonObject,
      tags: [],
      labels: {},
      taskInputs: {},
      ...values,
      id: report.id,
      created: now,
    };
    const inserted = yield* query((db) => db.insert(taskRun).values(insert).onConflictDoNothing().returning({ id: taskRun.id }));
    let taskRunId = report.id;
    if (inserted.length === 0) {
      const [byNaturalKey] = flowRunId
        ? yield* query((db) => db.select({ id: taskRun.id }).from(taskRun).where(naturalKey(flowRunId, report.taskKey, report.dynamicKey)))
        : [];
      // the run may already have held another id: its state belongs to that row
      taskRunId = byNaturalKey?.id ?? report.id;
      yield* query((db) =>
        db
          .update(taskRun)
          .set(values)
          .where(and(eq(taskRun.id, taskRunId), lt(taskRun.stateTimestamp, state.timestamp))),
      );
    }
    const details = { ...state.state_details, task_run_id: taskRunId, flow_run_id: flowRunId };
    yield* query((db) =>
      db
        .insert(taskRunState)
        .values({ ...stateRowValues({ ...state, state_details: details }), created: now, updated: now, taskRunId })
        // an event seen before, or a second state at the same instant (which could never be current)
        .onConflictDoNothing(),
    );
    return "recorded";
  }

  *list(filters: RunFilterSet, sort: TaskRunSort, limit: number, offset: number): Op<TaskRunWithState[]> {
    const rows = yield* query((db) => joined(db).where(taskRunsWhere(filters)).orderBy(...ORDER[sort]).limit(limit).offset(offset));
    return rows.map(taskRunFromJoined);
  }

  /** One page of a flow run's task runs, newest id first, after `beforeId` (keyset paging for the run graph). */
  *pageOfFlowRun(flowRunId: string, beforeId: string | null, limit: number): Op<TaskRunWithState[]> {
    const rows = yield* query((db) =>
      joined(db)
        .where(and(eq(taskRun.flowRunId, flowRunId), beforeId === null ? undefined : lt(taskRun.id, beforeId)))
        .orderBy(desc(taskRun.id))
        .limit(limit),
    );
    return rows.map(taskRunFromJoined);
  }

  *rename(id: string, name: string | null, now: Micros): Op<boolean> {
    const patch = name == null ? { updated: now } : { name, updated: now };
    return (yield* query((db) => db.update(taskRun).set(patch).where(eq(taskRun.id, id)).returning({ id: taskRun.id }))).length > 0;
  }

  *delete(id: string): Op<boolean> {
    return (yield* query((db) => db.delete(taskRun).where(eq(taskRun.id, id)).returning({ id: taskRun.id }))).length > 0;
  }

  *setState(id: string, proposed: State, options: TransitionOptions, now: Micros): Op<OrchestrationResult | null> {
    return yield* this.transitions.setTaskRunState(id, proposed, options, now);
  }

  /** Up to `limit` task runs of the flow run that are not in a terminal state (nor stateless). */
  *unfinishedOfFlowRun(flowRunId: string, limit: number): Op<RunStateRef[]> {
    return yield* query((db) =>
      db
        .select({ id: taskRun.id, stateId: taskRun.stateId })
        .from(taskRun)
        .where(and(eq(taskRun.flowRunId, flowRunId), inArray(taskRun.stateType, [...NON_TERMINAL_STATES])))
        .limit(limit),
    );
  }
}
