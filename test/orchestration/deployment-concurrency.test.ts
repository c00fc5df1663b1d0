/** Deployment-concurrency rules against a fake slot store: no database, no HTTP. */
import { describe, expect, test } from "bun:test";
import {
  OrchestrationContext,
  type DeploymentConcurrencyPort,
  type DeploymentConcurrencySettings,
  type FlowRunSnapshot,
} from "../../src/orchestration/context";
import { orchestrate } from "../../src/orchestration/engine";
import { CoreFlowPolicy, MarkLateRunsPolicy, MinimalFlowPolicy } from "../../src/orchestration/policies";
import { newState, type StateType } from "../../src/orchestration/states";
import { GlobalFlowPolicy } from "../../src/orchestration/transforms";
import { DEPLOYMENT_ID, NOW, flowRun, seconds } from "./fixtures";

/** An in-memory limit with leases, recording what the rules asked for. */
class FakeSlots implements DeploymentConcurrencyPort {
  used = 0;
  leases = new Map<string, { ttl: number }>();
  calls: string[] = [];
  constructor(
    readonly deployment: DeploymentConcurrencySettings | null,
    private readonly expired = new Set<string>(),
  ) {}
  tryAcquireSlot(): boolean {
    this.calls.push("acquire");
    if (this.used >= (this.deployment?.limit ?? 0)) return false;
    this.used += 1;
    return true;
  }
  createLease(_limitId: string, ttl: number): string {
    const id = `lease-${this.leases.size + 1}`;
    this.leases.set(id, { ttl });
    this.calls.push(`lease ${ttl}s`);
    return id;
  }
  renewLease(leaseId: string, ttl: number): boolean {
    this.calls.push(`renew ${leaseId}`);
    if (this.expired.has(leaseId)) return false;
    this.leases.set(leaseId, { ttl });
    return true;
  }
  releaseLease(leaseId: string): void {
    this.calls.push(`release ${leaseId}`);
    this.leases.delete(leaseId);
    this.used -= 1;
  }
  releaseSlot(): void {
    this.calls.push("release slot");
    this.used -= 1;
  }
  revokeLease(leaseId: string): void {
    this.calls.push(`revoke ${leaseId}`);
    this.leases.delete(leaseId);
  }
}

const settings = (limit: number, collisionStrategy: "ENQUEUE" | "CANCEL_NEW" = "ENQUEUE"): DeploymentConcurrencySettings => ({
  limitId: "limit-1",
  limit,
  activeSlots: 0,
  collisionStrategy,
  leaseSeconds: 300,
});

interface Row {
  name: string;
  from: StateType | null;
  fromLease?: string;
  to: StateType;
  toName?: string;
  slots: FakeSlots;
  used?: number;
  clientVersion?: string;
  force?: boolean;
  expect: { status: string; state: string | null; reason?: string; lease?: string | null; used: number; calls: string[] };
}

function run(row: Row) {
  const run: FlowRunSnapshot = flowRun({ deploymentId: DEPLOYMENT_ID, stateType: row.from });
  row.slots.used = row.used ?? 0;
  const initial = row.from
    ? newState(row.from, NOW - seconds(60), { state_details: { deployment_concurrency_lease_id: row.fromLease ?? null } })
    : null;
  const proposed = newState(row.to, NOW, { name: row.toName });
  const ctx = new OrchestrationContext(run, initial, proposed, NOW, {
    clientVersion: row.clientVersion ?? "3.9.1",
    deploymentConcurrency: row.slots,
  });
  orchestrate(ctx, row.force ? MinimalFlowPolicy : CoreFlowPolicy, GlobalFlowPolicy);
  return ctx;
}

