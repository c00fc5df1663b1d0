/**
 * EventFilter -> SQL over `events` and `event_resources` (server/events/filters.py
 * build_where_clauses). Resource conditions become `events.id IN (SELECT event_id
 * FROM event_resources WHERE ...)` scoped to the filter's time range, so every
 * part of one condition must hold for the same resource; src/events/filters.ts
 * evaluates the same conditions in memory for live events.
 */
import { and, gte, inArray, lte, not, notInArray, or, sql, type SQL, type SQLWrapper } from "drizzle-orm";
import type { EventFilter, ResourceCondition } from "../events/filters";
import type { TextSearchQuery } from "../lib/text-search";
import { event, eventResource } from "./schema";

type Cond = SQL | undefined;

/**
 * Case-sensitive prefix test (LIKE would treat `_` and `%` as wildcards and ignore ASCII case).
 * SQLite's length() counts characters as substr() does; JS's `length` counts UTF-16 units.
 */
const startsWith = (column: SQLWrapper, prefix: string) => sql`substr(${column}, 1, length(${prefix})) = ${prefix}`;

/** A label pattern as a GLOB (case-sensitive; `*` and `?` wildcards; `[` made literal), `!` negating. */
function patternCond(value: SQL, pattern: string): SQL {
  const negated = pattern.startsWith("!");
  const glob = (negated ? pattern.slice(1) : pattern).replaceAll("[", "[[]");
  // a missing label (NULL) matches neither a pattern nor its negation
  return negated ? sql`(${value} IS NOT NULL AND NOT (${value} GLOB ${glob}))` : sql`(${value} GLOB ${glob})`;
}

const anyPattern = (value: SQL, patterns: string[]): SQL => (patterns.length === 0 ? sql`0` : or(...patterns.map((p) => patternCond(value, p)))!);

/**
 * A label of the stored resource. The key is quoted in the JSON path so its dots stay
 * part of the name; a JSON path cannot quote a `"`, so such a key is looked up by scan.
 */
const label = (name: string) =>
  name.includes('"')
    ? sql`(SELECT value FROM json_each(${eventResource.resource}) WHERE key = ${name})`
    : sql`json_extract(${eventResource.resource}, ${`$."${name}"`})`;

function resourceCond(c: ResourceCondition): SQL {
  const id = sql`${eventResource.resourceId}`;
  const conds: Cond[] = [
    c.primaryOnly ? sql`${eventResource.resourceRole} = ''` : undefined,
    c.relatedOnly ? sql`${eventResource.resourceRole} != ''` : undefined,
    c.ids ? inArray(eventResource.resourceId, c.ids) : undefined,
    c.idPrefixes ? or(...c.idPrefixes.map((p) => startsWith(id, p))) : undefined,
    c.idPatterns ? anyPattern(id, c.idPatterns) : undefined,
    c.roles ? (c.roles.length === 0 ? sql`0` : inArray(eventResource.resourceRole, c.roles)) : undefined,
    c.idRolePairs
      ? or(...c.idRolePairs.map(([pairId, role]) => sql`(${eventResource.resourceId} = ${pairId} AND ${eventResource.resourceRole} = ${role})`))
      : undefined,
    ...c.labels.map(([name, patterns]) => anyPattern(label(name), patterns)),
  ];
  return and(...conds)!;
}

/** Lowercased name, resource, related and payload JSON: what a text search looks in. */
const searchable = sql`lower(${event.event} || ' ' || ${event.resource} || ' ' || ${event.related} || ' ' || ${event.payload})`;
const contains = (term: string) => sql`instr(${searchable}, ${term.toLowerCase()}) > 0`;

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
        sql`${event.id} IN (SELECT ${eventResource.eventId} FROM ${eventResource} WHERE ${eventResource.occurred} >= ${f.since} AND ${eventResource.occurred} <= ${f.until} AND ${resourceCond(c)})`,
    ),
    ...(f.text ? textConds(f.text) : []),
  ];
  return and(...conds)!;
}
