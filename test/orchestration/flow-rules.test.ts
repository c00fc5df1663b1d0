/**
 * Flow-run rules (rules/flow-runs.ts) and the shared rules (rules/shared.ts),
 * one table per rule. Each rule runs alone unless a table says which policy it
 * runs in; every row checks the decision, the returned state, the run's
 * empirical policy (unchanged unless the row says) and the effects (none unless
 * the row says).
 */
import { describe, expect, test } from "bun:test";
import type { JsonValue } from "../../src/lib/json";
import type { FlowRunPolicy, FlowRunSnapshot, OrchestrationEffect } from "../../src/orchestration/context";
import type { Policy } from "../../src/orchestration/engine";
import { CoreFlowPolicy, MinimalFlowPolicy } from "../../src/orchestration/policies";
import {
  BypassCancellingFlowRunsWithNoInfra,
  EnforceCancellingToCancelledTransition,
  EnsureOnlyScheduledFlowsMarkedLate,
  HandleFlowTerminalStateTransitions,
  HandlePausingFlows,
  HandleResumingPausedFlows,
  PreserveDeploymentConcurrencyLeaseId,
  PreventDuplicateTransitions,
  RetryFailedFlows,
} from "../../src/orchestration/rules/flow-runs";
import {
  CopyScheduledTime,
  PreventPendingTransitions,
  RenameReruns,
  WaitForScheduledTime,
  waitSeconds,
} from "../../src/orchestration/rules/shared";
import { STATE_TYPES, type StateDetails, type StateType } from "../../src/orchestration/states";
import { GlobalFlowPolicy } from "../../src/orchestration/transforms";
import {
  DEPLOYMENT_ID,
  NOW,
  PARENT_TASK_RUN_ID,
  PERSISTED,
  UNPERSISTED,
  WORK_QUEUE_ID,
  aborted,
  accepted,
  expectOutcome,
  flowRun,
  only,
  rejected,
  rejectedTo,
  runFlow,
  runTask,
  s,
  seconds,
  taskRun,
  waited,
  type FlowRunInit,
  type Outcome,
  type StateSpec,
} from "./fixtures";

interface Row {
  name: string;
  initial: StateSpec | null;
  proposed: StateSpec;
  run?: FlowRunInit;
  apiVersion?: string;
  expect: Outcome;
  /** Fields of the returned state. */
  state?: { message?: string | null; data?: JsonValue; state_details?: Partial<StateDetails> };
  /** Changes to the run's empirical policy. */
  policy?: Partial<FlowRunPolicy>;
  effects?: OrchestrationEffect[];
}

function table(policy: Policy<FlowRunSnapshot>, rows: Row[]): void {
  test.each(rows)("$name", (row) => {
    const ctx = runFlow({ ...row, run: flowRun(row.run) }, policy);
    expectOutcome(ctx, row.expect);
    if (row.state) expect(ctx.resultState!).toMatchObject(row.state);
    expect(ctx.run.empiricalPolicy).toEqual({ ...flowRun(row.run).empiricalPolicy, ...row.policy });
    expect(ctx.effects).toEqual(row.effects ?? []);
  });
}

const DEPLOYED: FlowRunInit = { deploymentId: DEPLOYMENT_ID };
const AD_HOC: FlowRunInit = {};
/** Left over from an earlier attempt: what leaving a terminal state resets. */
const USED_POLICY: Partial<FlowRunPolicy> = { resuming: true, pause_keys: ["k"], retry_type: "in_process" };
const RESET = { resuming: false, pause_keys: [] };

describe("policies", () => {
  const names = (policy: Policy<FlowRunSnapshot>) => policy.entries.map((entry) => entry.name);

  test("CoreFlowPolicy keeps Prefect's order", () => {
    expect(names(CoreFlowPolicy)).toEqual([
      "PreserveDeploymentConcurrencyLeaseId",
      "PreventDuplicateTransitions",
      "HandleFlowTerminalStateTransitions",
      "EnforceCancellingToCancelledTransition",
      "BypassCancellingFlowRunsWithNoInfra",
      "PreventPendingTransitions",
      "ValidateDeploymentConcurrencyAtRunning",
      "SecureFlowConcurrencySlots",
      "RemoveDeploymentConcurrencyLeaseForOldClientVersions",
      "EnsureOnlyScheduledFlowsMarkedLate",
      "HandlePausingFlows",
      "HandleResumingPausedFlows",
      "CopyScheduledTime",
      "WaitForScheduledTime",
      "RetryFailedFlows",
      "InstrumentFlowRunStateTransitions",
      "ReleaseFlowConcurrencySlots",
    ]);
  });

  test("MinimalFlowPolicy (force) keeps the lease, guards result data, bypasses cancelling and announces the change", () => {
    expect(names(MinimalFlowPolicy)).toEqual([
      "PreserveDeploymentConcurrencyLeaseId",
      "PreventResultDataLoss",
      "BypassCancellingFlowRunsWithNoInfra",
      "InstrumentFlowRunStateTransitions",
      "ReleaseFlowConcurrencySlots",
    ]);
  });

  test("a written state is announced with the state it replaced; a refused proposal is not", () => {
    const written = runFlow({ initial: s("PENDING"), proposed: s("RUNNING") }, CoreFlowPolicy);
    expect(written.stateChanges).toEqual([{ initialState: written.initialState, validatedState: written.validatedState! }]);
    const refused = runFlow({ initial: s("PENDING"), proposed: s("PENDING") }, CoreFlowPolicy);
    expect(refused.validatedState).toBeNull();
    expect(refused.stateChanges).toEqual([]);
  });
});

