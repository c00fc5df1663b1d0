/**
 * Deployment concurrency (orchestration/core_policy.py): a deployment run takes a
 * slot of its deployment's limit on the way to PENDING, holds it through a lease
 * the client renews, and gives it back when it leaves PENDING/RUNNING/CANCELLING.
 */
import { OrchestrationRule, allExcept, states, type UniversalTransform } from "../engine";
import { versionBelow, type FlowRunSnapshot } from "../context";
import { newState, type State } from "../states";

/** Clients older than this cannot renew leases (MIN_CLIENT_VERSION_FOR_CONCURRENCY_LIMIT_LEASING). */
const MIN_CLIENT_VERSION_FOR_LEASING = "3.4.11";
/** Workers of these versions took deployment slots themselves. */
const WORKERS_MANAGING_CONCURRENCY = new Set(["3.0.0rc20", "3.0.0", "3.0.1", "3.0.2", "3.0.3"]);
/** PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS */
export const CONCURRENCY_SLOT_WAIT_SECONDS = 30;

const HOLDING_STATES = new Set(["PENDING", "RUNNING", "CANCELLING"]);

/** Takes a deployment slot before a worker provisions infrastructure; full → wait (ENQUEUE) or cancel (CANCEL_NEW). */
export class SecureFlowConcurrencySlots extends OrchestrationRule<FlowRunSnapshot> {
  static readonly FROM_STATES = allExcept("PENDING", "RUNNING", "CANCELLING");
  static readonly TO_STATES = states("PENDING");
  private acquired: { limitId: string; leaseId: string } | null = null;

  override before(_initial: State | null, proposed: State | null): void {
    const port = this.ctx.extras.deploymentConcurrency;
    const clientVersion = this.ctx.extras.clientVersion;
    if (!port || !this.ctx.run.deploymentId || !proposed) return;
    if (clientVersion && WORKERS_MANAGING_CONCURRENCY.has(clientVersion)) return;
    const deployment = port.deployment;
    if (!deployment) return this.abort("Deployment not found.");
    if (deployment.limitId === null || deployment.limit === null) return;
    if (deployment.limit === 0) {
      return this.abort("The deployment concurrency limit is 0. The flow will deadlock if submitted again.");
    }
    if (port.tryAcquireSlot(deployment.limitId)) {
      const leaseId = port.createLease(deployment.limitId, deployment.leaseSeconds, null);
      proposed.state_details.deployment_concurrency_lease_id = leaseId;
      this.acquired = { limitId: deployment.limitId, leaseId };
      return;
    }
    if (deployment.collisionStrategy === "CANCEL_NEW") {
      return this.reject(newState("CANCELLED", this.ctx.now, { message: "Deployment concurrency limit reached." }), "Deployment concurrency limit reached.");
    }
    const wait = newState("SCHEDULED", this.ctx.now, {
      name: "AwaitingConcurrencySlot",
      state_details: { scheduled_time: this.ctx.now + CONCURRENCY_SLOT_WAIT_SECONDS * 1_000_000 },
    });
    this.reject(wait, "Deployment concurrency limit reached.");
  }

  /** Another rule changed the transition: give the slot back. */
  override cleanup(_initial: State | null, validated: State | null): void {
    if (!this.acquired) return;
    this.ctx.extras.deploymentConcurrency!.releaseLease(this.acquired.leaseId, this.acquired.limitId);
    if (validated) validated.state_details.deployment_concurrency_lease_id = null;
  }
}

/** PENDING → RUNNING: renew the lease, or re-take a slot if it expired while infrastructure started. */
export class ValidateDeploymentConcurrencyAtRunning extends OrchestrationRule<FlowRunSnapshot> {
  static readonly FROM_STATES = states("PENDING");
  static readonly TO_STATES = states("RUNNING");

