/**
 * What one set_state decision sees and produces. The data layer loads a context
 * inside a transaction, the engine mutates it through the policy's rules, and
 * the data layer writes back the run, the validated state and the effects.
 */
import type { Micros } from "../lib/time";
import type { State, StateType } from "./states";

export type SetStateStatus = "ACCEPT" | "REJECT" | "ABORT" | "WAIT";

export type ResponseDetails =
  | { type: "accept_details" }
  | { type: "reject_details"; reason: string | null }
  | { type: "abort_details"; reason: string | null }
  | { type: "wait_details"; delay_seconds: number; reason: string | null };

export interface FlowRunPolicy {
  max_retries: number;
  retry_delay_seconds: number;
  retries: number | null;
  retry_delay: number | null;
  pause_keys: string[];
  resuming: boolean;
  retry_type: "in_process" | "reschedule" | null;
}

export interface TaskRunPolicy {
  max_retries: number;
  retry_delay_seconds: number;
  retries: number | null;
  retry_delay: number | number[] | null;
  retry_jitter_factor: number | null;
}

/** The run bookkeeping columns every run kind has (what the global transforms maintain). */
export interface RunBookkeeping {
  id: string;
  stateType: StateType | null;
  stateName: string | null;
  stateTimestamp: Micros | null;
  runCount: number;
  startTime: Micros | null;
  endTime: Micros | null;
  totalRunTime: Micros;
  expectedStartTime: Micros | null;
  nextScheduledStartTime: Micros | null;
}

export interface FlowRunSnapshot extends RunBookkeeping {
  kind: "flow_run";
  deploymentId: string | null;
  workQueueId: string | null;
  parentTaskRunId: string | null;
  infrastructurePid: string | null;
  empiricalPolicy: FlowRunPolicy;
}

export interface TaskRunSnapshot extends RunBookkeeping {
  kind: "task_run";
  flowRunId: string | null;
  taskKey: string;
  tags: string[];
  flowRunRunCount: number;
  empiricalPolicy: TaskRunPolicy;
}

export type RunSnapshot = FlowRunSnapshot | TaskRunSnapshot;

/** The enclosing flow run of a task run, as the task rules need it. */
export interface ParentFlowRun {
  id: string;
  runCount: number;
  state: State | null;
}

/** Writes the engine asks for beyond the run row and its new state. */
export type OrchestrationEffect =
  /** Mirror a subflow's new state onto its parent's tracking task run (forced). */
  | { kind: "set_parent_task_state"; taskRunId: string; state: State }
  /** Remember a completed task state under its cache key. */
  | { kind: "insert_cache"; cacheKey: string; cacheExpiration: Micros | null; stateId: string }
  /** Drop flow-run inputs left by an earlier pause that asked for input. */
  | { kind: "delete_flow_run_inputs"; keys: string[] }
  /** Hand a scheduled background task run to the task workers once the transition commits (retries go first). */
  | { kind: "enqueue_task_run"; retry: boolean };

/**
 * A written state change to announce as an event (InstrumentFlowRunStateTransitions). The
 * data layer builds and publishes the event once the transition's transaction commits.
 */
export interface StateChangeNotice {
  initialState: State | null;
  validatedState: State;
}

/** A deployment's concurrency settings, as the deployment-concurrency rules read them. */
export interface DeploymentConcurrencySettings {
  /** The `deployment:<id>` (or global) v2 limit, or null when the deployment has none. */
  limitId: string | null;
  limit: number | null;
  /** Slots held on that limit at the decision time, active or not (0 without a limit). */
  activeSlots: number;
  collisionStrategy: "ENQUEUE" | "CANCEL_NEW";
  /** Lease TTL; Prefect's initial deployment lease duration when the deployment sets none. */
  leaseSeconds: number;
}

/**
 * What the deployment-concurrency rules may ask of storage. The data layer implements
 * it inside the transition's transaction, so rules stay free of SQL and tests can fake it.
 */
export interface DeploymentConcurrencyPort {
  /** Settings of the run's deployment; null when the deployment no longer exists. */
  readonly deployment: DeploymentConcurrencySettings | null;
  tryAcquireSlot(limitId: string): boolean;
  createLease(limitId: string, ttlSeconds: number, holderRunId: string | null): string;
  renewLease(leaseId: string, ttlSeconds: number): boolean;
  /** Releases the lease's slots and deletes it; without the lease, gives one slot back on `fallbackLimitId`. */
  releaseLease(leaseId: string, fallbackLimitId: string | null): void;
  releaseSlot(limitId: string): void;
  /** Forgets a lease without giving its slot back (old clients cannot renew leases). */
  revokeLease(leaseId: string): void;
}

