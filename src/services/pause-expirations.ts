/**
 * Prefect's FailExpiredPauses (services/pause_expirations.py): a paused flow run whose
 * pause timed out can no longer be resumed (HandleResumingPausedFlows refuses it), so
 * it is failed instead of waiting forever.
 */
import type { AppContext } from "../context";
import type { Micros } from "../lib/time";
import { newState } from "../orchestration/states";
import { changedState, inPages } from "./batches";
import { PeriodicService } from "./service";

const PAGE_SIZE = 200;

/** Prefect's wording, for suspended runs too. */
export const PAUSE_EXPIRED_MESSAGE = "The flow was paused and never resumed.";

export class FailExpiredPauses extends PeriodicService {
  readonly name = "FailExpiredPauses";

  constructor(private readonly ctx: AppContext) {
    super(ctx.clock, ctx.logger, ctx.config.services.pauseExpirationsLoopSeconds);
  }

  async tick(now: Micros): Promise<void> {
    let failed = 0;
    for await (const run of inPages(PAGE_SIZE, (afterId, limit) => this.ctx.store.read((q) => q.flowRuns.expiredPauses(now, afterId, limit)))) {
      const state = newState("FAILED", now, { message: PAUSE_EXPIRED_MESSAGE });
      if (changedState(run, await this.ctx.store.write((tx) => tx.flowRuns.setStateIfCurrent(run, state, { force: true }, now)))) failed += 1;
    }
    if (failed > 0) this.logger.info(`FailExpiredPauses failed ${failed} flow run(s) whose pause expired`);
  }
}
