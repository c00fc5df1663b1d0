/**
 * Prefect's two scheduler loops (services/scheduler.py): the main loop tops up
 * every deployment whose schedules are running low; the recent loop reacts
 * within seconds to deployments that were just created or changed.
 */
import type { AppContext } from "../context";
import { DeploymentScheduling } from "../deployments/scheduling";
import { MICROS_PER_SECOND, type Micros } from "../lib/time";
import { PeriodicService } from "./service";

abstract class SchedulerLoop extends PeriodicService {
  protected readonly scheduling: DeploymentScheduling;

  constructor(protected readonly ctx: AppContext, intervalSeconds: number) {
    super(ctx.clock, ctx.logger, intervalSeconds);
    this.scheduling = new DeploymentScheduling(ctx.store, ctx.config.services, ctx.logger);
  }

  /** The next batch of deployment ids after `afterId` (id order), or an empty list when done. */
  protected abstract batch(now: Micros, afterId: string | null): Promise<string[]>;

  async tick(now: Micros): Promise<void> {
    let afterId: string | null = null;
    let inserted = 0;
    for (;;) {
      const ids = await this.batch(now, afterId);
      if (ids.length === 0) break;
      inserted += await this.scheduling.schedule(ids, this.scheduling.defaultWindow(now), now);
      afterId = ids[ids.length - 1]!;
    }
    if (inserted > 0) this.ctx.logger.info(`${this.name}: scheduled ${inserted} flow runs`);
  }
}

export class Scheduler extends SchedulerLoop {
  readonly name = "Scheduler";

  constructor(ctx: AppContext) {
    super(ctx, ctx.config.services.schedulerLoopSeconds);
  }

  protected batch(now: Micros, afterId: string | null): Promise<string[]> {
    const s = this.ctx.config.services;
    const horizon = now + s.schedulerMinScheduledTimeSeconds * MICROS_PER_SECOND;
    return this.ctx.store.read((q) => q.deployments.needingRuns(now, s.schedulerMinRuns, horizon, s.schedulerDeploymentBatchSize, afterId));
  }
}

export class RecentDeploymentsScheduler extends SchedulerLoop {
  readonly name = "RecentDeploymentsScheduler";

  constructor(ctx: AppContext) {
    super(ctx, ctx.config.services.schedulerRecentDeploymentsLoopSeconds);
  }

  /** A window one second wider than the loop catches changes made while the last tick ran. */
  protected batch(now: Micros, afterId: string | null): Promise<string[]> {
    const s = this.ctx.config.services;
    const since = now - (s.schedulerRecentDeploymentsLoopSeconds + 1) * MICROS_PER_SECOND;
    return this.ctx.store.read((q) => q.deployments.updatedSince(since, s.schedulerDeploymentBatchSize, afterId));
  }
}