  override before(initial: State | null, proposed: State | null): void {
    if (!initial || !proposed) return;
    const leaseId = initial.state_details.deployment_concurrency_lease_id;
    proposed.state_details.deployment_concurrency_lease_id = leaseId;
    if (!leaseId) return;
    if (versionBelow(this.ctx.extras.clientVersion ?? "2.0.0", MIN_CLIENT_VERSION_FOR_LEASING)) return;
    const port = this.ctx.extras.deploymentConcurrency;
    const deployment = port?.deployment;
    if (!port || !this.ctx.run.deploymentId || !deployment?.limitId) return;
    if (port.renewLease(leaseId, deployment.leaseSeconds)) return;
    if (port.tryAcquireSlot(deployment.limitId)) {
      proposed.state_details.deployment_concurrency_lease_id = port.createLease(deployment.limitId, deployment.leaseSeconds, this.ctx.run.id);
      return;
    }
    this.reject(
      newState("CANCELLED", this.ctx.now, {
        message: "Deployment concurrency slot lost during provisioning - no slots available to continue execution",
      }),
      "Deployment concurrency limit reached after lease expiry.",
    );
  }
}

/** Old clients cannot renew leases: drop the lease once the run is under way (its slot is released later). */
export class RemoveDeploymentConcurrencyLeaseForOldClientVersions extends OrchestrationRule<FlowRunSnapshot> {
  static readonly FROM_STATES = states("PENDING");
  static readonly TO_STATES = states("RUNNING", "CANCELLING");

  override after(initial: State | null): void {
    const clientVersion = this.ctx.extras.clientVersion;
    if (!initial || (clientVersion && !versionBelow(clientVersion, MIN_CLIENT_VERSION_FOR_LEASING))) return;
    const leaseId = initial.state_details.deployment_concurrency_lease_id;
    if (leaseId) this.ctx.extras.deploymentConcurrency?.revokeLease(leaseId);
  }
}

/** Leaving PENDING/RUNNING/CANCELLING for anything else gives the deployment slot back (not for in-process retries). */
export const ReleaseFlowConcurrencySlots: UniversalTransform<FlowRunSnapshot> = {
  name: "ReleaseFlowConcurrencySlots",
  after(ctx, validated) {
    const from = ctx.initialState?.type;
    if (!from || !HOLDING_STATES.has(from) || HOLDING_STATES.has(validated.type)) return;
    if (validated.type === "SCHEDULED" && validated.name === "AwaitingRetry" && ctx.status === "REJECT") return;
    const port = ctx.extras.deploymentConcurrency;
    if (!port || !ctx.run.deploymentId) return;
    const limitId = port.deployment?.limitId ?? null;
    const leaseId = ctx.initialState!.state_details.deployment_concurrency_lease_id;
    if (leaseId) port.releaseLease(leaseId, limitId);
    else if (limitId) port.releaseSlot(limitId);
  },
};

/**
 * The late-runs service would mark a run Late: a CANCEL_NEW deployment whose limit is
 * full cancels it instead, so overdue runs do not pile up waiting for a slot they
 * would be refused at PENDING anyway.
 */
export class EnforceDeploymentConcurrencyOnLate extends OrchestrationRule<FlowRunSnapshot> {
  static readonly FROM_STATES = states("SCHEDULED");
  static readonly TO_STATES = states("SCHEDULED");

  override before(initial: State | null, proposed: State | null): void {
    if (!initial || !proposed || proposed.name !== "Late" || !this.ctx.run.deploymentId) return;
    const deployment = this.ctx.extras.deploymentConcurrency?.deployment;
    if (!deployment?.limitId || deployment.limit === null || deployment.collisionStrategy !== "CANCEL_NEW") return;
    if (deployment.activeSlots < deployment.limit) return;
    this.reject(
      newState("CANCELLED", this.ctx.now, { message: "Deployment concurrency limit reached." }),
      "Deployment concurrency limit is full and uses the CANCEL_NEW strategy.",
    );
  }
}
