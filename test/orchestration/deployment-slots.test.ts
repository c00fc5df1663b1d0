/** The deployment-concurrency ledger: answers from the snapshot loaded before the policy, effects recorded for after it. */
import { describe, expect, test } from "bun:test";
import { DeploymentSlotLedger, type DeploymentConcurrencySnapshot } from "../../src/orchestration/deployment-slots";

const NOW = Date.UTC(2025, 0, 1) * 1000;
const settings = { limitId: "limit-1", limit: 2, activeSlots: 1, collisionStrategy: "ENQUEUE" as const, leaseSeconds: 300 };
const snapshot = (fields: Partial<DeploymentConcurrencySnapshot> = {}): DeploymentConcurrencySnapshot => ({
  settings,
  freeSlots: 1,
  lease: null,
  ...fields,
});

describe("DeploymentSlotLedger", () => {
  test("takes a free slot once, and records taking it and the lease it names", () => {
    const ledger = new DeploymentSlotLedger(snapshot({ freeSlots: 1 }), NOW);
    expect(ledger.tryAcquireSlot("limit-1")).toBe(true);
    const leaseId = ledger.createLease("limit-1", 300, null);
    expect(ledger.tryAcquireSlot("limit-1")).toBe(false); // the only free slot is taken
    expect(ledger.effects).toEqual([
      { kind: "take_slot", limitId: "limit-1" },
      { kind: "create_lease", leaseId, limitId: "limit-1", ttlSeconds: 300, holderRunId: null },
    ]);
  });

  test.each([
    { name: "no free slot", snap: snapshot({ freeSlots: 0 }), limitId: "limit-1" },
    { name: "another limit than the deployment's", snap: snapshot(), limitId: "limit-2" },
    { name: "a deployment that no longer exists", snap: snapshot({ settings: null }), limitId: "limit-1" },
  ])("refuses a slot with $name, recording nothing", ({ snap, limitId }) => {
    const ledger = new DeploymentSlotLedger(snap, NOW);
    expect(ledger.tryAcquireSlot(limitId)).toBe(false);
    expect(ledger.effects).toEqual([]);
  });

  test.each([
    { name: "the live lease the state names", lease: { id: "lease-1", expiration: NOW + 1 }, id: "lease-1", renews: true },
    { name: "a lease expiring right now (still live)", lease: { id: "lease-1", expiration: NOW }, id: "lease-1", renews: true },
    { name: "an expired lease", lease: { id: "lease-1", expiration: NOW - 1 }, id: "lease-1", renews: false },
    { name: "a lease that is gone", lease: null, id: "lease-1", renews: false },
    { name: "a lease other than the one loaded", lease: { id: "lease-1", expiration: NOW + 1 }, id: "lease-2", renews: false },
  ])("renews $name: $renews", ({ lease, id, renews }) => {
    const ledger = new DeploymentSlotLedger(snapshot({ lease }), NOW);
    expect(ledger.renewLease(id, 60)).toBe(renews);
    expect(ledger.effects).toEqual(renews ? [{ kind: "renew_lease", leaseId: id, ttlSeconds: 60 }] : []);
  });

  test("releases and revocations are recorded in order; a release frees a slot for a later acquisition", () => {
    const ledger = new DeploymentSlotLedger(snapshot({ freeSlots: 0 }), NOW);
    ledger.releaseLease("lease-1", "limit-1");
    ledger.revokeLease("lease-2");
    ledger.releaseSlot("limit-1");
    expect(ledger.tryAcquireSlot("limit-1")).toBe(true);
    expect(ledger.effects).toEqual([
      { kind: "release_lease", leaseId: "lease-1", fallbackLimitId: "limit-1" },
      { kind: "revoke_lease", leaseId: "lease-2" },
      { kind: "release_slot", limitId: "limit-1" },
      { kind: "take_slot", limitId: "limit-1" },
    ]);
  });
});
