/**
 * Rows arranged or inspected straight through the store's Drizzle handle, on either backend:
 * for API tests that need a state no request can make (a column a client never sets) or want to
 * see a column no response shows. Both schemas name their tables and columns alike.
 */
import { eq } from "drizzle-orm";
import * as pgSchema from "../../src/db/postgres/schema";
import { PgStore } from "../../src/db/postgres/store";
import type { Store } from "../../src/db/repositories";
import * as sqliteSchema from "../../src/db/schema";
import { SqliteStore } from "../../src/db/store";
import { OpeningStore } from "./api";

type TableName = "flowRun" | "deployment" | "workQueue" | "workPool";
type Columns<T extends TableName> = Partial<(typeof sqliteSchema)[T]["$inferInsert"]>;
type Row<T extends TableName> = (typeof sqliteSchema)[T]["$inferSelect"];

async function backend(store: Store): Promise<SqliteStore | PgStore> {
  const open = store instanceof OpeningStore ? await store.opened() : store;
  if (open instanceof SqliteStore || open instanceof PgStore) return open;
  throw new Error("the test store is neither SQLite's nor PostgreSQL's");
}

/** Sets columns of the row with this id. */
export async function updateRow<T extends TableName>(store: Store, table: T, id: string, columns: Columns<T>): Promise<void> {
  const open = await backend(store);
  if (open instanceof SqliteStore) {
    const t = sqliteSchema[table];
    // the generic table defeats Drizzle's column typing; the signature above keeps it typed
    open.db.update(t).set(columns as never).where(eq(t.id, id)).run();
  } else {
    const t = pgSchema[table];
    await open.db.update(t).set(columns as never).where(eq(t.id, id));
  }
}

/** The row with this id, every column. */
export async function readRow<T extends TableName>(store: Store, table: T, id: string): Promise<Row<T> | undefined> {
  const open = await backend(store);
  if (open instanceof SqliteStore) {
    const t = sqliteSchema[table] as typeof sqliteSchema.flowRun;
    return open.db.select().from(t).where(eq(t.id, id)).get() as Row<T> | undefined;
  }
  // as in updateRow: one concrete table type for Drizzle's select, the result typed by the signature
  const t = pgSchema[table] as typeof pgSchema.flowRun;
  const [row] = await open.db.select().from(t).where(eq(t.id, id));
  return row as Row<T> | undefined;
}
