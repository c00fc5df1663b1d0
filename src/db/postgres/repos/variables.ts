import { asc, count, desc, eq, sql, type SQL } from "drizzle-orm";
import type { JsonValue } from "../../../lib/json";
import type { Micros } from "../../../lib/time";
import type { VariableFilter } from "../../../schemas/filters";
import type { VariableRepo } from "../../repositories";
import type { VariablePatch, VariableRow, VariableSort } from "../../repos/variables";
import type { Op } from "../../unit-of-work";
import { byCodePoint, variableCond } from "../filters";
import { query } from "../query";
import { variable } from "../schema";

/** An explicit null becomes SQL NULL, so NOT NULL columns refuse it (a 409, as in Prefect); undefined leaves the column alone. */
const sqlNull = <T>(value: T | null | undefined): T | SQL | undefined => (value === null ? sql`NULL` : value);

const ORDER: Record<VariableSort, SQL[]> = {
  NAME_ASC: [asc(byCodePoint(variable.name))],
  NAME_DESC: [desc(byCodePoint(variable.name))],
  CREATED_DESC: [desc(variable.created), desc(variable.id)],
  UPDATED_DESC: [desc(variable.updated), desc(variable.id)],
};

/** src/db/repos/variables.ts on PostgreSQL. */
export class PgVariableRepository implements VariableRepo {
  *create(input: { name: string; value: JsonValue; tags: string[] }, now: Micros): Op<VariableRow | undefined> {
    const row: VariableRow = { id: Bun.randomUUIDv7(), created: now, updated: now, ...input };
    const inserted = yield* query((db) =>
      db.insert(variable).values(row).onConflictDoNothing({ target: variable.name }).returning({ id: variable.id }),
    );
    return inserted.length > 0 ? row : undefined;
  }

  *get(id: string): Op<VariableRow | undefined> {
    return (yield* query((db) => db.select().from(variable).where(eq(variable.id, id))))[0];
  }

  *getByName(name: string): Op<VariableRow | undefined> {
    return (yield* query((db) => db.select().from(variable).where(eq(variable.name, name))))[0];
  }

  *update(id: string, patch: VariablePatch, now: Micros): Op<boolean> {
    return yield* this.updateWhere(eq(variable.id, id), patch, now);
  }

  *updateByName(name: string, patch: VariablePatch, now: Micros): Op<boolean> {
    return yield* this.updateWhere(eq(variable.name, name), patch, now);
  }

  *delete(id: string): Op<boolean> {
    return (yield* query((db) => db.delete(variable).where(eq(variable.id, id)).returning({ id: variable.id }))).length > 0;
  }

  *deleteByName(name: string): Op<boolean> {
    return (yield* query((db) => db.delete(variable).where(eq(variable.name, name)).returning({ id: variable.id }))).length > 0;
  }

  *list(filter: VariableFilter | null | undefined, sort: VariableSort, limit: number, offset: number): Op<VariableRow[]> {
    return yield* query((db) =>
      db
        .select()
        .from(variable)
        .where(variableCond(filter))
        .orderBy(...ORDER[sort])
        .limit(limit)
        .offset(offset),
    );
  }

  *count(filter: VariableFilter | null | undefined): Op<number> {
    const [row] = yield* query((db) => db.select({ n: count() }).from(variable).where(variableCond(filter)));
    return row!.n;
  }

  private *updateWhere(where: SQL, patch: VariablePatch, now: Micros): Op<boolean> {
    const values = { name: sqlNull(patch.name), value: patch.value, tags: sqlNull(patch.tags), updated: now };
    return (yield* query((db) => db.update(variable).set(values).where(where).returning({ id: variable.id }))).length > 0;
  }
}
