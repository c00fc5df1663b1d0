/** Prefect's state model (schemas/states.py), in the server's own units (micros for instants). */
import type { JsonValue } from "../lib/json";
import type { Micros } from "../lib/time";

export const STATE_TYPES = [
  "SCHEDULED",
  "PENDING",
  "RUNNING",
  "COMPLETED",
  "FAILED",
  "CANCELLED",
  "CRASHED",
  "PAUSED",
  "CANCELLING",
] as const;
export type StateType = (typeof STATE_TYPES)[number];

export const TERMINAL_STATES: ReadonlySet<StateType> = new Set(["COMPLETED", "FAILED", "CANCELLED", "CRASHED"]);
export const isFinal = (type: StateType | null | undefined): boolean => type != null && TERMINAL_STATES.has(type);
export const NON_TERMINAL_STATES: readonly StateType[] = STATE_TYPES.filter((type) => !TERMINAL_STATES.has(type));

export interface StateDetails {
  flow_run_id: string | null;
  task_run_id: string | null;
  child_flow_run_id: string | null;
  scheduled_time: Micros | null;
  cache_key: string | null;
  cache_expiration: Micros | null;
  deferred: boolean | null;
  untrackable_result: boolean;
  pause_timeout: Micros | null;
  pause_reschedule: boolean;
  pause_key: string | null;
  run_input_keyset: Record<string, string> | null;
  refresh_cache: boolean | null;
  retriable: boolean | null;
  transition_id: string | null;
  task_parameters_id: string | null;
  traceparent: string | null;
  deployment_concurrency_lease_id: string | null;
}

export const emptyStateDetails = (): StateDetails => ({
  flow_run_id: null,
  task_run_id: null,
  child_flow_run_id: null,
  scheduled_time: null,
  cache_key: null,
  cache_expiration: null,
  deferred: false,
  untrackable_result: false,
  pause_timeout: null,
  pause_reschedule: false,
  pause_key: null,
  run_input_keyset: null,
  refresh_cache: null,
  retriable: null,
  transition_id: null,
  task_parameters_id: null,
  traceparent: null,
  deployment_concurrency_lease_id: null,
});

export interface State {
  id: string;
  type: StateType;
  name: string;
  timestamp: Micros;
  message: string | null;
  data: JsonValue | null;
  state_details: StateDetails;
}

/** `COMPLETED` -> `Completed`, as Prefect names a state that was proposed without a name. */
export function defaultStateName(type: StateType): string {
  return type
    .toLowerCase()
    .split("_")
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join(" ");
}

export interface StateInit {
  name?: string | null;
  message?: string | null;
  data?: JsonValue | null;
  state_details?: Partial<StateDetails>;
}

/** A new server-side state: fresh UUIDv7 id, server timestamp, default name. */
export function newState(type: StateType, now: Micros, init: StateInit = {}): State {
  const details = { ...emptyStateDetails(), ...init.state_details };
  if (type === "SCHEDULED" && details.scheduled_time == null) details.scheduled_time = now;
  return {
    id: Bun.randomUUIDv7(),
    type,
    name: init.name ?? defaultStateName(type),
    timestamp: now,
    message: init.message ?? null,
    data: init.data ?? null,
    state_details: details,
  };
}

/** The same state with a new identity and timestamp (Prefect's `fresh_copy`). */
export function freshCopy(state: State, now: Micros): State {
  return { ...state, id: Bun.randomUUIDv7(), timestamp: now, state_details: { ...state.state_details } };
}

/** Result data counts as persisted unless the client marked it `unpersisted`. */
export function hasPersistedResult(data: JsonValue | null): boolean {
  return typeof data === "object" && data !== null && !Array.isArray(data) && data.type !== "unpersisted";
}

/**
 * Whether a run's current state holds persisted result data. Prefect tests
 * `initial_state.data and ...` first, so an empty object does not count.
 */
export function carriesPersistedResult(state: State): boolean {
  return hasPersistedResult(state.data) && Object.keys(state.data ?? {}).length > 0;
}
