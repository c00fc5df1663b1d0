/**
 * The EventFilter grammar (server/events/filters.py), resolved once into a typed
 * filter with its defaults. The SQL form lives in src/db/event-filters.ts; the
 * in-memory form here decides which live events a websocket subscriber gets.
 * Both read the same criteria the same way:
 *
 * - criteria of one filter object are AND-ed; a list of related/any_resource filters too;
 * - `resource`, `related` and `any_resource` labels match against one resource at a time:
 *   each label's values are OR-ed, `*` and `?` are wildcards, a leading `!` negates, and a
 *   missing label never matches (not even a negated value). Matching is case-sensitive
 *   (Prefect's in-memory fnmatchcase; its SQLite LIKE would ignore ASCII case);
 * - `related` looks only at related resources unless `role` is given;
 * - event-name prefixes are plain, case-sensitive prefixes.
 */
import { formatDateTime, MICROS_PER_SECOND, parseDateTime, type Micros } from "../lib/time";
import { parseTextSearchQuery, type TextSearchQuery } from "../lib/text-search";
import type { EventFilterBody } from "../schemas/events";
import { involvedResources, labelsOnly, RESOURCE_ID, RESOURCE_ROLE, type Event, type Resource } from "./model";

const DAY = 86_400 * MICROS_PER_SECOND;

/** Label -> accepted patterns (a single value is a one-item list). */
export type LabelSpec = [label: string, patterns: string[]][];

/**
 * A condition on one involved resource (one `event_resources` row): every part given
 * must hold for the same resource.
 */
export interface ResourceCondition {
  ids: string[] | null;
  idPrefixes: string[] | null;
  /** `prefect.resource.id` label patterns. */
  idPatterns: string[] | null;
  /** Role must be one of these ("" is the primary resource). */
  roles: string[] | null;
  /** Only related resources (role != ""). */
  relatedOnly: boolean;
  /** Only the primary resource (role = ""). */
  primaryOnly: boolean;
  /** (resource id, role) pairs, any of which. */
  idRolePairs: [string, string][] | null;
  /** Other labels, looked up in the resource's labels. */
  labels: LabelSpec;
}

export interface EventFilter {
  since: Micros;
  until: Micros;
  event: { prefix: string[] | null; excludePrefix: string[] | null; name: string[] | null; excludeName: string[] | null } | null;
  /** The primary resource's id, exactly or by prefix (columns of `events`). */
  resourceIds: string[] | null;
  resourceIdPrefixes: string[] | null;
  /** One row per related / any_resource filter or resource labels: each must match some involved resource. */
  resourceConditions: ResourceCondition[];
  /** One event per primary resource: the newest (or oldest, ascending). */
  distinct: boolean;
  ids: string[] | null;
  text: TextSearchQuery | null;
  order: "ASC" | "DESC";
  /** The filter as Prefect serialises it, for page tokens. */
  json: EventFilterBody;
}

/** Prefect's falsy-means-absent for list criteria. */
const present = <T>(values: T[] | null | undefined): T[] | null => (values && values.length > 0 ? values : null);
const asList = <T>(value: T | T[] | null | undefined): T[] => (value == null ? [] : Array.isArray(value) ? value : [value]);

function labelSpec(labels: Record<string, string | string[]> | null | undefined): LabelSpec {
  return Object.entries(labels ?? {}).map(([label, values]) => [label, asList(values)]);
}

/** Pops one label out of a spec (the id and role labels are columns of `event_resources`). */
function take(spec: LabelSpec, label: string): string[] | null {
  const index = spec.findIndex(([name]) => name === label);
  if (index < 0) return null;
  return spec.splice(index, 1)[0]![1];
}

const noCondition = (): ResourceCondition => ({
  ids: null,
  idPrefixes: null,
  idPatterns: null,
  roles: null,
  relatedOnly: false,
  primaryOnly: false,
  idRolePairs: null,
  labels: [],
});

/** True when a condition constrains nothing (Prefect then adds no clause at all). */
const isEmpty = (c: ResourceCondition) =>
  !c.ids && !c.idPrefixes && !c.idPatterns && !c.roles && !c.idRolePairs && c.labels.length === 0;

