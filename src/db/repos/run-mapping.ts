/** Row <-> domain conversions for runs and their states (what orchestration sees). */
import type { JsonObject } from "../../lib/json";
import { flowRunPolicy, taskRunPolicy } from "../../domain/run-policies";
import type { FlowRunSnapshot, TaskRunSnapshot } from "../../orchestration/context";
import { emptyStateDetails, type State, type StateDetails, type StateType } from "../../orchestration/states";
import type { flowRun, flowRunState, taskRun, taskRunState } from "../schema";

export type FlowRunRow = typeof flowRun.$inferSelect;
export type TaskRunRow = typeof taskRun.$inferSelect;
export type StateRow = typeof flowRunState.$inferSelect | typeof taskRunState.$inferSelect;

/**
 * A run as a background service selected it: its id and the state it was in then.
 * The service's transition applies only if the run is still in that state.
 */
export interface RunStateRef {
  id: string;
  stateId: string | null;
}

export function stateFromRow(row: StateRow): State {
  return {
    id: row.id,
    type: row.type as StateType,
    name: row.name,
    timestamp: row.timestamp,
    message: row.message,
    data: row.data ?? null,
    state_details: { ...emptyStateDetails(), ...(row.stateDetails as Partial<StateDetails>) },
  };
}

export function stateRowValues(state: State) {
  return {
    id: state.id,
    created: state.timestamp,
    updated: state.timestamp,
    type: state.type,
    name: state.name,
    timestamp: state.timestamp,
    message: state.message,
    data: state.data,
    stateDetails: state.state_details as unknown as JsonObject,
  };
}

const bookkeeping = (row: FlowRunRow | TaskRunRow) => ({
  id: row.id,
  stateType: row.stateType as StateType | null,
  stateName: row.stateName,
  stateTimestamp: row.stateTimestamp,
  runCount: row.runCount,
  startTime: row.startTime,
  endTime: row.endTime,
  totalRunTime: row.totalRunTime,
  expectedStartTime: row.expectedStartTime,
  nextScheduledStartTime: row.nextScheduledStartTime,
});

export function flowRunSnapshot(row: FlowRunRow): FlowRunSnapshot {
  return {
    kind: "flow_run",
    ...bookkeeping(row),
    deploymentId: row.deploymentId,
    workQueueId: row.workQueueId,
    parentTaskRunId: row.parentTaskRunId,
    infrastructurePid: row.infrastructurePid,
    empiricalPolicy: flowRunPolicy(row.empiricalPolicy),
  };
}

export function taskRunSnapshot(row: TaskRunRow): TaskRunSnapshot {
  return {
    kind: "task_run",
    ...bookkeeping(row),
    flowRunId: row.flowRunId,
    taskKey: row.taskKey,
    tags: row.tags,
    flowRunRunCount: row.flowRunRunCount,
    empiricalPolicy: taskRunPolicy(row.empiricalPolicy),
  };
}

/** The run columns orchestration may change. */
export function bookkeepingValues(run: FlowRunSnapshot | TaskRunSnapshot) {
  return {
    stateType: run.stateType,
    stateName: run.stateName,
    stateTimestamp: run.stateTimestamp,
    runCount: run.runCount,
    startTime: run.startTime,
    endTime: run.endTime,
    totalRunTime: run.totalRunTime,
    expectedStartTime: run.expectedStartTime,
    nextScheduledStartTime: run.nextScheduledStartTime,
    empiricalPolicy: run.empiricalPolicy as unknown as JsonObject,
  };
}