const rows: Row[] = [
  {
    name: "SCHEDULED → PENDING takes a slot and puts its lease on the state",
    from: "SCHEDULED",
    to: "PENDING",
    slots: new FakeSlots(settings(1)),
    expect: { status: "ACCEPT", state: "PENDING/Pending", lease: "lease-1", used: 1, calls: ["acquire", "lease 300s"] },
  },
  {
    name: "a full deployment (ENQUEUE) answers AwaitingConcurrencySlot in 30 s",
    from: "SCHEDULED",
    to: "PENDING",
    used: 1,
    slots: new FakeSlots(settings(1)),
    expect: { status: "REJECT", state: "SCHEDULED/AwaitingConcurrencySlot", reason: "Deployment concurrency limit reached.", used: 1, calls: ["acquire"] },
  },
  {
    name: "a full deployment (CANCEL_NEW) cancels the run",
    from: "SCHEDULED",
    to: "PENDING",
    used: 2,
    slots: new FakeSlots(settings(2, "CANCEL_NEW")),
    expect: { status: "REJECT", state: "CANCELLED/Cancelled", reason: "Deployment concurrency limit reached.", used: 2, calls: ["acquire"] },
  },
  {
    name: "a limit of 0 would deadlock: ABORT",
    from: "SCHEDULED",
    to: "PENDING",
    slots: new FakeSlots(settings(0)),
    expect: { status: "ABORT", state: "SCHEDULED/Scheduled", reason: "The deployment concurrency limit is 0. The flow will deadlock if submitted again.", used: 0, calls: [] },
  },
  {
    name: "the deployment was deleted: ABORT",
    from: "SCHEDULED",
    to: "PENDING",
    slots: new FakeSlots(null),
    expect: { status: "ABORT", state: "SCHEDULED/Scheduled", reason: "Deployment not found.", used: 0, calls: [] },
  },
  {
    name: "workers 3.0.0–3.0.3 manage slots themselves",
    from: "SCHEDULED",
    to: "PENDING",
    clientVersion: "3.0.2",
    slots: new FakeSlots(settings(1)),
    expect: { status: "ACCEPT", state: "PENDING/Pending", lease: null, used: 0, calls: [] },
  },
  {
    name: "PENDING → RUNNING renews the lease and keeps it on the state",
    from: "PENDING",
    fromLease: "lease-9",
    to: "RUNNING",
    used: 1,
    slots: new FakeSlots(settings(1)),
    expect: { status: "ACCEPT", state: "RUNNING/Running", lease: "lease-9", used: 1, calls: ["renew lease-9"] },
  },
  {
    name: "an expired lease at RUNNING re-takes a slot when one is free",
    from: "PENDING",
    fromLease: "lease-9",
    to: "RUNNING",
    slots: new FakeSlots(settings(1), new Set(["lease-9"])),
    expect: { status: "ACCEPT", state: "RUNNING/Running", lease: "lease-1", used: 1, calls: ["renew lease-9", "acquire", "lease 300s"] },
  },
  {
    // and, as in Prefect, leaving PENDING for CANCELLED releases whatever the old lease still holds
    name: "an expired lease at RUNNING with no free slot cancels the run",
    from: "PENDING",
    fromLease: "lease-9",
    to: "RUNNING",
    used: 1,
    slots: new FakeSlots(settings(1), new Set(["lease-9"])),
    expect: {
      status: "REJECT",
      state: "CANCELLED/Cancelled",
      reason: "Deployment concurrency limit reached after lease expiry.",
      used: 0,
      calls: ["renew lease-9", "acquire", "release lease-9"],
    },
  },
  {
    name: "clients older than 3.4.11 lose the lease once running (the slot stays held)",
    from: "PENDING",
    fromLease: "lease-9",
    to: "RUNNING",
    used: 1,
    clientVersion: "3.4.0",
    slots: new FakeSlots(settings(1)),
    expect: { status: "ACCEPT", state: "RUNNING/Running", lease: "lease-9", used: 1, calls: ["revoke lease-9"] },
  },
  {
    // the final state still names the (now released) lease, as Prefect's does
    name: "RUNNING → COMPLETED releases the lease",
    from: "RUNNING",
    fromLease: "lease-9",
    to: "COMPLETED",
    used: 1,
    slots: new FakeSlots(settings(1)),
    expect: { status: "ACCEPT", state: "COMPLETED/Completed", lease: "lease-9", used: 0, calls: ["release lease-9"] },
  },
  {
    name: "RUNNING → COMPLETED without a lease gives one slot back on the limit",
    from: "RUNNING",
    to: "COMPLETED",
    used: 1,
    slots: new FakeSlots(settings(1)),
    expect: { status: "ACCEPT", state: "COMPLETED/Completed", lease: null, used: 0, calls: ["release slot"] },
  },
  {
    name: "a forced CRASHED from RUNNING still releases",
    from: "RUNNING",
    fromLease: "lease-9",
    to: "CRASHED",
    force: true,
    used: 1,
    slots: new FakeSlots(settings(1)),
    expect: { status: "ACCEPT", state: "CRASHED/Crashed", lease: "lease-9", used: 0, calls: ["release lease-9"] },
  },
  {
    name: "RUNNING → CANCELLING keeps the slot",
    from: "RUNNING",
    fromLease: "lease-9",
    to: "CANCELLING",
    used: 1,
    slots: new FakeSlots(settings(1)),
    expect: { status: "ACCEPT", state: "CANCELLING/Cancelling", lease: "lease-9", used: 1, calls: [] },
  },
];