/**
 * Resolves a request's filter: `occurred` defaults to [start of today - 180 days, now],
 * `order` to DESC. `now` is the request time.
 */
export function eventFilterFromBody(body: EventFilterBody | null | undefined, now: Micros): EventFilter {
  const b = body ?? {};
  const since = b.occurred?.since != null ? parseDateTime(b.occurred.since)! : now - (now % DAY) - 180 * DAY;
  const until = b.occurred?.until != null ? parseDateTime(b.occurred.until)! : now;
  const conditions: ResourceCondition[] = [];

  if (b.resource?.labels && Object.keys(b.resource.labels).length > 0) {
    const labels = labelSpec(b.resource.labels);
    conditions.push({ ...noCondition(), primaryOnly: true, idPatterns: take(labels, RESOURCE_ID), labels });
  }
  for (const related of asList(b.related)) {
    const labels = labelSpec(related.labels);
    const condition: ResourceCondition = {
      ...noCondition(),
      ids: present(related.id),
      roles: present(related.role),
      idRolePairs: present(related.resources_in_roles as [string, string][] | null | undefined),
      idPatterns: take(labels, RESOURCE_ID),
      labels,
    };
    const labelRoles = take(labels, RESOURCE_ROLE);
    if (labelRoles) condition.roles = condition.roles ? condition.roles.filter((r) => labelRoles.includes(r)) : labelRoles;
    if (isEmpty(condition)) continue;
    // a related filter looks at related resources only, unless it names roles itself
    condition.relatedOnly = !present(related.role);
    conditions.push(condition);
  }
  for (const any of asList(b.any_resource)) {
    const labels = labelSpec(any.labels);
    const condition: ResourceCondition = {
      ...noCondition(),
      ids: present(any.id),
      idPrefixes: present(any.id_prefix),
      idPatterns: take(labels, RESOURCE_ID),
      roles: take(labels, RESOURCE_ROLE),
      labels,
    };
    if (!isEmpty(condition)) conditions.push(condition);
  }

  const event = b.event
    ? {
        prefix: present(b.event.prefix),
        excludePrefix: present(b.event.exclude_prefix),
        name: present(b.event.name),
        excludeName: present(b.event.exclude_name),
      }
    : null;
  const query = b.text?.query.trim() ? parseTextSearchQuery(b.text.query) : null;
  const filter: Omit<EventFilter, "json"> = {
    since,
    until,
    event,
    resourceIds: present(b.resource?.id),
    resourceIdPrefixes: present(b.resource?.id_prefix),
    resourceConditions: conditions,
    distinct: b.resource?.distinct ?? false,
    ids: present(b.id?.id),
    text: query,
    order: b.order ?? "DESC",
  };
  return { ...filter, json: serialised(b, since, until, filter.order) };
}

/** EventFilter.model_dump(mode="json"): every field, defaults resolved. */
function serialised(b: EventFilterBody, since: Micros, until: Micros, order: "ASC" | "DESC"): EventFilterBody {
  return {
    occurred: { since: formatDateTime(since), until: formatDateTime(until) },
    event: b.event ?? null,
    resource: b.resource ? { ...b.resource, distinct: b.resource.distinct ?? false } : null,
    related: b.related ?? null,
    any_resource: b.any_resource ?? null,
    id: { id: b.id?.id ?? null },
    text: b.text ?? null,
    order,
  };
}

/** Limits how far back a filter looks (a websocket backfill); `until` is unchanged. */
export function clampSince(filter: EventFilter, earliest: Micros): EventFilter {
  const since = Math.max(filter.since, earliest);
  return { ...filter, since, json: { ...filter.json, occurred: { ...filter.json.occurred, since: formatDateTime(since) } } };
}

export function withOrder(filter: EventFilter, order: "ASC" | "DESC"): EventFilter {
  return { ...filter, order, json: { ...filter.json, order } };
}