describe("PreserveDeploymentConcurrencyLeaseId", () => {
  const lease = (id: string | null) => ({ details: { deployment_concurrency_lease_id: id } });
  const leaseOf = (id: string | null) => ({ state_details: { deployment_concurrency_lease_id: id } });
  table(only(PreserveDeploymentConcurrencyLeaseId), [
    {
      name: "copies the current lease onto a proposal that has none",
      initial: s("PENDING", lease("L1")),
      proposed: s("RUNNING"),
      expect: accepted("RUNNING/Running"),
      state: leaseOf("L1"),
    },
    {
      name: "keeps a proposal's own lease",
      initial: s("PENDING", lease("L1")),
      proposed: s("RUNNING", lease("L2")),
      expect: accepted("RUNNING/Running"),
      state: leaseOf("L2"),
    },
    {
      name: "nothing to copy",
      initial: s("PENDING"),
      proposed: s("RUNNING"),
      expect: accepted("RUNNING/Running"),
      state: leaseOf(null),
    },
    { name: "first state", initial: null, proposed: s("PENDING"), expect: accepted("PENDING/Pending"), state: leaseOf(null) },
  ]);

  test("also applies to forced transitions", () => {
    const ctx = runFlow({ initial: s("RUNNING", lease("L1")), proposed: s("CRASHED") }, MinimalFlowPolicy);
    expect(ctx.validatedState?.state_details.deployment_concurrency_lease_id).toBe("L1");
  });
});

describe("PreventDuplicateTransitions", () => {
  const tid = (id: string) => ({ details: { transition_id: id } });
  table(only(PreventDuplicateTransitions), [
    {
      name: "same transition_id: REJECT, the already-written state comes back",
      initial: s("RUNNING", tid("t-1")),
      proposed: s("COMPLETED", tid("t-1")),
      expect: rejected("RUNNING/Running", "This run has already made this state transition."),
    },
    {
      name: "different transition_ids",
      initial: s("RUNNING", tid("t-1")),
      proposed: s("COMPLETED", tid("t-2")),
      expect: accepted("COMPLETED/Completed"),
    },
    { name: "only the proposal has one", initial: s("RUNNING"), proposed: s("COMPLETED", tid("t-1")), expect: accepted("COMPLETED/Completed") },
    { name: "neither has one", initial: s("RUNNING"), proposed: s("COMPLETED"), expect: accepted("COMPLETED/Completed") },
    { name: "first state", initial: null, proposed: s("PENDING", tid("t-1")), expect: accepted("PENDING/Pending") },
  ]);
});

