import { asc, count, countDistinct, desc, eq, inArray, lt, sql } from "drizzle-orm";
import type { EventFilter } from "../../../events/filters";
import { involvedResources, labelsOnly, type ReceivedEvent, type Resource } from "../../../events/model";
import type { Micros } from "../../../lib/time";
import type { EventRepo } from "../../repositories";
import type { ValueCount } from "../../repos/events";
import type { Op } from "../../unit-of-work";
import { eventsWhere } from "../event-filters";
import { query } from "../query";
import { event, eventResource } from "../schema";

type EventRow = typeof event.$inferSelect;
type EventResourceRow = typeof eventResource.$inferInsert;

const fromRow = (row: EventRow): ReceivedEvent => ({
  id: row.id,
  occurred: row.occurred,
  event: row.event,
  resource: row.resource as Resource,
  related: row.related as Resource[],
  payload: row.payload,
  follows: row.follows,
  received: row.received,
});

/** PostgreSQL binds at most 65,535 parameters in one statement. */
const MAX_PARAMETERS = 65_535;

/** Rows of `columns` columns each, in slices one INSERT can bind. */
function* chunks<T>(rows: T[], columns: number): Generator<T[]> {
  const size = Math.floor(MAX_PARAMETERS / columns);
  for (let i = 0; i < rows.length; i += size) yield rows.slice(i, i + size);
}

/** An instant column's value as integer microseconds since the epoch (numeric: exact). */
const epochMicros = (column: typeof event.occurred) => sql`(extract(epoch from ${column}) * 1000000)`;

/** src/db/repos/events.ts on PostgreSQL. */
export class PgEventRepository implements EventRepo {
  *exists(id: string): Op<boolean> {
    return (yield* query((db) => db.select({ id: event.id }).from(event).where(eq(event.id, id)))).length > 0;
  }

