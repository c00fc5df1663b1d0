/**
 * The tag-concurrency port as pure code: the data layer loads the run's `tag:<tag>`
 * limits before the policy runs and applies the recorded effects after it, in the
 * same transaction. No rule touches storage.
 */
import type { TagConcurrencyPort, TagLimitView } from "./context";

/** A slot operation for the data layer to apply once the policy has run. */
export type TagSlotEffect =
  | { kind: "acquire"; leaseId: string; limitIds: string[]; holderRunId: string }
  | { kind: "release_lease"; leaseId: string }
  | { kind: "release_held"; limitIds: string[]; holderRunId: string };

/** Answers the rules from the loaded limits and records what they decided. */
export class TagSlotLedger implements TagConcurrencyPort {
  readonly effects: TagSlotEffect[] = [];
  private readonly held: Map<string, number>;

  constructor(readonly limits: readonly TagLimitView[]) {
    this.held = new Map(limits.map((limit) => [limit.id, limit.activeSlots]));
  }

  tryAcquire(limitIds: string[], holderRunId: string): string | null {
    const byId = new Map(this.limits.map((limit) => [limit.id, limit]));
    const fits = limitIds.every((id) => {
      const limit = byId.get(id);
      return limit !== undefined && limit.active && this.held.get(id)! + 1 <= limit.limit;
    });
    if (!fits) return null;
    for (const id of limitIds) this.held.set(id, this.held.get(id)! + 1);
    const leaseId = Bun.randomUUIDv7();
    this.effects.push({ kind: "acquire", leaseId, limitIds, holderRunId });
    return leaseId;
  }

  releaseLease(leaseId: string): void {
    const taken = this.effects.find((e) => e.kind === "acquire" && e.leaseId === leaseId);
    if (taken?.kind === "acquire") for (const id of taken.limitIds) this.held.set(id, this.held.get(id)! - 1);
    this.effects.push({ kind: "release_lease", leaseId });
  }

  releaseHeld(holderRunId: string): void {
    this.effects.push({ kind: "release_held", limitIds: this.limits.map((limit) => limit.id), holderRunId });
  }
}
