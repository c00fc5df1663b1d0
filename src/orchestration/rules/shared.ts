/** Rules used by both flow-run and task-run policies. */
import { ALL_STATES, OrchestrationRule, states } from "../engine";
import type { State } from "../states";

/**
 * Stops two workers from submitting the same run: a run that is already
 * PENDING/RUNNING/CANCELLING/CANCELLED cannot go to PENDING again, except for a
 * renaming PENDING -> PENDING step (Pending -> Submitting -> InfrastructurePending).
 *
 * decisions.md #1: a flow run that no worker or runner can submit (no deployment
 * and no work queue) gets REJECT (current state returned) instead of ABORT.
 */
export class PreventPendingTransitions extends OrchestrationRule {
  static readonly FROM_STATES = states("PENDING", "CANCELLING", "RUNNING", "CANCELLED");
  static readonly TO_STATES = states("PENDING");

  override before(initial: State | null, proposed: State | null): void {
    if (!initial || !proposed) return;
    if (initial.type === "PENDING" && initial.name !== proposed.name && proposed.name !== "Pending") {
      proposed.state_details.scheduled_time = initial.state_details.scheduled_time;
      proposed.state_details.deployment_concurrency_lease_id = initial.state_details.deployment_concurrency_lease_id;
      return;
    }
    const reason = `This run is in a ${initial.type} state and cannot transition to a PENDING state.`;
    const run = this.ctx.run;
    if (run.kind === "flow_run" && run.deploymentId === null && run.workQueueId === null) this.reject(null, reason);
    else this.abort(reason);
  }
}

/** A run leaving SCHEDULED for PENDING keeps its scheduled time unless a new one is proposed. */
export class CopyScheduledTime extends OrchestrationRule {
  static readonly FROM_STATES = states("SCHEDULED");
  static readonly TO_STATES = states("PENDING");

  override before(initial: State | null, proposed: State | null): void {
    if (!initial || !proposed) return;
    if (proposed.state_details.scheduled_time == null) {
      proposed.state_details.scheduled_time = initial.state_details.scheduled_time;
    }
  }
}

/** A run may not start before its scheduled time (by the server's clock): the client is told to wait. */
export class WaitForScheduledTime extends OrchestrationRule {
  static readonly FROM_STATES = states("SCHEDULED", "PENDING");
  static readonly TO_STATES = states("RUNNING");

  override before(initial: State | null, proposed: State | null): void {
    if (!initial || !proposed) return;
    const scheduled = initial.state_details.scheduled_time;
    if (scheduled == null) return;
    const delaySeconds = waitSeconds(scheduled - this.ctx.now);
    if (delaySeconds > 0) this.delay(delaySeconds, "Scheduled time is in the future");
  }
}

/** Python's `floor(total_seconds) + round(microseconds / 1e6)` over a timedelta in micros. */
export function waitSeconds(deltaMicros: number): number {
  const wholeSeconds = Math.floor(deltaMicros / 1_000_000);
  const micros = deltaMicros - wholeSeconds * 1_000_000;
  return wholeSeconds + roundHalfEven(micros / 1_000_000);
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Names a re-entered RUNNING state "Retrying" (after AwaitingRetry) or "Rerunning". */
export class RenameReruns extends OrchestrationRule {
  static readonly FROM_STATES = ALL_STATES;
  static readonly TO_STATES = states("RUNNING");

  override before(initial: State | null, proposed: State | null): void {
    if (!initial || !proposed) return;
    if (this.ctx.run.runCount > 0) this.rename(initial.name === "AwaitingRetry" ? "Retrying" : "Rerunning");
  }
}

