import { afterAll, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { Store } from "../../src/db/store";
import type { Event } from "../../src/events/model";

const store = Store.open(":memory:");
afterAll(() => store.close());
const published: string[] = [];
store.outbox.drainTo((events) => published.push(...events.map((e) => e.event)));

const event = (name: string): Event => ({
  id: crypto.randomUUID(),
  occurred: 0,
  event: name,
  resource: { "prefect.resource.id": "x" },
  related: [],
  payload: {},
  follows: null,
});

test("events staged in a transaction are published after it commits, in order", () => {
  published.length = 0;
  store.deployments.transaction(() => {
    store.outbox.stage(event("a"));
    expect(published).toEqual([]);
    store.deployments.transaction(() => store.outbox.stage(event("b"))); // a savepoint
    expect(published).toEqual([]);
  });
  expect(published).toEqual(["a", "b"]);
});

test("a rolled-back savepoint drops its events; the outer transaction's are still published", () => {
  published.length = 0;
  store.db.transaction(() => {
    store.outbox.stage(event("kept"));
    try {
      store.db.$client.transaction(() => {
        store.outbox.stage(event("dropped"));
        throw new Error("inner");
      })();
    } catch {
      // the savepoint rolled back; the outer transaction goes on
    }
  });
  expect(published).toEqual(["kept"]);
});

test("a failed commit or a thrown body publishes nothing; outside a transaction, staging publishes at once", () => {
  published.length = 0;
  expect(() =>
    store.db.transaction(() => {
      store.db.run(sql`SELECT 1`);
      store.outbox.stage(event("never"));
      throw new Error("rollback");
    }),
  ).toThrow("rollback");
  expect(published).toEqual([]);
  store.outbox.stage(event("now"));
  expect(published).toEqual(["now"]);
});
