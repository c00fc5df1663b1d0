/**
 * The repository contract (test/support/contract.ts) for global concurrency limits and their
 * leases, and, on PostgreSQL alone, slots taken by many clients at once.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { PgStore } from "../../src/db/postgres/store";
import type { LeaseHolder } from "../../src/db/repos/concurrency-limits";
import { MICROS_PER_SECOND } from "../../src/lib/time";
import { contractSuite, errorOf, MISSING, T0, type ContractStore } from "../support/contract";
import { createTestDatabase, type TestDatabase } from "../support/postgres";

const SECOND = MICROS_PER_SECOND;

const limitInput = (name: string, limit: number, extra: Partial<{ active: boolean; activeSlots: number; deniedSlots: number; slotDecayPerSecond: number }> = {}) => ({
  name,
  limit,
  active: true,
  activeSlots: 0,
  deniedSlots: 0,
  slotDecayPerSecond: 0,
  ...extra,
});

const createLimit = async (store: ContractStore, ...args: Parameters<typeof limitInput>) =>
  (await store.write((tx) => tx.concurrencyLimits.create(limitInput(...args), T0)))!;

/** A limit's counts, without its id and timestamps' noise. */
const countsOf = async (store: ContractStore, id: string) => {
  const row = await store.read((q) => q.concurrencyLimits.get({ id }));
  return row && { active: row.activeSlots, denied: row.deniedSlots, occupancy: row.avgSlotOccupancySeconds, updated: row.updated };
};

