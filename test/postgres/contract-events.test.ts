/**
 * The repository contract (test/support/contract.ts) for stored events and their filters, and,
 * on PostgreSQL alone, the same events written by many clients at once.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { PgStore } from "../../src/db/postgres/store";
import { eventFilterFromBody, eventMatches } from "../../src/events/filters";
import type { ReceivedEvent, Resource } from "../../src/events/model";
import type { EventFilterBody } from "../../src/schemas/events";
import { formatDateTime, MICROS_PER_SECOND } from "../../src/lib/time";
import { contractSuite, T0 } from "../support/contract";
import { createTestDatabase, type TestDatabase } from "../support/postgres";

const SECOND = MICROS_PER_SECOND;

// the bulk scenario writes thousands of events on each backend
setDefaultTimeout(30_000);
const NOW = T0 + 3600 * SECOND;

/** Event ids in a fixed order, so ties on `occurred` break the same way on both backends. */
const eventId = (n: number) => `0195f0b4-0000-7000-8000-${n.toString(16).padStart(12, "0")}`;

function received(n: number, name: string, resource: Resource, options: { occurred?: number; related?: Resource[]; payload?: ReceivedEvent["payload"]; follows?: string | null } = {}): ReceivedEvent {
  return {
    id: eventId(n),
    occurred: options.occurred ?? T0 + n * SECOND,
    event: name,
    resource,
    related: options.related ?? [],
    payload: options.payload ?? {},
    follows: options.follows ?? null,
    received: T0 + n * SECOND + 7,
  };
}

const flowRun = (n: number, extra: Resource = {}): Resource => ({ "prefect.resource.id": `prefect.flow-run.${n}`, "prefect.resource.name": `run-${n}`, ...extra });
const related = (id: string, role: string, extra: Resource = {}): Resource => ({ "prefect.resource.id": id, "prefect.resource.role": role, ...extra });

/** A small world of events: names, resources, roles and labels the filters below pick apart. */
const EVENTS: ReceivedEvent[] = [
  received(1, "prefect.flow-run.Pending", flowRun(1), { related: [related("prefect.flow.f1", "flow", { "prefect.resource.name": "etl" }), related("prefect.tag.prod", "tag")] }),
  received(2, "prefect.flow-run.Running", flowRun(1), { related: [related("prefect.flow.f1", "flow", { "prefect.resource.name": "etl" })], follows: eventId(1) }),
  received(3, "prefect.flow-run.Completed", flowRun(1), { related: [related("prefect.flow.f1", "flow", { "prefect.resource.name": "etl" })], payload: { intended: { from: "RUNNING", to: "COMPLETED" } } }),
  received(4, "prefect.flow-run.Pending", flowRun(2, { "label.with.dots": "a.b", weird: "50%_off[x]", path: "C:\\temp\\x" }), { related: [related("prefect.flow.f2", "flow"), related("prefect.tag.dev", "tag")] }),
  received(5, "prefect.flow-run.Failed", flowRun(2, { "label.with.dots": "a.c" }), { payload: { message: "Boom: KeyError 'X'", nested: { list: [1, 2.5, null, true] } } }),
  received(6, "prefect.deployment.updated", { "prefect.resource.id": "prefect.deployment.d1", "prefect.name": "nightly" }, { related: [related("prefect.flow.f1", "flow")] }),
  received(7, "custom.🚀thing", { "prefect.resource.id": "🚀my.resource", 'quote"key': "v", "ünï": "cödé 🚀" }, { payload: { text: "Mixed CASE Words and Émoji 🚀" } }),
  received(8, "prefect.flow-run.Pending", flowRun(3), { occurred: T0 + 4 * SECOND, related: [related("prefect.work-pool.p", "work-pool", { "prefect.resource.name": "pool" })] }),
  received(9, "prefect.log.write", { "prefect.resource.id": "prefect.flow-run.1" }, { occurred: T0 - 30 * SECOND }),
];

const body = (b: EventFilterBody = {}): EventFilterBody => ({ occurred: { since: formatDateTime(T0 - 3600 * SECOND), until: formatDateTime(NOW) }, ...b });

