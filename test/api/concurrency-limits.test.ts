import { afterAll, describe, expect, test } from "bun:test";
import { retryAfterSeconds } from "../../src/concurrency/limits";
import { INTEGRITY_CONFLICT } from "../../src/api/errors";
import type { ConcurrencyLimitRow } from "../../src/db/repos/concurrency-limits";
import { createTestApi, ManualClock } from "../support/api";

const T0 = Date.UTC(2025, 0, 1) * 1000;
const SECOND = 1_000_000;
const BASE = "/v2/concurrency_limits";

function freshApi() {
  const clock = new ManualClock(T0);
  const api = createTestApi({ clock });
  /** The stored row, with the counts the API does not show (denied slots, occupancy average). */
  const row = async (name: string) => (await api.context.store.read((q) => q.concurrencyLimits.get({ name })))!;
  const create = async (body: Record<string, unknown>) => (await api.post(`${BASE}/`, body)).body;
  const activeSlots = async (name: string) => (await api.get(`${BASE}/${encodeURIComponent(name)}`)).body.active_slots;
  const lease = (id: string) => api.context.store.read((q) => q.concurrencyLimits.readLease(id));
  return { api, clock, lease, row, create, activeSlots };
}

describe("v2 concurrency limits: create, read, update, delete", () => {
  const { api, clock, create } = freshApi();
  afterAll(() => api.close());

  test("create answers 201 with the full model and Prefect's defaults", async () => {
    const res = await api.post(`${BASE}/`, { name: "db", limit: 3 });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.any(String),
      created: "2025-01-01T00:00:00Z",
      updated: "2025-01-01T00:00:00Z",
      active: true,
      name: "db",
      limit: 3,
      active_slots: 0,
      denied_slots: 0,
      slot_decay_per_second: 0,
      avg_slot_occupancy_seconds: 2,
    });
  });

  test("a taken name is Prefect's integrity conflict and leaves the first limit alone", async () => {
    await create({ name: "taken", limit: 1 });
    expect(await api.post(`${BASE}/`, { name: "taken", limit: 9 })).toMatchObject({ status: 409, body: { detail: INTEGRITY_CONFLICT } });
    expect((await api.get(`${BASE}/taken`)).body.limit).toBe(1);
  });

  test("invalid fields are 422 in pydantic's shape, every issue listed", async () => {
    const res = await api.post(`${BASE}/`, { name: "a/b", limit: -1, slot_decay_per_second: -0.5 });
    expect(res.status).toBe(422);
    expect(res.body.exception_detail).toEqual([
      { type: "string_pattern_mismatch", loc: ["body", "name"], msg: "String should match pattern '^[^/%&><]+$'", input: "a/b" },
      { type: "greater_than_equal", loc: ["body", "limit"], msg: "Input should be greater than or equal to 0", input: -1 },
      { type: "greater_than_equal", loc: ["body", "slot_decay_per_second"], msg: "Input should be greater than or equal to 0", input: -0.5 },
    ]);
    expect((await api.post(`${BASE}/`, { name: "", limit: 1 })).status).toBe(422);
    const extra = await api.post(`${BASE}/`, { name: "extra", limit: 1, nope: 1 });
    expect(extra.body.exception_detail[0]).toMatchObject({ type: "extra_forbidden", loc: ["body", "nope"] });
  });

  test("GET takes an id in any UUID spelling or a name; reads are GlobalConcurrencyLimitResponse", async () => {
    const created = await create({ name: "tag:my tag", limit: 2, active_slots: 1, denied_slots: 4 });
    const expected = {
      id: created.id,
      created: "2025-01-01T00:00:00Z",
      updated: "2025-01-01T00:00:00Z",
      active: true,
      name: "tag:my tag",
      limit: 2,
      active_slots: 1,
      slot_decay_per_second: 0,
    };
    expect((await api.get(`${BASE}/${created.id}`)).body).toEqual(expected);
    expect((await api.get(`${BASE}/${created.id.toUpperCase().replaceAll("-", "")}`)).body).toEqual(expected);
    expect((await api.get(`${BASE}/tag:my%20tag`)).body).toEqual(expected);
  });

  test("unknown ids and names are 404 on GET, PATCH and DELETE", async () => {
    const notFound = { status: 404, body: { detail: "Concurrency Limit not found" } };
    for (const ref of [crypto.randomUUID(), "ghost"]) {
      expect(await api.get(`${BASE}/${ref}`)).toMatchObject(notFound);
      expect(await api.patch(`${BASE}/${ref}`, { limit: 1 })).toMatchObject(notFound);
      expect(await api.delete(`${BASE}/${ref}`)).toMatchObject(notFound);
    }
  });

  test("PATCH by id or name writes only the fields sent and bumps updated", async () => {
    const created = await create({ name: "patched", limit: 1, slot_decay_per_second: 0.5 });
    clock.set(T0 + 5 * SECOND);
    expect(await api.patch(`${BASE}/patched`, { limit: 7 })).toMatchObject({ status: 204, text: "" });
    expect((await api.get(`${BASE}/${created.id}`)).body).toMatchObject({
      limit: 7,
      slot_decay_per_second: 0.5,
      updated: "2025-01-01T00:00:05Z",
    });
    expect((await api.patch(`${BASE}/${created.id}`, { name: "renamed", active: false })).status).toBe(204);
    expect((await api.get(`${BASE}/renamed`)).body).toMatchObject({ id: created.id, active: false, limit: 7 });
  });

  test("PATCH onto a taken name or with a null for a required column is a conflict", async () => {
    await create({ name: "first", limit: 1 });
    await create({ name: "second", limit: 2 });
    expect(await api.patch(`${BASE}/second`, { name: "first" })).toMatchObject({ status: 409, body: { detail: INTEGRITY_CONFLICT } });
    expect((await api.patch(`${BASE}/second`, { limit: null })).status).toBe(409);
    expect((await api.get(`${BASE}/second`)).body).toMatchObject({ name: "second", limit: 2 });
    expect((await api.patch(`${BASE}/second`, { limit: -2 })).status).toBe(422);
  });

  test("DELETE by name or id answers 204 and the limit is gone", async () => {
    const byId = await create({ name: "doomed-1", limit: 1 });
    await create({ name: "doomed-2", limit: 1 });
    expect(await api.delete(`${BASE}/${byId.id}`)).toMatchObject({ status: 204, text: "" });
    expect((await api.delete(`${BASE}/doomed-2`)).status).toBe(204);
    expect((await api.get(`${BASE}/doomed-1`)).status).toBe(404);
    expect((await api.get(`${BASE}/doomed-2`)).status).toBe(404);
  });
});

