/**
 * src/db/repos/runs.ts on PostgreSQL: what flow runs and task runs share, written once over
 * the run and state tables each repository names.
 */
import { and, asc, count, desc, eq, gte, lt, type SQL } from "drizzle-orm";
import type { Micros } from "../../../lib/time";
import type { OrchestrationResult } from "../../../orchestration/context";
import type { State } from "../../../orchestration/states";
import type { RunFilterSet } from "../../../schemas/filters";
import type { RunRepo } from "../../repositories";
import { stateFromRow, type RunStateRef } from "../../repos/run-mapping";
import type { HistoryRow } from "../../repos/runs";
import type { TransitionOptions } from "../../repos/transitions";
import type { Op } from "../../unit-of-work";
import { query } from "../query";
import type { flowRun, flowRunState, taskRun, taskRunState } from "../schema";

export interface PgRunTables {
  run: typeof flowRun | typeof taskRun;
  state: typeof flowRunState | typeof taskRunState;
  /** The state table's column naming its run. */
  stateRunId: typeof flowRunState.flowRunId | typeof taskRunState.taskRunId;
  /** The run filter grammar of this kind of run. */
  where: (filters: RunFilterSet) => SQL | undefined;
}

/** A repository of runs of one kind (`TRun` as the API reads it, sorted by `TSort`). */
export abstract class PgRunRepository<TRun, TSort extends string> implements RunRepo<TRun, TSort> {
  constructor(private readonly tables: PgRunTables) {}

  abstract get(id: string): Op<TRun | undefined>;

  abstract list(filters: RunFilterSet, sort: TSort, limit: number, offset: number): Op<TRun[]>;

  abstract setState(id: string, proposed: State, options: TransitionOptions, now: Micros): Op<OrchestrationResult | null>;

  *count(filters: RunFilterSet): Op<number> {
    const { run, where } = this.tables;
    const [row] = yield* query((db) => db.select({ n: count() }).from(run).where(where(filters)));
    return row!.n;
  }

  /** Runs matching the filters, newest first, for bulk changes. */
  *ids(filters: RunFilterSet, limit: number): Op<string[]> {
    const { run, where } = this.tables;
    const rows = yield* query((db) => db.select({ id: run.id }).from(run).where(where(filters)).orderBy(desc(run.id)).limit(limit));
    return rows.map((r) => r.id);
  }

  /** The run's states, oldest first. */
  *states(runId: string): Op<State[]> {
    const { state, stateRunId } = this.tables;
    const rows = yield* query((db) => db.select().from(state).where(eq(stateRunId, runId)).orderBy(asc(state.timestamp)));
    return rows.map(stateFromRow);
  }

  *state(stateId: string): Op<State | null> {
    const { state } = this.tables;
    const [row] = yield* query((db) => db.select().from(state).where(eq(state.id, stateId)));
    return row ? stateFromRow(row) : null;
  }

  /** Bookkeeping of the matching runs expected to start in [start, end), for run history. */
  *historyRows(filters: RunFilterSet, start: Micros, end: Micros): Op<HistoryRow[]> {
    const { run, where } = this.tables;
    return yield* query((db) =>
      db
        .select({
          expectedStartTime: run.expectedStartTime,
          stateType: run.stateType,
          stateName: run.stateName,
          stateTimestamp: run.stateTimestamp,
          totalRunTime: run.totalRunTime,
          startTime: run.startTime,
        })
        .from(run)
        .where(and(where(filters), gte(run.expectedStartTime, start), lt(run.expectedStartTime, end))),
    );
  }

  /**
   * Orchestrates `proposed` only while the run is still in the state a background service
   * selected it in. The run is read FOR UPDATE, so no other transition can slip in between
   * this check and the transition (which reads it again, already holding the lock).
   */
  *setStateIfCurrent(ref: RunStateRef, proposed: State, options: TransitionOptions, now: Micros): Op<OrchestrationResult | null> {
    const { run } = this.tables;
    const [current] = yield* query((db) => db.select({ stateId: run.stateId }).from(run).where(eq(run.id, ref.id)).for("update"));
    if (!current || current.stateId !== ref.stateId) return null;
    return yield* this.setState(ref.id, proposed, options, now);
  }
}