/** Named filters; each is also run in memory (src/events/filters.ts), which must select the same events. */
const FILTERS: Record<string, EventFilterBody> = {
  all: body(),
  window: body({ occurred: { since: formatDateTime(T0 + 2 * SECOND), until: formatDateTime(T0 + 4 * SECOND) } }),
  ascending: body({ order: "ASC" }),
  prefix: body({ event: { prefix: ["prefect.flow-run.", "custom."] } }),
  excludePrefix: body({ event: { exclude_prefix: ["prefect.flow-run."] } }),
  names: body({ event: { name: ["prefect.flow-run.Pending", "prefect.log.write"] } }),
  excludeNames: body({ event: { exclude_name: ["prefect.flow-run.Pending"] } }),
  resourceId: body({ resource: { id: ["prefect.flow-run.2", "🚀my.resource"] } }),
  resourceIdPrefix: body({ resource: { id_prefix: ["prefect.deployment.", "🚀my."] } }),
  astralEventPrefix: body({ event: { prefix: ["custom.🚀"] } }),
  astralExcludePrefix: body({ event: { exclude_prefix: ["custom.🚀", "prefect."] } }),
  anyResourceAstralPrefix: body({ any_resource: { id_prefix: ["🚀"] } }),
  resourceLabelWildcard: body({ resource: { labels: { "prefect.resource.id": "prefect.flow-run.*" } } }),
  resourceLabelQuestionMark: body({ resource: { labels: { "label.with.dots": "a.?" } } }),
  resourceLabelNegated: body({ resource: { labels: { "label.with.dots": "!a.c" } } }),
  resourceLabelLiterals: body({ resource: { labels: { weird: "50%_off[x]" } } }),
  resourceLabelBackslash: body({ resource: { labels: { path: "C:\\temp\\*" } } }),
  resourceLabelLikeIsNotWildcard: body({ resource: { labels: { weird: "50__off*" } } }),
  resourceLabelCaseSensitive: body({ resource: { labels: { "prefect.resource.name": "RUN-*" } } }),
  resourceLabelQuotedKey: body({ resource: { labels: { 'quote"key': "v" } } }),
  resourceLabelUnicode: body({ resource: { labels: { "ünï": "cödé*" } } }),
  relatedRole: body({ related: { role: ["tag"] } }),
  relatedId: body({ related: { id: ["prefect.flow.f1"] } }),
  relatedLabels: body({ related: { labels: { "prefect.resource.role": "flow", "prefect.resource.name": "etl" } } }),
  relatedInRoles: body({ related: { resources_in_roles: [["prefect.tag.prod", "tag"], ["prefect.work-pool.p", "work-pool"]] } }),
  relatedBoth: body({ related: [{ role: ["flow"] }, { role: ["tag"] }] }),
  anyResourcePrefix: body({ any_resource: { id_prefix: ["prefect.work-pool."] } }),
  anyResourceRole: body({ any_resource: { labels: { "prefect.resource.role": "flow" } } }),
  anyResourceId: body({ any_resource: { id: ["prefect.flow-run.2"] } }),
  ids: body({ id: { id: [eventId(2), eventId(7), eventId(99)] } }),
  textInclude: body({ text: { query: "boom completed" } }),
  textExclude: body({ text: { query: "-flow-run" } }),
  textRequired: body({ text: { query: "+mixed +words" } }),
  textPhrase: body({ text: { query: '"KeyError \'x\'"' } }),
  textUnicode: body({ text: { query: "émoji" } }),
  distinct: body({ resource: { distinct: true } }),
  distinctAscending: body({ resource: { distinct: true }, order: "ASC" }),
  nothing: body({ event: { name: ["no.such.event"] } }),
};

const filter = (name: string) => eventFilterFromBody(FILTERS[name]!, NOW);
const ids = (events: ReceivedEvent[]) => events.map((e) => Number.parseInt(e.id.slice(-12), 16));

