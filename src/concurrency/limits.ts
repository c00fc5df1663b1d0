/**
 * Global concurrency limits (Prefect's api/concurrency_limits_v2.py and
 * models/concurrency_limits_v2.py): taking and giving back slots across named limits,
 * all or nothing, with leases; refusals with Prefect's Retry-After. Each request is one
 * transaction: the limits are read, checked and written together.
 */
import type { AppContext } from "../context";
import type {
  ConcurrencyLeaseRow,
  ConcurrencyLimitCreate,
  ConcurrencyLimitPatch,
  ConcurrencyLimitRow,
  LeaseHolder,
  LimitRef,
} from "../db/repos/concurrency-limits";
import type { WriteTx } from "../db/store";
import type { Op } from "../db/unit-of-work";
import { slotWaitCapSeconds } from "../domain/concurrency-slots";
import { Conflict, Gone, INTEGRITY_CONFLICT, Locked, NotFound, Unprocessable } from "../domain/errors";
import { clampedPoissonInterval } from "../lib/poisson";
import { pythonRepr } from "../lib/python-repr";
import { secondsToMicros, type Micros } from "../lib/time";

export type SlotMode = "concurrency" | "rate_limit";

export interface SlotRequest {
  names: string[];
  slots: number;
  mode: SlotMode;
}

const LIMIT_NOT_FOUND = "Concurrency Limit not found";

/** The checks Prefect makes on the named limits before trying to take slots (422s). */
function checkAcquirable(limits: ConcurrencyLimitRow[], slots: number, mode: SlotMode): void {
  if (limits.some((limit) => limit.limit < slots)) throw new Unprocessable("Slots requested is greater than the limit");
  const nonDecaying = limits.filter((limit) => limit.slotDecayPerSecond === 0).map((limit) => limit.name);
  if (mode === "rate_limit" && nonDecaying.length > 0) {
    throw new Unprocessable(
      "Only concurrency limits with slot decay can be used for rate limiting. The following limits do not have a decay " +
        `configured: ${pythonRepr(nonDecaying.join(","))}`,
    );
  }
}

/**
 * Prefect's Retry-After for a refused increment. The most blocking limit decides:
 * a rate limit frees one slot per 1/decay seconds; any other limit frees a slot per
 * average occupancy, capped so long-running holders do not push retries out for
 * minutes. Denied slots count as queued requests. The result is jittered so that
 * waiting clients spread out. (Prefect reads the counts as they were before the attempt.)
 */
export function retryAfterSeconds(limits: ConcurrencyLimitRow[], slots: number, random: () => number = Math.random): number {
  const blockingSlots = (limit: ConcurrencyLimitRow) =>
    limit.slotDecayPerSecond > 0 ? slots + limit.deniedSlots : (slots + limit.deniedSlots) / limit.limit;
  // Python's max() keeps the first of equals.
  const blocking = limits.reduce((best, limit) => (blockingSlots(limit) > blockingSlots(best) ? limit : best));
  const waiting = blockingSlots(blocking);
  let average: number;
  if (blocking.slotDecayPerSecond > 0) {
    average = waiting / blocking.slotDecayPerSecond;
  } else {
    const cap = slotWaitCapSeconds(blocking.name);
    average = Math.min(Math.min(blocking.avgSlotOccupancySeconds, cap) * waiting, cap);
  }
  return clampedPoissonInterval(average, 0.3, random);
}

/** Takes the slots on the active limits; null when they are not free (nothing written). */
type TakeSlots<T> = (tx: WriteTx, named: ConcurrencyLimitRow[], activeIds: string[], now: Micros) => Op<T | null>;

/** What an attempt to take slots came to, inside its transaction. */
type Attempt<T> = { taken: true; value: T } | { taken: false; active: ConcurrencyLimitRow[] };

export class ConcurrencyLimitService {
  constructor(private readonly ctx: AppContext) {}

  private get store() {
    return this.ctx.store;
  }

  async create(input: ConcurrencyLimitCreate): Promise<ConcurrencyLimitRow> {
    const now = this.ctx.clock.now();
    const row = await this.store.write((tx) => tx.concurrencyLimits.create(input, now));
    // Prefect lets the unique constraint fail, so the answer is its generic integrity conflict.
    if (!row) throw new Conflict(INTEGRITY_CONFLICT);
    return row;
  }