describe("HandleFlowTerminalStateTransitions", () => {
  const completedWith = (data: JsonValue) => s("COMPLETED", { data });
  const used = { empiricalPolicy: USED_POLICY };
  const usedDeployed = { ...DEPLOYED, empiricalPolicy: USED_POLICY };
  const overwrite = "Cannot overwrite a COMPLETED state that carries persisted result data with one that does not.";
  table(only(HandleFlowTerminalStateTransitions), [
    ...(
      [
        ["COMPLETED", "CANCELLING"],
        ["FAILED", "PAUSED"],
        ["CANCELLED", "CRASHED"],
        ["CRASHED", "CANCELLING"],
      ] as const
    ).map(([from, to]): Row => ({
      name: `${from} -> ${to}: ABORT`,
      initial: s(from),
      proposed: s(to),
      run: used,
      expect: aborted(`${from}/${from[0] + from.slice(1).toLowerCase()}`, `Run is already in terminal state ${from}.`),
    })),
    {
      name: "COMPLETED with persisted data -> RUNNING: REJECT",
      initial: completedWith(PERSISTED),
      proposed: s("RUNNING"),
      run: used,
      expect: rejected("COMPLETED/Completed", "Run is already COMPLETED."),
    },
    {
      name: "COMPLETED with persisted data -> SCHEDULED (deployment): REJECT",
      initial: completedWith(PERSISTED),
      proposed: s("SCHEDULED"),
      run: usedDeployed,
      expect: rejected("COMPLETED/Completed", "Run is already COMPLETED."),
    },
    {
      name: "COMPLETED with persisted data -> COMPLETED without data: REJECT",
      initial: completedWith(PERSISTED),
      proposed: s("COMPLETED"),
      expect: rejected("COMPLETED/Completed", overwrite),
    },
    {
      name: "COMPLETED with persisted data -> COMPLETED with unpersisted data: REJECT",
      initial: completedWith(PERSISTED),
      proposed: completedWith(UNPERSISTED),
      expect: rejected("COMPLETED/Completed", overwrite),
    },
    {
      name: "COMPLETED with persisted data -> COMPLETED with persisted data",
      initial: completedWith(PERSISTED),
      proposed: completedWith({ type: "reference", storage_key: "/results/new" }),
      expect: accepted("COMPLETED/Completed"),
    },
    {
      name: "COMPLETED with persisted data -> FAILED (final, policy untouched)",
      initial: completedWith(PERSISTED),
      proposed: s("FAILED"),
      run: used,
      expect: accepted("FAILED/Failed"),
    },
    {
      name: "COMPLETED with unpersisted data -> RUNNING: a re-run resets the policy",
      initial: completedWith(UNPERSISTED),
      proposed: s("RUNNING"),
      run: used,
      expect: accepted("RUNNING/Running"),
      policy: { ...RESET, retry_type: null },
    },
    {
      name: "COMPLETED without data -> RUNNING",
      initial: s("COMPLETED"),
      proposed: s("RUNNING"),
      expect: accepted("RUNNING/Running"),
    },
    {
      name: "COMPLETED with an empty object -> RUNNING (falsy data in Prefect)",
      initial: completedWith({}),
      proposed: s("RUNNING"),
      expect: accepted("RUNNING/Running"),
    },
    {
      name: "COMPLETED with non-object data -> RUNNING",
      initial: completedWith("a string"),
      proposed: s("RUNNING"),
      expect: accepted("RUNNING/Running"),
    },
    {
      name: "FAILED -> SCHEDULED without a deployment: ABORT",
      initial: s("FAILED"),
      proposed: s("SCHEDULED"),
      run: used,
      expect: aborted("FAILED/Failed", "Cannot reschedule a run without an associated deployment."),
    },
    {
      name: "FAILED -> SCHEDULED with a deployment: retry_type reschedule",
      initial: s("FAILED"),
      proposed: s("SCHEDULED"),
      run: usedDeployed,
      expect: accepted("SCHEDULED/Scheduled"),
      policy: { ...RESET, retry_type: "reschedule" },
    },
    {
      name: "CRASHED -> RUNNING: retry_type cleared",
      initial: s("CRASHED"),
      proposed: s("RUNNING"),
      run: used,
      expect: accepted("RUNNING/Running"),
      policy: { ...RESET, retry_type: null },
    },
    {
      name: "CANCELLED -> PENDING: retry_type cleared",
      initial: s("CANCELLED"),
      proposed: s("PENDING"),
      run: usedDeployed,
      expect: accepted("PENDING/Pending"),
      policy: { ...RESET, retry_type: null },
    },
    {
      name: "FAILED -> COMPLETED (final, policy untouched)",
      initial: s("FAILED"),
      proposed: s("COMPLETED"),
      run: used,
      expect: accepted("COMPLETED/Completed"),
    },
    {
      name: "API 0.8.3 has no pause bookkeeping to reset",
      initial: s("FAILED"),
      proposed: s("RUNNING"),
      run: used,
      apiVersion: "0.8.3",
      expect: accepted("RUNNING/Running"),
    },
    {
      name: "API 0.8.4 resets it",
      initial: s("FAILED"),
      proposed: s("RUNNING"),
      run: used,
      apiVersion: "0.8.4",
      expect: accepted("RUNNING/Running"),
      policy: { ...RESET, retry_type: null },
    },
  ]);

  describe("the reset is undone when a later rule refuses the re-run (fizzle)", () => {
    const reason = "This run is in a CANCELLED state and cannot transition to a PENDING state.";
    table(CoreFlowPolicy, [
      {
        name: "CANCELLED -> PENDING, deployment run: PreventPendingTransitions aborts",
        initial: s("CANCELLED"),
        proposed: s("PENDING"),
        run: usedDeployed,
        expect: aborted("CANCELLED/Cancelled", reason),
      },
      {
        name: "CANCELLED -> PENDING, ad-hoc run: PreventPendingTransitions rejects",
        initial: s("CANCELLED"),
        proposed: s("PENDING"),
        run: used,
        expect: rejected("CANCELLED/Cancelled", reason),
      },
    ]);
  });
});

describe("PreventResultDataLoss (in MinimalFlowPolicy)", () => {
  const overwrite = "Cannot overwrite a COMPLETED state that carries persisted result data with one that does not.";
  table(MinimalFlowPolicy, [
    {
      name: "COMPLETED with persisted data -> COMPLETED without: REJECT",
      initial: s("COMPLETED", { data: PERSISTED }),
      proposed: s("COMPLETED"),
      expect: rejected("COMPLETED/Completed", overwrite),
    },
    {
      name: "COMPLETED with persisted data -> COMPLETED unpersisted: REJECT",
      initial: s("COMPLETED", { data: PERSISTED }),
      proposed: s("COMPLETED", { data: UNPERSISTED }),
      expect: rejected("COMPLETED/Completed", overwrite),
    },
    {
      name: "COMPLETED with persisted data -> COMPLETED with persisted data",
      initial: s("COMPLETED", { data: PERSISTED }),
      proposed: s("COMPLETED", { data: PERSISTED }),
      expect: accepted("COMPLETED/Completed"),
    },
    {
      name: "COMPLETED with persisted data -> FAILED",
      initial: s("COMPLETED", { data: PERSISTED }),
      proposed: s("FAILED"),
      expect: accepted("FAILED/Failed"),
    },
    {
      name: "COMPLETED with persisted data -> RUNNING (force may leave a final state)",
      initial: s("COMPLETED", { data: PERSISTED }),
      proposed: s("RUNNING"),
      expect: accepted("RUNNING/Running"),
    },
    {
      name: "COMPLETED unpersisted -> COMPLETED",
      initial: s("COMPLETED", { data: UNPERSISTED }),
      proposed: s("COMPLETED"),
      expect: accepted("COMPLETED/Completed"),
    },
    {
      name: "COMPLETED with an empty object -> COMPLETED",
      initial: s("COMPLETED", { data: {} }),
      proposed: s("COMPLETED"),
      expect: accepted("COMPLETED/Completed"),
    },
    {
      name: "FAILED with persisted data -> COMPLETED",
      initial: s("FAILED", { data: PERSISTED }),
      proposed: s("COMPLETED"),
      expect: accepted("COMPLETED/Completed"),
    },
  ]);
});

