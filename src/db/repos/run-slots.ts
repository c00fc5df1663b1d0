/**
 * The concurrency-slot side of set_state, the same on both backends: the views of the limits
 * the rules read, and the slot operations they decided, applied through the limits repository.
 * Each backend's transitions (./transitions.ts, ../postgres/repos/transitions.ts) read the rows.
 */
import { activeSlotsAt } from "../../domain/concurrency-slots";
import { MICROS_PER_SECOND, type Micros } from "../../lib/time";
import type { TagLimitView } from "../../orchestration/context";
import type { DeploymentConcurrencySnapshot, DeploymentSlotEffect } from "../../orchestration/deployment-slots";
import type { TagSlotEffect } from "../../orchestration/tag-slots";
import type { ConcurrencyLimitRepo } from "../repositories";
import type { Op } from "../unit-of-work";
import type { ConcurrencyLeaseRow, ConcurrencyLimitRow } from "./concurrency-limits";

/** Prefect's V1_LEASE_TTL for tag-limit leases: 100 years of 365 days (they are released, never renewed). */
const V1_LEASE_TTL = 100 * 365 * 86_400 * MICROS_PER_SECOND;

/** PREFECT_SERVER_CONCURRENCY_INITIAL_DEPLOYMENT_LEASE_DURATION */
const INITIAL_DEPLOYMENT_LEASE_SECONDS = 300;

const TAG_PREFIX = "tag:";

/** The names of the limits on a task run's tags. */
export const tagLimitNames = (tags: string[]): string[] => [...new Set(tags)].map((tag) => TAG_PREFIX + tag);

export function tagLimitViews(rows: ConcurrencyLimitRow[], now: Micros): TagLimitView[] {
  return rows.map((row) => ({
    id: row.id,
    tag: row.name.slice(TAG_PREFIX.length),
    limit: row.limit,
    active: row.active,
    activeSlots: activeSlotsAt(row, now),
    avgSlotOccupancySeconds: row.avgSlotOccupancySeconds,
  }));
}

/**
 * What the deployment-concurrency rules may ask: the deployment's concurrency options
 * (undefined when it does not exist), its limit and the lease the run's current state holds.
 */
export function deploymentConcurrencySnapshot(
  deployment: { options: unknown } | undefined,
  limit: ConcurrencyLimitRow | undefined,
  lease: ConcurrencyLeaseRow | undefined,
  now: Micros,
): DeploymentConcurrencySnapshot {
  const leaseView = lease ? { id: lease.id, expiration: lease.expiration } : null;
  if (!deployment) return { settings: null, freeSlots: 0, lease: leaseView };
  const options = (deployment.options ?? {}) as { collision_strategy?: string; grace_period_seconds?: number | null };
  return {
    settings: {
      limitId: limit ? limit.id : null,
      limit: limit ? limit.limit : null,
      activeSlots: limit ? activeSlotsAt(limit, now) : 0,
      collisionStrategy: options.collision_strategy === "CANCEL_NEW" ? "CANCEL_NEW" : "ENQUEUE",
      leaseSeconds: options.grace_period_seconds ?? INITIAL_DEPLOYMENT_LEASE_SECONDS,
    },
    freeSlots: limit?.active ? Math.max(0, limit.limit - activeSlotsAt(limit, now)) : 0,
    lease: leaseView,
  };
}

/** Applies the slot operations the tag-concurrency rules decided on. */
export function* applyTagSlotEffects(limits: ConcurrencyLimitRepo, effects: TagSlotEffect[], now: Micros): Op<void> {
  for (const effect of effects) {
    switch (effect.kind) {
      case "acquire": {
        const lease = { id: effect.leaseId, resourceIds: effect.limitIds, slots: 1, ttl: V1_LEASE_TTL, holder: { type: "task_run" as const, id: effect.holderRunId } };
        yield* limits.incrementWithLease(effect.limitIds, lease, now);
        break;
      }
      case "release_lease":
        yield* limits.releaseLease(effect.leaseId, now, { recordOccupancy: false });
        break;
      case "release_held":
        yield* limits.releaseHolderLeases(effect.limitIds, effect.holderRunId, now);
        break;
    }
  }
}

/** Applies the slot operations the deployment-concurrency rules decided on. */
export function* applyDeploymentSlotEffects(limits: ConcurrencyLimitRepo, effects: DeploymentSlotEffect[], now: Micros): Op<void> {
  const seconds = (s: number) => s * MICROS_PER_SECOND;
  for (const effect of effects) {
    switch (effect.kind) {
      case "take_slot":
        yield* limits.tryAcquire([effect.limitId], 1, now);
        break;
      case "create_lease": {
        const holder = effect.holderRunId ? { type: "flow_run" as const, id: effect.holderRunId } : null;
        yield* limits.createLease({ id: effect.leaseId, resourceIds: [effect.limitId], slots: 1, ttl: seconds(effect.ttlSeconds), holder }, now);
        break;
      }
      case "renew_lease":
        yield* limits.renewLease(effect.leaseId, seconds(effect.ttlSeconds), now);
        break;
      case "release_lease":
        if (!(yield* limits.releaseLease(effect.leaseId, now, { recordOccupancy: false })) && effect.fallbackLimitId) {
          yield* limits.releaseSlots([effect.fallbackLimitId], 1, now);
        }
        break;
      case "release_slot":
        yield* limits.releaseSlots([effect.limitId], 1, now);
        break;
      case "revoke_lease":
        yield* limits.revokeLease(effect.leaseId);
        break;
    }
  }
}