  list(limit: number, offset: number): Promise<ConcurrencyLimitRow[]> {
    return this.store.read((q) => q.concurrencyLimits.list(limit, offset));
  }

  async get(ref: LimitRef): Promise<ConcurrencyLimitRow> {
    const row = await this.store.read((q) => q.concurrencyLimits.get(ref));
    if (!row) throw new NotFound(LIMIT_NOT_FOUND);
    return row;
  }

  async update(ref: LimitRef, patch: ConcurrencyLimitPatch): Promise<void> {
    const now = this.ctx.clock.now();
    if (!(await this.store.write((tx) => tx.concurrencyLimits.update(ref, patch, now)))) throw new NotFound(LIMIT_NOT_FOUND);
  }

  async delete(ref: LimitRef): Promise<void> {
    if (!(await this.store.write((tx) => tx.concurrencyLimits.delete(ref)))) throw new NotFound(LIMIT_NOT_FOUND);
  }

  /** Takes `slots` on every active named limit, or none (423 with Retry-After); answers the named limits. */
  increment(request: SlotRequest): Promise<ConcurrencyLimitRow[]> {
    return this.attempt(request, function* (tx, named, activeIds, now) {
      return (yield* tx.concurrencyLimits.tryAcquire(activeIds, request.slots, now)) ? named : null;
    });
  }

  /**
   * As increment, recording a lease that holds the slots for `leaseSeconds` (Prefect leases
   * every named limit, inactive ones too, and leases nothing when no name matched).
   */
  incrementWithLease(request: SlotRequest, leaseSeconds: number, holder: LeaseHolder | null): Promise<{ lease: ConcurrencyLeaseRow; limits: ConcurrencyLimitRow[] }> {
    return this.attempt(request, function* (tx, named, activeIds, now) {
      const lease = yield* tx.concurrencyLimits.incrementWithLease(
        activeIds,
        { resourceIds: named.map((limit) => limit.id), slots: request.slots, ttl: secondsToMicros(leaseSeconds), holder },
        now,
      );
      return lease && { lease, limits: named };
    });
  }

  /** Gives slots back on the active named limits; answers the named limits. */
  decrement(names: string[], slots: number, occupancySeconds: number | null): Promise<ConcurrencyLimitRow[]> {
    const now = this.ctx.clock.now();
    return this.store.write(function* (tx) {
      const named = yield* tx.concurrencyLimits.readByNames(names);
      const activeIds = named.filter((limit) => limit.active).map((limit) => limit.id);
      yield* tx.concurrencyLimits.releaseSlots(activeIds, slots, now, occupancySeconds);
      return named;
    });
  }

  /** An unknown lease is not an error: its slots were already given back. */
  async releaseLease(leaseId: string): Promise<void> {
    const now = this.ctx.clock.now();
    await this.store.write((tx) => tx.concurrencyLimits.releaseLease(leaseId, now));
  }

  async renewLease(leaseId: string, leaseSeconds: number): Promise<void> {
    const now = this.ctx.clock.now();
    if (!(await this.store.write((tx) => tx.concurrencyLimits.renewLease(leaseId, secondsToMicros(leaseSeconds), now)))) {
      throw new Gone("Lease not found - it may have expired or been revoked");
    }
  }

  /**
   * Reads and checks the named limits, then `take`s the slots, in one transaction. A
   * refusal counts the denial on the active limits and answers 423 with the time to wait.
   */
  private async attempt<T>(request: SlotRequest, take: TakeSlots<T>): Promise<T> {
    const now = this.ctx.clock.now();
    const outcome: Attempt<T> = await this.store.write((tx) => attemptIn(tx, take, request, now));
    if (outcome.taken) return outcome.value;
    throw new Locked("Locked", retryAfterSeconds(outcome.active, request.slots));
  }
}

function* attemptIn<T>(tx: WriteTx, take: TakeSlots<T>, request: SlotRequest, now: Micros): Op<Attempt<T>> {
  const named = yield* tx.concurrencyLimits.readByNames(request.names);
  const active = named.filter((limit) => limit.active);
  checkAcquirable(active, request.slots, request.mode);
  const activeIds = active.map((limit) => limit.id);
  const value = yield* take(tx, named, activeIds, now);
  if (value !== null) return { taken: true, value };
  yield* tx.concurrencyLimits.recordDenied(activeIds, request.slots, now);
  return { taken: false, active };
}