describe("MinimalFlowPolicy (force) skips the other guards", () => {
  const retrying = { runCount: 1, empiricalPolicy: { retries: 3 } };
  table(MinimalFlowPolicy, [
    { name: "CANCELLING -> RUNNING", initial: s("CANCELLING"), proposed: s("RUNNING"), expect: accepted("RUNNING/Running") },
    { name: "FAILED -> CANCELLING", initial: s("FAILED"), proposed: s("CANCELLING"), expect: accepted("CANCELLING/Cancelling") },
    { name: "RUNNING -> PENDING", initial: s("RUNNING"), proposed: s("PENDING"), expect: accepted("PENDING/Pending") },
    { name: "RUNNING -> FAILED with retries left", initial: s("RUNNING"), proposed: s("FAILED"), run: retrying, expect: accepted("FAILED/Failed") },
    {
      name: "SCHEDULED in the future -> RUNNING",
      initial: s("SCHEDULED", { details: { scheduled_time: NOW + seconds(3600) } }),
      proposed: s("RUNNING"),
      expect: accepted("RUNNING/Running"),
    },
    {
      name: "SCHEDULED without infrastructure -> CANCELLING still becomes CANCELLED",
      initial: s("SCHEDULED"),
      proposed: s("CANCELLING"),
      expect: rejectedTo("CANCELLED/Cancelled", "Scheduled flow run has no infrastructure to terminate."),
    },
  ]);
});

describe("EnforceCancellingToCancelledTransition", () => {
  const reason = "Cannot transition flows that are cancelling to a state other than Cancelled.";
  table(only(EnforceCancellingToCancelledTransition), [
    { name: "CANCELLING -> CANCELLED", initial: s("CANCELLING"), proposed: s("CANCELLED"), expect: accepted("CANCELLED/Cancelled") },
    ...STATE_TYPES.filter((type) => type !== "CANCELLED").map(
      (type): Row => ({
        name: `CANCELLING -> ${type}: REJECT`,
        initial: s("CANCELLING"),
        proposed: s(type),
        expect: rejected("CANCELLING/Cancelling", reason),
      }),
    ),
  ]);
});

describe("BypassCancellingFlowRunsWithNoInfra", () => {
  const withPid: FlowRunInit = { infrastructurePid: "host:4242" };
  const scheduledReason = "Scheduled flow run has no infrastructure to terminate.";
  table(only(BypassCancellingFlowRunsWithNoInfra), [
    {
      name: "SCHEDULED without infrastructure: straight to CANCELLED",
      initial: s("SCHEDULED"),
      proposed: s("CANCELLING"),
      expect: rejectedTo("CANCELLED/Cancelled", scheduledReason),
    },
    {
      name: "Late without infrastructure: straight to CANCELLED",
      initial: s("SCHEDULED", "Late"),
      proposed: s("CANCELLING"),
      expect: rejectedTo("CANCELLED/Cancelled", scheduledReason),
    },
    {
      name: "SCHEDULED with infrastructure: CANCELLING accepted",
      initial: s("SCHEDULED"),
      proposed: s("CANCELLING"),
      run: withPid,
      expect: accepted("CANCELLING/Cancelling"),
    },
    {
      name: "AwaitingRetry with infrastructure: CANCELLING accepted",
      initial: s("SCHEDULED", "AwaitingRetry"),
      proposed: s("CANCELLING"),
      run: withPid,
      expect: accepted("CANCELLING/Cancelling"),
    },
    {
      name: "Resuming, even with infrastructure: straight to CANCELLED",
      initial: s("SCHEDULED", "Resuming"),
      proposed: s("CANCELLING"),
      run: withPid,
      expect: rejectedTo("CANCELLED/Cancelled", scheduledReason),
    },
    {
      name: "Suspended (pause_reschedule): straight to CANCELLED",
      initial: s("PAUSED", { name: "Suspended", details: { pause_reschedule: true } }),
      proposed: s("CANCELLING"),
      run: withPid,
      expect: rejectedTo("CANCELLED/Cancelled", "Suspended flow run has no infrastructure to terminate."),
    },
    {
      name: "blocking pause (process still alive): CANCELLING accepted",
      initial: s("PAUSED"),
      proposed: s("CANCELLING"),
      expect: accepted("CANCELLING/Cancelling"),
    },
  ]);
});

