/**
 * Driver-neutral errors of the data layer. Whatever the driver reports, code above
 * `src/db` sees one of these (or the domain's own errors thrown from a body).
 */

/** The database could not take the write in time (another process holds its lock): retry later. */
export class StoreBusyError extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super("the database is busy");
  }
}

/** The database is not reachable (closed, gone away). */
export class StoreUnavailableError extends Error {}

/** A write broke a unique or foreign-key constraint. */
export class StoreConflictError extends Error {}
