/**
 * The PostgreSQL twins of the SQLite-only fragments of src/db/filters.ts, for the filters
 * the ported repositories use. Same meaning, PostgreSQL's SQL: TRUE/FALSE for 1/0, jsonb
 * operators for json_each, ILIKE for SQLite's (ASCII case-insensitive) LIKE.
 */
import { and, inArray, not, or, sql, type SQL } from "drizzle-orm";
import type { PgColumn } from "drizzle-orm/pg-core";
import { canonicalUuids } from "../../lib/uuid";
import type { VariableFilter } from "../../schemas/filters";
import { variable } from "./schema";

type Cond = SQL | undefined;
type Operator = "and_" | "or_" | null | undefined;

const TRUE = sql`TRUE`;
const FALSE = sql`FALSE`;

export function combine(operator: Operator, conds: (Cond | null)[]): Cond {
  const present = conds.filter((c): c is SQL => c != null);
  if (present.length === 0) return undefined;
  return operator === "or_" ? or(...present) : and(...present);
}

/** As in src/db/filters.ts: a present-but-empty nested filter object is TRUE. */
export function group(f: object | null | undefined, conds: (Cond | null)[]): Cond {
  if (f == null) return undefined;
  const operator = "operator" in f ? (f.operator as Operator) : undefined;
  return combine(operator, conds) ?? TRUE;
}

export const anyOf = <T>(column: PgColumn, values: T[] | null | undefined): Cond =>
  values == null ? undefined : values.length === 0 ? FALSE : inArray(column, values);

/** Case-insensitive substring match; `ESCAPE ''` so a backslash is literal, as in SQLite's LIKE. */
export const like = (column: PgColumn | SQL, value: string | null | undefined): Cond =>
  value == null ? undefined : sql`${column} ILIKE ${"%" + value + "%"} ESCAPE ''`;

interface TagCriteria {
  operator?: Operator;
  all_?: string[] | null;
  any_?: string[] | null;
  is_null_?: boolean | null;
}

/** Each list is bound as one jsonb array, as the SQLite side binds one JSON text. */
const asJsonb = (tags: string[]) => sql`${JSON.stringify(tags)}::jsonb`;

/** Tag arrays: all_ = contains every tag, any_ = at least one, is_null_ = empty list. */
export function tagsCond(column: PgColumn, f: TagCriteria | null | undefined): Cond {
  if (f == null) return undefined;
  const empty = sql`jsonb_array_length(${column}) = 0`;
  return group(f, [
    f.all_ == null ? undefined : f.all_.length === 0 ? TRUE : sql`${column} @> ${asJsonb(f.all_)}`,
    f.any_ == null
      ? undefined
      : f.any_.length === 0
        ? FALSE
        : sql`EXISTS (SELECT 1 FROM jsonb_array_elements(${column}) AS tag WHERE ${asJsonb(f.any_)} @> jsonb_build_array(tag))`,
    f.is_null_ == null ? undefined : f.is_null_ ? empty : not(empty),
  ]);
}

export function variableCond(f: VariableFilter | null | undefined): Cond {
  if (!f) return undefined;
  return combine(f.operator, [
    group(f.id, [anyOf(variable.id, canonicalUuids(f.id?.any_))]),
    group(f.name, [anyOf(variable.name, f.name?.any_), like(variable.name, f.name?.like_)]),
    // Prefect ignores an empty all_ here (where tagsCond would read it as TRUE, which differs under or_).
    f.tags && (tagsCond(variable.tags, { ...f.tags, all_: f.tags.all_?.length ? f.tags.all_ : null }) ?? TRUE),
  ]);
}

/** Text sort keys compare by code point, as SQLite's BINARY collation does, whatever the database's collation. */
export const byCodePoint = (column: PgColumn) => sql`${column} COLLATE "C"`;