describe("v2 concurrency limits: filter", () => {
  const { api, create } = freshApi();
  afterAll(() => api.close());

  test("lists by name with limit and offset; limits above the default are 422", async () => {
    for (const name of ["c", "a", "b"]) await create({ name, limit: 1 });
    expect((await api.post(`${BASE}/filter`)).body.map((l: { name: string }) => l.name)).toEqual(["a", "b", "c"]);
    const page = await api.post(`${BASE}/filter`, { limit: 1, offset: 1 });
    expect(page.body).toEqual([expect.objectContaining({ name: "b", active_slots: 0 })]);
    expect(Object.keys(page.body[0])).not.toContain("denied_slots");
    expect((await api.post(`${BASE}/filter`, { limit: 201 })).status).toBe(422);
  });
});

describe("v2 concurrency limits: increment and decrement", () => {
  const { api, clock, row, create, activeSlots } = freshApi();
  afterAll(() => api.close());

  test("increment takes slots and answers every named limit; unknown names are ignored", async () => {
    const created = await create({ name: "inc", limit: 3 });
    const res = await api.post(`${BASE}/increment`, { names: ["inc", "missing"], slots: 2 });
    expect(res).toMatchObject({ status: 200, body: [{ id: created.id, name: "inc", limit: 3 }] });
    expect(await activeSlots("inc")).toBe(2);
    expect(await api.post(`${BASE}/increment`, { names: ["missing"], slots: 1 })).toMatchObject({ status: 200, body: [] });
  });

  test("a full limit is 423 Locked with a Retry-After, counts the denial and takes nothing", async () => {
    await create({ name: "full", limit: 2, active_slots: 1 });
    const res = await api.post(`${BASE}/increment`, { names: ["full"], slots: 2 });
    expect(res).toMatchObject({ status: 423, body: { detail: "Locked" } });
    // average = min(avg occupancy 2 s × (2 slots + 0 denied) / limit 2, 30) = 2 s, jittered within [0.2×, 1.3×]
    const retryAfter = Number(res.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(0.3);
    expect(retryAfter).toBeLessThanOrEqual(2.6);
    expect(await activeSlots("full")).toBe(1);
    expect((await row("full")).deniedSlots).toBe(2);
  });

  test("several limits are taken all-or-nothing", async () => {
    await create({ name: "roomy", limit: 5 });
    await create({ name: "tight", limit: 1, active_slots: 1 });
    expect((await api.post(`${BASE}/increment`, { names: ["roomy", "tight"], slots: 1 })).status).toBe(423);
    expect(await activeSlots("roomy")).toBe(0);
    await api.post(`${BASE}/decrement`, { names: ["tight"], slots: 1 });
    expect((await api.post(`${BASE}/increment`, { names: ["roomy", "tight"], slots: 1 })).status).toBe(200);
    expect([await activeSlots("roomy"), await activeSlots("tight")]).toEqual([1, 1]);
  });

  test("inactive limits are answered but neither checked nor counted", async () => {
    await create({ name: "off", limit: 1, active_slots: 1, active: false });
    const res = await api.post(`${BASE}/increment`, { names: ["off"], slots: 1 });
    expect(res).toMatchObject({ status: 200, body: [{ name: "off" }] });
    expect(await activeSlots("off")).toBe(1);
  });

  test("slots beyond a limit, non-positive slots, no names and rate limiting without decay are 422", async () => {
    await create({ name: "small", limit: 1 });
    expect(await api.post(`${BASE}/increment`, { names: ["small"], slots: 2 })).toMatchObject({
      status: 422,
      body: { detail: "Slots requested is greater than the limit" },
    });
    const invalid = await api.post(`${BASE}/increment`, { names: [], slots: 0 });
    expect(invalid.body.exception_detail).toEqual([
      { type: "greater_than", loc: ["body", "slots"], msg: "Input should be greater than 0", input: 0 },
      { type: "too_short", loc: ["body", "names"], msg: "List should have at least 1 item after validation, not 0", input: [] },
    ]);
    await create({ name: "small-2", limit: 1 });
    expect(await api.post(`${BASE}/increment`, { names: ["small", "small-2"], slots: 1, mode: "rate_limit" })).toMatchObject({
      status: 422,
      body: {
        detail:
          "Only concurrency limits with slot decay can be used for rate limiting. The following limits do not have a decay configured: 'small,small-2'",
      },
    });
    expect(await activeSlots("small")).toBe(0);
  });

  test("decrement gives slots back, never below zero, and feeds the occupancy average", async () => {
    await create({ name: "dec", limit: 1, active_slots: 1 });
    const res = await api.post(`${BASE}/decrement`, { names: ["dec", "missing"], slots: 3, occupancy_seconds: 10 });
    expect(res).toMatchObject({ status: 200, body: [{ name: "dec", limit: 1 }] });
    expect(await activeSlots("dec")).toBe(0);
    // avg + (occupancy / slots) / (limit × 2) − avg / (limit × 2)
    expect((await row("dec")).avgSlotOccupancySeconds).toBeCloseTo(2 + 10 / 3 / 2 - 2 / 2, 12);
    expect((await api.post(`${BASE}/decrement`, { names: ["dec"], slots: 1, occupancy_seconds: 0 })).status).toBe(422);
  });

  test("rate limits decay one slot per 1/decay seconds, for reads and for increments", async () => {
    clock.set(T0);
    await create({ name: "rate", limit: 3, slot_decay_per_second: 1 });
    expect((await api.post(`${BASE}/increment`, { names: ["rate"], slots: 3, mode: "rate_limit" })).status).toBe(200);
    expect((await api.post(`${BASE}/increment`, { names: ["rate"], slots: 1, mode: "rate_limit" })).status).toBe(423);
    clock.set(T0 + 1.5 * SECOND);
    expect(await activeSlots("rate")).toBe(2); // 3 − floor(1.5)
    expect((await api.post(`${BASE}/increment`, { names: ["rate"], slots: 1, mode: "rate_limit" })).status).toBe(200);
    expect(await activeSlots("rate")).toBe(3);
    // The write settled the decay: counting restarts from 1.5 s, nothing is decayed twice.
    clock.set(T0 + 2.4 * SECOND);
    expect(await activeSlots("rate")).toBe(3);
    clock.set(T0 + 10 * SECOND);
    expect(await activeSlots("rate")).toBe(0);
  });

  test("a refusal keeps the decay earned so far", async () => {
    clock.set(T0);
    await create({ name: "rate-2", limit: 4, slot_decay_per_second: 1, active_slots: 4 });
    clock.set(T0 + 2 * SECOND);
    expect((await api.post(`${BASE}/increment`, { names: ["rate-2"], slots: 3 })).status).toBe(423);
    expect(await activeSlots("rate-2")).toBe(2);
  });
});

describe("v2 concurrency limits: Retry-After", () => {
  const limit = (fields: Partial<ConcurrencyLimitRow>): ConcurrencyLimitRow => ({
    id: crypto.randomUUID(),
    created: T0,
    updated: T0,
    active: true,
    name: "limit",
    limit: 1,
    activeSlots: 0,
    deniedSlots: 0,
    slotDecayPerSecond: 0,
    avgSlotOccupancySeconds: 2,
    ...fields,
  });
  const median = () => 0.5;

  // Expected values: prefect.utilities.math.clamped_poisson_interval with random.uniform at its midpoint.
  test("the most blocking limit sets the wait: occupancy × queued slots / limit", () => {
    const limits = [limit({ name: "x", limit: 4 }), limit({ name: "y", limit: 2, deniedSlots: 3 })];
    expect(retryAfterSeconds(limits, 1, median)).toBeCloseTo(3.9551113418366963, 12); // 2 s × (1 + 3) / 2
  });

  test("the wait is capped: 10 s for tag limits, 30 s for others", () => {
    expect(retryAfterSeconds([limit({ name: "tag:t", avgSlotOccupancySeconds: 50 })], 1, median)).toBeCloseTo(9.887778354591742, 12);
    expect(retryAfterSeconds([limit({ avgSlotOccupancySeconds: 20, deniedSlots: 5 })], 1, median)).toBeCloseTo(29.66333506377522, 12);
  });

  test("rate limits wait one decay period per queued slot, uncapped", () => {
    expect(retryAfterSeconds([limit({ slotDecayPerSecond: 0.5, deniedSlots: 1 })], 2, median)).toBeCloseTo(5.9326670127550445, 12);
  });
});

describe("v2 concurrency limits: leases", () => {
  const { api, clock, lease, row, create, activeSlots } = freshApi();
  afterAll(() => api.close());
  const holder = { type: "task_run", id: crypto.randomUUID() };

  test("increment-with-lease takes the slots and records the lease with its holder and TTL", async () => {
    clock.set(T0);
    const created = await create({ name: "leased", limit: 2 });
    const res = await api.post(`${BASE}/increment-with-lease`, { names: ["leased"], slots: 2, lease_duration: 120, holder });
    const leaseId: string = res.body.lease_id; // read first: bun's toMatchObject writes its matchers into the object
    expect(res).toMatchObject({ status: 200, body: { lease_id: expect.any(String), limits: [{ id: created.id, name: "leased", limit: 2 }] } });
    expect(await activeSlots("leased")).toBe(2);
    expect((await lease(leaseId))).toMatchObject({
      resourceIds: [created.id],
      slots: 2,
      expiration: T0 + 120 * SECOND,
      metadata: { holder },
    });
  });

  test("a full limit is 423 and no lease is recorded", async () => {
    await create({ name: "leased-full", limit: 1, active_slots: 1 });
    const res = await api.post(`${BASE}/increment-with-lease`, { names: ["leased-full"], slots: 1 });
    expect(res.status).toBe(423);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await api.context.store.read((q) => q.concurrencyLimits.expiredLeaseIds(T0 + 365 * 86_400 * SECOND, 100))).toHaveLength(1); // only the previous test's lease
  });

  test("lease_duration must be within 60 s and a day; the holder is validated", async () => {
    await create({ name: "bounds", limit: 1 });
    const short = await api.post(`${BASE}/increment-with-lease`, { names: ["bounds"], slots: 1, lease_duration: 59 });
    expect(short.body.exception_detail).toEqual([
      { type: "greater_than_equal", loc: ["body", "lease_duration"], msg: "Input should be greater than or equal to 60", input: 59 },
    ]);
    const long = await api.post(`${BASE}/increment-with-lease`, { names: ["bounds"], slots: 1, lease_duration: 86_401 });
    expect(long.body.exception_detail[0]).toMatchObject({ type: "less_than_equal", msg: "Input should be less than or equal to 86400" });
    const badHolder = await api.post(`${BASE}/increment-with-lease`, { names: ["bounds"], slots: 1, holder: { type: "worker", id: holder.id } });
    expect(badHolder.status).toBe(422);
    expect(await activeSlots("bounds")).toBe(0);
  });

  test("decrement-with-lease releases the slots once and records how long they were held", async () => {
    clock.set(T0);
    await create({ name: "released", limit: 1 });
    const { body } = await api.post(`${BASE}/increment-with-lease`, { names: ["released"], slots: 1 });
    clock.set(T0 + 10 * SECOND);
    expect(await api.post(`${BASE}/decrement-with-lease`, { lease_id: body.lease_id })).toMatchObject({ status: 204, text: "" });
    expect(await activeSlots("released")).toBe(0);
    expect((await row("released")).avgSlotOccupancySeconds).toBe(6); // 2 + 10/2 − 2/2
    expect((await lease(body.lease_id))).toBeUndefined();
    // Releasing again (or an unknown lease) is a no-op, not an error, and gives nothing back twice.
    await api.post(`${BASE}/increment`, { names: ["released"], slots: 1 });
    expect((await api.post(`${BASE}/decrement-with-lease`, { lease_id: body.lease_id })).status).toBe(204);
    expect(await activeSlots("released")).toBe(1);
  });

  test("renew moves the expiration; the body may be left out (300 s)", async () => {
    clock.set(T0);
    await create({ name: "renewed", limit: 1 });
    const { body } = await api.post(`${BASE}/increment-with-lease`, { names: ["renewed"], slots: 1, lease_duration: 60 });
    clock.set(T0 + 50 * SECOND);
    expect(await api.post(`${BASE}/leases/${body.lease_id}/renew`, { lease_duration: 600 })).toMatchObject({ status: 204, text: "" });
    expect((await lease(body.lease_id))!.expiration).toBe(T0 + 650 * SECOND);
    expect((await api.request("POST", `${BASE}/leases/${body.lease_id}/renew`)).status).toBe(204);
    expect((await lease(body.lease_id))!.expiration).toBe(T0 + 350 * SECOND);
  });

  test("renewing an unknown or expired lease is 410 Gone; a malformed id or duration is 422", async () => {
    const gone = { status: 410, body: { detail: "Lease not found - it may have expired or been revoked" } };
    expect(await api.post(`${BASE}/leases/${crypto.randomUUID()}/renew`)).toMatchObject(gone);
    clock.set(T0);
    await create({ name: "lapsed", limit: 1 });
    const { body } = await api.post(`${BASE}/increment-with-lease`, { names: ["lapsed"], slots: 1, lease_duration: 60 });
    clock.set(T0 + 61 * SECOND);
    expect(await api.post(`${BASE}/leases/${body.lease_id}/renew`)).toMatchObject(gone);
    expect((await lease(body.lease_id))!.expiration).toBe(T0 + 60 * SECOND);
    const malformed = await api.post(`${BASE}/leases/not-a-uuid/renew`, { lease_duration: 10 });
    expect(malformed.status).toBe(422);
    expect(malformed.body.exception_detail.map((d: { loc: unknown }) => d.loc)).toEqual([["path", "lease_id"], ["body", "lease_duration"]]);
  });

  test("names with no limit still get a lease, holding nothing", async () => {
    const res = await api.post(`${BASE}/increment-with-lease`, { names: ["nothing-here"], slots: 1 });
    expect(res).toMatchObject({ status: 200, body: { limits: [] } });
    expect((await lease(res.body.lease_id))).toMatchObject({ resourceIds: [], slots: 1 });
  });
});