/** The most rows the filter could match (an id filter bounds it), as Prefect caps its LIMIT. */
export function logicalLimit(filter: EventFilter): number {
  return filter.ids ? filter.ids.length : Number.MAX_SAFE_INTEGER;
}

// ------------------------------------------------------------------ in memory

/** Compiled label patterns: live filters test the same few patterns against every event. */
const globs = new Map<string, RegExp>();
const MAX_CACHED_GLOBS = 1024;

function globRegExp(glob: string): RegExp {
  let compiled = globs.get(glob);
  if (!compiled) {
    const source = glob.replace(/[.+^${}()|[\]\\*?]/g, (ch) => (ch === "*" ? ".*" : ch === "?" ? "." : `\\${ch}`));
    compiled = new RegExp(`^${source}$`, "s");
    if (globs.size >= MAX_CACHED_GLOBS) globs.clear();
    globs.set(glob, compiled);
  }
  return compiled;
}

/** A label pattern: `*` and `?` are wildcards; a leading `!` negates; a missing value never matches. */
function labelMatches(pattern: string, value: string | undefined): boolean {
  if (value === undefined) return false;
  const negated = pattern.startsWith("!");
  const matched = globRegExp(negated ? pattern.slice(1) : pattern).test(value);
  return negated ? !matched : matched;
}

const anyMatch = (patterns: string[], value: string | undefined) => patterns.some((p) => labelMatches(p, value));

function resourceMatches(c: ResourceCondition, id: string, role: string, labels: Resource): boolean {
  if (c.primaryOnly && role !== "") return false;
  if (c.relatedOnly && role === "") return false;
  if (c.ids && !c.ids.includes(id)) return false;
  if (c.idPrefixes && !c.idPrefixes.some((p) => id.startsWith(p))) return false;
  if (c.idPatterns && !anyMatch(c.idPatterns, id)) return false;
  if (c.roles && !c.roles.includes(role)) return false;
  if (c.idRolePairs && !c.idRolePairs.some(([pairId, pairRole]) => pairId === id && pairRole === role)) return false;
  return c.labels.every(([label, patterns]) => anyMatch(patterns, labels[label]));
}

/**
 * The text an event's text search looks in: the same concatenation as the SQL side
 * (name, resource, related and payload JSON), lowercased.
 */
function searchableText(event: Event): string {
  return [event.event, JSON.stringify(event.resource), JSON.stringify(event.related), JSON.stringify(event.payload)]
    .join(" ")
    .toLowerCase();
}

function textMatches(query: TextSearchQuery, event: Event): boolean {
  const text = searchableText(event);
  const has = (term: string) => text.includes(term.toLowerCase());
  if (query.include.length > 0 && !query.include.some(has)) return false;
  if (query.exclude.some(has)) return false;
  return query.required.every(has);
}

/** Does a live event match the filter? (`distinct` does not apply to a stream.) */
export function eventMatches(filter: EventFilter, event: Event): boolean {
  if (event.occurred < filter.since || event.occurred > filter.until) return false;
  const name = event.event;
  const e = filter.event;
  if (e?.prefix && !e.prefix.some((p) => name.startsWith(p))) return false;
  if (e?.excludePrefix && e.excludePrefix.some((p) => name.startsWith(p))) return false;
  if (e?.name && !e.name.includes(name)) return false;
  if (e?.excludeName && e.excludeName.includes(name)) return false;
  const resourceId = event.resource[RESOURCE_ID]!;
  if (filter.resourceIds && !filter.resourceIds.includes(resourceId)) return false;
  if (filter.resourceIdPrefixes && !filter.resourceIdPrefixes.some((p) => resourceId.startsWith(p))) return false;
  if (filter.ids && !filter.ids.includes(event.id)) return false;
  if (filter.resourceConditions.length > 0) {
    const involved = involvedResources(event).map((r) => ({ ...r, labels: labelsOnly(r.resource) }));
    for (const condition of filter.resourceConditions) {
      if (!involved.some((r) => resourceMatches(condition, r.id, r.role, r.labels))) return false;
    }
  }
  return filter.text === null || textMatches(filter.text, event);
}
