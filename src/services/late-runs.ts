/**
 * Prefect's MarkLateRuns (services/late_runs.py): a run still SCHEDULED some time after
 * its scheduled start is renamed Late, which tells users (and the work-queue "late
 * runs" count) that no worker picked it up in time. It stays SCHEDULED, so workers
 * still pick it up.
 */
import type { AppContext } from "../context";
import { MICROS_PER_SECOND, type Micros } from "../lib/time";
import { MarkLateRunsPolicy } from "../orchestration/policies";
import { newState } from "../orchestration/states";
import { changedState } from "./batches";
import { PeriodicService } from "./service";

/** Runs marked per tick, as Prefect's batch; the next tick takes the rest. */
const BATCH_SIZE = 400;

export class MarkLateRuns extends PeriodicService {
  readonly name = "MarkLateRuns";

  constructor(private readonly ctx: AppContext) {
    super(ctx.clock, ctx.logger, ctx.config.services.lateRunsLoopSeconds);
  }

  async tick(now: Micros): Promise<void> {
    const dueBy = now - this.ctx.config.services.lateRunsAfterSeconds * MICROS_PER_SECOND;
    let marked = 0;
    for (const run of await this.ctx.store.read((q) => q.flowRuns.lateRunCandidates(dueBy, BATCH_SIZE))) {
      // Late keeps the run's scheduled time: it is the same schedule slot, only overdue.
      const late = newState("SCHEDULED", now, { name: "Late", state_details: { scheduled_time: run.nextScheduledStartTime } });
      const result = await this.ctx.store.write((tx) => tx.flowRuns.setStateIfCurrent(run, late, { force: false, flowPolicy: MarkLateRunsPolicy }, now));
      if (changedState(run, result)) marked += 1;
    }
    if (marked > 0) this.logger.info(`MarkLateRuns marked ${marked} flow run(s) late`);
  }
}
