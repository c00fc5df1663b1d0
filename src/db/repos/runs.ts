/**
 * What flow runs and task runs share in the data layer (Prefect's models share it too):
 * filters and counts, state history, run-history rows, and set_state with its
 * "only if still in the state the service selected" variant. Each run repository
 * names its tables and its transition; the queries are written once, here.
 */
import { and, asc, desc, eq, gte, lt, type SQL } from "drizzle-orm";
import type { SQLiteColumn, SQLiteTable } from "drizzle-orm/sqlite-core";
import type { Micros } from "../../lib/time";
import type { OrchestrationResult } from "../../orchestration/context";
import type { State } from "../../orchestration/states";
import type { RunFilterSet } from "../../schemas/filters";
import { countWhere, type SqliteDb } from "../client";
import type { Op } from "../unit-of-work";
import { stateFromRow, type RunStateRef, type StateRow } from "./run-mapping";
import type { TransitionOptions } from "./transitions";

/** The bookkeeping of one run, as run history (`/history`) buckets it. */
export interface HistoryRow {
  expectedStartTime: Micros | null;
  stateType: string | null;
  stateName: string | null;
  stateTimestamp: Micros | null;
  totalRunTime: Micros;
  startTime: Micros | null;
}

/** The columns of a run table the shared queries read. */
export interface RunColumns {
  table: SQLiteTable;
  id: SQLiteColumn;
  stateId: SQLiteColumn;
  expectedStartTime: SQLiteColumn;
  stateType: SQLiteColumn;
  stateName: SQLiteColumn;
  stateTimestamp: SQLiteColumn;
  totalRunTime: SQLiteColumn;
  startTime: SQLiteColumn;
}

/** The columns of a run's state table. */
export interface StateColumns {
  table: SQLiteTable;
  id: SQLiteColumn;
  runId: SQLiteColumn;
  timestamp: SQLiteColumn;
}

export interface RunTables {
  run: RunColumns;
  state: StateColumns;
  /** The run filter grammar of this kind of run. */
  where: (filters: RunFilterSet) => SQL | undefined;
}

/** A repository of runs of one kind (`TRun` as the API reads it, sorted by `TSort`). */
export abstract class RunRepository<TRun, TSort extends string> {
  constructor(
    protected readonly db: SqliteDb,
    private readonly tables: RunTables,
  ) {}

  abstract get(id: string): Op<TRun | undefined>;

  abstract list(filters: RunFilterSet, sort: TSort, limit: number, offset: number): Op<TRun[]>;

  /** Orchestrates a proposed state; null when the run does not exist. */
  abstract setState(id: string, proposed: State, options: TransitionOptions, now: Micros): Op<OrchestrationResult | null>;

  *count(filters: RunFilterSet): Op<number> {
    return countWhere(this.db, this.tables.run.table, this.tables.where(filters));
  }

  /** Runs matching the filters, newest first, for bulk changes. */
  *ids(filters: RunFilterSet, limit: number): Op<string[]> {
    const { run, where } = this.tables;
    return this.db
      .select({ id: run.id })
      .from(run.table)
      .where(where(filters))
      .orderBy(desc(run.id))
      .limit(limit)
      .all()
      .map((r) => r.id as string);
  }

  /** The run's states, oldest first. */
  *states(runId: string): Op<State[]> {
    const { state } = this.tables;
    const rows = this.db.select().from(state.table).where(eq(state.runId, runId)).orderBy(asc(state.timestamp)).all();
    return (rows as StateRow[]).map(stateFromRow);
  }

  *state(stateId: string): Op<State | null> {
    const { state } = this.tables;
    const row = this.db.select().from(state.table).where(eq(state.id, stateId)).get();
    return row ? stateFromRow(row as StateRow) : null;
  }

  /** Bookkeeping of the matching runs expected to start in [start, end), for run history. */
  *historyRows(filters: RunFilterSet, start: Micros, end: Micros): Op<HistoryRow[]> {
    const { run, where } = this.tables;
    const rows = this.db
      .select({
        expectedStartTime: run.expectedStartTime,
        stateType: run.stateType,
        stateName: run.stateName,
        stateTimestamp: run.stateTimestamp,
        totalRunTime: run.totalRunTime,
        startTime: run.startTime,
      })
      .from(run.table)
      .where(and(where(filters), gte(run.expectedStartTime, start), lt(run.expectedStartTime, end)))
      .all();
    return rows as HistoryRow[];
  }

  /**
   * Orchestrates `proposed` only while the run is still in the state a background
   * service selected it in, so a run that moved on in between (resumed, finished,
   * rescheduled) is left alone. Null when the run is gone or has moved on.
   */
  *setStateIfCurrent(ref: RunStateRef, proposed: State, options: TransitionOptions, now: Micros): Op<OrchestrationResult | null> {
    const { run } = this.tables;
    const current = this.db.select({ stateId: run.stateId }).from(run.table).where(eq(run.id, ref.id)).get();
    if (!current || current.stateId !== ref.stateId) return null;
    return yield* this.setState(ref.id, proposed, options, now);
  }
}
