import { asc, eq, sql } from "drizzle-orm";
import type { JsonObject } from "../../lib/json";
import type { Micros } from "../../lib/time";
import type { SqliteDb } from "../client";
import { savedSearch } from "../schema";
import type { Op } from "../unit-of-work";

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
  *upsert(input: { name: string; filters: JsonObject[] }, now: Micros): Op<{ row: SavedSearchRow; created: boolean }> {
    const id = Bun.randomUUIDv7();
    const row = this.db
      .insert(savedSearch)
      .values({ id, created: now, updated: now, ...input })
      .onConflictDoUpdate({ target: savedSearch.name, set: { filters: input.filters } })
      .returning()
      .get();
    return { row, created: row.id === id };
  }

  *get(id: string): Op<SavedSearchRow | undefined> {
    return this.byId.get({ id });
  }

  *list(limit: number, offset: number): Op<SavedSearchRow[]> {
    return this.db.select().from(savedSearch).orderBy(asc(savedSearch.name)).limit(limit).offset(offset).all();
  }

  *delete(id: string): Op<boolean> {
    return this.db.delete(savedSearch).where(eq(savedSearch.id, id)).returning({ id: savedSearch.id }).all().length > 0;
  }
}