contractSuite("concurrency limits and leases", ["concurrency_limit_v2", "concurrency_lease"], {
  async "limits: create, duplicate names, read by id, name and names, timestamps to the microsecond"(store) {
    const created = await store.write((tx) => tx.concurrencyLimits.create(limitInput("db", 3, { slotDecayPerSecond: 0.25 }), T0 + 1));
    const duplicate = await store.write((tx) => tx.concurrencyLimits.create(limitInput("db", 9), T0 + 2));
    for (const name of ["Zeta", "alpha", "_under", "tag:prod", "tag:Prod", "émoji 🚀"]) await createLimit(store, name, 1);
    expect(created).toMatchObject({ name: "db", limit: 3, slotDecayPerSecond: 0.25, created: T0 + 1, updated: T0 + 1, avgSlotOccupancySeconds: 2 });
    expect(duplicate).toBeUndefined();
    const observed = {
      created,
      duplicate: duplicate ?? null,
      byId: await store.read((q) => q.concurrencyLimits.get({ id: created!.id })),
      byName: await store.read((q) => q.concurrencyLimits.get({ name: "db" })),
      missingId: (await store.read((q) => q.concurrencyLimits.get({ id: MISSING }))) ?? null,
      missingName: (await store.read((q) => q.concurrencyLimits.get({ name: "nope" }))) ?? null,
      byNames: (await store.read((q) => q.concurrencyLimits.readByNames(["tag:prod", "Zeta", "unknown", "alpha", "émoji 🚀"]))).map((r) => r.name),
      byNoNames: await store.read((q) => q.concurrencyLimits.readByNames([])),
    };
    expect(observed.byId).toEqual(created!);
    expect(observed.byNames).toEqual(["Zeta", "alpha", "tag:prod", "émoji 🚀"]);
    return observed;
  },

  async "limits: list pages and prefixes in code-point order"(store) {
    for (const name of ["tag:b", "Tag:a", "tag:a", "tag_x", "tagged", "a_b", "ab", "a%c", "🚀rocket", "éclair"]) await createLimit(store, name, 1);
    const names = (rows: { name: string }[]) => rows.map((r) => r.name);
    const observed = {
      all: names(await store.read((q) => q.concurrencyLimits.list(100, 0))),
      page: names(await store.read((q) => q.concurrencyLimits.list(3, 2))),
      tagPrefix: names(await store.read((q) => q.concurrencyLimits.listByPrefix("tag:", 100, 0))),
      tagPrefixPage: names(await store.read((q) => q.concurrencyLimits.listByPrefix("tag:", 1, 1))),
      underscoreIsLiteral: names(await store.read((q) => q.concurrencyLimits.listByPrefix("a_", 100, 0))),
      percentIsLiteral: names(await store.read((q) => q.concurrencyLimits.listByPrefix("a%", 100, 0))),
      caseSensitive: names(await store.read((q) => q.concurrencyLimits.listByPrefix("Tag", 100, 0))),
      accented: names(await store.read((q) => q.concurrencyLimits.listByPrefix("é", 100, 0))),
      // one character, two UTF-16 units
      astral: names(await store.read((q) => q.concurrencyLimits.listByPrefix("🚀", 100, 0))),
      astralAndMore: names(await store.read((q) => q.concurrencyLimits.listByPrefix("🚀r", 100, 0))),
      emptyPrefix: names(await store.read((q) => q.concurrencyLimits.listByPrefix("", 2, 0))),
    };
    expect(observed.all).toEqual(["Tag:a", "a%c", "a_b", "ab", "tag:a", "tag:b", "tag_x", "tagged", "éclair", "🚀rocket"]);
    expect(observed.tagPrefix).toEqual(["tag:a", "tag:b"]);
    expect(observed.underscoreIsLiteral).toEqual(["a_b"]);
    expect(observed.percentIsLiteral).toEqual(["a%c"]);
    expect(observed.caseSensitive).toEqual(["Tag:a"]);
    expect(observed.astralAndMore).toEqual(["🚀rocket"]);
    return observed;
  },

  async "limits: updates settle decay, explicit nulls and name clashes conflict, deletes"(store) {
    const decaying = await createLimit(store, "rate", 10, { activeSlots: 5, slotDecayPerSecond: 2 });
    await createLimit(store, "other", 1);
    const updated = await store.write((tx) => tx.concurrencyLimits.update({ id: decaying.id }, { limit: 20 }, T0 + 1_500_000));
    const afterUpdate = await store.read((q) => q.concurrencyLimits.get({ id: decaying.id }));
    expect(afterUpdate).toMatchObject({ limit: 20, activeSlots: 2, updated: T0 + 1_500_000 });
    const byName = await store.write((tx) => tx.concurrencyLimits.update({ name: "rate" }, { active: false, deniedSlots: 4 }, T0 + 2 * SECOND));
    const conflicts = [
      await errorOf(store.write((tx) => tx.concurrencyLimits.update({ id: decaying.id }, { name: null }, T0 + 3 * SECOND))),
      await errorOf(store.write((tx) => tx.concurrencyLimits.update({ id: decaying.id }, { limit: null }, T0 + 3 * SECOND))),
      await errorOf(store.write((tx) => tx.concurrencyLimits.update({ id: decaying.id }, { name: "other" }, T0 + 3 * SECOND))),
    ];
    expect(conflicts).toEqual(["StoreConflictError", "StoreConflictError", "StoreConflictError"]);
    const afterConflicts = await store.read((q) => q.concurrencyLimits.get({ id: decaying.id }));
    expect(afterConflicts).toMatchObject({ name: "rate", active: false, deniedSlots: 4, updated: T0 + 2 * SECOND });
    return {
      updated,
      afterUpdate,
      byName,
      conflicts,
      afterConflicts,
      updateMissing: await store.write((tx) => tx.concurrencyLimits.update({ id: MISSING }, { limit: 1 }, T0)),
      deleteByName: await store.write((tx) => tx.concurrencyLimits.delete({ name: "other" })),
      deleteById: await store.write((tx) => tx.concurrencyLimits.delete({ id: decaying.id })),
      deleteAgain: await store.write((tx) => tx.concurrencyLimits.delete({ id: decaying.id })),
      left: await store.read((q) => q.concurrencyLimits.list(10, 0)),
    };
  },

  async "slots: all or nothing, unknown and inactive limits, decay, denials, releases and the occupancy average"(store) {
    const a = await createLimit(store, "a", 2);
    const b = await createLimit(store, "b", 1);
    const off = await createLimit(store, "off", 5, { active: false });
    const rate = await createLimit(store, "rate", 4, { slotDecayPerSecond: 1 });
    const acquire = (ids: string[], slots: number, at: number) => store.write((tx) => tx.concurrencyLimits.tryAcquire(ids, slots, at));
    const steps = {
      both: await acquire([a.id, b.id, a.id], 1, T0 + 1),
      bFull: await acquire([a.id, b.id], 1, T0 + 2),
      aAlone: await acquire([a.id], 1, T0 + 3),
      aFull: await acquire([a.id], 1, T0 + 4),
      unknown: await acquire([MISSING], 1, T0 + 5),
      inactive: await acquire([off.id], 1, T0 + 6),
      none: await acquire([], 1, T0 + 7),
      rateFill: await acquire([rate.id], 4, T0 + 8),
      rateFull: await acquire([rate.id], 1, T0 + 9),
      // 2.5 seconds of decay at one slot a second frees two
      rateAfterDecay: await acquire([rate.id], 2, T0 + 8 + 2_500_000),
    };
    expect(steps).toEqual({ both: true, bFull: false, aAlone: true, aFull: false, unknown: false, inactive: false, none: true, rateFill: true, rateFull: false, rateAfterDecay: true });
    await store.write((tx) => tx.concurrencyLimits.recordDenied([a.id, off.id, MISSING], 3, T0 + 10));
    const releases = {
      a: await store.write((tx) => tx.concurrencyLimits.releaseSlots([a.id], 1, T0 + 2 * SECOND, 1.5)),
      aBelowZero: await store.write((tx) => tx.concurrencyLimits.releaseSlots([a.id, a.id], 5, T0 + 3 * SECOND)),
      withInactive: await store.write((tx) => tx.concurrencyLimits.releaseSlots([b.id, off.id], 1, T0 + 4 * SECOND, 0.25)),
      unknown: await store.write((tx) => tx.concurrencyLimits.releaseSlots([MISSING], 1, T0)),
    };
    expect(releases).toEqual({ a: true, aBelowZero: true, withInactive: false, unknown: false });
    const lease = await store.write((tx) => tx.concurrencyLimits.incrementWithLease([b.id], { resourceIds: [b.id], slots: 1, ttl: 30 * SECOND }, T0 + 5 * SECOND));
    const refused = await store.write((tx) => tx.concurrencyLimits.incrementWithLease([b.id], { resourceIds: [b.id], slots: 1, ttl: 30 * SECOND }, T0 + 5 * SECOND));
    expect(lease).toMatchObject({ slots: 1, expiration: T0 + 35 * SECOND, metadata: null });
    expect(refused).toBeNull();
    return {
      steps,
      releases,
      lease,
      refused,
      counts: await Promise.all([a, b, off, rate].map((l) => countsOf(store, l.id))),
    };
  },

  async "leases: create, read, renew, expire, release, repossess, revoke"(store) {
    const a = await createLimit(store, "a", 3);
    const b = await createLimit(store, "b", 3);
    const holder: LeaseHolder = { type: "flow_run", id: "0195f0b4-1111-7000-8000-000000000001" };
    await store.write((tx) => tx.concurrencyLimits.tryAcquire([a.id, b.id], 2, T0));
    const lease = await store.write((tx) => tx.concurrencyLimits.createLease({ id: "0195f0b4-2222-7000-8000-000000000002", resourceIds: [a.id, b.id], slots: 2, ttl: 10 * SECOND, holder }, T0));
    const other = await store.write((tx) => tx.concurrencyLimits.incrementWithLease([a.id], { resourceIds: [a.id], slots: 1, ttl: SECOND }, T0 + 1));
    const read = await store.read((q) => q.concurrencyLimits.readLease(lease.id));
    expect(read).toEqual(lease);
    const renewals = {
      live: await store.write((tx) => tx.concurrencyLimits.renewLease(lease.id, 20 * SECOND, T0 + 5 * SECOND)),
      atExpiration: await store.write((tx) => tx.concurrencyLimits.renewLease(other!.id, SECOND, T0 + 1 + SECOND)),
      expired: await store.write((tx) => tx.concurrencyLimits.renewLease(other!.id, SECOND, T0 + 3 * SECOND)),
      missing: await store.write((tx) => tx.concurrencyLimits.renewLease(MISSING, SECOND, T0)),
    };
    expect(renewals).toEqual({ live: true, atExpiration: true, expired: false, missing: false });
    const expired = {
      before: await store.read((q) => q.concurrencyLimits.expiredLeaseIds(T0 + 2 * SECOND, 10)),
      after: await store.read((q) => q.concurrencyLimits.expiredLeaseIds(T0 + 26 * SECOND, 10)),
      limited: await store.read((q) => q.concurrencyLimits.expiredLeaseIds(T0 + 26 * SECOND, 1)),
    };
    expect(expired.after).toEqual([other!.id, lease.id]);
    const repossessed = {
      live: await store.write((tx) => tx.concurrencyLimits.repossessLease(lease.id, T0 + 6 * SECOND)),
      expired: await store.write((tx) => tx.concurrencyLimits.repossessLease(other!.id, T0 + 6 * SECOND)),
      again: await store.write((tx) => tx.concurrencyLimits.repossessLease(other!.id, T0 + 6 * SECOND)),
    };
    expect(repossessed).toEqual({ live: false, expired: true, again: false });
    const countsBeforeRelease = await Promise.all([a, b].map((l) => countsOf(store, l.id)));
    const released = await store.write((tx) => tx.concurrencyLimits.releaseLease(lease.id, T0 + 8 * SECOND));
    const releasedAgain = await store.write((tx) => tx.concurrencyLimits.releaseLease(lease.id, T0 + 8 * SECOND));
    const unrecorded = await store.write((tx) => tx.concurrencyLimits.incrementWithLease([a.id], { resourceIds: [a.id], slots: 1, ttl: SECOND }, T0 + 9 * SECOND));
    const releasedUnrecorded = await store.write((tx) => tx.concurrencyLimits.releaseLease(unrecorded!.id, T0 + 9 * SECOND + 1, { recordOccupancy: false }));
    const revoked = await store.write((tx) => tx.concurrencyLimits.incrementWithLease([b.id], { resourceIds: [b.id], slots: 1, ttl: SECOND }, T0 + 10 * SECOND));
    await store.write((tx) => tx.concurrencyLimits.revokeLease(revoked!.id));
    expect([released, releasedAgain, releasedUnrecorded]).toEqual([true, false, true]);
    return {
      lease,
      other,
      renewed: await store.read((q) => q.concurrencyLimits.readLease(lease.id)),
      renewals,
      expired,
      repossessed,
      countsBeforeRelease,
      released,
      releasedAgain,
      releasedUnrecorded,
      revokedLease: (await store.read((q) => q.concurrencyLimits.readLease(revoked!.id))) ?? null,
      counts: await Promise.all([a, b].map((l) => countsOf(store, l.id))),
    };
  },

  async "v1 holders: live holders oldest first, release by holder, reset keeps other limits held"(store) {
    const tag = await createLimit(store, "tag:db", 3);
    const other = await createLimit(store, "tag:other", 3);
    const run = (n: number): LeaseHolder => ({ type: "task_run", id: `0195f0b4-3333-7000-8000-00000000000${n}` });
    const take = (limitIds: string[], holder: LeaseHolder | null, at: number, ttl = 60 * SECOND) =>
      store.write((tx) => tx.concurrencyLimits.incrementWithLease(limitIds, { resourceIds: limitIds, slots: 1, ttl, holder }, at));
    await take([tag.id, other.id], run(1), T0 + 3);
    await take([tag.id], run(2), T0 + 1);
    await take([tag.id], null, T0 + 2);
    await take([other.id], run(3), T0 + 4, 1);
    const holders = await store.read((q) => q.concurrencyLimits.liveHolders([tag.id, other.id, MISSING], T0 + 10));
    expect(holders.get(tag.id)).toEqual([run(2), run(1)]);
    expect(holders.get(other.id)).toEqual([run(1)]);
    const releasedByHolder = await store.write((tx) => tx.concurrencyLimits.releaseHolderLeases([tag.id], run(2).id, T0 + 20));
    const releasedNone = await store.write((tx) => tx.concurrencyLimits.releaseHolderLeases([tag.id], run(9).id, T0 + 20));
    const noLimits = await store.read((q) => q.concurrencyLimits.liveHolders([], T0));
    await store.write((tx) => tx.concurrencyLimits.resetHolders(tag.id, [run(5), run(6), run(7), run(8)], 30 * SECOND, T0 + 30));
    const afterReset = await store.read((q) => q.concurrencyLimits.liveHolders([tag.id, other.id], T0 + 40));
    expect(afterReset.get(tag.id)).toEqual([run(5), run(6), run(7)]);
    expect(afterReset.get(other.id)).toEqual([run(1)]);
    return {
      holders: [...holders.entries()],
      releasedByHolder,
      releasedNone,
      noLimits: [...noLimits.entries()],
      afterReset: [...afterReset.entries()],
      counts: await Promise.all([tag, other].map((l) => countsOf(store, l.id))),
      leases: (await store.read((q) => q.concurrencyLimits.expiredLeaseIds(T0 + 3600 * SECOND, 100))).length,
    };
  },
});