contractSuite("events", ["events", "event_resources"], {
  async "write and read back: every field, timestamps to the microsecond, JSON payloads, duplicates stored once"(store) {
    const first = await store.write((tx) => tx.events.write([EVENTS[0]!, EVENTS[1]!, EVENTS[0]!], NOW));
    const again = await store.write((tx) => tx.events.write([EVENTS[1]!, EVENTS[2]!], NOW + 1));
    const none = await store.write((tx) => tx.events.write([], NOW));
    expect([first, again, none]).toEqual([2, 1, 0]);
    const read = await store.read((q) => q.events.query(filter("ascending"), 10, 0));
    expect(read).toEqual(EVENTS.slice(0, 3));
    return {
      first,
      again,
      none,
      read,
      exists: await store.read((q) => q.events.exists(eventId(2))),
      missing: await store.read((q) => q.events.exists(eventId(99))),
    };
  },

  async "filters: names, resources, labels, related and any resources, ids, text; in code-point order of results"(store) {
    await store.write((tx) => tx.events.write(EVENTS, NOW));
    const observed: Record<string, number[]> = {};
    for (const name of Object.keys(FILTERS)) {
      const rows = await store.read((q) => q.events.query(filter(name), 100, 0));
      observed[name] = ids(rows);
      if (name !== "textUnicode" && !name.startsWith("distinct")) {
        const inMemory = EVENTS.filter((e) => eventMatches(filter(name), e)).map((e) => Number.parseInt(e.id.slice(-12), 16));
        expect({ name, ids: [...observed[name]!].sort((a, b) => a - b) }).toEqual({ name, ids: inMemory.sort((a, b) => a - b) });
      }
    }
    expect(observed.all).toEqual([7, 6, 5, 8, 4, 3, 2, 1, 9]);
    expect(observed.resourceLabelLiterals).toEqual([4]);
    expect(observed.resourceLabelBackslash).toEqual([4]);
    expect(observed.astralEventPrefix).toEqual([7]);
    expect(observed.anyResourceAstralPrefix).toEqual([7]);
    expect(observed.resourceLabelLikeIsNotWildcard).toEqual([]);
    expect(observed.relatedBoth).toEqual([4, 1]);
    expect(observed.distinct).toEqual([7, 6, 5, 8, 3]);
    expect(observed.distinctAscending).toEqual([9, 4, 8, 6, 7]);
    // the stored text is lowercased in ASCII only (SQLite's lower()), so "émoji" does not find "Émoji"
    expect(observed.textUnicode).toEqual([]);
    return observed;
  },

  async "pages, counts, counts by value and by time span"(store) {
    await store.write((tx) => tx.events.write(EVENTS, NOW));
    const page = (name: string, limit: number, offset: number) => store.read((q) => q.events.query(filter(name), limit, offset)).then(ids);
    const observed = {
      page: await page("all", 3, 2),
      pageAscending: await page("ascending", 2, 7),
      distinctPage: await page("distinct", 2, 1),
      pastTheEnd: await page("all", 5, 100),
      count: await store.read((q) => q.events.count(filter("all"))),
      countDistinct: await store.read((q) => q.events.count(filter("distinct"))),
      countPrefix: await store.read((q) => q.events.count(filter("prefix"))),
      countNothing: await store.read((q) => q.events.count(filter("nothing"))),
      byEvent: await store.read((q) => q.events.countByValue(filter("all"), "event")),
      byResource: await store.read((q) => q.events.countByValue(filter("all"), "resource")),
      byNothing: await store.read((q) => q.events.countByValue(filter("nothing"), "event")),
      // spans of 2 s from T0 + 1 s: one event before the pivot lands in span -16
      bySpan: [...(await store.read((q) => q.events.countBySpan(filter("all"), T0 + SECOND, 2 * SECOND))).entries()].sort((a, b) => a[0] - b[0]),
      bySpanMicros: [...(await store.read((q) => q.events.countBySpan(filter("window"), T0 + 2 * SECOND + 1, 3))).entries()].sort((a, b) => a[0] - b[0]),
    };
    expect(observed.count).toBe(EVENTS.length);
    expect(observed.countDistinct).toBe(5);
    expect(observed.byEvent[0]).toEqual({ value: "prefect.flow-run.Pending", label: "prefect.flow-run.Pending", count: 3, startTime: T0 + SECOND, endTime: T0 + 4 * SECOND });
    expect(observed.byResource.find((r) => r.value === "prefect.flow-run.1")).toMatchObject({ label: "run-1", count: 4, startTime: T0 - 30 * SECOND });
    expect(observed.bySpan[0]).toEqual([-16, 1]);
    return observed;
  },

  async "many events at once: more rows than one statement can bind, written once"(store) {
    const many = Array.from({ length: 6_000 }, (_, i) =>
      received(1000 + i, `bulk.${i % 7}`, { "prefect.resource.id": `bulk.${i % 13}` }, { occurred: T0 + i, related: [related(`prefect.tag.${i % 3}`, "tag"), related("prefect.flow.bulk", "flow")] }),
    );
    const written = await store.write((tx) => tx.events.write(many, NOW));
    const rewritten = await store.write((tx) => tx.events.write([...many.slice(0, 10), received(99_999, "bulk.new", { "prefect.resource.id": "bulk.new" })], NOW));
    expect([written, rewritten]).toEqual([6_000, 1]);
    const tagged = await store.read((q) => q.events.count(eventFilterFromBody(body({ related: { id: ["prefect.tag.1"] } }), NOW)));
    expect(tagged).toBe(2_000);
    return {
      written,
      rewritten,
      tagged,
      count: await store.read((q) => q.events.count(filter("all"))),
      byEvent: await store.read((q) => q.events.countByValue(filter("all"), "event")),
      last: ids(await store.read((q) => q.events.query(filter("all"), 3, 0))),
    };
  },

  async "retention: resources go first in batches, then events"(store) {
    await store.write((tx) => tx.events.write(EVENTS, NOW));
    const cutoff = T0 + 3 * SECOND;
    const batches: { events: number; resources: number }[] = [];
    for (let i = 0; i < 10; i++) {
      const batch = await store.write((tx) => tx.events.deleteBatchOccurredBefore(cutoff, 2));
      batches.push(batch);
      if (batch.events === 0 && batch.resources === 0) break;
    }
    expect(batches.reduce((n, b) => n + b.events, 0)).toBe(3);
    expect(batches.at(-1)).toEqual({ events: 0, resources: 0 });
    return {
      batches,
      left: ids(await store.read((q) => q.events.query(filter("ascending"), 100, 0))),
      relatedFlowLeft: ids(await store.read((q) => q.events.query(filter("relatedId"), 100, 0))),
    };
  },
});

