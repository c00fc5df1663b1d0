/** Flow-run rules of Prefect's CoreFlowPolicy and MinimalFlowPolicy (orchestration/core_policy.py). */
import { ALL_STATES, OrchestrationRule, allExcept, states, type UniversalTransform } from "../engine";
import { apiVersionBelow, type FlowRunPolicy, type FlowRunSnapshot } from "../context";
import {
  TERMINAL_STATES,
  carriesPersistedResult,
  hasPersistedResult,
  isFinal,
  newState,
  type State,
  type StateType,
} from "../states";

const TERMINAL = new Set<StateType | null>(TERMINAL_STATES);

/** Workers send an explicit null lease id; keep the one the run already holds. */
export const PreserveDeploymentConcurrencyLeaseId: UniversalTransform<FlowRunSnapshot> = {
  name: "PreserveDeploymentConcurrencyLeaseId",
  before(ctx, proposed) {
    const leaseId = ctx.initialState?.state_details.deployment_concurrency_lease_id;
    if (leaseId != null && proposed.state_details.deployment_concurrency_lease_id == null) {
      proposed.state_details.deployment_concurrency_lease_id = leaseId;
    }
  },
};

/** A retried set_state (same transition_id) gets the state it already wrote instead of a second write. */
export class PreventDuplicateTransitions extends OrchestrationRule<FlowRunSnapshot> {
  static readonly FROM_STATES = ALL_STATES;
  static readonly TO_STATES = ALL_STATES;

  override before(initial: State | null, proposed: State | null): void {
    if (!initial || !proposed) return;
    const previous = initial.state_details.transition_id;
    if (previous != null && previous === proposed.state_details.transition_id) {
      this.reject(null, "This run has already made this state transition.");
    }
  }
}

/** Guards terminal flow runs; a re-run (terminal -> non-final) resets the pause/retry bookkeeping. */
export class HandleFlowTerminalStateTransitions extends OrchestrationRule<FlowRunSnapshot> {
  static readonly FROM_STATES = TERMINAL;
  static readonly TO_STATES = ALL_STATES;
  private originalPolicy: FlowRunPolicy | null = null;

  override before(initial: State | null, proposed: State | null): void {
    if (!initial || !proposed) return;
    this.originalPolicy = structuredClone(this.ctx.run.empiricalPolicy);
    if (proposed.type === "CANCELLING" || proposed.type === "PAUSED" || proposed.type === "CRASHED") {
      return this.abort(`Run is already in terminal state ${initial.type}.`);
    }
    const completedWithResult = initial.type === "COMPLETED" && carriesPersistedResult(initial);
    if (completedWithResult && !isFinal(proposed.type)) return this.reject(null, "Run is already COMPLETED.");
    if (completedWithResult && proposed.type === "COMPLETED" && !hasPersistedResult(proposed.data)) {
      return this.reject(null, OVERWRITE_RESULT_REASON);
    }
    if (proposed.type === "SCHEDULED" && !this.ctx.run.deploymentId) {
      return this.abort("Cannot reschedule a run without an associated deployment.");
    }
    if (!isFinal(proposed.type) && !apiVersionBelow(this.ctx.extras.apiVersion, "0.8.4")) {
      const policy = this.ctx.run.empiricalPolicy;
      policy.resuming = false;
      policy.pause_keys = [];
      policy.retry_type = proposed.type === "SCHEDULED" ? "reschedule" : null;
    }
  }

  override cleanup(): void {
    if (this.originalPolicy) this.ctx.run.empiricalPolicy = this.originalPolicy;
  }
}

const OVERWRITE_RESULT_REASON =
  "Cannot overwrite a COMPLETED state that carries persisted result data with one that does not.";

/** The lightweight result-loss guard that still applies to forced transitions. */
export class PreventResultDataLoss extends OrchestrationRule<FlowRunSnapshot> {
  static readonly FROM_STATES = TERMINAL;
  static readonly TO_STATES = TERMINAL;

  override before(initial: State | null, proposed: State | null): void {
    if (!initial || !proposed) return;
    if (
      initial.type === "COMPLETED" &&
      proposed.type === "COMPLETED" &&
      carriesPersistedResult(initial) &&
      !hasPersistedResult(proposed.data)
    ) {
      this.reject(null, OVERWRITE_RESULT_REASON);
    }
  }
}

/** Only CANCELLED (or force) gets a run out of CANCELLING. */
export class EnforceCancellingToCancelledTransition extends OrchestrationRule<FlowRunSnapshot> {
  static readonly FROM_STATES = states("CANCELLING");
  static readonly TO_STATES = allExcept("CANCELLED");

  override before(): void {
    this.reject(null, "Cannot transition flows that are cancelling to a state other than Cancelled.");
  }
}

/** With no infrastructure to tear down, cancelling goes straight to CANCELLED. */
export class BypassCancellingFlowRunsWithNoInfra extends OrchestrationRule<FlowRunSnapshot> {
  static readonly FROM_STATES = states("SCHEDULED", "PAUSED");
  static readonly TO_STATES = states("CANCELLING");

  override before(initial: State | null, proposed: State | null): void {
    if (!initial || !proposed) return;
    if ((initial.type === "SCHEDULED" && !this.ctx.run.infrastructurePid) || initial.name === "Resuming") {
      this.reject(newState("CANCELLED", this.ctx.now), "Scheduled flow run has no infrastructure to terminate.");
    } else if (initial.type === "PAUSED" && initial.state_details.pause_reschedule) {
      this.reject(newState("CANCELLED", this.ctx.now), "Suspended flow run has no infrastructure to terminate.");
    }
  }
}

