/**
 * Prefect's Repossessor: gives back the slots of concurrency leases whose holders
 * stopped renewing them (a crashed worker or task must not hold a limit forever).
 */
import type { Clock } from "../clock";
import type { Store } from "../db/store";
import type { Logger } from "../logger";
import type { Micros } from "../lib/time";
import { PeriodicService } from "./service";

/** Leases reaped per tick, as Prefect's read_expired_lease_ids; the next tick takes the rest. */
const BATCH_SIZE = 100;

export class Repossessor extends PeriodicService {
  readonly name = "Repossessor";

  constructor(
    private readonly store: Store,
    clock: Clock,
    logger: Logger,
    intervalSeconds: number,
  ) {
    super(clock, logger, intervalSeconds);
  }

  async tick(now: Micros): Promise<void> {
    const expired = await this.store.read((q) => q.concurrencyLimits.expiredLeaseIds(now, BATCH_SIZE));
    let revoked = 0;
    // One transaction per lease, each re-checking expiry, so a renewal that lands in between wins.
    for (const id of expired) if (await this.store.write((tx) => tx.concurrencyLimits.repossessLease(id, now))) revoked += 1;
    if (revoked > 0) this.logger.info(`Repossessor revoked ${revoked} expired concurrency lease(s)`);
  }
}
