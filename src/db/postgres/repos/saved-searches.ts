import { asc, eq } from "drizzle-orm";
import type { JsonObject } from "../../../lib/json";
import type { Micros } from "../../../lib/time";
import type { SavedSearchRepo } from "../../repositories";
import type { SavedSearchRow } from "../../repos/saved-searches";
import type { Op } from "../../unit-of-work";
import { byCodePoint } from "../filters";
import { query } from "../query";
import { savedSearch } from "../schema";

/** src/db/repos/saved-searches.ts on PostgreSQL. */
export class PgSavedSearchRepository implements SavedSearchRepo {
  /** As in Prefect, a replacement keeps the row's id and both timestamps (its ON CONFLICT update sets only the filters). */
  *upsert(input: { name: string; filters: JsonObject[] }, now: Micros): Op<{ row: SavedSearchRow; created: boolean }> {
    const id = Bun.randomUUIDv7();
    const [row] = yield* query((db) =>
      db
        .insert(savedSearch)
        .values({ id, created: now, updated: now, ...input })
        .onConflictDoUpdate({ target: savedSearch.name, set: { filters: input.filters } })
        .returning(),
    );
    return { row: row!, created: row!.id === id };
  }

  *get(id: string): Op<SavedSearchRow | undefined> {
    return (yield* query((db) => db.select().from(savedSearch).where(eq(savedSearch.id, id))))[0];
  }

  *list(limit: number, offset: number): Op<SavedSearchRow[]> {
    return yield* query((db) => db.select().from(savedSearch).orderBy(asc(byCodePoint(savedSearch.name))).limit(limit).offset(offset));
  }

  *delete(id: string): Op<boolean> {
    return (yield* query((db) => db.delete(savedSearch).where(eq(savedSearch.id, id)).returning({ id: savedSearch.id }))).length > 0;
  }
}
