/** The PostgreSQL schema has the SQLite schema's tables, columns and indexes, in PostgreSQL's types (and its own event relay). */
import { describe, expect, test } from "bun:test";
import { getTableConfig as pgTableConfig, PgTable } from "drizzle-orm/pg-core";
import { getTableConfig as sqliteTableConfig, SQLiteTable } from "drizzle-orm/sqlite-core";
import * as pg from "../../src/db/postgres/schema";
import * as sqlite from "../../src/db/schema";

function shape(config: { name: string; columns: { name: string; notNull: boolean; primary: boolean; isUnique: boolean }[]; indexes: { config: { name?: string; unique: boolean } }[]; foreignKeys: { getName(): string }[] }) {
  return {
    name: config.name,
    columns: Object.fromEntries(config.columns.map((c) => [c.name, { notNull: c.notNull, primary: c.primary, unique: c.isUnique }])),
    indexes: config.indexes.map((i) => `${i.config.name}${i.config.unique ? " (unique)" : ""}`).sort(),
    foreignKeys: config.foreignKeys.map((f) => f.getName()).sort(),
  };
}

const sqliteTables = Object.entries(sqlite).filter(([, v]) => v instanceof SQLiteTable) as [string, SQLiteTable][];
/** PostgreSQL only: the relay of events between replicas (one SQLite database has one server process). */
const PG_ONLY = ["eventRelay"];
const pgTables = Object.entries(pg).filter(([k, v]) => v instanceof PgTable && !PG_ONLY.includes(k)) as [string, PgTable][];

describe("PostgreSQL schema", () => {
  test("exports the same tables under the same names", () => {
    expect(pgTables.map(([k]) => k).sort()).toEqual(sqliteTables.map(([k]) => k).sort());
  });

  test.each(sqliteTables.map(([key]) => key))("%s: same columns, nullability, keys, indexes and foreign keys", (key) => {
    const lite = shape(sqliteTableConfig(sqlite[key as keyof typeof sqlite] as SQLiteTable));
    const post = shape(pgTableConfig(pg[key as keyof typeof pg] as PgTable));
    expect(post).toEqual(lite);
  });

  test("instants are timestamptz with microseconds, JSON is jsonb, ids are uuid", () => {
    const columns = pgTableConfig(pg.flowRun).columns;
    const type = (name: string) => columns.find((c) => c.name === name)!.getSQLType();
    expect(type("created")).toBe("timestamp(6) with time zone");
    expect(type("expected_start_time")).toBe("timestamp(6) with time zone");
    expect(type("parameters")).toBe("jsonb");
    expect(type("id")).toBe("uuid");
    expect(type("flow_id")).toBe("uuid");
    expect(type("auto_scheduled")).toBe("boolean");
  });
});
