/**
 * Builders for orchestration tests: run snapshots, states from compact specs,
 * one-call `orchestrate` runners and a summary of the decision for table rows.
 */
import { expect } from "bun:test";
import type { JsonValue } from "../../src/lib/json";
import type { Micros } from "../../src/lib/time";
import {
  OrchestrationContext,
  type FlowRunPolicy,
  type FlowRunSnapshot,
  type ParentFlowRun,
  type SetStateStatus,
  type TaskRunPolicy,
  type TaskRunSnapshot,
} from "../../src/orchestration/context";
import { orchestrate, type Policy, type PolicyEntry, type UniversalTransform } from "../../src/orchestration/engine";
import { CoreFlowPolicy, CoreTaskPolicy, MinimalFlowPolicy } from "../../src/orchestration/policies";
import { newState, type State, type StateDetails, type StateType } from "../../src/orchestration/states";
import { GlobalFlowPolicy, GlobalTaskPolicy } from "../../src/orchestration/transforms";

/** The server clock of every decision unless a row says otherwise (2025-06-15T10:00:00Z). */
export const NOW: Micros = Date.UTC(2025, 5, 15, 10) * 1000;
export const seconds = (s: number): Micros => Math.round(s * 1_000_000);

export const FLOW_RUN_ID = "0197a000-0000-7000-8000-000000000001";
export const TASK_RUN_ID = "0197a000-0000-7000-8000-000000000002";
export const DEPLOYMENT_ID = "0197a000-0000-7000-8000-000000000003";
export const WORK_QUEUE_ID = "0197a000-0000-7000-8000-000000000004";
export const PARENT_TASK_RUN_ID = "0197a000-0000-7000-8000-000000000005";

/** Persisted result metadata as a client sends it. */
export const PERSISTED = { type: "reference", storage_key: "/results/abc" } satisfies JsonValue;
export const UNPERSISTED = { type: "unpersisted" } satisfies JsonValue;

// ---------------------------------------------------------------- states

/** A state described by type and the parts a row cares about; `at` defaults per role. */
export interface StateSpec {
  type: StateType;
  name?: string;
  message?: string;
  data?: JsonValue;
  details?: Partial<StateDetails>;
  at?: Micros;
}

/** `s("PENDING")`, `s("PENDING", "Submitting")`, `s("SCHEDULED", { details: { scheduled_time } })`. */
export function s(type: StateType, nameOrInit: string | Omit<StateSpec, "type"> = {}): StateSpec {
  return typeof nameOrInit === "string" ? { type, name: nameOrInit } : { type, ...nameOrInit };
}

function buildState(spec: StateSpec, defaultAt: Micros): State {
  return newState(spec.type, spec.at ?? defaultAt, {
    name: spec.name,
    message: spec.message,
    data: spec.data,
    state_details: spec.details,
  });
}

/** `TYPE/Name`, the compact form tables use for states. */
export const label = (state: State | null): string | null => (state ? `${state.type}/${state.name}` : null);

// ---------------------------------------------------------------- runs

export type FlowRunInit = Partial<Omit<FlowRunSnapshot, "kind" | "empiricalPolicy">> & {
  empiricalPolicy?: Partial<FlowRunPolicy>;
};

export function flowRun(init: FlowRunInit = {}): FlowRunSnapshot {
  const { empiricalPolicy, ...fields } = init;
  return {
    kind: "flow_run",
    id: FLOW_RUN_ID,
    stateType: null,
    stateName: null,
    stateTimestamp: null,
    runCount: 0,
    startTime: null,
    endTime: null,
    totalRunTime: 0,
    expectedStartTime: null,
    nextScheduledStartTime: null,
    deploymentId: null,
    workQueueId: null,
    parentTaskRunId: null,
    infrastructurePid: null,
    ...fields,
    empiricalPolicy: {
      max_retries: 0,
      retry_delay_seconds: 0,
      retries: null,
      retry_delay: null,
      pause_keys: [],
      resuming: false,
      retry_type: null,
      ...empiricalPolicy,
    },
  };
}

export type TaskRunInit = Partial<Omit<TaskRunSnapshot, "kind" | "empiricalPolicy">> & {
  empiricalPolicy?: Partial<TaskRunPolicy>;
};

export function taskRun(init: TaskRunInit = {}): TaskRunSnapshot {
  const { empiricalPolicy, ...fields } = init;
  return {
    kind: "task_run",
    id: TASK_RUN_ID,
    stateType: null,
    stateName: null,
    stateTimestamp: null,
    runCount: 0,
    startTime: null,
    endTime: null,
    totalRunTime: 0,
    expectedStartTime: null,
    nextScheduledStartTime: null,
    flowRunId: FLOW_RUN_ID,
    taskKey: "my_task-abc123",
    tags: [],
    flowRunRunCount: 1, // a task of the first attempt of its flow run (see parentFlow)
    ...fields,
    empiricalPolicy: {
      max_retries: 0,
      retry_delay_seconds: 0,
      retries: null,
      retry_delay: null,
      retry_jitter_factor: null,
      ...empiricalPolicy,
    },
  };
}

