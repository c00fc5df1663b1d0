/** The sort orders flow runs and task runs share (Prefect's FlowRunSort / TaskRunSort), on either backend. */
import { asc, desc, sql, type Column, type SQL } from "drizzle-orm";

interface RunColumns {
  id: Column;
  name: Column;
  expectedStartTime: Column;
  nextScheduledStartTime: Column;
  endTime: Column;
}

// Postgres orders NULLs last on ASC and first on DESC; Prefect's behaviour follows it.
export const ascNullsLast = (value: Column | SQL, id: Column): SQL[] => [sql`${value} ASC NULLS LAST`, desc(id)];
export const descNullsFirst = (value: Column | SQL, id: Column): SQL[] => [sql`${value} DESC NULLS FIRST`, desc(id)];

/** `textKey` makes a text column a sort key: the column itself on SQLite, `byCodePoint` on PostgreSQL. */
export function runSortOrders(run: RunColumns, textKey: (column: Column) => Column | SQL = (column) => column) {
  return {
    ID_DESC: [desc(run.id)],
    EXPECTED_START_TIME_ASC: ascNullsLast(run.expectedStartTime, run.id),
    EXPECTED_START_TIME_DESC: descNullsFirst(run.expectedStartTime, run.id),
    NAME_ASC: [asc(textKey(run.name))],
    NAME_DESC: [desc(textKey(run.name))],
    NEXT_SCHEDULED_START_TIME_ASC: ascNullsLast(run.nextScheduledStartTime, run.id),
    END_TIME_DESC: descNullsFirst(run.endTime, run.id),
  } satisfies Record<string, SQL[]>;
}
