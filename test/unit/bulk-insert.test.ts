/** The data layer's multi-row inserts: chunking, Drizzle's encodings and defaults, skipped conflicts. */
import { describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { BulkInsert, MAX_BIND_PARAMETERS } from "../../src/db/bulk-insert";
import { event, eventResource, flow, flowRun } from "../../src/db/schema";
import { SqliteStore } from "../../src/db/store";
import type { ReceivedEvent } from "../../src/events/model";

const T0 = Date.UTC(2025, 0, 1) * 1000;
const EVENT_COLUMNS = 13;
/** Rows per statement of the events table, and more than one statement's worth. */
const CHUNK = Math.floor(MAX_BIND_PARAMETERS / EVENT_COLUMNS);

const received = (i: number, related = 0): ReceivedEvent => ({
  id: crypto.randomUUID(),
  occurred: T0 + i,
  event: "bulk.test",
  resource: { "prefect.resource.id": `r.${i}`, "prefect.resource.name": `n${i}` },
  related: Array.from({ length: related }, (_, j) => ({ "prefect.resource.id": `rel.${j}`, "prefect.resource.role": "tag" })),
  payload: { i, nested: { ok: true } },
  follows: null,
  received: T0 + i,
});

describe("BulkInsert", () => {
  test("inserts more rows than one statement binds, in chunks, and returns every primary key", () => {
    const store = SqliteStore.open(":memory:");
    const rows = Array.from({ length: CHUNK * 2 + 37 }, (_, i) => received(i)).map((e) => ({
      ...e,
      created: T0,
      updated: T0,
      resourceId: e.resource["prefect.resource.id"]!,
      relatedResourceIds: [],
      recorded: T0,
    }));
    const keys = new BulkInsert(store.db.$client, event).run(rows);
    expect(keys.sort()).toEqual(rows.map((r) => r.id).sort());
    const stored = store.db.select().from(event).where(eq(event.id, rows[CHUNK + 5]!.id)).get()!;
    // JSON columns round-trip as Drizzle wrote them
    expect(stored.payload).toEqual({ i: CHUNK + 5, nested: { ok: true } });
    expect(stored.resource).toEqual(rows[CHUNK + 5]!.resource);
    store.close();
  });

  test("absent values become the column default (or NULL), booleans and JSON are encoded", () => {
    const store = SqliteStore.open(":memory:");
    store.db.insert(flow).values({ id: "f", created: T0, updated: T0, name: "f", tags: [], labels: {} }).run();
    const run = { id: Bun.randomUUIDv7(), created: T0, updated: T0, name: "r", flowId: "f", parameters: { a: 1 }, context: {}, empiricalPolicy: {}, tags: ["t"], labels: {}, autoScheduled: true };
    new BulkInsert(store.db.$client, flowRun).run([run]);
    const stored = store.db.select().from(flowRun).get()!;
    expect(stored).toMatchObject({ runCount: 0, totalRunTime: 0, autoScheduled: true, parameters: { a: 1 }, tags: ["t"], stateId: null, jobVariables: null });
    store.close();
  });

  test("skipConflictsOn: conflicting rows, stored before or earlier in the same batch, are skipped and not returned", () => {
    const store = SqliteStore.open(":memory:");
    const insert = new BulkInsert(store.db.$client, flow, { skipConflictsOn: [flow.name] });
    const row = (id: string, name: string) => ({ id, created: T0, updated: T0, name, tags: [], labels: {} });
    expect(insert.run([row("a", "one")])).toEqual(["a"]);
    expect(insert.run([row("b", "one"), row("c", "two"), row("d", "two")])).toEqual(["c"]);
    expect(store.db.select({ id: flow.id }).from(flow).all().map((r) => r.id).sort()).toEqual(["a", "c"]);
    store.close();
  });
});

describe("events.write", () => {
  test("a large batch with re-sent events stores each event and its resources exactly once", async () => {
    const store = SqliteStore.open(":memory:");
    const earlier = received(-1, 1);
    expect(await store.write((tx) => tx.events.write([earlier], T0))).toBe(1);
    const batch = Array.from({ length: CHUNK + 100 }, (_, i) => received(i, i % 3));
    // a re-sent copy of a stored event, and an event twice in the batch (its first copy wins)
    const twice = { ...batch[7]!, payload: { copy: "second" } };
    expect(await store.write((tx) => tx.events.write([...batch, earlier, twice], T0))).toBe(batch.length);
    const events = store.db.select({ id: event.id }).from(event).all();
    expect(events).toHaveLength(batch.length + 1);
    expect(store.db.select().from(event).where(eq(event.id, twice.id)).get()!.payload).toEqual(batch[7]!.payload);
    const resources = store.db.select().from(eventResource).all();
    const expected = 2 + batch.reduce((n, e) => n + 1 + e.related.length, 0);
    expect(resources).toHaveLength(expected);
    const ofTwice = resources.filter((r) => r.eventId === twice.id);
    expect(ofTwice.map((r) => [r.resourceId, r.resourceRole, r.resource])).toEqual([["r.7", "", { "prefect.resource.name": "n7" }], ["rel.0", "tag", {}]]);
    store.close();
  });
});
