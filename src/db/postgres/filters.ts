/**
 * Prefect's filter grammar (src/db/filters.ts) over the PostgreSQL schema: the same
 * conditions, with PostgreSQL's SQL for the fragments that differ.
 */
import { sql, type Column, type SQL } from "drizzle-orm";
import { formatDateTime, type Micros } from "../../lib/time";
import { createFilters, type FilterDialect } from "../filters";
import * as schema from "./schema";

/** Each list is bound as one jsonb array, as the SQLite side binds one JSON text. */
const asJsonb = (values: string[]) => sql`${JSON.stringify(values)}::jsonb`;

export const postgresDialect: FilterDialect = {
  true: sql`TRUE`,
  false: sql`FALSE`,
  // ILIKE for SQLite's case-insensitive LIKE; `ESCAPE ''` so a backslash is literal there too
  contains: (column, value) => sql`${column} ILIKE ${"%" + value + "%"} ESCAPE ''`,
  startsWith: (column, prefix) => sql`${column} ILIKE ${prefix + "%"} ESCAPE ''`,
  instant: (value) => (value === null ? sql`NULL::timestamptz` : sql`${formatDateTime(value)}::timestamptz`),
  // PostgreSQL's planner has statistics: nothing to keep it from
  unindexed: (column) => sql`${column}`,
  hasAnyTag: (column, tags) => sql`EXISTS (SELECT 1 FROM jsonb_array_elements(${column}) AS tag WHERE ${asJsonb(tags)} @> jsonb_build_array(tag))`,
  hasAllTags: (column, tags) => sql`${column} @> ${asJsonb(tags)}`,
  emptyTags: (column) => sql`jsonb_array_length(${column}) = 0`,
  jsonFieldIn: (column, key, values) => sql`(${column} ->> ${key}) IN ${values}`,
  textContains: (text, needle) => sql`strpos(${text}, ${needle}) > 0`,
};

export const {
  combine,
  group,
  anyOf,
  notAnyOf,
  like,
  isNullCond,
  before,
  after,
  ge,
  le,
  eqOf,
  tagsCond,
  flowCond,
  flowRunCond,
  taskRunCond,
  flowsWhere,
  flowRunsWhere,
  taskRunsWhere,
  variableCond,
  logCond,
  deploymentCond,
  deploymentsWhere,
  workPoolCond,
  workQueueCond,
  workerCond,
  artifactCond,
  artifactCollectionCond,
  artifactRelationsWhere,
  automationCond,
  blockTypeCond,
  blockSchemaCond,
  blockDocumentsWhere,
} = createFilters(schema, postgresDialect);

/** Text sort keys compare by code point, as SQLite's BINARY collation does, whatever the database's collation. */
export const byCodePoint = (column: Column | SQL) => sql`${column} COLLATE "C"`;

/** An instant bound inside a raw `sql` fragment, which bypasses the column's mapping (SQLite binds the integer itself). */
export const instantParam = (value: Micros): SQL => postgresDialect.instant(value);
/** A JSON document's top-level field as text (SQLite's `json_extract(column, '$.key')`). */
export const jsonText = (column: Column, key: string) => sql`(${column} ->> ${key})`;
