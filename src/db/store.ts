/**
 * The data layer: every repository over one database. Routes and services talk
 * to a Store and never see SQL; a PostgreSQL Store would offer the same shape.
 */
import { openSqlite, type SqliteDb } from "./client";
import { BlockRepository } from "./repos/blocks";
import { ConcurrencyLimitRepository } from "./repos/concurrency-limits";
import { ConfigurationRepository } from "./repos/configuration";
import { DeploymentRepository } from "./repos/deployments";
import { FlowRunRepository } from "./repos/flow-runs";
import { FlowRepository } from "./repos/flows";
import { LogRepository } from "./repos/logs";
import { TaskRunRepository } from "./repos/task-runs";
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

  constructor(readonly db: SqliteDb) {
    this.configuration = new ConfigurationRepository(db);
    this.flows = new FlowRepository(db);
    this.deployments = new DeploymentRepository(db);
    this.concurrencyLimits = new ConcurrencyLimitRepository(db);
    const transitions = new RunTransitions(db, this.concurrencyLimits);
    this.flowRuns = new FlowRunRepository(db, transitions);
    this.taskRuns = new TaskRunRepository(db, transitions);
    this.variables = new VariableRepository(db);
    this.logs = new LogRepository(db);
    this.blocks = new BlockRepository(db);
    this.workPools = new WorkPoolRepository(db);
  }

  static open(path: string): Store {
    return new Store(openSqlite(path));
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
