/**
 * Prefect's Foreman (services/foreman.py): statuses say whether anything is serving
 * work, so they lapse when the signs of life stop. Workers go OFFLINE without
 * heartbeats; pools go NOT_READY with no ONLINE worker and no recent poll; deployments
 * and work queues go NOT_READY when nobody polls them. Becoming READY again happens
 * where the heartbeats and polls arrive (the work-pool and polling routes).
 */
import type { AppContext } from "../context";
import { MICROS_PER_SECOND, type Micros } from "../lib/time";
import { PeriodicService } from "./service";

export class Foreman extends PeriodicService {
  readonly name = "Foreman";

  constructor(private readonly ctx: AppContext) {
    super(ctx.clock, ctx.logger, ctx.config.services.foremanLoopSeconds);
  }

  /** Workers first, so a pool whose last worker goes OFFLINE in this pass is judged in it too. */
  async tick(now: Micros): Promise<void> {
    const s = this.ctx.config.services;
    const ago = (seconds: number) => now - seconds * MICROS_PER_SECOND;
    // Decision #8: polls count as signs of life, so a pool without ONLINE workers keeps
    // its READY status for one heartbeat timeout after its last poll (or heartbeat).
    const heartbeatTimeoutSeconds = s.foremanFallbackHeartbeatIntervalSeconds * s.foremanInactivityHeartbeatMultiple;
    const { workers, pools, staleDeployments, queues } = await this.ctx.store.write(function* (tx) {
      return {
        workers: yield* tx.workPools.markSilentWorkersOffline(now, s.foremanFallbackHeartbeatIntervalSeconds, s.foremanInactivityHeartbeatMultiple),
        pools: yield* tx.workPools.markUnattendedPoolsNotReady(ago(heartbeatTimeoutSeconds), now),
        staleDeployments: yield* tx.deployments.markUnpolledNotReady(ago(s.foremanDeploymentLastPolledTimeoutSeconds), now),
        queues: yield* tx.workPools.markUnpolledQueuesNotReady(ago(s.foremanWorkQueueLastPolledTimeoutSeconds), now),
      };
    });

    if (workers > 0) this.logger.info(`Foreman marked ${workers} worker(s) OFFLINE`);
    for (const id of pools) this.logger.info(`Foreman marked work pool ${id} NOT_READY`);
    if (staleDeployments.length > 0) this.logger.info(`Foreman marked ${staleDeployments.length} deployment(s) NOT_READY`);
    if (queues.length > 0) this.logger.info(`Foreman marked ${queues.length} work queue(s) NOT_READY`);
  }
}
