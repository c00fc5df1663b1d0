import { asc, desc, eq, getTableColumns, type SQL } from "drizzle-orm";
import type { Micros } from "../../../lib/time";
import type { LogFilter } from "../../../schemas/filters";
import type { LogRepo } from "../../repositories";
import type { LogRow, LogSort, NewLog } from "../../repos/logs";
import type { Op } from "../../unit-of-work";
import { logCond } from "../filters";
import { query } from "../query";
import { log } from "../schema";

/**
 * Logs sharing a timestamp keep insertion order, as SQLite's rowid tiebreak gives: ids are
 * UUIDv7, which Bun makes strictly increasing within a process, so a later insert has a
 * greater id, and uuid compares byte by byte as the ids' text does.
 */
const ORDER: Record<LogSort, SQL[]> = {
  TIMESTAMP_ASC: [asc(log.timestamp), asc(log.id)],
  TIMESTAMP_DESC: [desc(log.timestamp), desc(log.id)],
};

/** A statement binds at most 65,535 parameters (the protocol's 16-bit count): one per column of each row. */
const ROWS_PER_INSERT = Math.floor(65_535 / Object.keys(getTableColumns(log)).length);

/** src/db/repos/logs.ts on PostgreSQL. */
export class PgLogRepository implements LogRepo {
  /** A batch is written with as few multi-row INSERTs as the parameter limit allows, in one transaction. */
  *createMany(logs: NewLog[], now: Micros): Op<void> {
    const rows = logs.map((entry): LogRow => ({ ...entry, id: Bun.randomUUIDv7(), created: now, updated: now }));
    for (let start = 0; start < rows.length; start += ROWS_PER_INSERT) {
      const chunk = rows.slice(start, start + ROWS_PER_INSERT);
      yield* query((db) => db.insert(log).values(chunk));
    }
  }

  *forFlowRun(flowRunId: string): Op<LogRow[]> {
    return yield* query((db) => db.select().from(log).where(eq(log.flowRunId, flowRunId)).orderBy(...ORDER.TIMESTAMP_ASC));
  }

  *list(filter: LogFilter | null | undefined, sort: LogSort, limit: number, offset: number): Op<LogRow[]> {
    return yield* query((db) => db.select().from(log).where(logCond(filter)).orderBy(...ORDER[sort]).limit(limit).offset(offset));
  }
}