  /**
   * Stores the events not stored yet and their resources; returns how many were new.
   * ON CONFLICT (id) DO NOTHING: a replica writing the same event at once waits for the
   * other's transaction and then skips it, so each event (and its resources) is stored once.
   * Rows go in id order, so two writers of overlapping batches wait on each other in one
   * order and never deadlock.
   */
  *write(events: ReceivedEvent[], now: Micros): Op<number> {
    // the first of events sharing an id is the one stored, as a row-by-row insert would keep;
    // keyed as PostgreSQL returns a uuid (lowercase)
    const byId = new Map<string, ReceivedEvent>();
    for (const e of events) if (!byId.has(e.id.toLowerCase())) byId.set(e.id.toLowerCase(), e);
    const ordered = [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const rows = ordered.map((e) => ({
      id: e.id,
      created: now,
      updated: now,
      occurred: e.occurred,
      event: e.event,
      resourceId: e.resource["prefect.resource.id"]!,
      resource: e.resource,
      relatedResourceIds: e.related.map((r) => r["prefect.resource.id"]!),
      related: e.related,
      payload: e.payload,
      received: e.received,
      recorded: now,
      follows: e.follows,
    }));
    if (rows.length === 0) return 0;
    const inserted: string[] = [];
    for (const chunk of chunks(rows, Object.keys(rows[0]!).length)) {
      const ids = yield* query((db) => db.insert(event).values(chunk).onConflictDoNothing({ target: event.id }).returning({ id: event.id }));
      inserted.push(...ids.map((r) => r.id));
    }
    const resources: EventResourceRow[] = inserted.flatMap((id) => {
      const e = byId.get(id)!;
      return involvedResources(e).map((r) => ({
        id: Bun.randomUUIDv7(),
        created: now,
        updated: now,
        occurred: e.occurred,
        resourceId: r.id,
        resourceRole: r.role,
        resource: labelsOnly(r.resource),
        eventId: e.id,
      }));
    });
    if (resources.length > 0) {
      for (const chunk of chunks(resources, Object.keys(resources[0]!).length)) yield* query((db) => db.insert(eventResource).values(chunk));
    }
    return inserted.length;
  }

  *query(filter: EventFilter, limit: number, offset: number): Op<ReceivedEvent[]> {
    const direction = filter.order === "ASC" ? asc : desc;
    const where = eventsWhere(filter);
    if (!filter.distinct) {
      const rows = yield* query((db) => db.select().from(event).where(where).orderBy(direction(event.occurred), direction(event.id)).limit(limit).offset(offset));
      return rows.map(fromRow);
    }
    // one event per primary resource: its newest (DESC) or oldest (ASC) matching event
    const rows = yield* query((db) => {
      const ranked = db
        .select({
          id: event.id,
          rank: sql<number>`row_number() OVER (PARTITION BY ${event.resourceId} ORDER BY ${event.occurred} ${filter.order === "ASC" ? sql`ASC` : sql`DESC`}, ${event.id})`.as("rank"),
        })
        .from(event)
        .where(where)
        .as("ranked");
      return db
        .select({ row: event })
        .from(event)
        .innerJoin(ranked, eq(ranked.id, event.id))
        .where(eq(ranked.rank, 1))
        .orderBy(direction(event.occurred), direction(event.id))
        .limit(limit)
        .offset(offset);
    });
    return rows.map((r) => fromRow(r.row));
  }

  *count(filter: EventFilter): Op<number> {
    const counted = filter.distinct ? countDistinct(event.resourceId) : count();
    const [row] = yield* query((db) => db.select({ n: counted }).from(event).where(eventsWhere(filter)));
    return row?.n ?? 0;
  }

  /**
   * Counts per event name or primary resource, most frequent first. A resource is
   * labelled with the name its latest event gave it.
   */
  *countByValue(filter: EventFilter, by: "event" | "resource"): Op<ValueCount[]> {
    const value = by === "event" ? sql<string>`${event.event}` : sql<string>`${event.resourceId}`;
    const label =
      by === "event"
        ? sql<string>`${event.event}`
        : sql<string>`coalesce(${event.resource} ->> 'prefect.resource.name', ${event.resource} ->> 'prefect.name', ${event.resourceId})`;
    return yield* query((db) => {
      const matched = db
        .select({
          value: value.as("value"),
          label: sql<string>`first_value(${label}) OVER (PARTITION BY ${value} ORDER BY ${event.occurred} DESC)`.as("label"),
          occurred: event.occurred,
        })
        .from(event)
        .where(eventsWhere(filter))
        .as("matched");
      const n = sql<number>`count(*)`.mapWith(Number);
      return db
        .select({
          value: matched.value,
          label: matched.label,
          count: n,
          startTime: sql<number>`min(${matched.occurred})`.mapWith(event.occurred),
          endTime: sql<number>`max(${matched.occurred})`.mapWith(event.occurred),
        })
        .from(matched)
        .groupBy(sql`${matched.value}`, sql`${matched.label}`)
        .orderBy(desc(n), asc(sql`${matched.label} COLLATE "C"`));
    });
  }

  /** Matching events per span of `span` micros counted from `pivot` (floor division, as Prefect buckets). */
  *countBySpan(filter: EventFilter, pivot: Micros, span: Micros): Op<Map<number, number>> {
    const index = sql<number>`floor((${epochMicros(event.occurred)} - ${pivot}::bigint) / ${span}::bigint)::bigint`.mapWith(Number);
    const rows = yield* query((db) =>
      db
        .select({ index: index.as("span_index"), n: count() })
        .from(event)
        .where(eventsWhere(filter))
        .groupBy(sql`span_index`),
    );
    return new Map(rows.map((r) => [r.index, r.n]));
  }

  /**
   * Deletes up to `batchSize` event resources that occurred before `cutoff`, then (once
   * none are left) up to `batchSize` such events; returns how many rows went. Rows another
   * replica's vacuum has locked are skipped rather than waited for.
   */
  *deleteBatchOccurredBefore(cutoff: Micros, batchSize: number): Op<{ events: number; resources: number }> {
    const resources = (yield* query((db) => {
      const batch = db.select({ id: eventResource.id }).from(eventResource).where(lt(eventResource.occurred, cutoff)).limit(batchSize).for("update", { skipLocked: true });
      return db.delete(eventResource).where(inArray(eventResource.id, batch)).returning({ id: eventResource.id });
    })).length;
    if (resources === batchSize) return { events: 0, resources };
    const events = (yield* query((db) => {
      const batch = db.select({ id: event.id }).from(event).where(lt(event.occurred, cutoff)).limit(batchSize).for("update", { skipLocked: true });
      return db.delete(event).where(inArray(event.id, batch)).returning({ id: event.id });
    })).length;
    return { events, resources };
  }
}