describe("PostgreSQL: events written by many clients at once", () => {
  let database: TestDatabase;
  let pg: PgStore;

  beforeAll(async () => {
    database = await createTestDatabase();
    pg = await PgStore.open(database.settings({ poolSize: 10 }));
  });
  afterAll(async () => {
    await pg?.close();
    await database?.drop();
  });

  test("20 concurrent writes of the same 100 events store each event, and its resources, exactly once", async () => {
    const batch = Array.from({ length: 100 }, (_, i) => received(i, "race", { "prefect.resource.id": `r.${i}` }, { related: [related("prefect.tag.x", "tag")] }));
    const written = await Promise.all(Array.from({ length: 20 }, (_, i) => pg.write((tx) => tx.events.write(i % 2 === 0 ? batch : [...batch].reverse(), NOW))));
    expect(written.reduce((a, b) => a + b, 0)).toBe(100);
    expect(await pg.read((q) => q.events.count(filter("all")))).toBe(100);
    expect(await pg.read((q) => q.events.count(eventFilterFromBody(body({ related: { id: ["prefect.tag.x"] } }), NOW)))).toBe(100);
    const resources = await pg.db.execute<{ n: string }>("SELECT count(*) AS n FROM event_resources");
    expect(Number(resources[0]!.n)).toBe(200);
  });
});

