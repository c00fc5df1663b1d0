/**
 * src/db/event-filters.ts on PostgreSQL: the same EventFilter conditions over `events` and
 * `event_resources`, matching the same events. The dialect's differences:
 * - label patterns are case-sensitive LIKE (the GLOB's `*` and `?` as `%` and `_`);
 * - a label is `resource ->> name`, whatever characters the name has;
 * - the text search reads jsonb's text form, which puts a space after each `:` and `,` and
 *   orders keys as jsonb keeps them, so only a term spanning those differs from SQLite;
 *   it lowercases ASCII only (COLLATE "C"), as SQLite's lower() does.
 */
import { and, gte, inArray, lte, not, notInArray, or, sql, type SQL, type SQLWrapper } from "drizzle-orm";
import type { EventFilter, ResourceCondition } from "../../events/filters";
import type { TextSearchQuery } from "../../lib/text-search";
import { event, eventResource } from "./schema";

type Cond = SQL | undefined;

/** Case-sensitive prefix test; `_` and `%` are plain characters. */
const startsWith = (column: SQLWrapper, prefix: string) => sql`starts_with(${column}, ${prefix})`;

/** A GLOB pattern (`*`, `?`; everything else literal) as a LIKE pattern escaped with `\`. */
const likeOfGlob = (glob: string) => glob.replace(/[\\%_]/g, "\\$&").replaceAll("*", "%").replaceAll("?", "_");

/** A label pattern, `!` negating; a missing label (NULL) matches neither a pattern nor its negation. */
function patternCond(value: SQL, pattern: string): SQL {
  const negated = pattern.startsWith("!");
  const like = likeOfGlob(negated ? pattern.slice(1) : pattern);
  return negated ? sql`(${value} IS NOT NULL AND NOT (${value} LIKE ${like} ESCAPE '\\'))` : sql`(${value} LIKE ${like} ESCAPE '\\')`;
}

const anyPattern = (value: SQL, patterns: string[]): SQL => (patterns.length === 0 ? sql`FALSE` : or(...patterns.map((p) => patternCond(value, p)))!);

const label = (name: string) => sql`(${eventResource.resource} ->> ${name})`;

function resourceCond(c: ResourceCondition): SQL {
  const id = sql`${eventResource.resourceId}`;
  const conds: Cond[] = [
    c.primaryOnly ? sql`${eventResource.resourceRole} = ''` : undefined,
    c.relatedOnly ? sql`${eventResource.resourceRole} != ''` : undefined,
    c.ids ? inArray(eventResource.resourceId, c.ids) : undefined,
    c.idPrefixes ? or(...c.idPrefixes.map((p) => startsWith(id, p))) : undefined,
    c.idPatterns ? anyPattern(id, c.idPatterns) : undefined,
    c.roles ? (c.roles.length === 0 ? sql`FALSE` : inArray(eventResource.resourceRole, c.roles)) : undefined,
    c.idRolePairs
      ? or(...c.idRolePairs.map(([pairId, role]) => sql`(${eventResource.resourceId} = ${pairId} AND ${eventResource.resourceRole} = ${role})`))
      : undefined,
    ...c.labels.map(([name, patterns]) => anyPattern(label(name), patterns)),
  ];
  return and(...conds)!;
}

/** Lowercased name, resource, related and payload JSON: what a text search looks in. */
const searchable = sql`lower((${event.event} || ' ' || ${event.resource}::text || ' ' || ${event.related}::text || ' ' || ${event.payload}::text) COLLATE "C")`;
const contains = (term: string) => sql`strpos(${searchable}, ${term.toLowerCase()}) > 0`;

function textConds(query: TextSearchQuery): Cond[] {
  return [
    query.include.length > 0 ? or(...query.include.map(contains)) : undefined,
    ...query.exclude.map((term) => not(contains(term))),
    ...query.required.map(contains),
  ];
}

export function eventsWhere(f: EventFilter): SQL {
  const e = f.event;
  const conds: Cond[] = [
    gte(event.occurred, f.since),
    lte(event.occurred, f.until),
    e?.prefix ? or(...e.prefix.map((p) => startsWith(event.event, p))) : undefined,
    ...(e?.excludePrefix ?? []).map((p) => not(startsWith(event.event, p))),
    e?.name ? inArray(event.event, e.name) : undefined,
    e?.excludeName ? notInArray(event.event, e.excludeName) : undefined,
    f.resourceIds ? inArray(event.resourceId, f.resourceIds) : undefined,
    f.resourceIdPrefixes ? or(...f.resourceIdPrefixes.map((p) => startsWith(event.resourceId, p))) : undefined,
    f.ids ? inArray(event.id, f.ids) : undefined,
    ...f.resourceConditions.map(
      (c) =>
        sql`${event.id} IN (SELECT ${eventResource.eventId} FROM ${eventResource} WHERE ${and(gte(eventResource.occurred, f.since), lte(eventResource.occurred, f.until), resourceCond(c))})`,
    ),
    ...(f.text ? textConds(f.text) : []),
  ];
  return and(...conds)!;
}
