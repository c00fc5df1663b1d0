/** The sort orders flow runs and task runs share (Prefect's FlowRunSort / TaskRunSort). */
import { asc, desc, sql, type SQL } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";

interface RunColumns {
  id: SQLiteColumn;
  name: SQLiteColumn;
  expectedStartTime: SQLiteColumn;
  nextScheduledStartTime: SQLiteColumn;
  endTime: SQLiteColumn;
}

// Postgres orders NULLs last on ASC and first on DESC; Prefect's behaviour follows it.
export const ascNullsLast = (value: SQLiteColumn | SQL, id: SQLiteColumn): SQL[] => [sql`${value} ASC NULLS LAST`, desc(id)];
export const descNullsFirst = (value: SQLiteColumn | SQL, id: SQLiteColumn): SQL[] => [sql`${value} DESC NULLS FIRST`, desc(id)];

export function runSortOrders(run: RunColumns) {
  return {
    ID_DESC: [desc(run.id)],
    EXPECTED_START_TIME_ASC: ascNullsLast(run.expectedStartTime, run.id),
    EXPECTED_START_TIME_DESC: descNullsFirst(run.expectedStartTime, run.id),
    NAME_ASC: [asc(run.name)],
    NAME_DESC: [desc(run.name)],
    NEXT_SCHEDULED_START_TIME_ASC: ascNullsLast(run.nextScheduledStartTime, run.id),
    END_TIME_DESC: descNullsFirst(run.endTime, run.id),
  } satisfies Record<string, SQL[]>;
}