describe("PreventPendingTransitions (shared; decision #1)", () => {
  const T1 = NOW - seconds(600);
  const pendingAt = (name: string) =>
    s("PENDING", { name, details: { scheduled_time: T1, deployment_concurrency_lease_id: "L1" } });
  const reason = (type: StateType) => `This run is in a ${type} state and cannot transition to a PENDING state.`;
  table(only(PreventPendingTransitions), [
    {
      name: "Pending -> Submitting: a rename step, scheduled time and lease carried over",
      initial: pendingAt("Pending"),
      proposed: s("PENDING", "Submitting"),
      run: DEPLOYED,
      expect: accepted("PENDING/Submitting"),
      state: { state_details: { scheduled_time: T1, deployment_concurrency_lease_id: "L1" } },
    },
    {
      name: "the carried values replace the proposal's",
      initial: pendingAt("Pending"),
      proposed: s("PENDING", {
        name: "Submitting",
        details: { scheduled_time: NOW, deployment_concurrency_lease_id: "L2" },
      }),
      run: DEPLOYED,
      expect: accepted("PENDING/Submitting"),
      state: { state_details: { scheduled_time: T1, deployment_concurrency_lease_id: "L1" } },
    },
    {
      name: "Submitting -> InfrastructurePending",
      initial: pendingAt("Submitting"),
      proposed: s("PENDING", "InfrastructurePending"),
      run: DEPLOYED,
      expect: accepted("PENDING/InfrastructurePending"),
    },
    {
      name: "Pending -> Pending, deployment run: ABORT",
      initial: s("PENDING"),
      proposed: s("PENDING"),
      run: DEPLOYED,
      expect: aborted("PENDING/Pending", reason("PENDING")),
    },
    {
      name: "Pending -> Pending, work-queue run: ABORT",
      initial: s("PENDING"),
      proposed: s("PENDING"),
      run: { workQueueId: WORK_QUEUE_ID },
      expect: aborted("PENDING/Pending", reason("PENDING")),
    },
    {
      name: "Pending -> Pending, run without deployment or work queue: REJECT, current state returned",
      initial: s("PENDING"),
      proposed: s("PENDING"),
      run: AD_HOC,
      expect: rejected("PENDING/Pending", reason("PENDING")),
    },
    {
      name: "Submitting -> Pending (a second worker), deployment run: ABORT",
      initial: s("PENDING", "Submitting"),
      proposed: s("PENDING"),
      run: DEPLOYED,
      expect: aborted("PENDING/Submitting", reason("PENDING")),
    },
    {
      name: "Submitting -> Submitting (same name), deployment run: ABORT",
      initial: s("PENDING", "Submitting"),
      proposed: s("PENDING", "Submitting"),
      run: DEPLOYED,
      expect: aborted("PENDING/Submitting", reason("PENDING")),
    },
    {
      name: "Submitting -> Pending, ad-hoc run: REJECT",
      initial: s("PENDING", "Submitting"),
      proposed: s("PENDING"),
      run: AD_HOC,
      expect: rejected("PENDING/Submitting", reason("PENDING")),
    },
    ...(["RUNNING", "CANCELLING", "CANCELLED"] as const).flatMap((type): Row[] => {
      const current = `${type}/${type[0] + type.slice(1).toLowerCase()}`;
      return [
        {
          name: `${type} -> PENDING, deployment run: ABORT`,
          initial: s(type),
          proposed: s("PENDING"),
          run: DEPLOYED,
          expect: aborted(current, reason(type)),
        },
        {
          name: `${type} -> PENDING, ad-hoc run: REJECT`,
          initial: s(type),
          proposed: s("PENDING"),
          run: AD_HOC,
          expect: rejected(current, reason(type)),
        },
      ];
    }),
  ]);

  test("task runs always get ABORT (decision #1 is about flow runs)", () => {
    const ctx = runTask({ initial: s("PENDING"), proposed: s("PENDING") }, only(PreventPendingTransitions));
    expectOutcome(ctx, aborted("PENDING/Pending", reason("PENDING")));
  });

  test("through the full policy, a REJECT leaves the run's bookkeeping untouched", () => {
    const run = flowRun({ stateType: "RUNNING", stateName: "Running", stateTimestamp: NOW - seconds(60), runCount: 1 });
    const before = structuredClone(run);
    const ctx = runFlow({ initial: s("RUNNING"), proposed: s("PENDING"), run }, CoreFlowPolicy, GlobalFlowPolicy);
    expectOutcome(ctx, rejected("RUNNING/Running", reason("RUNNING")));
    expect(ctx.run).toEqual(before);
  });
});

describe("CopyScheduledTime (shared)", () => {
  const T1 = NOW - seconds(300);
  const T2 = NOW + seconds(300);
  table(only(CopyScheduledTime), [
    {
      name: "a proposal without a scheduled time takes the current one",
      initial: s("SCHEDULED", { details: { scheduled_time: T1 } }),
      proposed: s("PENDING"),
      expect: accepted("PENDING/Pending"),
      state: { state_details: { scheduled_time: T1 } },
    },
    {
      name: "a proposal's own scheduled time wins",
      initial: s("SCHEDULED", { details: { scheduled_time: T1 } }),
      proposed: s("PENDING", { details: { scheduled_time: T2 } }),
      expect: accepted("PENDING/Pending"),
      state: { state_details: { scheduled_time: T2 } },
    },
  ]);

  test("task runs too", () => {
    const ctx = runTask(
      { initial: s("SCHEDULED", { details: { scheduled_time: T1 } }), proposed: s("PENDING") },
      only(CopyScheduledTime),
    );
    expect(ctx.validatedState?.state_details.scheduled_time).toBe(T1);
  });
});

