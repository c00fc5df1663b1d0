import { asc, desc, eq, sql, type SQL } from "drizzle-orm";
import type { JsonValue } from "../../lib/json";
import type { Micros } from "../../lib/time";
import type { VariableFilter } from "../../schemas/filters";
import { countWhere, type SqliteDb } from "../client";
import { variableCond } from "../filters";
import { variable } from "../schema";
import type { Op } from "../unit-of-work";

export type VariableRow = typeof variable.$inferSelect;
export type VariableSort = "NAME_ASC" | "NAME_DESC" | "CREATED_DESC" | "UPDATED_DESC";

/**
 * The fields a PATCH sent, nulls included: Prefect writes whatever was set, so a
 * null name or tags reaches the NOT NULL constraint (a 409, as in Prefect).
 */
export interface VariablePatch {
  name?: string | null;
  value?: JsonValue;
  tags?: string[] | null;
}

/** An explicit null becomes SQL NULL (not the JSON text `null`), so NOT NULL columns refuse it; undefined leaves the column alone. */
const sqlNull = <T>(value: T | null | undefined): T | SQL | undefined => (value === null ? sql`NULL` : value);

const ORDER: Record<VariableSort, SQL[]> = {
  NAME_ASC: [asc(variable.name)],
  NAME_DESC: [desc(variable.name)],
  CREATED_DESC: [desc(variable.created), desc(variable.id)],
  UPDATED_DESC: [desc(variable.updated), desc(variable.id)],
};

export class VariableRepository {
  private readonly byId;
  private readonly byName;

  constructor(private readonly db: SqliteDb) {
    this.byId = db.select().from(variable).where(eq(variable.id, sql.placeholder("id"))).prepare();
    this.byName = db.select().from(variable).where(eq(variable.name, sql.placeholder("name"))).prepare();
  }

  /** Inserts the variable; undefined when the name is taken. */
  *create(input: { name: string; value: JsonValue; tags: string[] }, now: Micros): Op<VariableRow | undefined> {
    const row: VariableRow = { id: Bun.randomUUIDv7(), created: now, updated: now, ...input };
    const inserted = this.db.insert(variable).values(row).onConflictDoNothing({ target: variable.name }).returning({ id: variable.id }).all();
    return inserted.length > 0 ? row : undefined;
  }

  *get(id: string): Op<VariableRow | undefined> {
    return this.byId.get({ id });
  }

  *getByName(name: string): Op<VariableRow | undefined> {
    return this.byName.get({ name });
  }

  /** Returns false when the variable does not exist. A name clash throws the unique-constraint error (409). */
  *update(id: string, patch: VariablePatch, now: Micros): Op<boolean> {
    return this.updateWhere(eq(variable.id, id), patch, now);
  }

  *updateByName(name: string, patch: VariablePatch, now: Micros): Op<boolean> {
    return this.updateWhere(eq(variable.name, name), patch, now);
  }

  *delete(id: string): Op<boolean> {
    return this.db.delete(variable).where(eq(variable.id, id)).returning({ id: variable.id }).all().length > 0;
  }

  *deleteByName(name: string): Op<boolean> {
    return this.db.delete(variable).where(eq(variable.name, name)).returning({ id: variable.id }).all().length > 0;
  }

  *list(filter: VariableFilter | null | undefined, sort: VariableSort, limit: number, offset: number): Op<VariableRow[]> {
    return this.db
      .select()
      .from(variable)
      .where(variableCond(filter))
      .orderBy(...ORDER[sort])
      .limit(limit)
      .offset(offset)
      .all();
  }

  *count(filter: VariableFilter | null | undefined): Op<number> {
    return countWhere(this.db, variable, variableCond(filter));
  }

  private updateWhere(where: SQL, patch: VariablePatch, now: Micros): boolean {
    const values = { name: sqlNull(patch.name), value: patch.value, tags: sqlNull(patch.tags), updated: now };
    return this.db.update(variable).set(values).where(where).returning({ id: variable.id }).all().length > 0;
  }
}
