/** Response shapes shared by flow runs, task runs and their states. */
import { formatDateTime, formatNullable } from "../lib/time";
import type { OrchestrationResult } from "../orchestration/context";
import type { State, StateDetails } from "../orchestration/states";
import type { HistoryInterval } from "../runs/history";
import type { SetStateOutcome, StateProposal } from "../runs/service";
import { stateInit, type StateCreate } from "../schemas/states";

export function stateDetailsJson(details: StateDetails) {
  return {
    ...details,
    scheduled_time: formatNullable(details.scheduled_time),
    cache_expiration: formatNullable(details.cache_expiration),
    pause_timeout: formatNullable(details.pause_timeout),
  };
}

export function stateJson(state: State) {
  return {
    id: state.id,
    type: state.type,
    name: state.name,
    timestamp: formatDateTime(state.timestamp),
    message: state.message,
    data: state.data,
    state_details: stateDetailsJson(state.state_details),
  };
}

export const nullableStateJson = (state: State | null) => (state ? stateJson(state) : null);

export function orchestrationResultJson(result: OrchestrationResult) {
  return { state: nullableStateJson(result.state), status: result.status, details: result.details };
}

/** A client's proposed state, as the run services take it. */
export const stateProposal = (state: StateCreate): StateProposal => ({ type: state.type, init: stateInit(state) });

/** A set_state answer: 201 when a new state was written, 200 otherwise. */
export function setStateResponse(outcome: SetStateOutcome, set: { status?: number | string }) {
  set.status = outcome.created ? 201 : 200;
  return orchestrationResultJson(outcome.result);
}

/** A `/history` answer. */
export const historyJson = (intervals: HistoryInterval[]) =>
  intervals.map((i) => ({ interval_start: formatDateTime(i.start), interval_end: formatDateTime(i.end), states: i.states }));
