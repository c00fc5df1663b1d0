import { asc, eq, sql } from "drizzle-orm";
import type { JsonObject } from "../../lib/json";
import type { Micros } from "../../lib/time";
import type { SqliteDb } from "../client";
import { savedSearch } from "../schema";

export type SavedSearchRow = typeof savedSearch.$inferSelect;

export class SavedSearchRepository {
  private readonly byId;

  constructor(private readonly db: SqliteDb) {
    this.byId = db.select().from(savedSearch).where(eq(savedSearch.id, sql.placeholder("id"))).prepare();
  }

  /**
   * Inserts the search, or replaces the filters of the one with that name. As in Prefect,
   * a replacement keeps the row's id and both timestamps (its ON CONFLICT update sets only
   * the filters). Returns the row and whether it is new.
   */
  async upsert(input: { name: string; filters: JsonObject[] }, now: Micros): Promise<{ row: SavedSearchRow; created: boolean }> {
    return this.db.transaction((tx) => {
      const id = Bun.randomUUIDv7();
      const row = tx
        .insert(savedSearch)
        .values({ id, created: now, updated: now, ...input })
        .onConflictDoUpdate({ target: savedSearch.name, set: { filters: input.filters } })
        .returning()
        .get();
      return { row, created: row.id === id };
    });
  }

  async get(id: string): Promise<SavedSearchRow | undefined> {
    return this.byId.get({ id });
  }

  async list(limit: number, offset: number): Promise<SavedSearchRow[]> {
    return this.db.select().from(savedSearch).orderBy(asc(savedSearch.name)).limit(limit).offset(offset).all();
  }

  async delete(id: string): Promise<boolean> {
    return this.db.delete(savedSearch).where(eq(savedSearch.id, id)).returning({ id: savedSearch.id }).all().length > 0;
  }
}
