/**
 * The repository contract's harness: a scenario runs against one empty store on SQLite
 * (:memory:) and on a fresh PostgreSQL database, asserts what it must on each, and the two
 * results must be identical (ids aside, which are new UUIDv7s each time): rows, timestamps
 * to the microsecond, JSON documents, orders, counts, errors, events. Each ported repository
 * has its own test/postgres/contract-*.test.ts calling `contractSuite`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { StoreConflictError } from "../../src/db/errors";
import type { StoreOf } from "../../src/db/repositories";
import { PgStore, type PgPortedRepositories } from "../../src/db/postgres/store";
import { SqliteStore } from "../../src/db/store";
import type { Event } from "../../src/events/model";
import { createTestDatabase, type TestDatabase } from "./postgres";

export type ContractStore = StoreOf<PgPortedRepositories>;

/**
 * Each scenario runs against one empty store and returns what it observed. `published`
 * names the events published after commit; `events` holds them whole.
 */
export type ContractScenario = (store: ContractStore, published: string[], events: Event[]) => Promise<unknown>;

/** An instant with microseconds a JS Date would lose. */
export const T0 = Date.UTC(2026, 11, 3, 10, 0, 0) * 1000 + 123_457;
export const MISSING = "0195f0b4-0000-7000-8000-000000000000";

export const event = (name: string): Event => ({
  id: crypto.randomUUID(),
  occurred: T0,
  event: name,
  resource: { "prefect.resource.id": "x" },
  related: [],
  payload: {},
  follows: null,
});

/**
 * Ids differ between runs: each distinct UUID becomes `<id n>` in order of appearance, also
 * inside a string (an event's `prefect.work-pool.<id>`).
 */
export function withoutIds(value: unknown): unknown {
  const seen = new Map<string, string>();
  const alias = (id: string) => {
    if (!seen.has(id)) seen.set(id, `<id ${seen.size}>`);
    return seen.get(id)!;
  };
  const walk = (v: unknown): unknown => {
    if (typeof v === "string") return v.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, alias);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value);
}

export async function errorOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "no error";
  } catch (error) {
    return error instanceof StoreConflictError ? "StoreConflictError" : `unexpected ${String(error)}`;
  }
}

/**
 * Registers one test per scenario. `tables` are emptied (TRUNCATE ... CASCADE) on the
 * PostgreSQL database before each scenario; the SQLite side gets a new :memory: store.
 */
export function contractSuite(title: string, tables: string[], scenarios: Record<string, ContractScenario>): void {
  let database: TestDatabase;
  let pg: PgStore;
  const pgPublished: string[] = [];
  const pgEvents: Event[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    pg = await PgStore.open(database.settings());
    pg.publishTo((events) => {
      pgPublished.push(...events.map((e) => e.event));
      pgEvents.push(...events);
    });
  });
  afterAll(async () => {
    await pg?.close();
    await database?.drop();
  });

  async function onSqlite(name: string): Promise<unknown> {
    const store = SqliteStore.open(":memory:");
    const published: string[] = [];
    const events: Event[] = [];
    store.publishTo((batch) => {
      published.push(...batch.map((e) => e.event));
      events.push(...batch);
    });
    try {
      return withoutIds(await scenarios[name]!(store, published, events));
    } finally {
      store.close();
    }
  }

  async function onPostgres(name: string): Promise<unknown> {
    await pg.db.execute(sql.raw(`TRUNCATE ${tables.join(", ")} CASCADE`));
    pgPublished.length = 0;
    pgEvents.length = 0;
    return withoutIds(await scenarios[name]!(pg, pgPublished, pgEvents));
  }

  describe(`repository contract, ${title}: SQLite and PostgreSQL give identical results`, () => {
    test.each(Object.keys(scenarios))("%s", async (name) => {
      const lite = await onSqlite(name);
      const post = await onPostgres(name);
      // toEqual ignores the order of an object's keys, which jsonb does not keep (see the README)
      expect(post).toEqual(lite);
    });
  });
}
