import { asc, desc, eq, sql, type SQL } from "drizzle-orm";
import type { Micros } from "../../lib/time";
import type { LogFilter } from "../../schemas/filters";
import type { SqliteDb } from "../client";
import { logCond } from "../filters";
import { log } from "../schema";
import type { Op } from "../unit-of-work";

export type LogRow = typeof log.$inferSelect;
export type NewLog = Omit<LogRow, "id" | "created" | "updated">;
export type LogSort = "TIMESTAMP_ASC" | "TIMESTAMP_DESC";

/**
 * Logs sharing a timestamp (common within one batch) keep insertion order, so offset
 * paging is stable. rowid is the implicit last column of every SQLite index, so the
 * timestamp indexes still deliver this order without a sort; an `id` tiebreak would not.
 */
const insertionOrder = sql`rowid`;
const ORDER: Record<LogSort, SQL[]> = {
  TIMESTAMP_ASC: [asc(log.timestamp), asc(insertionOrder)],
  TIMESTAMP_DESC: [desc(log.timestamp), desc(insertionOrder)],
};

export class LogRepository {
  private readonly insertOne;
  private readonly byFlowRun;

  constructor(private readonly db: SqliteDb) {
    const p = (name: keyof LogRow) => sql.placeholder(name);
    this.insertOne = db
      .insert(log)
      .values({
        id: p("id"),
        created: p("created"),
        updated: p("updated"),
        name: p("name"),
        level: p("level"),
        flowRunId: p("flowRunId"),
        taskRunId: p("taskRunId"),
        message: p("message"),
        timestamp: p("timestamp"),
      })
      .prepare();
    this.byFlowRun = db.select().from(log).where(eq(log.flowRunId, sql.placeholder("flowRunId"))).orderBy(...ORDER.TIMESTAMP_ASC).prepare();
  }

  /**
   * Writes a batch atomically. Clients ship logs in batches of hundreds; one prepared
   * statement run per row inside a single transaction beats building a multi-row
   * INSERT (and stays under SQLite's bound-parameter limit for any batch size).
   */
  *createMany(logs: NewLog[], now: Micros): Op<void> {
    for (const entry of logs) this.insertOne.run({ ...entry, id: Bun.randomUUIDv7(), created: now, updated: now });
  }

  /** Every log of one flow run, oldest first (the CSV download). */
  *forFlowRun(flowRunId: string): Op<LogRow[]> {
    return this.byFlowRun.all({ flowRunId });
  }

  *list(filter: LogFilter | null | undefined, sort: LogSort, limit: number, offset: number): Op<LogRow[]> {
    return this.db.select().from(log).where(logCond(filter)).orderBy(...ORDER[sort]).limit(limit).offset(offset).all();
  }
}