describe("WaitForScheduledTime (shared)", () => {
  const scheduledIn = (secs: number) => s("SCHEDULED", { details: { scheduled_time: NOW + seconds(secs) } });
  table(only(WaitForScheduledTime), [
    { name: "6.7 s ahead: WAIT 7", initial: scheduledIn(6.7), proposed: s("RUNNING"), expect: waited("SCHEDULED/Scheduled", 7) },
    { name: "6.3 s ahead: WAIT 6", initial: scheduledIn(6.3), proposed: s("RUNNING"), expect: waited("SCHEDULED/Scheduled", 6) },
    { name: "6.5 s ahead: WAIT 6 (round half to even)", initial: scheduledIn(6.5), proposed: s("RUNNING"), expect: waited("SCHEDULED/Scheduled", 6) },
    { name: "0.7 s ahead: WAIT 1", initial: scheduledIn(0.7), proposed: s("RUNNING"), expect: waited("SCHEDULED/Scheduled", 1) },
    { name: "0.3 s ahead rounds to 0: accepted", initial: scheduledIn(0.3), proposed: s("RUNNING"), expect: accepted("RUNNING/Running") },
    { name: "exactly now: accepted", initial: scheduledIn(0), proposed: s("RUNNING"), expect: accepted("RUNNING/Running") },
    { name: "in the past: accepted", initial: scheduledIn(-5), proposed: s("RUNNING"), expect: accepted("RUNNING/Running") },
    {
      name: "PENDING carrying a future scheduled time: WAIT",
      initial: s("PENDING", { details: { scheduled_time: NOW + seconds(30) } }),
      proposed: s("RUNNING"),
      expect: waited("PENDING/Pending", 30),
    },
    { name: "PENDING without a scheduled time: accepted", initial: s("PENDING"), proposed: s("RUNNING"), expect: accepted("RUNNING/Running") },
  ]);

  // Values computed with Python: math.floor(d.total_seconds()) + round(d.microseconds / 1e6).
  test.each([
    [6.7, 7],
    [6.3, 6],
    [6.5, 6],
    [2.5, 2],
    [1.5, 1],
    [0.7, 1],
    [0.5, 0],
    [0.3, 0],
    [-0.3, 0],
    [-1.7, -2],
  ])("waitSeconds(%p s) = %p, as Python computes it", (secs, expected) => {
    expect(waitSeconds(seconds(secs))).toBe(expected);
  });
});

describe("RenameReruns (shared; used by CoreTaskPolicy)", () => {
  const rows: { name: string; initial: StateSpec | null; runCount: number; result: string }[] = [
    { name: "first run keeps its name", initial: s("PENDING"), runCount: 0, result: "RUNNING/Running" },
    { name: "after AwaitingRetry: Retrying", initial: s("SCHEDULED", "AwaitingRetry"), runCount: 1, result: "RUNNING/Retrying" },
    { name: "after anything else: Rerunning", initial: s("PENDING"), runCount: 2, result: "RUNNING/Rerunning" },
    { name: "after a final state: Rerunning", initial: s("FAILED"), runCount: 1, result: "RUNNING/Rerunning" },
    { name: "no current state: unchanged", initial: null, runCount: 1, result: "RUNNING/Running" },
  ];
  test.each(rows)("task run: $name", ({ initial, runCount, result }) => {
    const ctx = runTask({ initial, proposed: s("RUNNING"), run: taskRun({ runCount }) }, only(RenameReruns));
    expectOutcome(ctx, accepted(result));
  });
  test.each(rows)("flow run: $name", ({ initial, runCount, result }) => {
    const ctx = runFlow({ initial, proposed: s("RUNNING"), run: flowRun({ runCount }) }, only(RenameReruns));
    expectOutcome(ctx, accepted(result));
  });
});

describe("EnsureOnlyScheduledFlowsMarkedLate", () => {
  table(only(EnsureOnlyScheduledFlowsMarkedLate), [
    { name: "Scheduled -> Late", initial: s("SCHEDULED"), proposed: s("SCHEDULED", "Late"), expect: accepted("SCHEDULED/Late") },
    {
      name: "Late -> Late: REJECT",
      initial: s("SCHEDULED", "Late"),
      proposed: s("SCHEDULED", "Late"),
      expect: rejected("SCHEDULED/Late", "This flow run is already marked late."),
    },
    {
      name: "PENDING -> Late: REJECT",
      initial: s("PENDING"),
      proposed: s("SCHEDULED", "Late"),
      expect: rejected("PENDING/Pending", "Only scheduled flows can be marked late."),
    },
    { name: "PENDING -> Scheduled (not Late)", initial: s("PENDING"), proposed: s("SCHEDULED"), expect: accepted("SCHEDULED/Scheduled") },
    { name: "first state named Late", initial: null, proposed: s("SCHEDULED", "Late"), expect: accepted("SCHEDULED/Late") },
  ]);
});