/** A `tag:<tag>` global limit as the task-run tag-concurrency rules read it. */
export interface TagLimitView {
  id: string;
  /** The tag, without the `tag:` prefix. */
  tag: string;
  limit: number;
  active: boolean;
  /** Slots held at the decision time. */
  activeSlots: number;
  avgSlotOccupancySeconds: number;
}

/**
 * What the tag-concurrency rules may ask of storage (the data layer loads the run's
 * tag limits before the policy runs and applies the recorded effects after it).
 */
export interface TagConcurrencyPort {
  /** The `tag:<tag>` limits of the run's tags, as stored (inactive ones included). */
  readonly limits: readonly TagLimitView[];
  /** Takes one slot on each limit under one lease held by the run, or none; the lease id, or null when a limit is full. */
  tryAcquire(limitIds: string[], holderRunId: string): string | null;
  releaseLease(leaseId: string): void;
  /** Gives back every lease the run holds on its tag limits. */
  releaseHeld(holderRunId: string): void;
}

export class OrchestrationContext<R extends RunSnapshot = RunSnapshot> {
  status: SetStateStatus = "ACCEPT";
  details: ResponseDetails = { type: "accept_details" };
  validatedState: State | null = null;
  readonly effects: OrchestrationEffect[] = [];
  readonly stateChanges: StateChangeNotice[] = [];
  /** Set when a rule's before-hook threw: universal transforms then skip their after-hooks. */
  error: unknown = null;

  constructor(
    /** Mutable working copy of the run; the data layer persists whatever changed. */
    public run: R,
    public readonly initialState: State | null,
    public proposedState: State | null,
    /** Server time of the decision. */
    public readonly now: Micros,
    readonly extras: {
      /** X-PREFECT-API-VERSION of the request; absent means latest. */
      apiVersion?: string | null;
      /** The Prefect client's version from its User-Agent; null when unknown. */
      clientVersion?: string | null;
      /** Flow runs of deployments: the deployment's concurrency limit and slot operations. */
      deploymentConcurrency?: DeploymentConcurrencyPort | null;
      /**
       * Timestamps of the run's stored states from the earliest a surviving proposal can
       * carry (the proposal's or the decision time) on: a new state must not share one.
       */
      takenTimestamps?: ReadonlySet<Micros>;
      /** Task runs with tags: their `tag:<tag>` limits and slot operations. */
      tagConcurrency?: TagConcurrencyPort | null;
      /** Task runs: the enclosing flow run. */
      parentFlowRun?: ParentFlowRun | null;
      /** Task runs: newest unexpired cached state for the proposal's cache key. */
      cachedState?: State | null;
    } = {},
  ) {}

  get initialType(): StateType | null {
    return this.initialState?.type ?? null;
  }

  get proposedType(): StateType | null {
    return this.proposedState?.type ?? null;
  }

  /** The state the response carries: the written one, else the run's current state. */
  get resultState(): State | null {
    return this.validatedState ?? this.initialState;
  }
}

export interface OrchestrationResult {
  state: State | null;
  status: SetStateStatus;
  details: ResponseDetails;
  /** Background task runs: the run is to be queued for the task workers once this commits. */
  enqueue?: { retry: boolean } | null;
}

/** Compares the `x.y.z` numeric prefixes of two versions (a pre-release suffix counts as below its release). */
export function versionBelow(version: string, min: string): boolean {
  const parse = (v: string) => {
    const m = /^(\d+)\.(\d+)\.(\d+)(.*)$/.exec(v);
    return m ? { parts: [Number(m[1]), Number(m[2]), Number(m[3])], pre: /^(rc|a|b|\.dev)/.test(m[4]!) } : { parts: [0, 0, 0], pre: false };
  };
  const a = parse(version);
  const b = parse(min);
  for (let i = 0; i < 3; i++) if (a.parts[i] !== b.parts[i]) return a.parts[i]! < b.parts[i]!;
  return a.pre && !b.pre;
}

/** True when an API version string is older than `min` (absent = latest = not older). */
export function apiVersionBelow(version: string | null | undefined, min: string): boolean {
  return version ? versionBelow(version, min) : false;
}
