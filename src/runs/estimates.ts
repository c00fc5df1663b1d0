/** Read-time fields Prefect computes for flow and task runs. */
import type { Micros } from "../lib/time";
import { microsToSeconds } from "../lib/time";
import { isFinal, type StateType } from "../orchestration/states";

interface RunTimes {
  stateType: string | null;
  stateTimestamp: Micros | null;
  totalRunTime: Micros;
  startTime: Micros | null;
  expectedStartTime: Micros | null;
}

/** total_run_time plus the current RUNNING stint. */
export function estimatedRunTime(run: RunTimes, now: Micros): number {
  const running = run.stateType === "RUNNING" && run.stateTimestamp != null ? now - run.stateTimestamp : 0;
  return microsToSeconds(run.totalRunTime + running);
}

/** Lateness: how late it started, or how late it is while still waiting to start. */
export function estimatedStartTimeDelta(run: RunTimes, now: Micros): number {
  const { startTime, expectedStartTime } = run;
  if (startTime != null && expectedStartTime != null && startTime > expectedStartTime) {
    return microsToSeconds(startTime - expectedStartTime);
  }
  if (startTime == null && expectedStartTime != null && expectedStartTime < now && !isFinal(run.stateType as StateType | null)) {
    return microsToSeconds(now - expectedStartTime);
  }
  return 0;
}
