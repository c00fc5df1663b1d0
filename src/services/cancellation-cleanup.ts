/**
 * Prefect's cancellation cleanup (services/cancellation_cleanup.py): cancelling a flow
 * run only changes that run, so this service carries the cancellation to what it
 * leaves behind (task runs, subflow runs) and finishes cancellations that nobody
 * completed (a CANCELLING run whose worker never reported back). Such a run's
 * infrastructure may still be up: a cleanup message for its work pool asks a worker on
 * the worker channel to tear it down (src/work-pools/cleanup-delivery.ts).
 */
import type { AppContext } from "../context";
import type { WriteTx } from "../db/store";
import type { Op } from "../db/unit-of-work";
import type { RunStateRef } from "../db/repos/run-mapping";
import { MICROS_PER_SECOND, type Micros } from "../lib/time";
import { NAMESPACE_URL, uuid5 } from "../lib/uuid";
import { cleanupDelivery, type CleanupMessage } from "../work-pools/cleanup-delivery";
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
const CANCELLING_TIMEOUT_TEARDOWN = "cancelling_timeout_teardown.v1";
/** Pools whose infrastructure no worker runs (Prefect's push and managed pool types). */
const WORKERLESS_POOL_TYPE = /:(push|managed)$/;

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

  /**
   * Runs still in the same CANCELLING state after the timeout are marked Cancelled through
   * the core policy; each one that ran in a worker's pool gets its teardown queued.
   */
  private async cancelTimedOutCancellingRuns(now: Micros): Promise<number> {
    const enteredBy = now - this.ctx.config.services.cancellingTimeoutSeconds * MICROS_PER_SECOND;
    let cancelled = 0;
    for await (const run of inPages(PAGE_SIZE, (afterId, limit) => this.ctx.store.read((q) => q.flowRuns.cancellingSince(enteredBy, afterId, limit)))) {
      const outcome = await this.ctx.store.write((tx) => cancelTimedOut(tx, run, now));
      if (!outcome) continue;
      cancelled += 1;
      if (outcome.teardown) cleanupDelivery(this.ctx).queue.enqueue(outcome.teardown);
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

/** Cancels the run if it is still in that CANCELLING state; null when it moved on meanwhile. */
function* cancelTimedOut(tx: WriteTx, ref: RunStateRef, now: Micros): Op<{ teardown: Omit<CleanupMessage, "deliveryCount"> | null } | null> {
  const state = newState("CANCELLED", now, { message: CANCELLING_TIMEOUT_MESSAGE });
  const result = yield* tx.flowRuns.setStateIfCurrent(ref, state, { force: false }, now);
  if (!changedState(ref, result) || result!.state!.type !== "CANCELLED") return null;
  const run = (yield* tx.flowRuns.get(ref.id))?.run;
  const queue = run?.workQueueId ? yield* tx.workPools.queueById(run.workQueueId) : undefined;
  const pool = queue ? yield* tx.workPools.poolById(queue.workPoolId) : undefined;
  if (!run || !queue || !pool || WORKERLESS_POOL_TYPE.test(pool.type)) return { teardown: null };
  // Prefect's message id and idempotency key: one teardown per run and timeout state, however often it is queued.
  const identity = `${CANCELLING_TIMEOUT_TEARDOWN}:${run.id}:${result!.state!.id}`;
  return {
    teardown: {
      messageId: uuid5(NAMESPACE_URL, `prefect:${identity}`),
      idempotencyKey: identity,
      workPoolId: pool.id,
      workQueueId: queue.id,
      kind: CANCELLING_TIMEOUT_TEARDOWN,
      target: { flow_run_id: run.id, infrastructure_pid: run.infrastructurePid },
      data: {},
    },
  };
}
