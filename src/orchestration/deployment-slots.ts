/**
 * The deployment-concurrency port as pure code: the data layer loads what the rules
 * may ask (the deployment's settings, the free slots of its limit, the lease the
 * run's current state names) before the policy runs, and applies the recorded
 * effects after it, in the same transaction. No rule touches storage.
 */
import type { Micros } from "../lib/time";
import type { DeploymentConcurrencyPort, DeploymentConcurrencySettings } from "./context";

/** What the deployment-concurrency rules may need, read before the policy runs. */
export interface DeploymentConcurrencySnapshot {
  /** Null when the deployment no longer exists. */
  settings: DeploymentConcurrencySettings | null;
  /** Free slots on the settings' limit at the decision time (0 when that limit is inactive or gone). */
  freeSlots: number;
  /** The lease the run's current state names, if it still exists. */
  lease: { id: string; expiration: Micros } | null;
}

/** A slot operation for the data layer to apply once the policy has run. */
export type DeploymentSlotEffect =
  | { kind: "take_slot"; limitId: string }
  | { kind: "create_lease"; leaseId: string; limitId: string; ttlSeconds: number; holderRunId: string | null }
  | { kind: "renew_lease"; leaseId: string; ttlSeconds: number }
  /** Releases the lease's slots and deletes it; without the lease, gives one slot back on `fallbackLimitId`. */
  | { kind: "release_lease"; leaseId: string; fallbackLimitId: string | null }
  | { kind: "release_slot"; limitId: string }
  | { kind: "revoke_lease"; leaseId: string };

/** Answers the rules from the snapshot and records what they decided. */
export class DeploymentSlotLedger implements DeploymentConcurrencyPort {
  readonly effects: DeploymentSlotEffect[] = [];
  private freeSlots: number;

  constructor(
    private readonly snapshot: DeploymentConcurrencySnapshot,
    private readonly now: Micros,
  ) {
    this.freeSlots = snapshot.freeSlots;
  }

  get deployment(): DeploymentConcurrencySettings | null {
    return this.snapshot.settings;
  }

  tryAcquireSlot(limitId: string): boolean {
    if (limitId !== this.snapshot.settings?.limitId || this.freeSlots < 1) return false;
    this.freeSlots -= 1;
    this.effects.push({ kind: "take_slot", limitId });
    return true;
  }

  createLease(limitId: string, ttlSeconds: number, holderRunId: string | null): string {
    const leaseId = Bun.randomUUIDv7();
    this.effects.push({ kind: "create_lease", leaseId, limitId, ttlSeconds, holderRunId });
    return leaseId;
  }

  /** A lease renews while it is live (expiring at `now` still counts, as the repossessor only reaps `expiration < now`). */
  renewLease(leaseId: string, ttlSeconds: number): boolean {
    const lease = this.snapshot.lease;
    if (!lease || lease.id !== leaseId || lease.expiration < this.now) return false;
    this.effects.push({ kind: "renew_lease", leaseId, ttlSeconds });
    return true;
  }

  releaseLease(leaseId: string, fallbackLimitId: string | null): void {
    this.freeSlots += 1;
    this.effects.push({ kind: "release_lease", leaseId, fallbackLimitId });
  }

  releaseSlot(limitId: string): void {
    this.freeSlots += 1;
    this.effects.push({ kind: "release_slot", limitId });
  }

  revokeLease(leaseId: string): void {
    this.effects.push({ kind: "revoke_lease", leaseId });
  }
}
