import { Database } from "bun:sqlite";
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { drizzle, type BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import type { MigrationMeta } from "drizzle-orm/migrator";
import { migrations } from "./migrations.generated";
import type { Outbox } from "./outbox";
import * as schema from "./schema";

export type SqliteDb = BunSQLiteDatabase<typeof schema> & { $client: Database };

/**
 * Opens (creating if needed) the SQLite database and applies the embedded migrations.
 * Every transaction runs through `outbox`, which publishes the events it staged after commit.
 */
export function openSqlite(path: string, outbox: Outbox): SqliteDb {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const client = new Database(path, { create: true, strict: true });
  // WAL + NORMAL: an acknowledged commit survives a process crash; busy_timeout
  // lets a second process (or replica) wait for the write lock instead of failing.
  client.run("PRAGMA journal_mode = WAL");
  client.run("PRAGMA synchronous = NORMAL");
  client.run("PRAGMA busy_timeout = 5000");
  client.run("PRAGMA foreign_keys = ON");
  const db = drizzle({ client: instrument(client, outbox), schema }) as SqliteDb;
  migrate(db);
  return db;
}

/**
 * Drizzle compiles every query with Database.prepare(). Routing that to
 * Database.query(), bun's per-SQL-text statement cache, means a query shape is
 * compiled by SQLite once per connection instead of once per request.
 * (Statements run to completion synchronously, so sharing one is safe.)
 *
 * Drizzle's `db.transaction` and the repositories' `$client.transaction` both come
 * through `transaction`, so wrapping it here lets the outbox see every commit and rollback.
 */
function instrument(client: Database, outbox: Outbox): Database {
  return new Proxy(client, {
    get(target, prop) {
      if (prop === "prepare") return (sql: string) => target.query(sql);
      if (prop === "transaction") {
        return <A extends unknown[], T>(body: (...args: A) => T) => observed(target.transaction(body) as Transaction<A, T>, outbox);
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** What bun's Database.transaction returns: the function, also with each BEGIN variant. */
interface Transaction<A extends unknown[], T> {
  (...args: A): T;
  deferred(...args: A): T;
  immediate(...args: A): T;
  exclusive(...args: A): T;
}

/** The same transaction function (and its BEGIN DEFERRED/IMMEDIATE/EXCLUSIVE variants), run through the outbox. */
function observed<A extends unknown[], T>(transaction: Transaction<A, T>, outbox: Outbox): Transaction<A, T> {
  const wrap =
    (run: (...args: A) => T) =>
    (...args: A): T =>
      outbox.runTransaction(() => run(...args));
  return Object.assign(wrap(transaction), {
    deferred: wrap(transaction.deferred),
    immediate: wrap(transaction.immediate),
    exclusive: wrap(transaction.exclusive),
  }) as Transaction<A, T>;
}

function migrate(db: SqliteDb): void {
  const metas: MigrationMeta[] = migrations.map((m) => ({
    sql: m.sql.split("--> statement-breakpoint"),
    bps: m.breakpoints,
    folderMillis: m.when,
    hash: createHash("sha256").update(m.sql).digest("hex"),
  }));
  // What drizzle-orm/bun-sqlite/migrator does after reading the folder; the dialect and session are not in its public types.
  const internals = db as unknown as { dialect: { migrate(m: MigrationMeta[], s: unknown, c: object): void }; session: unknown };
  internals.dialect.migrate(metas, internals.session, { migrationsFolder: "(embedded)" });
}
