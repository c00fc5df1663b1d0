/**
 * Connecting to PostgreSQL (postgres.js under Drizzle) and migrating it at start.
 *
 * Every connection's session is UTC in ISO style, so `timestamptz` values arrive as
 * `2026-12-03 10:00:00.123456+00` text (Drizzle's postgres-js driver keeps the driver from
 * making JS Dates of them), which schema.ts reads as microseconds.
 */
import { createHash } from "node:crypto";
import { sql } from "drizzle-orm";
import type { MigrationMeta } from "drizzle-orm/migrator";
import { drizzle, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import postgres, { type Sql } from "postgres";
import { driverError, isConnectionError } from "./errors";
import { migrations } from "./migrations.generated";
import * as schema from "./schema";
import { normalisePostgresUrl, postgresAddress } from "./url";

export type PgDb = PostgresJsDatabase<typeof schema> & { $client: Sql };

/** Connection settings, named after Prefect's PREFECT_SERVER_DATABASE_* settings. */
export interface PostgresSettings {
  /** `postgresql://user:pass@host:5432/db` (Prefect's `postgresql+asyncpg://` already rewritten). */
  url: string;
  /** Connections kept (PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_SIZE, 5) */
  poolSize: number;
  /** More connections opened under load (..._SQLALCHEMY_MAX_OVERFLOW, 10): the pool holds at most their sum. */
  maxOverflow: number;
  /** A connection is replaced after this many seconds; -1 never (..._SQLALCHEMY_POOL_RECYCLE, 3600). */
  poolRecycleSeconds: number;
  /** Opening a connection gives up after this long (PREFECT_SERVER_DATABASE_CONNECTION_TIMEOUT, 5). */
  connectTimeoutSeconds: number;
  /** Every statement is cancelled after this long (PREFECT_SERVER_DATABASE_TIMEOUT, 10); 0 = no limit. */
  statementTimeoutSeconds: number;
}

/** The database could not be reached or opened at start: one line saying where and why. */
export class PostgresConnectError extends Error {}

/** What the event relay's listening connection adds to a client. */
interface ListenerOptions {
  applicationName: string;
  onnotify: (channel: string, payload: string) => void;
  onclose: () => void;
}

function client(settings: PostgresSettings, max: number, statementTimeoutSeconds: number, listener?: ListenerOptions): Sql {
  // postgres.js reads `onnotify` (its own listen() is built on it), but its types leave it out
  const options: postgres.Options<{}> & Partial<Pick<ListenerOptions, "onnotify">> = {
    max,
    connect_timeout: settings.connectTimeoutSeconds,
    max_lifetime: settings.poolRecycleSeconds < 0 ? null : settings.poolRecycleSeconds,
    // postgres.js waits up to 20 s between reconnection attempts by default; at most 1 s here,
    // so requests and /api/ready recover within a second of the database coming back.
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 1),
    onnotice: () => {},
    onnotify: listener?.onnotify,
    onclose: listener?.onclose,
    connection: {
      TimeZone: "UTC",
      DateStyle: "ISO, MDY",
      statement_timeout: Math.round(statementTimeoutSeconds * 1000),
      application_name: listener?.applicationName ?? "prefect-lite",
    },
  };
  return postgres(normalisePostgresUrl(settings.url), options);
}

/** The pool the store runs queries on. Connections open lazily; `checkConnection` proves the first. */
export function openPostgres(settings: PostgresSettings): PgDb {
  const max = settings.poolSize + Math.max(0, settings.maxOverflow);
  return drizzle({ client: client(settings, Math.max(1, max), settings.statementTimeoutSeconds), schema }) as PgDb;
}

/**
 * One connection of its own for LISTEN (the event relay), never recycled (a LISTEN lasts as
 * long as its session) and named `applicationName` so an operator can find it in
 * pg_stat_activity. `onnotify` gets each notification; `onclose` runs whenever the connection
 * is lost, after which its LISTEN must be issued again.
 */
export function openListener(
  settings: PostgresSettings,
  applicationName: string,
  onnotify: (channel: string, payload: string) => void,
  onclose: () => void,
): Sql {
  return client({ ...settings, poolRecycleSeconds: -1 }, 1, settings.statementTimeoutSeconds, { applicationName, onnotify, onclose });
}

/** Fails with one line (host, port, the driver's reason) unless the database answers. */
export async function checkConnection(db: PgDb, url: string): Promise<void> {
  try {
    await db.execute(sql`SELECT 1`);
  } catch (error) {
    throw new PostgresConnectError(`cannot connect to PostgreSQL at ${postgresAddress(url)}: ${connectReason(error)}`);
  }
}

function connectReason(failure: unknown): string {
  const error = driverError(failure);
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: string }).code;
  if (code === "ECONNREFUSED") return "connection refused";
  if (code === "CONNECT_TIMEOUT") return "timed out connecting";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "host not found";
  return error.message;
}

/** Two processes starting at once on one database: the second waits here until the first has migrated. */
const MIGRATION_LOCK = sql`hashtext('prefect-lite migrations')`;

/**
 * Applies the embedded migrations not applied yet, under a session advisory lock so two
 * replicas starting together migrate once. Runs on its own connection, without the
 * statement timeout (as Prefect's migration_timeout defaults to none). Returns how many it applied.
 */
export async function migratePostgres(settings: PostgresSettings): Promise<number> {
  const db = drizzle({ client: client(settings, 1, 0), schema }) as PgDb;
  try {
    await db.execute(sql`SELECT pg_advisory_lock(${MIGRATION_LOCK})`);
    try {
      const before = await appliedCount(db);
      const metas: MigrationMeta[] = migrations.map((m) => ({
        sql: m.sql.split("--> statement-breakpoint"),
        bps: m.breakpoints,
        folderMillis: m.when,
        hash: createHash("sha256").update(m.sql).digest("hex"),
      }));
      // What drizzle-orm/postgres-js/migrator does after reading the folder; the dialect and session are not in its public types.
      const internals = db as unknown as { dialect: { migrate(m: MigrationMeta[], s: unknown, c: object): Promise<void> }; session: unknown };
      await internals.dialect.migrate(metas, internals.session, { migrationsFolder: "(embedded)" });
      return (await appliedCount(db)) - before;
    } finally {
      await db.execute(sql`SELECT pg_advisory_unlock(${MIGRATION_LOCK})`);
    }
  } catch (error) {
    if (error instanceof PostgresConnectError) throw error;
    if (isConnectionError(error)) {
      throw new PostgresConnectError(`cannot connect to PostgreSQL at ${postgresAddress(settings.url)}: ${connectReason(error)}`);
    }
    throw new PostgresConnectError(`cannot migrate the PostgreSQL database at ${postgresAddress(settings.url)}: ${connectReason(error)}`);
  } finally {
    await db.$client.end();
  }
}

async function appliedCount(db: PgDb): Promise<number> {
  const [table] = await db.execute<{ exists: boolean }>(sql`SELECT to_regclass('drizzle.__drizzle_migrations') IS NOT NULL AS exists`);
  if (!table!.exists) return 0;
  const [row] = await db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`);
  return row!.n;
}
