/** The slot and lease operations orchestration composes into its transitions. */
import { afterAll, describe, expect, test } from "bun:test";
import { SqliteStore } from "../../src/db/store";

const T0 = Date.UTC(2025, 0, 1) * 1000;
const SECOND = 1_000_000;

describe("concurrency limits: slot and lease operations", () => {
  const store = SqliteStore.open(":memory:");
  afterAll(() => store.close());

  async function limit(name: string, fields: { limit?: number; active?: boolean; activeSlots?: number } = {}) {
    const input = { name, limit: 1, active: true, activeSlots: 0, deniedSlots: 0, slotDecayPerSecond: 0, ...fields };
    return (await store.write((tx) => tx.concurrencyLimits.create(input, T0)))!;
  }

  const get = (id: string) => store.read((q) => q.concurrencyLimits.get({ id }));
  const readLease = (id: string) => store.read((q) => q.concurrencyLimits.readLease(id));

  test("joins the caller's transaction: a rolled-back transition gives the slot back", async () => {
    const { id } = await limit("deployment:rolled-back");
    await expect(
      store.write(function* (tx) {
        expect(yield* tx.concurrencyLimits.tryAcquire([id], 1, T0)).toBe(true);
        yield* tx.concurrencyLimits.createLease({ resourceIds: [id], slots: 1, ttl: 300 * SECOND }, T0);
        throw new Error("transition aborted");
      }),
    ).rejects.toThrow("transition aborted");
    expect((await get(id))!.activeSlots).toBe(0);
    expect(await store.read((q) => q.concurrencyLimits.expiredLeaseIds(T0 + 3600 * SECOND, 10))).toEqual([]);
  });

  test("an unknown or inactive id fails the whole acquisition", async () => {
    const open = await limit("open", { limit: 5 });
    const inactive = await limit("inactive", { active: false });
    const tryAcquire = (ids: string[], slots: number) => store.write((tx) => tx.concurrencyLimits.tryAcquire(ids, slots, T0));
    expect(await tryAcquire([open.id, inactive.id], 1)).toBe(false);
    expect(await tryAcquire([open.id, crypto.randomUUID()], 1)).toBe(false);
    expect((await get(open.id))!.activeSlots).toBe(0);
    expect(await tryAcquire([open.id], 2)).toBe(true);
    expect((await get(open.id))!.activeSlots).toBe(2);
  });

  test("a lease released without recording occupancy frees its slots and leaves the average alone", async () => {
    const { id } = await limit("deployment:released", { limit: 2 });
    const lease = (await store.write((tx) => tx.concurrencyLimits.incrementWithLease([id], { resourceIds: [id], slots: 1, ttl: 300 * SECOND }, T0)))!;
    expect(await readLease(lease.id)).toMatchObject({ resourceIds: [id], slots: 1, expiration: T0 + 300 * SECOND, metadata: null });
    expect(await store.write((tx) => tx.concurrencyLimits.renewLease(lease.id, 600 * SECOND, T0 + 100 * SECOND))).toBe(true);
    expect((await readLease(lease.id))!.expiration).toBe(T0 + 700 * SECOND);
    expect(await store.write((tx) => tx.concurrencyLimits.releaseLease(lease.id, T0 + 200 * SECOND, { recordOccupancy: false }))).toBe(true);
    expect(await get(id)).toMatchObject({ activeSlots: 0, avgSlotOccupancySeconds: 2 });
    expect(await readLease(lease.id)).toBeUndefined();
    expect(await store.write((tx) => tx.concurrencyLimits.releaseLease(lease.id, T0 + 200 * SECOND))).toBe(false);
  });

  test("releasing slots reports whether every id was an active limit, and releases the active ones anyway", async () => {
    const held = await limit("held", { limit: 3, activeSlots: 2 });
    const off = await limit("off", { active: false, activeSlots: 1 });
    const release = (ids: string[], slots: number) => store.write((tx) => tx.concurrencyLimits.releaseSlots(ids, slots, T0));
    expect(await release([held.id, off.id], 1)).toBe(false);
    expect((await get(held.id))!.activeSlots).toBe(1);
    expect((await get(off.id))!.activeSlots).toBe(1);
    expect(await release([held.id], 5)).toBe(true);
    expect((await get(held.id))!.activeSlots).toBe(0);
  });
});
