/**
 * Stored events (server/events/storage/database.py): writes deduplicated by event
 * id with one `event_resources` row per involved resource, filtered reads and
 * pages, counts by value or time span, and the retention vacuum.
 */
import { asc, desc, eq, inArray, lt, sql } from "drizzle-orm";
import type { EventFilter } from "../../events/filters";
import { involvedResources, labelsOnly, RESOURCE_ID, type ReceivedEvent, type Resource } from "../../events/model";
import type { Micros } from "../../lib/time";
import { BulkInsert } from "../bulk-insert";
import type { SqliteDb } from "../client";
import { eventsWhere } from "../event-filters";
import type { Op } from "../unit-of-work";
import { event, eventResource } from "../schema";

type EventRow = typeof event.$inferSelect;

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

export interface ValueCount {
  value: string;
  label: string;
  count: number;
  startTime: Micros;
  endTime: Micros;
}

export class EventRepository {
  private readonly eventRows: BulkInsert<typeof event>;
  private readonly resourceRows: BulkInsert<typeof eventResource>;

  constructor(private readonly db: SqliteDb) {
    this.eventRows = new BulkInsert(db.$client, event, { skipConflictsOn: [event.id] });
    this.resourceRows = new BulkInsert(db.$client, eventResource);
  }

  /** Whether the event is stored (the persister has written it). */
  *exists(id: string): Op<boolean> {
    return this.db.select({ id: event.id }).from(event).where(eq(event.id, id)).get() !== undefined;
  }

  /**
   * Stores the events not stored yet (a re-sent event is dropped) and their resources, in
   * multi-row inserts: one persister flush is a few statements whatever its size. Returns how many were new.
   */
  *write(events: ReceivedEvent[], now: Micros): Op<number> {
    if (events.length === 0) return 0;
    const inserted = new Set(
      this.eventRows.run(
        events.map((e) => ({
          id: e.id,
          created: now,
          updated: now,
          occurred: e.occurred,
          event: e.event,
          resourceId: e.resource[RESOURCE_ID]!,
          resource: e.resource,
          relatedResourceIds: e.related.map((r) => r[RESOURCE_ID]!),
          related: e.related,
          payload: e.payload,
          received: e.received,
          recorded: now,
          follows: e.follows,
        })),
      ),
    );
    const written = inserted.size;
    const resources: (typeof eventResource.$inferInsert)[] = [];
    for (const e of events) {
      // an event twice in one batch was inserted from its first copy
      if (!inserted.delete(e.id)) continue;
      for (const r of involvedResources(e)) {
        resources.push({
          id: Bun.randomUUIDv7(),
          created: now,
          updated: now,
          occurred: e.occurred,
          resourceId: r.id,
          resourceRole: r.role,
          resource: labelsOnly(r.resource),
          eventId: e.id,
        });
      }
    }
    this.resourceRows.run(resources);
    return written;
  }

  /** A page of matching events in `occurred` order (ties by id, so pages never overlap). */
  *query(filter: EventFilter, limit: number, offset: number): Op<ReceivedEvent[]> {
    const direction = filter.order === "ASC" ? asc : desc;
    const where = eventsWhere(filter);
    if (!filter.distinct) {
      return this.db.select().from(event).where(where).orderBy(direction(event.occurred), direction(event.id)).limit(limit).offset(offset).all().map(fromRow);
    }
    // one event per primary resource: its newest (DESC) or oldest (ASC) matching event
    const ranked = this.db
      .select({
        id: event.id,
        rank: sql<number>`row_number() OVER (PARTITION BY ${event.resourceId} ORDER BY ${event.occurred} ${filter.order === "ASC" ? sql`ASC` : sql`DESC`}, ${event.id})`.as("rank"),
      })
      .from(event)
      .where(where)
      .as("ranked");
    return this.db
      .select({ row: event })
      .from(event)
      .innerJoin(ranked, eq(ranked.id, event.id))
      .where(eq(ranked.rank, 1))
      .orderBy(direction(event.occurred), direction(event.id))
      .limit(limit)
      .offset(offset)
      .all()
      .map((r) => fromRow(r.row));
  }

  *count(filter: EventFilter): Op<number> {
    const counted = filter.distinct ? sql<number>`count(DISTINCT ${event.resourceId})` : sql<number>`count(*)`;
    return this.db.select({ n: counted }).from(event).where(eventsWhere(filter)).get()?.n ?? 0;
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
        : sql<string>`coalesce(json_extract(${event.resource}, '$."prefect.resource.name"'), json_extract(${event.resource}, '$."prefect.name"'), ${event.resourceId})`;
    const matched = this.db
      .select({
        value: value.as("value"),
        label: sql<string>`first_value(${label}) OVER (PARTITION BY ${value} ORDER BY ${event.occurred} DESC)`.as("label"),
        occurred: event.occurred,
      })
      .from(event)
      .where(eventsWhere(filter))
      .as("matched");
    const count = sql<number>`count(*)`;
    return this.db
      .select({
        value: matched.value,
        label: matched.label,
        count,
        startTime: sql<number>`min(${matched.occurred})`,
        endTime: sql<number>`max(${matched.occurred})`,
      })
      .from(matched)
      .groupBy(sql`${matched.value}`, sql`${matched.label}`)
      .orderBy(desc(count), asc(sql`${matched.label}`))
      .all();
  }

  /** Matching events per span of `span` micros counted from `pivot` (floor division, as Prefect buckets). */
  *countBySpan(filter: EventFilter, pivot: Micros, span: Micros): Op<Map<number, number>> {
    const offset = sql`CAST(${event.occurred} - ${pivot} AS INTEGER)`;
    const length = sql`CAST(${span} AS INTEGER)`;
    // SQLite's integer division truncates toward zero; floor it for instants before the pivot
    const index = sql<number>`(${offset} / ${length}) - (${offset} % ${length} < 0)`;
    const rows = this.db.select({ index: index.as("span_index"), n: sql<number>`count(*)` }).from(event).where(eventsWhere(filter)).groupBy(sql`span_index`).all();
    return new Map(rows.map((r) => [r.index, r.n]));
  }

  /**
   * Deletes up to `batchSize` event resources that occurred before `cutoff`, then (once
   * none are left) up to `batchSize` such events; returns how many rows went. Callers
   * repeat it, one transaction per batch, so a large backlog never holds the write lock for long.
   */
  *deleteBatchOccurredBefore(cutoff: Micros, batchSize: number): Op<{ events: number; resources: number }> {
    const resourceBatch = this.db.select({ id: eventResource.id }).from(eventResource).where(lt(eventResource.occurred, cutoff)).limit(batchSize);
    const resources = this.db.delete(eventResource).where(inArray(eventResource.id, resourceBatch)).returning({ id: eventResource.id }).all().length;
    if (resources === batchSize) return { events: 0, resources };
    const eventBatch = this.db.select({ id: event.id }).from(event).where(lt(event.occurred, cutoff)).limit(batchSize);
    const events = this.db.delete(event).where(inArray(event.id, eventBatch)).returning({ id: event.id }).all().length;
    return { events, resources };
  }
}
