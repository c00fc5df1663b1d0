/**
 * Tag concurrency for task runs (orchestration/core_policy.py): a task run entering
 * RUNNING takes one slot of each active `tag:<tag>` limit of its tags under one lease
 * it holds, and gives it back when it leaves RUNNING/CANCELLING. Since Prefect 3.4 the
 * v1 tag limits are those global limits, so the holders the v1 API lists are these
 * leases' task runs. (Prefect 3 SDKs orchestrate task runs client-side and take the
 * slots themselves; this governs task runs whose states are set through the API.)
 */
import { ALL_STATES, OrchestrationRule, states, type UniversalTransform } from "../engine";
import type { TagLimitView, TaskRunSnapshot } from "../context";
import { clampedPoissonInterval } from "../../lib/poisson";
import type { State } from "../states";

/** PREFECT_SERVER_TASKS_TAG_CONCURRENCY_SLOT_WAIT_SECONDS */
export const TAG_CONCURRENCY_SLOT_WAIT_SECONDS = 10;

/**
 * The wait Prefect answers when a limit is full: a clamped Poisson draw around the
 * average occupancy of the most contended limit (capped at the setting), so waiting
 * task runs do not all retry at once.
 */
export function tagSlotWaitSeconds(limits: readonly TagLimitView[], random: () => number = Math.random): number {
  // Python's max(): the first of the most contended.
  const blocking = limits.reduce((a, b) => (b.activeSlots / b.limit > a.activeSlots / a.limit ? b : a));
  const maxWait = TAG_CONCURRENCY_SLOT_WAIT_SECONDS;
  const average = Math.min(blocking.avgSlotOccupancySeconds || maxWait, maxWait);
  return Math.round(clampedPoissonInterval(average, 0.3, random));
}

export class SecureTaskConcurrencySlots extends OrchestrationRule<TaskRunSnapshot> {
  static readonly FROM_STATES = ALL_STATES;
  static readonly TO_STATES = states("RUNNING");
  private leaseId: string | null = null;

  override before(): void {
    const port = this.ctx.extras.tagConcurrency;
    if (!port) return;
    // Prefect aborts once per zero limit, so the last one names the reason.
    const zero = port.limits.filter((limit) => limit.active && limit.limit === 0).at(-1);
    if (zero) {
      return this.abort(`The concurrency limit on tag "${zero.tag}" is 0 and will deadlock if the task tries to run again.`);
    }
    const active = port.limits.filter((limit) => limit.active && limit.limit > 0);
    if (active.length === 0) return;
    this.leaseId = port.tryAcquire(
      active.map((limit) => limit.id),
      this.ctx.run.id,
    );
    if (this.leaseId) return;
    this.delay(tagSlotWaitSeconds(active), `Concurrency limit reached for tags: ${active.map((limit) => limit.tag).join(", ")}`);
  }

  /** Another rule changed the transition: give the slots back. */
  override cleanup(): void {
    if (this.leaseId) this.ctx.extras.tagConcurrency!.releaseLease(this.leaseId);
  }
}

const HOLDING_STATES = new Set(["RUNNING", "CANCELLING"]);

/** Any written state other than RUNNING/CANCELLING gives back the run's tag slots. */
export const ReleaseTaskConcurrencySlots: UniversalTransform<TaskRunSnapshot> = {
  name: "ReleaseTaskConcurrencySlots",
  after(ctx, validated: State) {
    if (HOLDING_STATES.has(validated.type)) return;
    ctx.extras.tagConcurrency?.releaseHeld(ctx.run.id);
  },
};
