/**
 * Policies are ordered lists of rules (Prefect's orchestration/core_policy.py).
 * Rules that need deployment or tag concurrency limits join these lists in the
 * issues that bring those objects.
 */
import type { Policy } from "./engine";
import type { FlowRunSnapshot, TaskRunSnapshot } from "./context";
import {
  BypassCancellingFlowRunsWithNoInfra,
  EnforceCancellingToCancelledTransition,
  EnsureOnlyScheduledFlowsMarkedLate,
  HandleFlowTerminalStateTransitions,
  HandlePausingFlows,
  HandleResumingPausedFlows,
  PreserveDeploymentConcurrencyLeaseId,
  PreventDuplicateTransitions,
  PreventResultDataLoss,
  RetryFailedFlows,
} from "./rules/flow-runs";
import { CopyScheduledTime, PreventPendingTransitions, RenameReruns, WaitForScheduledTime } from "./rules/shared";
import {
  CacheInsertion,
  CacheRetrieval,
  HandleTaskTerminalStateTransitions,
  PreventRunningTasksFromStoppedFlows,
  RetryFailedTasks,
  UpdateFlowRunTrackerOnTasks,
} from "./rules/task-runs";

export const CoreFlowPolicy: Policy<FlowRunSnapshot> = {
  name: "CoreFlowPolicy",
  entries: [
    PreserveDeploymentConcurrencyLeaseId,
    PreventDuplicateTransitions,
    HandleFlowTerminalStateTransitions,
    EnforceCancellingToCancelledTransition,
    BypassCancellingFlowRunsWithNoInfra,
    PreventPendingTransitions,
    EnsureOnlyScheduledFlowsMarkedLate,
    HandlePausingFlows,
    HandleResumingPausedFlows,
    CopyScheduledTime,
    WaitForScheduledTime,
    RetryFailedFlows,
  ],
};

/** `force: true` and the initial state of a new flow run. */
export const MinimalFlowPolicy: Policy<FlowRunSnapshot> = {
  name: "MinimalFlowPolicy",
  entries: [PreserveDeploymentConcurrencyLeaseId, PreventResultDataLoss, BypassCancellingFlowRunsWithNoInfra],
};

export const CoreTaskPolicy: Policy<TaskRunSnapshot> = {
  name: "CoreTaskPolicy",
  entries: [
    CacheRetrieval,
    HandleTaskTerminalStateTransitions,
    PreventRunningTasksFromStoppedFlows,
    CopyScheduledTime,
    WaitForScheduledTime,
    RetryFailedTasks,
    RenameReruns,
    UpdateFlowRunTrackerOnTasks,
    CacheInsertion,
  ],
};

/** `force: true` and the initial state of a new task run. */
export const MinimalTaskPolicy: Policy<TaskRunSnapshot> = { name: "MinimalTaskPolicy", entries: [] };