describe("PostgreSQL: slots taken by many clients at once", () => {
  let database: TestDatabase;
  let pg: PgStore;

  beforeAll(async () => {
    database = await createTestDatabase();
    pg = await PgStore.open(database.settings({ poolSize: 20 }));
  });
  afterAll(async () => {
    await pg?.close();
    await database?.drop();
  });

  test("50 concurrent writes each try to take the single slot of a 1-slot limit: exactly one succeeds", async () => {
    const limit = (await pg.write((tx) => tx.concurrencyLimits.create(limitInput("one", 1), T0)))!;
    const attempts = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        pg.write((tx) => tx.concurrencyLimits.incrementWithLease([limit.id], { resourceIds: [limit.id], slots: 1, ttl: 60 * SECOND }, T0 + i + 1)),
      ),
    );
    expect(attempts.filter((lease) => lease !== null)).toHaveLength(1);
    expect((await pg.read((q) => q.concurrencyLimits.get({ id: limit.id })))!.activeSlots).toBe(1);
    expect(await pg.read((q) => q.concurrencyLimits.expiredLeaseIds(T0 + 3600 * SECOND, 100))).toHaveLength(1);
  });

  test("30 concurrent releases of one expired lease give its slots back once", async () => {
    const limit = (await pg.write((tx) => tx.concurrencyLimits.create(limitInput("three", 3), T0)))!;
    const lease = (await pg.write((tx) => tx.concurrencyLimits.incrementWithLease([limit.id], { resourceIds: [limit.id], slots: 2, ttl: SECOND }, T0)))!;
    await pg.write((tx) => tx.concurrencyLimits.tryAcquire([limit.id], 1, T0));
    const releases = await Promise.all(Array.from({ length: 30 }, () => pg.write((tx) => tx.concurrencyLimits.repossessLease(lease.id, T0 + 2 * SECOND))));
    expect(releases.filter(Boolean)).toHaveLength(1);
    expect((await pg.read((q) => q.concurrencyLimits.get({ id: limit.id })))!.activeSlots).toBe(1);
  });

  test("20 clients taking a slot each on a 10-slot limit, in both orders of two limits: 10 hold both, no deadlock is left unresolved", async () => {
    const [x, y] = await Promise.all(["x", "y"].map(async (name) => (await pg.write((tx) => tx.concurrencyLimits.create(limitInput(name, 10), T0)))!));
    const attempts = await Promise.all(
      Array.from({ length: 20 }, (_, i) => pg.write((tx) => tx.concurrencyLimits.tryAcquire(i % 2 === 0 ? [x!.id, y!.id] : [y!.id, x!.id], 1, T0 + 1))),
    );
    expect(attempts.filter(Boolean)).toHaveLength(10);
    for (const l of [x!, y!]) expect((await pg.read((q) => q.concurrencyLimits.get({ id: l.id })))!.activeSlots).toBe(10);
  });
});
