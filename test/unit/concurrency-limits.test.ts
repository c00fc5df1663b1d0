/** The synchronous slot and lease API that orchestration calls inside its own transactions. */
import { afterAll, describe, expect, test } from "bun:test";
import { Store } from "../../src/db/store";

const T0 = Date.UTC(2025, 0, 1) * 1000;
const SECOND = 1_000_000;

describe("concurrency limits: synchronous slot API", () => {
  const store = Store.open(":memory:");
  const limits = store.concurrencyLimits;
  afterAll(() => store.close());

  async function limit(name: string, fields: { limit?: number; active?: boolean; activeSlots?: number } = {}) {
    const input = { name, limit: 1, active: true, activeSlots: 0, deniedSlots: 0, slotDecayPerSecond: 0, ...fields };
    return (await limits.create(input, T0))!;
  }

  test("joins the caller's transaction: a rolled-back transition gives the slot back", async () => {
    const { id } = await limit("deployment:rolled-back");
    expect(() =>
      store.db.transaction(
        () => {
          expect(limits.tryAcquireSync([id], 1, T0)).toBe(true);
          limits.createLeaseSync({ resourceIds: [id], slots: 1, ttl: 300 * SECOND }, T0);
          throw new Error("transition aborted");
        },
        { behavior: "immediate" },
      ),
    ).toThrow("transition aborted");
    expect(limits.getSync(id)!.activeSlots).toBe(0);
    expect(await limits.expiredLeaseIds(T0 + 3600 * SECOND, 10)).toEqual([]);
  });

  test("an unknown or inactive id fails the whole acquisition", async () => {
    const open = await limit("open", { limit: 5 });
    const inactive = await limit("inactive", { active: false });
    expect(limits.tryAcquireSync([open.id, inactive.id], 1, T0)).toBe(false);
    expect(limits.tryAcquireSync([open.id, crypto.randomUUID()], 1, T0)).toBe(false);
    expect(limits.getSync(open.id)!.activeSlots).toBe(0);
    expect(limits.tryAcquireSync([open.id], 2, T0)).toBe(true);
    expect(limits.getSync(open.id)!.activeSlots).toBe(2);
  });

  test("a lease released without recording occupancy frees its slots and leaves the average alone", async () => {
    const { id } = await limit("deployment:released", { limit: 2 });
    const lease = store.db.transaction(
      () => (limits.tryAcquireSync([id], 1, T0) ? limits.createLeaseSync({ resourceIds: [id], slots: 1, ttl: 300 * SECOND }, T0) : null),
      { behavior: "immediate" },
    )!;
    expect(limits.readLeaseSync(lease.id)).toMatchObject({ resourceIds: [id], slots: 1, expiration: T0 + 300 * SECOND, metadata: null });
    expect(limits.renewLeaseSync(lease.id, 600 * SECOND, T0 + 100 * SECOND)).toBe(true);
    expect(limits.readLeaseSync(lease.id)!.expiration).toBe(T0 + 700 * SECOND);
    expect(limits.releaseLeaseSync(lease.id, T0 + 200 * SECOND, { recordOccupancy: false })).toBe(true);
    expect(limits.getSync(id)).toMatchObject({ activeSlots: 0, avgSlotOccupancySeconds: 2 });
    expect(limits.readLeaseSync(lease.id)).toBeUndefined();
    expect(limits.releaseLeaseSync(lease.id, T0 + 200 * SECOND)).toBe(false);
  });

  test("releasing slots reports whether every id was an active limit, and releases the active ones anyway", async () => {
    const held = await limit("held", { limit: 3, activeSlots: 2 });
    const off = await limit("off", { active: false, activeSlots: 1 });
    expect(limits.releaseSlotsSync([held.id, off.id], 1, T0)).toBe(false);
    expect(limits.getSync(held.id)!.activeSlots).toBe(1);
    expect(limits.getSync(off.id)!.activeSlots).toBe(1);
    expect(limits.releaseSlotsSync([held.id], 5, T0)).toBe(true);
    expect(limits.getSync(held.id)!.activeSlots).toBe(0);
  });
});
