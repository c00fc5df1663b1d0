import { afterAll, describe, expect, test } from "bun:test";
import { createServices } from "../../src/services";
import { Repossessor } from "../../src/services/repossessor";
import { createTestApi, ManualClock } from "../support/api";

const T0 = Date.UTC(2025, 0, 1) * 1000;
const SECOND = 1_000_000;
const BASE = "/v2/concurrency_limits";

describe("Repossessor", () => {
  const clock = new ManualClock(T0);
  const api = createTestApi({ clock });
  const { store, logger, config } = api.context;
  const repossessor = new Repossessor(store, clock, logger, config.services.repossessorLoopSeconds);
  afterAll(() => api.close());

  const lease = async (name: string, seconds: number) =>
    (await api.post(`${BASE}/increment-with-lease`, { names: [name], slots: 1, lease_duration: seconds })).body.lease_id as string;
  const activeSlots = async (name: string) => (await api.get(`${BASE}/${name}`)).body.active_slots as number;

  test("frees the slots of expired leases and leaves live ones held", async () => {
    await api.post(`${BASE}/`, { name: "workers", limit: 3 });
    const shortLived = await lease("workers", 60);
    const longLived = await lease("workers", 600);
    expect(await activeSlots("workers")).toBe(2);

    await repossessor.tick(T0 + 60 * SECOND); // expires at 60 s, still live at that instant
    expect(await activeSlots("workers")).toBe(2);

    clock.set(T0 + 90 * SECOND);
    await repossessor.tick(clock.now());
    expect(await activeSlots("workers")).toBe(1);
    expect(await store.read((q) => q.concurrencyLimits.readLease(shortLived))).toBeUndefined();
    expect(await store.read((q) => q.concurrencyLimits.readLease(longLived))).toBeDefined();
    // The 90 s it was held fed the occupancy average: 2 + 90/6 − 2/6.
    expect((await store.read((q) => q.concurrencyLimits.get({ name: "workers" })))!.avgSlotOccupancySeconds).toBeCloseTo(2 + 90 / 6 - 2 / 6, 12);
  });

  test("a renewed lease is not repossessed", async () => {
    clock.set(T0);
    await api.post(`${BASE}/`, { name: "renewing", limit: 1 });
    const id = await lease("renewing", 60);
    clock.set(T0 + 50 * SECOND);
    expect((await api.post(`${BASE}/leases/${id}/renew`, { lease_duration: 60 })).status).toBe(204);
    await repossessor.tick(T0 + 100 * SECOND);
    expect(await activeSlots("renewing")).toBe(1);
    await repossessor.tick(T0 + 111 * SECOND);
    expect(await activeSlots("renewing")).toBe(0);
  });

  test("is one of the services the server starts", () => {
    const services = createServices(api.context);
    expect(services.some((service) => service instanceof Repossessor)).toBe(true);
  });
});
