/**
 * Prefect's cancellation cleanup (services/cancellation_cleanup.py): cancelling a flow
 * run only changes that run, so this service carries the cancellation to what it
 * leaves behind (task runs, subflow runs) and finishes cancellations that nobody
 * completed (a CANCELLING run whose worker never reported back).
 */
import type { AppContext } from "../context";
import { MICROS_PER_SECOND, type Micros } from "../lib/time";
import { newState } from "../orchestration/states";
import { changedState, inPages } from "./batches";
import { PeriodicService } from "./service";

const PAGE_SIZE = 200;
/** Task runs cancelled per cancelled flow run per tick; the next tick takes the rest. */
const TASK_RUNS_PER_FLOW_RUN = 100;
/** Only recently cancelled runs are revisited: older ones were cleaned up long ago. */
const CANCELLED_LOOKBACK: Micros = 24 * 3600 * MICROS_PER_SECOND;

export const PARENT_CANCELLED_MESSAGE = "The parent flow run was cancelled.";
export const CANCELLING_TIMEOUT_MESSAGE = "Flow run cancellation timed out; marked this flow run as Cancelled.";

export class CancellationCleanup extends PeriodicService {
  readonly name = "CancellationCleanup";

  constructor(private readonly ctx: AppContext) {
    super(ctx.clock, ctx.logger, ctx.config.services.cancellationCleanupLoopSeconds);
  }

  /**
   * Prefect runs these as three independent loops; in this order, a run cancelled by
   * one step has its subflows and task runs cancelled by the next ones in the same pass.
   */
  async tick(now: Micros): Promise<void> {
    const timedOut = await this.cancelTimedOutCancellingRuns(now);
    const subflows = await this.cancelSubflowsOfCancelledRuns(now);
    const taskRuns = await this.cancelTaskRunsOfCancelledRuns(now);
    if (timedOut > 0) this.logger.info(`CancellationCleanup cancelled ${timedOut} flow run(s) stuck in CANCELLING`);
    if (subflows > 0) this.logger.info(`CancellationCleanup cancelled ${subflows} subflow run(s) of cancelled flow runs`);
    if (taskRuns > 0) this.logger.info(`CancellationCleanup cancelled ${taskRuns} task run(s) of cancelled flow runs`);
  }

  /** Runs still in the same CANCELLING state after the timeout are marked Cancelled through the core policy. */
  private async cancelTimedOutCancellingRuns(now: Micros): Promise<number> {
    const enteredBy = now - this.ctx.config.services.cancellingTimeoutSeconds * MICROS_PER_SECOND;
    let cancelled = 0;
    for await (const run of inPages(PAGE_SIZE, (afterId, limit) => this.ctx.store.read((q) => q.flowRuns.cancellingSince(enteredBy, afterId, limit)))) {
      const state = newState("CANCELLED", now, { message: CANCELLING_TIMEOUT_MESSAGE });
      if (changedState(run, await this.ctx.store.write((tx) => tx.flowRuns.setStateIfCurrent(run, state, { force: false }, now)))) cancelled += 1;
    }
    return cancelled;
  }

  /**
   * A deployment subflow runs on its own infrastructure, so it gets Cancelling for its
   * worker to tear down (unless it already is); an in-process subflow is Cancelled.
   */
  private async cancelSubflowsOfCancelledRuns(now: Micros): Promise<number> {
    let cancelled = 0;
    for await (const subflow of inPages(PAGE_SIZE, (afterId, limit) => this.ctx.store.read((q) => q.flowRuns.subflowsOfCancelledRuns(afterId, limit)))) {
      if (subflow.deploymentId && subflow.stateType === "CANCELLING") continue;
      const state = newState(subflow.deploymentId ? "CANCELLING" : "CANCELLED", now, { message: PARENT_CANCELLED_MESSAGE });
      // Prefect sets this state without naming a policy, which selects the minimal (forced) one.
      if (changedState(subflow, await this.ctx.store.write((tx) => tx.flowRuns.setStateIfCurrent(subflow, state, { force: true }, now)))) cancelled += 1;
    }
    return cancelled;
  }

  /** Unfinished task runs of recently cancelled flow runs are forced to Cancelled. */
  private async cancelTaskRunsOfCancelledRuns(now: Micros): Promise<number> {
    const { store } = this.ctx;
    let cancelled = 0;
    const since = now - CANCELLED_LOOKBACK;
    for await (const flowRun of inPages(PAGE_SIZE, (afterId, limit) => this.ctx.store.read((q) => q.flowRuns.cancelledSince(since, afterId, limit)))) {
      for (const taskRun of await store.read((q) => q.taskRuns.unfinishedOfFlowRun(flowRun.id, TASK_RUNS_PER_FLOW_RUN))) {
        const state = newState("CANCELLED", now, { message: PARENT_CANCELLED_MESSAGE });
        if (changedState(taskRun, await store.write((tx) => tx.taskRuns.setStateIfCurrent(taskRun, state, { force: true }, now)))) cancelled += 1;
      }
    }
    return cancelled;
  }
}
