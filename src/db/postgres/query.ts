/**
 * How a PostgreSQL repository operation does its SQL: `yield* query((db) => db.select()...)`
 * yields the pending query to the runner, which runs it on the connection of the body's
 * transaction (or, for a read, on the pool) and hands its result back. The only maker of
 * `PendingQuery`; nothing outside src/db may import this (test/unit/architecture.test.ts).
 */
import type { PgDatabase } from "drizzle-orm/pg-core";
import type { PostgresJsQueryResultHKT } from "drizzle-orm/postgres-js";
import type { Op, PendingQuery } from "../unit-of-work";
import type * as schema from "./schema";

/** The pool or one transaction: where a query runs. */
export type PgConnection = PgDatabase<PostgresJsQueryResultHKT, typeof schema>;

class PgPendingQuery {
  constructor(readonly run: (db: PgConnection) => PromiseLike<unknown>) {}
}

/** The operation running one query; its result is whatever the built query resolves to. */
export function* query<T>(build: (db: PgConnection) => PromiseLike<T>): Op<T> {
  return (yield new PgPendingQuery(build) as unknown as PendingQuery) as T;
}

/**
 * Drives an operation: runs each query it yields on `db` and resumes it with the result.
 * A failed query is thrown into the operation as `mapError` makes it (so a body sees the
 * driver-neutral errors); PostgreSQL has then aborted the transaction, so a body that
 * catches it must not go on querying.
 */
export async function drive<T>(op: Op<T>, db: PgConnection, mapError: (error: unknown) => unknown): Promise<T> {
  let step = op.next();
  while (!step.done) {
    const pending = step.value as unknown as PgPendingQuery;
    if (!(pending instanceof PgPendingQuery)) throw new Error("a database operation yielded something other than a query");
    let result: unknown;
    try {
      result = await pending.run(db);
    } catch (error) {
      step = op.throw(mapError(error));
      continue;
    }
    step = op.next(result);
  }
  return step.value;
}