describe("deployment concurrency rules", () => {
  test.each(rows)("$name", (row) => {
    const ctx = run(row);
    expect(ctx.status).toBe(row.expect.status as never);
    const state = ctx.resultState;
    expect(state ? `${state.type}/${state.name}` : null).toBe(row.expect.state);
    if (row.expect.reason) expect((ctx.details as { reason: string }).reason).toBe(row.expect.reason);
    if (row.expect.lease !== undefined) expect(ctx.validatedState?.state_details.deployment_concurrency_lease_id ?? null).toBe(row.expect.lease);
    expect(row.slots.used).toBe(row.expect.used);
    expect(row.slots.calls).toEqual(row.expect.calls);
  });

  test("a slot taken by SecureFlowConcurrencySlots is given back when a later rule changes the transition", () => {
    // PAUSED → PENDING is refused by HandleResumingPausedFlows after the slot was taken
    const slots = new FakeSlots(settings(1));
    const ctx = run({ name: "", from: "PAUSED", to: "PENDING", slots, expect: undefined as never });
    expect(ctx.status).toBe("REJECT");
    expect(slots.calls).toEqual(["acquire", "lease 300s", "release lease-1"]);
    expect(slots.used).toBe(0);
  });
});

describe("EnforceDeploymentConcurrencyOnLate (MarkLateRunsPolicy)", () => {
  const late = (deployment: DeploymentConcurrencySettings | null, opts: { name?: string; from?: string; deploymentId?: string | null } = {}) => {
    const run = flowRun({ deploymentId: opts.deploymentId === undefined ? DEPLOYMENT_ID : opts.deploymentId, stateType: "SCHEDULED" });
    const initial = newState("SCHEDULED", NOW - seconds(60), { name: opts.from ?? "Scheduled" });
    const ctx = new OrchestrationContext(run, initial, newState("SCHEDULED", NOW, { name: opts.name ?? "Late" }), NOW, {
      deploymentConcurrency: new FakeSlots(deployment),
    });
    orchestrate(ctx, MarkLateRunsPolicy, GlobalFlowPolicy);
    return { status: ctx.status as string, state: ctx.resultState && `${ctx.resultState.type}/${ctx.resultState.name}`, reason: "reason" in ctx.details ? ctx.details.reason : null };
  };
  const full = (limit: number, strategy: "ENQUEUE" | "CANCEL_NEW", activeSlots: number) => ({ ...settings(limit, strategy), activeSlots });
  const CANCELLED = { status: "REJECT", state: "CANCELLED/Cancelled", reason: "Deployment concurrency limit is full and uses the CANCEL_NEW strategy." };
  const LATE = { status: "ACCEPT", state: "SCHEDULED/Late", reason: null };

  test.each([
    { name: "CANCEL_NEW, full", deployment: full(1, "CANCEL_NEW", 1), expected: CANCELLED },
    { name: "CANCEL_NEW, over full", deployment: full(1, "CANCEL_NEW", 3), expected: CANCELLED },
    { name: "CANCEL_NEW, a zero limit", deployment: full(0, "CANCEL_NEW", 0), expected: CANCELLED },
    { name: "CANCEL_NEW, a free slot", deployment: full(2, "CANCEL_NEW", 1), expected: LATE },
    { name: "ENQUEUE, full", deployment: full(1, "ENQUEUE", 1), expected: LATE },
    { name: "no limit", deployment: { ...full(1, "CANCEL_NEW", 1), limitId: null, limit: null }, expected: LATE },
    { name: "a deployment that is gone", deployment: null, expected: LATE },
  ])("$name", ({ deployment, expected }) => {
    expect(late(deployment)).toEqual(expected);
  });

  test("only a Late proposal of a deployment run is governed", () => {
    expect(late(full(1, "CANCEL_NEW", 1), { name: "Scheduled" })).toMatchObject({ status: "ACCEPT", state: "SCHEDULED/Scheduled" });
    expect(late(full(1, "CANCEL_NEW", 1), { deploymentId: null })).toEqual(LATE);
  });

  test("the policy's order", () => {
    expect(MarkLateRunsPolicy.entries.map((entry) => entry.name)).toEqual([
      "EnsureOnlyScheduledFlowsMarkedLate",
      "EnforceDeploymentConcurrencyOnLate",
      "InstrumentFlowRunStateTransitions",
    ]);
  });
});
