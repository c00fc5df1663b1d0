/**
 * The data layer: every repository over one database. Routes and services talk
 * to a Store and never see SQL; a PostgreSQL Store would offer the same shape.
 */
import { openSqlite, type SqliteDb } from "./client";
import { Outbox } from "./outbox";
import { ArtifactRepository } from "./repos/artifacts";
import { AutomationRepository } from "./repos/automations";
import { BlockRepository } from "./repos/blocks";
import { ConcurrencyLimitRepository } from "./repos/concurrency-limits";
import { ConfigurationRepository } from "./repos/configuration";
import { DeploymentRepository } from "./repos/deployments";
import { EventRepository } from "./repos/events";
import { FlowRunRepository } from "./repos/flow-runs";
import { FlowRepository } from "./repos/flows";
import { LogRepository } from "./repos/logs";
import { TaskRunRepository } from "./repos/task-runs";
import { SavedSearchRepository } from "./repos/saved-searches";
import { UiQueries } from "./repos/ui";
import { ServerEvents } from "./repos/server-events";
import { RunTransitions } from "./repos/transitions";
import { VariableRepository } from "./repos/variables";
import { WorkPoolRepository } from "./repos/work-pools";

export class Store {
  readonly configuration: ConfigurationRepository;
  readonly flows: FlowRepository;
  readonly flowRuns: FlowRunRepository;
  readonly taskRuns: TaskRunRepository;
  readonly variables: VariableRepository;
  readonly logs: LogRepository;
  readonly blocks: BlockRepository;
  readonly workPools: WorkPoolRepository;
  readonly concurrencyLimits: ConcurrencyLimitRepository;
  readonly deployments: DeploymentRepository;
  readonly artifacts: ArtifactRepository;
  readonly savedSearches: SavedSearchRepository;
  readonly automations: AutomationRepository;
  readonly ui: UiQueries;
  readonly events: EventRepository;
  /** Server-emitted events, staged by writes and published after they commit. */
  readonly serverEvents: ServerEvents;

  constructor(
    readonly db: SqliteDb,
    /** Every transaction of `db` runs through it (see openSqlite). */
    readonly outbox: Outbox,
  ) {
    this.serverEvents = new ServerEvents(db, outbox);
    this.configuration = new ConfigurationRepository(db);
    this.flows = new FlowRepository(db);
    this.deployments = new DeploymentRepository(db, this.serverEvents);
    this.concurrencyLimits = new ConcurrencyLimitRepository(db);
    const transitions = new RunTransitions(db, this.concurrencyLimits, this.serverEvents);
    this.flowRuns = new FlowRunRepository(db, transitions);
    this.taskRuns = new TaskRunRepository(db, transitions);
    this.variables = new VariableRepository(db);
    this.logs = new LogRepository(db);
    this.blocks = new BlockRepository(db);
    this.workPools = new WorkPoolRepository(db, this.serverEvents);
    this.artifacts = new ArtifactRepository(db);
    this.savedSearches = new SavedSearchRepository(db);
    this.automations = new AutomationRepository(db);
    this.ui = new UiQueries(db);
    this.events = new EventRepository(db);
  }

  static open(path: string): Store {
    const outbox = new Outbox();
    return new Store(openSqlite(path, outbox), outbox);
  }

  /** True when the database answers a trivial query (for /ready). */
  isReachable(): boolean {
    try {
      this.db.$client.query("SELECT 1").get();
      return true;
    } catch {
      return false;
    }
  }

  close(): void {
    this.db.$client.close();
  }
}
