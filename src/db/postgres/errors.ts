/** PostgreSQL's errors (through postgres.js and Drizzle) as the data layer's driver-neutral ones (src/db/errors.ts). */
import { DrizzleQueryError } from "drizzle-orm/errors";
import postgres from "postgres";
import { StoreBusyError, StoreConflictError, StoreUnavailableError } from "../errors";

/** postgres.js's codes for a connection that could not be made or was lost. */
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
]);

/** The driver's own error under Drizzle's "Failed query" wrapper. */
export function driverError(error: unknown): unknown {
  return error instanceof DrizzleQueryError && error.cause !== undefined ? error.cause : error;
}

/** SQLSTATE of a server error, or null. */
export function sqlState(error: unknown): string | null {
  const cause = driverError(error);
  return cause instanceof postgres.PostgresError ? cause.code : null;
}

/** Deadlocks and serialization failures: the whole transaction may simply be run again. */
export function isRetryable(error: unknown): boolean {
  const state = sqlState(error);
  return state === "40001" || state === "40P01";
}

export function isConnectionError(error: unknown): boolean {
  const cause = driverError(error);
  const state = sqlState(cause);
  if (state !== null) return state.startsWith("08") || state === "57P01" || state === "57P02" || state === "57P03";
  const code = (cause as { code?: unknown } | null)?.code;
  return typeof code === "string" && CONNECTION_CODES.has(code);
}

/** Anything else (a domain error thrown by a body) passes through. */
export function driverNeutral(error: unknown): unknown {
  if (error instanceof StoreConflictError || error instanceof StoreBusyError || error instanceof StoreUnavailableError) return error;
  const cause = driverError(error);
  if (isConnectionError(cause)) return new StoreUnavailableError(`the database is not reachable: ${(cause as Error).message}`);
  const state = sqlState(cause);
  if (state === null) return error;
  // class 23: unique, foreign-key, not-null and check constraints (SQLite's SQLITE_CONSTRAINT_*)
  if (state.startsWith("23")) return new StoreConflictError((cause as Error).message);
  // deadlock or serialization failure after the retries, a lock not granted, a statement timeout
  if (state === "40001" || state === "40P01" || state === "55P03" || state === "57014") return new StoreBusyError(1);
  return cause;
}