describe("HandlePausingFlows", () => {
  const pause = (name: string, details: Partial<StateDetails>) => s("PAUSED", { name, details });
  const suspend = (key: string) => pause("Suspended", { pause_key: key, pause_reschedule: true });
  table(only(HandlePausingFlows), [
    { name: "no state: ABORT", initial: null, proposed: pause("Paused", { pause_key: "k1" }), expect: aborted(null, "Cannot pause flows with no state.") },
    { name: "no state, suspend: ABORT", initial: null, proposed: suspend("k1"), expect: aborted(null, "Cannot suspend flows with no state.") },
    {
      name: "PENDING: REJECT, no key recorded",
      initial: s("PENDING"),
      proposed: pause("Paused", { pause_key: "k1" }),
      expect: rejected("PENDING/Pending", "Cannot pause flows that are not currently running."),
    },
    {
      name: "SCHEDULED, suspend: REJECT",
      initial: s("SCHEDULED"),
      proposed: suspend("k1"),
      run: DEPLOYED,
      expect: rejected("SCHEDULED/Scheduled", "Cannot suspend flows that are not currently running."),
    },
    {
      name: "RUNNING: accepted, key recorded",
      initial: s("RUNNING"),
      proposed: pause("Paused", { pause_key: "k1" }),
      expect: accepted("PAUSED/Paused"),
      policy: { pause_keys: ["k1"] },
    },
    {
      name: "a second pause key is added",
      initial: s("RUNNING"),
      proposed: pause("Paused", { pause_key: "k2" }),
      run: { empiricalPolicy: { pause_keys: ["k1"] } },
      expect: accepted("PAUSED/Paused"),
      policy: { pause_keys: ["k1", "k2"] },
    },
    {
      name: "a key that already fired: REJECT",
      initial: s("RUNNING"),
      proposed: pause("Paused", { pause_key: "k1" }),
      run: { empiricalPolicy: { pause_keys: ["k1"] } },
      expect: rejected("RUNNING/Running", "This pause has already fired."),
    },
    {
      name: "a suspend key that already fired: REJECT",
      initial: s("RUNNING"),
      proposed: suspend("k1"),
      run: { ...DEPLOYED, empiricalPolicy: { pause_keys: ["k1"] } },
      expect: rejected("RUNNING/Running", "This suspend has already fired."),
    },
    {
      name: "suspending a subflow: ABORT, no key recorded",
      initial: s("RUNNING"),
      proposed: suspend("k1"),
      run: { ...DEPLOYED, parentTaskRunId: PARENT_TASK_RUN_ID },
      expect: aborted("RUNNING/Running", "Cannot suspend subflows."),
    },
    {
      name: "suspending without a deployment: ABORT, no key recorded",
      initial: s("RUNNING"),
      proposed: suspend("k1"),
      expect: aborted("RUNNING/Running", "Cannot suspend flows without a deployment."),
    },
    {
      name: "a rescheduling pause not named Suspended says pause",
      initial: s("RUNNING"),
      proposed: pause("Paused", { pause_key: "k1", pause_reschedule: true }),
      expect: aborted("RUNNING/Running", "Cannot pause flows without a deployment."),
    },
    {
      name: "suspending a deployment run",
      initial: s("RUNNING"),
      proposed: suspend("k1"),
      run: DEPLOYED,
      expect: accepted("PAUSED/Suspended"),
      policy: { pause_keys: ["k1"] },
    },
    {
      name: "a pause that asks for input drops the inputs of an earlier attempt",
      initial: s("RUNNING"),
      proposed: pause("Paused", {
        pause_key: "k1",
        run_input_keyset: { response: "k1-response", schema: "k1-schema", description: "k1-description" },
      }),
      expect: accepted("PAUSED/Paused"),
      policy: { pause_keys: ["k1"] },
      effects: [{ kind: "delete_flow_run_inputs", keys: ["k1-response", "k1-schema", "k1-description"] }],
    },
  ]);

  test("without a pause_key a fresh random key is recorded", () => {
    const first = runFlow({ initial: s("RUNNING"), proposed: s("PAUSED") }, only(HandlePausingFlows));
    const second = runFlow({ initial: s("RUNNING"), proposed: s("PAUSED") }, only(HandlePausingFlows));
    const [key] = first.run.empiricalPolicy.pause_keys;
    expect(first.run.empiricalPolicy.pause_keys).toHaveLength(1);
    expect(key).toMatch(/^[0-9a-f-]{36}$/);
    expect(second.run.empiricalPolicy.pause_keys).not.toEqual([key!]);
  });
});

describe("HandleResumingPausedFlows", () => {
  const paused = (details: Partial<StateDetails> = {}) =>
    s("PAUSED", { details: { pause_key: "k", pause_timeout: NOW + seconds(60), ...details } });
  const expired = paused({ pause_timeout: NOW - seconds(1) });
  const suspended = (details: Partial<StateDetails> = {}) =>
    s("PAUSED", { name: "Suspended", details: { pause_key: "k", pause_reschedule: true, pause_timeout: NOW + seconds(3600), ...details } });
  const pausedRun: FlowRunInit = { empiricalPolicy: { pause_keys: ["k"] } };
  const suspendedRun: FlowRunInit = { ...DEPLOYED, empiricalPolicy: { pause_keys: ["k"] } };
  const resuming = { resuming: true };
  const timedOut = "The flow run pause has timed out and can no longer resume.";
  const cannot = (to: StateType) => `This run cannot transition to the StateType.${to} state from the StateType.PAUSED state.`;
  table(only(HandleResumingPausedFlows), [
    { name: "-> RUNNING: resuming", initial: paused(), proposed: s("RUNNING"), run: pausedRun, expect: accepted("RUNNING/Running"), policy: resuming },
    ...(["COMPLETED", "FAILED", "CANCELLED", "CRASHED"] as const).map(
      (type): Row => ({
        name: `-> ${type}`,
        initial: paused(),
        proposed: s(type),
        run: pausedRun,
        expect: accepted(`${type}/${type[0] + type.slice(1).toLowerCase()}`),
        policy: resuming,
      }),
    ),
    { name: "-> CANCELLING", initial: paused(), proposed: s("CANCELLING"), run: pausedRun, expect: accepted("CANCELLING/Cancelling"), policy: resuming },
    // The rule's TO_STATES include "no state", so Prefect runs its after-hook on this REJECT too.
    ...(["PENDING", "PAUSED"] as const).map(
      (type): Row => ({
        name: `-> ${type}: REJECT`,
        initial: paused(),
        proposed: s(type),
        run: pausedRun,
        expect: rejected("PAUSED/Paused", cannot(type)),
        policy: resuming,
      }),
    ),
    {
      name: "blocking pause -> SCHEDULED: a new attempt, pause keys reset",
      initial: paused(),
      proposed: s("SCHEDULED"),
      run: pausedRun,
      expect: accepted("SCHEDULED/Scheduled"),
      policy: { ...RESET, retry_type: "reschedule" },
    },
    {
      name: "blocking pause -> SCHEDULED, API 0.8.3: just resuming",
      initial: paused(),
      proposed: s("SCHEDULED"),
      run: pausedRun,
      apiVersion: "0.8.3",
      expect: accepted("SCHEDULED/Scheduled"),
      policy: resuming,
    },
    {
      name: "pause timed out -> RUNNING: REJECT with Failed",
      initial: expired,
      proposed: s("RUNNING"),
      run: pausedRun,
      expect: rejectedTo("FAILED/Failed", timedOut),
      state: { message: "The flow was running and never resumed." },
      policy: resuming,
    },
    {
      name: "pause timed out -> COMPLETED: REJECT with Failed (named after the proposal)",
      initial: expired,
      proposed: s("COMPLETED"),
      run: pausedRun,
      expect: rejectedTo("FAILED/Failed", timedOut),
      state: { message: "The flow was completed and never resumed." },
      policy: resuming,
    },
    {
      name: "pause timed out -> CANCELLING: accepted",
      initial: expired,
      proposed: s("CANCELLING"),
      run: pausedRun,
      expect: accepted("CANCELLING/Cancelling"),
      policy: resuming,
    },
    ...(
      [
        ["SCHEDULED", "Resuming", "resuming"],
        ["RUNNING", "Running", "running"],
        ["CANCELLING", "Cancelling", "cancelling"],
      ] as const
    ).map(
      ([type, name, display]): Row => ({
        name: `suspended without a deployment -> ${name}: REJECT`,
        initial: suspended(),
        proposed: s(type, name),
        run: pausedRun,
        expect: rejected("PAUSED/Suspended", `Cannot reschedule a ${display} flow run without a deployment.`),
        policy: resuming,
      }),
    ),
    {
      name: "suspended -> Resuming: resuming, pause keys kept",
      initial: suspended(),
      proposed: s("SCHEDULED", "Resuming"),
      run: suspendedRun,
      expect: accepted("SCHEDULED/Resuming"),
      policy: resuming,
    },
    {
      name: "suspend timed out -> Resuming: REJECT with Failed",
      initial: suspended({ pause_timeout: NOW - seconds(1) }),
      proposed: s("SCHEDULED", "Resuming"),
      run: suspendedRun,
      expect: rejectedTo("FAILED/Failed", timedOut),
      state: { message: "The flow was resuming and never resumed." },
      policy: resuming,
    },
  ]);
});