/** The enclosing flow run a task rule sees; RUNNING unless told otherwise. */
export function parentFlow(state: StateSpec | null = s("RUNNING"), runCount = 1): ParentFlowRun {
  return { id: FLOW_RUN_ID, runCount, state: state && buildState(state, NOW - seconds(30)) };
}

// ---------------------------------------------------------------- running orchestration

/** A policy of exactly these entries, to test rules in isolation. */
export function only<R extends FlowRunSnapshot | TaskRunSnapshot>(...entries: PolicyEntry<R>[]): Policy<R> {
  return { name: "TestPolicy", entries };
}

interface Transition<R> {
  initial: StateSpec | null;
  proposed: StateSpec;
  run?: R;
  now?: Micros;
  apiVersion?: string;
}

/** Initial states default to a minute before `now`, proposals to `now`. */
function context<R extends FlowRunSnapshot | TaskRunSnapshot>(
  t: Transition<R>,
  run: R,
  extras: OrchestrationContext<R>["extras"],
): OrchestrationContext<R> {
  const now = t.now ?? NOW;
  const initial = t.initial && buildState(t.initial, now - seconds(60));
  return new OrchestrationContext(run, initial, buildState(t.proposed, now), now, { apiVersion: t.apiVersion, ...extras });
}

export function runFlow(
  t: Transition<FlowRunSnapshot>,
  policy: Policy<FlowRunSnapshot> = CoreFlowPolicy,
  globals: readonly UniversalTransform<FlowRunSnapshot>[] = [],
): OrchestrationContext<FlowRunSnapshot> {
  const ctx = context(t, t.run ?? flowRun(), {});
  orchestrate(ctx, policy, globals);
  return ctx;
}

interface TaskTransition extends Transition<TaskRunSnapshot> {
  parent?: ParentFlowRun | null;
  cached?: StateSpec;
}

export function runTask(
  t: TaskTransition,
  policy: Policy<TaskRunSnapshot> = CoreTaskPolicy,
  globals: readonly UniversalTransform<TaskRunSnapshot>[] = [],
): OrchestrationContext<TaskRunSnapshot> {
  const ctx = context(t, t.run ?? taskRun(), {
    parentFlowRun: t.parent === undefined ? parentFlow() : t.parent,
    cachedState: t.cached ? buildState(t.cached, NOW - seconds(3600)) : null,
  });
  orchestrate(ctx, policy, globals);
  return ctx;
}

// ---------------------------------------------------------------- expectations

/** What a client sees of a decision: status, reason, the state it gets back, whether one was written. */
export interface Outcome {
  status: SetStateStatus;
  reason: string | null;
  /** The response state (`TYPE/Name`): the written one, else the current one. */
  result: string | null;
  written: boolean;
  delay?: number;
}

export function outcome(ctx: OrchestrationContext): Outcome {
  const d = ctx.details;
  return {
    status: ctx.status,
    reason: d.type === "accept_details" ? null : d.reason,
    result: label(ctx.resultState),
    written: ctx.validatedState !== null,
    ...(d.type === "wait_details" ? { delay: d.delay_seconds } : {}),
  };
}

export const accepted = (result: string): Outcome => ({ status: "ACCEPT", reason: null, result, written: true });
/** Rejected with a replacement state, which is written. */
export const rejectedTo = (result: string, reason: string): Outcome => ({ status: "REJECT", reason, result, written: true });
/** Rejected without a state: nothing written, the current state comes back. */
export const rejected = (current: string, reason: string): Outcome => ({ status: "REJECT", reason, result: current, written: false });
export const aborted = (current: string | null, reason: string): Outcome => ({ status: "ABORT", reason, result: current, written: false });
export const waited = (current: string, delay: number, reason = "Scheduled time is in the future"): Outcome => ({
  status: "WAIT",
  reason,
  result: current,
  written: false,
  delay,
});

export function expectOutcome(ctx: OrchestrationContext, expected: Outcome): void {
  expect(outcome(ctx)).toEqual(expected);
}

// ---------------------------------------------------------------- lifecycles

/** Drives one flow run through successive proposals, each at its own server time. */
export class FlowLifecycle {
  current: State | null = null;

  constructor(readonly run: FlowRunSnapshot = flowRun()) {}

  propose(spec: StateSpec, at: Micros, opts: { force?: boolean; apiVersion?: string } = {}): OrchestrationContext<FlowRunSnapshot> {
    const ctx = new OrchestrationContext(this.run, this.current, buildState(spec, at), at, { apiVersion: opts.apiVersion });
    orchestrate(ctx, opts.force ? MinimalFlowPolicy : CoreFlowPolicy, GlobalFlowPolicy);
    this.current = ctx.resultState;
    return ctx;
  }
}

/** The same for a task run inside a flow run that is RUNNING unless changed. */
export class TaskLifecycle {
  current: State | null = null;
  parent: ParentFlowRun = parentFlow();

  constructor(readonly run: TaskRunSnapshot = taskRun()) {}

  propose(spec: StateSpec, at: Micros): OrchestrationContext<TaskRunSnapshot> {
    const ctx = new OrchestrationContext(this.run, this.current, buildState(spec, at), at, { parentFlowRun: this.parent });
    orchestrate(ctx, CoreTaskPolicy, GlobalTaskPolicy);
    this.current = ctx.resultState;
    return ctx;
  }
}
