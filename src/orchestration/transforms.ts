/**
 * Global bookkeeping transforms (orchestration/global_policy.py): applied to every
 * transition that writes a state, after the policy's rules, in this order.
 */
import type { UniversalTransform } from "./engine";
import { apiVersionBelow, type FlowRunSnapshot, type RunSnapshot, type TaskRunSnapshot } from "./context";
import { freshCopy, isFinal } from "./states";

/**
 * A run's states never share a timestamp (coarse clocks mint equal ones): the proposal
 * that survives the rules moves to the first free microsecond. First, so the
 * transforms that read the timestamp see the adjusted one.
 */
const EnsureStateTimestampIsUnique: UniversalTransform = {
  name: "EnsureStateTimestampIsUnique",
  before(ctx, proposed) {
    const taken = ctx.extras.takenTimestamps;
    if (!taken) return;
    while (taken.has(proposed.timestamp)) proposed.timestamp += 1;
  },
};

const SetRunStateType: UniversalTransform = {
  name: "SetRunStateType",
  before: (ctx, proposed) => void (ctx.run.stateType = proposed.type),
};

const SetRunStateName: UniversalTransform = {
  name: "SetRunStateName",
  before: (ctx, proposed) => void (ctx.run.stateName = proposed.name),
};

const SetRunStateTimestamp: UniversalTransform = {
  name: "SetRunStateTimestamp",
  before: (ctx, proposed) => void (ctx.run.stateTimestamp = proposed.timestamp),
};

const SetStartTime: UniversalTransform = {
  name: "SetStartTime",
  before(ctx, proposed) {
    if (proposed.type === "RUNNING" && ctx.run.startTime == null) ctx.run.startTime = proposed.timestamp;
  },
};

/** Entering a final state records the end (and a start, if it never ran); leaving one clears the end. */
const SetEndTime: UniversalTransform = {
  name: "SetEndTime",
  before(ctx, proposed) {
    if (isFinal(ctx.initialType) && !isFinal(proposed.type)) ctx.run.endTime = null;
    if (isFinal(proposed.type) && ctx.run.endTime == null) {
      ctx.run.startTime ??= proposed.timestamp;
      ctx.run.endTime = proposed.timestamp;
    }
  },
};

const IncrementRunTime: UniversalTransform = {
  name: "IncrementRunTime",
  before(ctx, proposed) {
    if (ctx.initialState?.type === "RUNNING") ctx.run.totalRunTime += proposed.timestamp - ctx.initialState.timestamp;
  },
};

const SetExpectedStartTime: UniversalTransform = {
  name: "SetExpectedStartTime",
  before(ctx, proposed) {
    if (ctx.run.expectedStartTime) return;
    ctx.run.expectedStartTime = proposed.type === "SCHEDULED" ? proposed.state_details.scheduled_time : proposed.timestamp;
  },
};

const SetNextScheduledStartTime: UniversalTransform = {
  name: "SetNextScheduledStartTime",
  before(ctx, proposed) {
    if (ctx.initialState?.type === "SCHEDULED") ctx.run.nextScheduledStartTime = null;
    if (proposed.type === "SCHEDULED") ctx.run.nextScheduledStartTime = proposed.state_details.scheduled_time;
  },
};

const UpdateStateDetails: UniversalTransform = {
  name: "UpdateStateDetails",
  before(ctx, proposed) {
    const run = ctx.run;
    if (run.kind === "flow_run") {
      proposed.state_details.flow_run_id = run.id;
    } else {
      proposed.state_details.flow_run_id = run.flowRunId;
      proposed.state_details.task_run_id = run.id;
    }
  },
};

const COMMON: UniversalTransform[] = [
  SetRunStateType,
  SetRunStateName,
  SetRunStateTimestamp,
  SetStartTime,
  SetEndTime,
  IncrementRunTime,
  SetExpectedStartTime,
  SetNextScheduledStartTime,
  UpdateStateDetails,
];

/** A subflow's new state is mirrored onto its parent's tracking task run. */
const UpdateSubflowParentTask: UniversalTransform<FlowRunSnapshot> = {
  name: "UpdateSubflowParentTask",
  after(ctx, validated) {
    const taskRunId = ctx.run.parentTaskRunId;
    if (taskRunId === null) return;
    const mirrored = freshCopy(validated, ctx.now);
    mirrored.state_details.child_flow_run_id = ctx.run.id;
    ctx.effects.push({ kind: "set_parent_task_state", taskRunId, state: mirrored });
  },
};

const UpdateSubflowStateDetails: UniversalTransform<FlowRunSnapshot> = {
  name: "UpdateSubflowStateDetails",
  before(ctx, proposed) {
    if (ctx.run.parentTaskRunId !== null) proposed.state_details.task_run_id = ctx.run.parentTaskRunId;
  },
};

/** Counts entries into RUNNING, except the re-entry of a resumed pause. */
const IncrementFlowRunCount: UniversalTransform<FlowRunSnapshot> = {
  name: "IncrementFlowRunCount",
  before(ctx, proposed) {
    if (proposed.type !== "RUNNING") return;
    if (!apiVersionBelow(ctx.extras.apiVersion, "0.8.4") && ctx.run.empiricalPolicy.resuming) return;
    ctx.run.runCount += 1;
  },
};

const RemoveResumingIndicator: UniversalTransform<FlowRunSnapshot> = {
  name: "RemoveResumingIndicator",
  before(ctx, proposed) {
    if (apiVersionBelow(ctx.extras.apiVersion, "0.8.4")) return;
    if ((proposed.type === "RUNNING" || isFinal(proposed.type)) && ctx.run.empiricalPolicy.resuming) {
      ctx.run.empiricalPolicy.resuming = false;
    }
  },
};

const IncrementTaskRunCount: UniversalTransform<TaskRunSnapshot> = {
  name: "IncrementTaskRunCount",
  before(ctx, proposed) {
    if (proposed.type === "RUNNING") ctx.run.runCount += 1;
  },
};

const asFlow = (t: UniversalTransform<RunSnapshot>) => t as UniversalTransform<FlowRunSnapshot>;
const asTask = (t: UniversalTransform<RunSnapshot>) => t as UniversalTransform<TaskRunSnapshot>;

/** Prefect's EnsureFlowRunStateTimestampIsUnique comes first. */
export const GlobalFlowPolicy: readonly UniversalTransform<FlowRunSnapshot>[] = [
  asFlow({ ...EnsureStateTimestampIsUnique, name: "EnsureFlowRunStateTimestampIsUnique" }),
  ...COMMON.map(asFlow),
  UpdateSubflowParentTask,
  UpdateSubflowStateDetails,
  IncrementFlowRunCount,
  RemoveResumingIndicator,
];

/**
 * Prefect has no timestamp transform for task runs, but its (task_run_id, timestamp)
 * index is unique as well: the same transform keeps a collision from failing the write.
 */
export const GlobalTaskPolicy: readonly UniversalTransform<TaskRunSnapshot>[] = [
  asTask({ ...EnsureStateTimestampIsUnique, name: "EnsureTaskRunStateTimestampIsUnique" }),
  ...COMMON.map(asTask),
  IncrementTaskRunCount,
];