describe("RetryFailedFlows", () => {
  const failing = s("FAILED", { message: "boom", data: PERSISTED });
  const retrying = (runCount: number, policy: Partial<FlowRunPolicy> = {}): FlowRunInit => ({
    runCount,
    empiricalPolicy: { retries: 2, retry_delay: 10, pause_keys: ["k"], resuming: true, ...policy },
  });
  const inProcess = { ...RESET, retry_type: "in_process" as const };
  const awaitingRetry = rejectedTo("SCHEDULED/AwaitingRetry", "Retrying");
  table(only(RetryFailedFlows), [
    {
      name: "no retries configured: FAILED, retry_type cleared",
      initial: s("RUNNING"),
      proposed: failing,
      run: { runCount: 1, empiricalPolicy: { retry_type: "in_process" } },
      expect: accepted("FAILED/Failed"),
      policy: { retry_type: null },
    },
    {
      name: "first failure of 2 retries: AwaitingRetry after retry_delay, message and data kept",
      initial: s("RUNNING"),
      proposed: failing,
      run: retrying(1),
      expect: awaitingRetry,
      state: { message: "boom", data: PERSISTED, state_details: { scheduled_time: NOW + seconds(10) } },
      policy: inProcess,
    },
    {
      name: "run_count == retries: still retries",
      initial: s("RUNNING"),
      proposed: failing,
      run: retrying(2),
      expect: awaitingRetry,
      policy: inProcess,
    },
    {
      name: "retries exhausted: FAILED, retry_type cleared",
      initial: s("RUNNING"),
      proposed: failing,
      run: retrying(3, { retry_type: "in_process" }),
      expect: accepted("FAILED/Failed"),
      policy: { retry_type: null },
    },
    {
      name: "retries = 0: FAILED",
      initial: s("RUNNING"),
      proposed: failing,
      run: retrying(1, { retries: 0 }),
      expect: accepted("FAILED/Failed"),
    },
    {
      name: "no retry_delay: scheduled now",
      initial: s("RUNNING"),
      proposed: failing,
      run: retrying(1, { retry_delay: null }),
      expect: awaitingRetry,
      state: { state_details: { scheduled_time: NOW } },
      policy: inProcess,
    },
    {
      name: "fractional retry_delay",
      initial: s("RUNNING"),
      proposed: failing,
      run: retrying(1, { retry_delay: 1.5 }),
      expect: awaitingRetry,
      state: { state_details: { scheduled_time: NOW + seconds(1.5) } },
      policy: inProcess,
    },
    {
      name: "the deployment concurrency lease is carried onto AwaitingRetry",
      initial: s("RUNNING", { details: { deployment_concurrency_lease_id: "L1" } }),
      proposed: failing,
      run: retrying(1),
      expect: awaitingRetry,
      state: { state_details: { deployment_concurrency_lease_id: "L1" } },
      policy: inProcess,
    },
    {
      name: "API 0.8.3: retries without touching pause bookkeeping",
      initial: s("RUNNING"),
      proposed: failing,
      run: retrying(1),
      apiVersion: "0.8.3",
      expect: awaitingRetry,
    },
  ]);
});