/** The late-runs service may rename SCHEDULED runs "Late", once, and nothing else. */
export class EnsureOnlyScheduledFlowsMarkedLate extends OrchestrationRule<FlowRunSnapshot> {
  static readonly FROM_STATES = ALL_STATES;
  static readonly TO_STATES = states("SCHEDULED");

  override before(initial: State | null, proposed: State | null): void {
    if (!initial || !proposed || proposed.name !== "Late") return;
    if (initial.type !== "SCHEDULED") this.reject(null, "Only scheduled flows can be marked late.");
    else if (initial.name === "Late") this.reject(null, "This flow run is already marked late.");
  }
}

/** Pausing (and suspending) is only for running flows, once per pause key. */
export class HandlePausingFlows extends OrchestrationRule<FlowRunSnapshot> {
  static readonly FROM_STATES = ALL_STATES;
  static readonly TO_STATES = states("PAUSED");
  private key = "";

  override before(initial: State | null, proposed: State | null): void {
    if (!proposed) return;
    const verb = proposed.name === "Suspended" ? "suspend" : "pause";
    if (!initial) return this.abort(`Cannot ${verb} flows with no state.`);
    if (initial.type !== "RUNNING") return this.reject(null, `Cannot ${verb} flows that are not currently running.`);
    this.key = proposed.state_details.pause_key ?? crypto.randomUUID();
    if (this.ctx.run.empiricalPolicy.pause_keys.includes(this.key)) {
      return this.reject(null, `This ${verb} has already fired.`);
    }
    if (proposed.state_details.pause_reschedule) {
      if (this.ctx.run.parentTaskRunId) return this.abort(`Cannot ${verb} subflows.`);
      if (!this.ctx.run.deploymentId) return this.abort(`Cannot ${verb} flows without a deployment.`);
    }
  }

  override after(_initial: State | null, validated: State | null): void {
    const policy = this.ctx.run.empiricalPolicy;
    if (!policy.pause_keys.includes(this.key)) policy.pause_keys = [...policy.pause_keys, this.key];
    const keyset = validated?.state_details.run_input_keyset;
    if (keyset) this.ctx.effects.push({ kind: "delete_flow_run_inputs", keys: Object.values(keyset) });
  }
}

/** Leaving PAUSED: only to running, scheduled, cancelling or final states, and not after the pause timed out. */
export class HandleResumingPausedFlows extends OrchestrationRule<FlowRunSnapshot> {
  static readonly FROM_STATES = states("PAUSED");
  static readonly TO_STATES = ALL_STATES;

  override before(initial: State | null, proposed: State | null): void {
    if (!initial || !proposed) return;
    const allowed = ["RUNNING", "SCHEDULED", "CANCELLING"].includes(proposed.type) || isFinal(proposed.type);
    if (!allowed) {
      // Prefect formats the enum members themselves, which Python >= 3.11 renders as `StateType.X`.
      return this.reject(
        null,
        `This run cannot transition to the StateType.${proposed.type} state from the StateType.${initial.type} state.`,
      );
    }
    const verb = proposed.name === "Suspended" ? "suspend" : "pause";
    const displayName = (proposed.name || proposed.type).toLowerCase();
    if (initial.state_details.pause_reschedule && !this.ctx.run.deploymentId) {
      return this.reject(null, `Cannot reschedule a ${displayName} flow run without a deployment.`);
    }
    if (proposed.type === "CANCELLING") return;
    const timeout = initial.state_details.pause_timeout;
    if (timeout != null && timeout < this.ctx.now) {
      this.reject(
        newState("FAILED", this.ctx.now, { message: `The flow was ${displayName} and never resumed.` }),
        `The flow run ${verb} has timed out and can no longer resume.`,
      );
    }
  }

  override after(initial: State | null, validated: State | null): void {
    const policy = this.ctx.run.empiricalPolicy;
    const rescheduledByHand =
      initial !== null &&
      !initial.state_details.pause_reschedule &&
      validated?.type === "SCHEDULED" &&
      !apiVersionBelow(this.ctx.extras.apiVersion, "0.8.4");
    if (rescheduledByHand) {
      policy.resuming = false;
      policy.pause_keys = [];
      policy.retry_type = "reschedule";
    } else {
      policy.resuming = true;
    }
  }
}

/** A failing run with retries left is answered with AwaitingRetry instead of FAILED. */
export class RetryFailedFlows extends OrchestrationRule<FlowRunSnapshot> {
  static readonly FROM_STATES = states("RUNNING");
  static readonly TO_STATES = states("FAILED");

  override before(initial: State | null, proposed: State | null): void {
    if (!initial || !proposed) return;
    const run = this.ctx.run;
    const policy = run.empiricalPolicy;
    if (policy.retries == null || run.runCount > policy.retries) {
      policy.retry_type = null; // lets a later infrastructure-level retry (e.g. from the UI) happen
      return;
    }
    if (!apiVersionBelow(this.ctx.extras.apiVersion, "0.8.4")) {
      policy.resuming = false;
      policy.pause_keys = [];
      policy.retry_type = "in_process";
    }
    const retry = newState("SCHEDULED", this.ctx.now, {
      name: "AwaitingRetry",
      message: proposed.message,
      data: proposed.data,
      state_details: {
        scheduled_time: this.ctx.now + Math.round((policy.retry_delay ?? 0) * 1_000_000),
        deployment_concurrency_lease_id: initial.state_details.deployment_concurrency_lease_id,
      },
    });
    this.reject(retry, "Retrying");
  }
}
