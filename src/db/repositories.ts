/**
 * What every backend's repositories offer, as types: domain code is written against these,
 * so the composition root can hand it either backend. Each is the public face of the
 * SQLite class (`Public<...>` keeps the methods and drops the private fields), and a
 * PostgreSQL repository `implements` the same type (src/db/postgres/repos/).
 */
import type { EventRelay } from "./event-relay";
import type { ArtifactRepository } from "./repos/artifacts";
import type { AutomationRepository } from "./repos/automations";
import type { AutomationStateRepository } from "./repos/automation-state";
import type { BlockRepository } from "./repos/blocks";
import type { ConcurrencyLimitRepository } from "./repos/concurrency-limits";
import type { ConfigurationRepository } from "./repos/configuration";
import type { DeploymentRepository } from "./repos/deployments";
import type { EventRepository } from "./repos/events";
import type { FlowRunRepository } from "./repos/flow-runs";
import type { FlowRepository } from "./repos/flows";
import type { RunRepository } from "./repos/runs";
import type { LogRepository } from "./repos/logs";
import type { SavedSearchRepository } from "./repos/saved-searches";
import type { ServerEvents } from "./repos/server-events";
import type { TaskRunRepository } from "./repos/task-runs";
import type { UiQueries } from "./repos/ui";
import type { VariableRepository } from "./repos/variables";
import type { WorkPoolRepository } from "./repos/work-pools";
import type { Leadership } from "./leadership";
import type { EventSink, EventStaging, Op } from "./unit-of-work";

/** The public members of a class: its methods and readonly fields, none of its private state. */
export type Public<T> = { [K in keyof T]: T[K] };

/** Flow runs and task runs alike (what src/runs/service.ts is written against). */
export type RunRepo<TRun, TSort extends string> = Public<RunRepository<TRun, TSort>>;

export type ConfigurationRepo = Public<ConfigurationRepository>;
export type FlowRepo = Public<FlowRepository>;
export type FlowRunRepo = Public<FlowRunRepository>;
export type TaskRunRepo = Public<TaskRunRepository>;
export type VariableRepo = Public<VariableRepository>;
export type LogRepo = Public<LogRepository>;
export type BlockRepo = Public<BlockRepository>;
export type WorkPoolRepo = Public<WorkPoolRepository>;
export type ConcurrencyLimitRepo = Public<ConcurrencyLimitRepository>;
export type DeploymentRepo = Public<DeploymentRepository>;
export type ArtifactRepo = Public<ArtifactRepository>;
export type SavedSearchRepo = Public<SavedSearchRepository>;
export type AutomationRepo = Public<AutomationRepository>;
export type AutomationStateRepo = Public<AutomationStateRepository>;
export type UiRepo = Public<UiQueries>;
export type EventRepo = Public<EventRepository>;
export type ServerEventsRepo = Public<ServerEvents>;

/** Every repository over one connection: what a read body is handed. */
export interface Repositories {
  readonly configuration: ConfigurationRepo;
  readonly flows: FlowRepo;
  readonly flowRuns: FlowRunRepo;
  readonly taskRuns: TaskRunRepo;
  readonly variables: VariableRepo;
  readonly logs: LogRepo;
  readonly blocks: BlockRepo;
  readonly workPools: WorkPoolRepo;
  readonly concurrencyLimits: ConcurrencyLimitRepo;
  readonly deployments: DeploymentRepo;
  readonly artifacts: ArtifactRepo;
  readonly savedSearches: SavedSearchRepo;
  readonly automations: AutomationRepo;
  /** Trigger buckets, queued actions and held events of the automations service. */
  readonly automationState: AutomationStateRepo;
  readonly ui: UiRepo;
  readonly events: EventRepo;
  /** Server-emitted events, staged by writes and published after they commit. */
  readonly serverEvents: ServerEventsRepo;
}

/** What a write body is handed: the repositories inside the transaction, and its outbox. */
export type WriteTxOf<R> = R & EventStaging;
export type WriteTx = WriteTxOf<Repositories>;

/**
 * One database behind the unit of work, whichever the backend. `R` is the repositories a
 * body is handed: all of them (`Repositories`) for a complete backend, fewer while one
 * is being ported.
 */
export interface StoreOf<R> {
  /** Runs a read against committed data. */
  read<T>(body: (q: R) => Op<T>): Promise<T>;
  /**
   * Runs `body` as one transaction: the events it staged are published after COMMIT, and
   * a throw rolls back every write and drops every staged event. Driver errors surface as
   * the errors of src/db/errors.ts.
   */
  write<T>(body: (tx: WriteTxOf<R>) => Op<T>): Promise<T>;
  /** Where committed events go (the event bus). Until connected they are dropped: nobody is listening. */
  publishTo(sink: EventSink): void;
  /** How the events this replica publishes reach the other replicas on the same database. */
  readonly eventRelay: EventRelay;
  /** True when the database answers a trivial query (for /api/ready). */
  isReachable(): Promise<boolean>;
  /** Which background services this process runs when several share the database. */
  readonly leadership: Leadership;
  close(): void | Promise<void>;
}

export type Store = StoreOf<Repositories>;
