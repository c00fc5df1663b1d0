/**
 * The PostgreSQL backend of the unit of work: the same `read`/`write` shape as the SQLite
 * store, run by driving each body's generator and awaiting the queries its operations yield.
 *
 * - A write runs in BEGIN/COMMIT on one pooled connection (READ COMMITTED, as Prefect's
 *   server runs): writes of one process are not serialised here, PostgreSQL's row locks do
 *   that, so a repository must be correct under concurrency (ON CONFLICT, FOR UPDATE), as it
 *   must be for several replicas anyway.
 * - A deadlock or serialization failure runs the whole body again (up to 3 times): a body
 *   only does database work, so running it again is safe; its staged events are discarded.
 * - Events staged by a write are published after COMMIT and dropped on rollback; the bus then
 *   relays them to the other replicas (`eventRelay`, src/db/postgres/event-relay.ts).
 * - A read runs each query on the pool, outside a transaction: every statement sees what
 *   was committed when it started, as each read statement does on SQLite's reader.
 * - Driver errors surface as src/db/errors.ts's; a lost database as StoreUnavailableError
 *   (503), and postgres.js reconnects on the next query once it is back.
 * - Leadership of the background services is held on a connection of its own (./leadership.ts).
 */
import { sql } from "drizzle-orm";
import type { Event } from "../../events/model";
import { StoreUnavailableError } from "../errors";
import type { AutomationChanges } from "../repos/automations";
import type { Repositories, StoreOf, WriteTxOf } from "../repositories";
import { TransactionEvents, type EventSink, type EventStaging, type Op } from "../unit-of-work";
import { checkConnection, migratePostgres, openPostgres, type PgDb, type PostgresSettings } from "./client";
import { driverNeutral, isRetryable } from "./errors";
import { PgEventRelay } from "./event-relay";
import { PgLeadership } from "./leadership";
import { drive } from "./query";
import { PgArtifactRepository } from "./repos/artifacts";
import { PgAutomationStateRepository } from "./repos/automation-state";
import { PgAutomationRepository } from "./repos/automations";
import { PgBlockRepository } from "./repos/blocks";
import { PgConcurrencyLimitRepository } from "./repos/concurrency-limits";
import { PgConfigurationRepository } from "./repos/configuration";
import { PgDeploymentRepository } from "./repos/deployments";
import { PgEventRepository } from "./repos/events";
import { PgFlowRunRepository } from "./repos/flow-runs";
import { PgFlowRepository } from "./repos/flows";
import { PgLogRepository } from "./repos/logs";
import { PgSavedSearchRepository } from "./repos/saved-searches";
import { PgServerEvents } from "./repos/server-events";
import { PgTaskRunRepository } from "./repos/task-runs";
import { PgRunTransitions } from "./repos/transitions";
import { PgUiQueries } from "./repos/ui";
import { PgVariableRepository } from "./repos/variables";
import { PgWorkPoolRepository } from "./repos/work-pools";

/** The repositories ported to PostgreSQL so far; `Repositories` once all are. */
export type PgPortedRepositories = Pick<
  Repositories,
  | "configuration"
  | "flows"
  | "variables"
  | "savedSearches"
  | "serverEvents"
  | "deployments"
  | "workPools"
  | "concurrencyLimits"
  | "events"
  | "automations"
  | "automationState"
  | "blocks"
  | "artifacts"
  | "logs"
  | "flowRuns"
  | "taskRuns"
  | "ui"
>;

/**
 * `staging` is where server events go (a write's outbox; for a read, one never begun, which
 * refuses them); `automationChanges` is the store's one count of automation writes.
 */
class PgRepositories implements PgPortedRepositories {
  readonly configuration = new PgConfigurationRepository();
  readonly flows = new PgFlowRepository();
  readonly variables = new PgVariableRepository();
  readonly savedSearches = new PgSavedSearchRepository();
  readonly concurrencyLimits = new PgConcurrencyLimitRepository();
  readonly events = new PgEventRepository();
  readonly serverEvents: PgServerEvents;
  readonly deployments: PgDeploymentRepository;
  readonly workPools: PgWorkPoolRepository;
  readonly automations: PgAutomationRepository;
  readonly automationState = new PgAutomationStateRepository();
  readonly blocks = new PgBlockRepository();
  readonly artifacts = new PgArtifactRepository();
  readonly logs = new PgLogRepository();
  readonly flowRuns: PgFlowRunRepository;
  readonly taskRuns: PgTaskRunRepository;
  readonly ui = new PgUiQueries();

