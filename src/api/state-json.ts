/** Response shapes shared by flow runs, task runs and their states. */
import { formatNullable } from "../lib/time";
import type { OrchestrationResult } from "../orchestration/context";
import type { State, StateDetails } from "../orchestration/states";
import { formatDateTime } from "../lib/time";

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
