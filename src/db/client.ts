import { Database, SQLiteError, type Statement } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { count, type SQL } from "drizzle-orm";
import { drizzle, type BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";
import type { MigrationMeta } from "drizzle-orm/migrator";
import { migrations } from "./migrations.generated";
import * as schema from "./schema";

export type SqliteDb = BunSQLiteDatabase<typeof schema> & { $client: Database };

/** The connections of one SQLite database: every write goes through `writer`; `reader` sees committed data only. */
export interface SqliteConnections {
  writer: SqliteDb;
  /** A second, read-only connection under WAL; the writer itself for `:memory:`, which cannot have two. */
  reader: SqliteDb;
}

/** How long opening waits for another process's lock (to migrate); afterwards writes wait without blocking (see Store.write). */
const OPEN_BUSY_TIMEOUT_MS = 5000;

/** Opens (creating if needed) the SQLite database and applies the embedded migrations. */
export function openSqlite(path: string): SqliteConnections {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const client = new Database(path, { create: true, strict: true });
  // WAL + NORMAL: an acknowledged commit survives a process crash, and readers never wait for the writer.
  client.run("PRAGMA journal_mode = WAL");
  client.run("PRAGMA synchronous = NORMAL");
  client.run(`PRAGMA busy_timeout = ${OPEN_BUSY_TIMEOUT_MS}`);
  client.run("PRAGMA foreign_keys = ON");
  const writer = drizzle({ client: withStatementCache(client), schema }) as SqliteDb;
  if (!isCurrent(client)) migrate(writer);
  // From here on a busy database must never block the event loop: Store.write retries BEGIN IMMEDIATE on a timer.
  client.run("PRAGMA busy_timeout = 0");
  if (path === ":memory:") return { writer, reader: writer };
  const readClient = new Database(path, { readonly: true, strict: true });
  readClient.run("PRAGMA busy_timeout = 0");
  const reader = drizzle({ client: withStatementCache(readClient), schema }) as SqliteDb;
  return { writer, reader };
}

/** Statements kept per connection: far more than the server's distinct query shapes. */
const STATEMENT_CACHE_SIZE = 1000;
/** Longer SQL (multi-row inserts of varying size) is compiled each time rather than cached. */
const MAX_CACHED_SQL_CHARS = 64 * 1024;

/**
 * Drizzle compiles every query with Database.prepare(). Here that returns a statement kept per
 * SQL text (least recently used evicted), so a query shape is compiled by SQLite once per
 * connection instead of once per request. Not bun's own Database.query() cache: it keeps 20
 * statements, fewer than one flow-run lifecycle uses, and past that compiled every query again
 * (8–9 µs instead of under 1 µs each, measured). Statements run to completion synchronously,
 * so sharing one is safe.
 */
function withStatementCache(client: Database): Database {
  const cache = new Map<string, Statement>();
  const prepare = (sql: string): Statement => {
    if (sql.length > MAX_CACHED_SQL_CHARS) return client.prepare(sql);
    const cached = cache.get(sql);
    if (cached) {
      cache.delete(sql);
      cache.set(sql, cached);
      return cached;
    }
    const statement = client.prepare(sql);
    cache.set(sql, statement);
    // Dropped, not finalized: a query prepared once at start (a repository's) may still hold it.
    if (cache.size > STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value!);
    return statement;
  };
  return new Proxy(client, {
    get(target, prop) {
      if (prop === "prepare") return prepare;
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** The newest embedded migration, by the folder time drizzle records for it. */
const LATEST_MIGRATION_WHEN = Math.max(...migrations.map((m) => m.when));

/**
 * One query instead of drizzle's migrator (which creates its table, reads the last row and
 * runs an empty transaction at every start): true when the newest embedded migration is recorded.
 */
function isCurrent(client: Database): boolean {
  try {
    const row = client.prepare<{ last: number | null }, []>("SELECT max(created_at) AS last FROM __drizzle_migrations").get();
    return row?.last != null && Number(row.last) >= LATEST_MIGRATION_WHEN;
  } catch (error) {
    if (error instanceof SQLiteError && error.message.includes("no such table")) return false; // a new database
    throw error;
  }
}

function migrate(db: SqliteDb): void {
  const metas: MigrationMeta[] = migrations.map((m) => ({
    sql: m.sql.split("--> statement-breakpoint"),
    bps: m.breakpoints,
    folderMillis: m.when,
    hash: new Bun.CryptoHasher("sha256").update(m.sql).digest("hex"),
  }));
  // What drizzle-orm/bun-sqlite/migrator does after reading the folder; the dialect and session are not in its public types.
  const internals = db as unknown as { dialect: { migrate(m: MigrationMeta[], s: unknown, c: object): void }; session: unknown };
  internals.dialect.migrate(metas, internals.session, { migrationsFolder: "(embedded)" });
}

/** `count(*)` of the rows of `table` matching `where`, synchronously (Drizzle's `$count` is awaitable only). */
export function countWhere(db: SqliteDb, table: SQLiteTable, where: SQL | undefined): number {
  return db.select({ n: count() }).from(table).where(where).get()!.n;
}