  constructor(staging: EventStaging, automationChanges: AutomationChanges) {
    this.serverEvents = new PgServerEvents(staging);
    this.deployments = new PgDeploymentRepository(this.serverEvents);
    this.workPools = new PgWorkPoolRepository(this.serverEvents);
    this.automations = new PgAutomationRepository(automationChanges);
    const transitions = new PgRunTransitions(this.concurrencyLimits, this.serverEvents);
    this.flowRuns = new PgFlowRunRepository(transitions);
    this.taskRuns = new PgTaskRunRepository(transitions);
  }
}

class PgWriteTx extends PgRepositories implements WriteTxOf<PgPortedRepositories> {
  constructor(
    private readonly outbox: EventStaging,
    automationChanges: AutomationChanges,
  ) {
    super(outbox, automationChanges);
  }

  stage(...events: Event[]): void {
    this.outbox.stage(...events);
  }
}

/** How many times a write is run when PostgreSQL picks it as a deadlock victim or cannot serialise it. */
const MAX_WRITE_ATTEMPTS = 3;

export class PgStore implements StoreOf<PgPortedRepositories> {
  // one count of automation writes, seen by reads too (the triggers service reloads on a change)
  private readonly automationChanges: AutomationChanges = { count: 0 };
  private readonly readRepos = new PgRepositories(new TransactionEvents(), this.automationChanges);
  private sink: EventSink = () => {};
  private closed = false;

  private constructor(
    private readonly pool: PgDb,
    readonly eventRelay: PgEventRelay,
    readonly leadership: PgLeadership,
  ) {}

  /**
   * Connects (failing with one line naming host, port and the driver's reason), then applies
   * the embedded migrations under an advisory lock.
   */
  static async open(settings: PostgresSettings): Promise<PgStore> {
    const pool = openPostgres(settings);
    try {
      await checkConnection(pool, settings.url);
      await migratePostgres(settings);
      return new PgStore(pool, await PgEventRelay.open(pool, settings), PgLeadership.open(settings));
    } catch (error) {
      await pool.$client.end({ timeout: 0 });
      throw error;
    }
  }

  /** The pool's Drizzle handle, for tests that arrange or inspect rows directly. */
  get db(): PgDb {
    return this.pool;
  }

  publishTo(sink: EventSink): void {
    this.sink = sink;
  }

  async read<T>(body: (q: PgPortedRepositories) => Op<T>): Promise<T> {
    this.ensureOpen();
    try {
      return await drive(body(this.readRepos), this.pool, driverNeutral);
    } catch (error) {
      throw driverNeutral(error);
    }
  }

  async write<T>(body: (tx: WriteTxOf<PgPortedRepositories>) => Op<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      this.ensureOpen();
      const outbox = new TransactionEvents();
      outbox.begin();
      // The body sees driver-neutral errors; whether to run it again is decided on the driver's.
      let failure: unknown;
      const neutral = (error: unknown) => {
        failure = error;
        return driverNeutral(error);
      };
      let result: T;
      try {
        result = await this.pool.transaction((conn) => drive(body(new PgWriteTx(outbox, this.automationChanges)), conn, neutral));
      } catch (error) {
        outbox.end(false);
        if (attempt < MAX_WRITE_ATTEMPTS && (isRetryable(error) || isRetryable(failure))) continue;
        throw driverNeutral(error);
      }
      const committed = outbox.end(true);
      if (committed.length > 0) this.sink(committed);
      return result;
    }
  }

  async isReachable(): Promise<boolean> {
    if (this.closed) return false;
    try {
      await this.pool.execute(sql`SELECT 1`);
      return true;
    } catch {
      return false;
    }
  }

  private ensureOpen(): void {
    if (this.closed) throw new StoreUnavailableError("the database is closed");
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // the relay's last sends and reads use the pool
    await this.eventRelay.close();
    await Promise.all([this.leadership.close(), this.pool.$client.end({ timeout: 5 })]);
  }
}
