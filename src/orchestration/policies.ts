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
import {
  EnforceDeploymentConcurrencyOnLate,
  ReleaseFlowConcurrencySlots,
  RemoveDeploymentConcurrencyLeaseForOldClientVersions,
  SecureFlowConcurrencySlots,
  ValidateDeploymentConcurrencyAtRunning,
} from "./rules/deployment-concurrency";
import { CopyScheduledTime, PreventPendingTransitions, RenameReruns, WaitForScheduledTime } from "./rules/shared";
import { InstrumentFlowRunStateTransitions } from "./instrumentation";
import { ReleaseTaskConcurrencySlots, SecureTaskConcurrencySlots } from "./rules/tag-concurrency";
import { CopyTaskParametersID, EnqueueScheduledTasks } from "./rules/background-tasks";
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
    ValidateDeploymentConcurrencyAtRunning,
    SecureFlowConcurrencySlots,
    RemoveDeploymentConcurrencyLeaseForOldClientVersions,
    EnsureOnlyScheduledFlowsMarkedLate,
    HandlePausingFlows,
    HandleResumingPausedFlows,
    CopyScheduledTime,
    WaitForScheduledTime,
    RetryFailedFlows,
    InstrumentFlowRunStateTransitions,
    ReleaseFlowConcurrencySlots,
  ],
};

/** `force: true` and the initial state of a new flow run. */
export const MinimalFlowPolicy: Policy<FlowRunSnapshot> = {
  name: "MinimalFlowPolicy",
  entries: [
    PreserveDeploymentConcurrencyLeaseId,
    PreventResultDataLoss,
    BypassCancellingFlowRunsWithNoInfra,
    InstrumentFlowRunStateTransitions,
    ReleaseFlowConcurrencySlots,
  ],
};

/** The late-runs service's policy: the Late guard, and CANCEL_NEW deployments with a full limit cancel instead. */
export const MarkLateRunsPolicy: Policy<FlowRunSnapshot> = {
  name: "MarkLateRunsPolicy",
  entries: [EnsureOnlyScheduledFlowsMarkedLate, EnforceDeploymentConcurrencyOnLate, InstrumentFlowRunStateTransitions],
};

export const CoreTaskPolicy: Policy<TaskRunSnapshot> = {
  name: "CoreTaskPolicy",
  entries: [
    CacheRetrieval,
    HandleTaskTerminalStateTransitions,
    PreventRunningTasksFromStoppedFlows,
    SecureTaskConcurrencySlots, // after CacheRetrieval: cached states are retrieved even when slots are full
    CopyScheduledTime,
    WaitForScheduledTime,
    RetryFailedTasks,
    RenameReruns,
    UpdateFlowRunTrackerOnTasks,
    CacheInsertion,
    ReleaseTaskConcurrencySlots,
  ],
};

/** `force: true` and the initial state of a new task run. */
export const MinimalTaskPolicy: Policy<TaskRunSnapshot> = { name: "MinimalTaskPolicy", entries: [ReleaseTaskConcurrencySlots] };

/**
 * Any proposal whose state is deferred (background task runs, forced or not): CoreTaskPolicy
 * without tag concurrency, with PENDING guarded (a task run is claimed once), the parameters
 * id carried along and scheduled runs queued for the task workers.
 */
export const BackgroundTaskPolicy: Policy<TaskRunSnapshot> = {
  name: "BackgroundTaskPolicy",
  entries: [
    PreventPendingTransitions,
    CacheRetrieval,
    HandleTaskTerminalStateTransitions,
    CopyScheduledTime,
    CopyTaskParametersID,
    WaitForScheduledTime,
    RetryFailedTasks,
    RenameReruns,
    UpdateFlowRunTrackerOnTasks,
    CacheInsertion,
    ReleaseTaskConcurrencySlots,
    EnqueueScheduledTasks,
  ],
};
