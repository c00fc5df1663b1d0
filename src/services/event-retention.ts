/**
 * The events part of Prefect's database vacuum (services/db_vacuum.py
 * vacuum_old_events): events, and their resources, that occurred longer ago than
 * the retention period (PREFECT_SERVER_EVENTS_RETENTION_PERIOD, 7 days) are
 * deleted every PREFECT_SERVER_SERVICES_DB_VACUUM_LOOP_SECONDS (an hour), in
 * batches of PREFECT_SERVER_SERVICES_DB_VACUUM_BATCH_SIZE.
 */
import type { AppContext } from "../context";
import type { Micros } from "../lib/time";
import { PeriodicService } from "./service";

export class EventRetention extends PeriodicService {
  readonly name = "EventRetention";

  constructor(private readonly ctx: AppContext) {
    super(ctx.clock, ctx.logger, ctx.config.services.dbVacuumLoopSeconds);
  }

  async tick(now: Micros): Promise<void> {
    const { eventRetention, services } = this.ctx.config;
    const cutoff = now - eventRetention;
    const batchSize = Math.max(1, Math.floor(services.dbVacuumBatchSize));
    const deleted = { events: 0, resources: 0 };
    // One transaction per batch, so a large backlog never holds the write lock for long.
    for (;;) {
      const batch = await this.ctx.store.write((tx) => tx.events.deleteBatchOccurredBefore(cutoff, batchSize));
      deleted.events += batch.events;
      deleted.resources += batch.resources;
      if (batch.events + batch.resources < batchSize) break;
    }
    if (deleted.events > 0 || deleted.resources > 0) {
      this.logger.info(`Database vacuum: deleted ${deleted.events} old events and ${deleted.resources} event resources.`);
    }
  }
}
