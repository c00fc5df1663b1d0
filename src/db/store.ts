/**
 * The data layer: every repository over one database, and the only place that
 * opens transactions. Code outside `src/db` reads with `store.read(q => ...)` and
 * writes with `store.write(function* (tx) { ... })`; a PostgreSQL Store would
 * offer the same shape.
 */
import { SQLiteError } from "bun:sqlite";
import type { Event } from "../events/model";
import { openSqlite, type SqliteConnections, type SqliteDb } from "./client";
import { StoreBusyError, StoreConflictError, StoreUnavailableError } from "./errors";
import { ArtifactRepository } from "./repos/artifacts";
import { AutomationRepository, type AutomationChanges } from "./repos/automations";
import { AutomationStateRepository } from "./repos/automation-state";
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
import { complete, AsyncLock, TransactionEvents, type EventSink, type EventStaging, type Op } from "./unit-of-work";

/** Every repository over one connection: what a read body is handed. */
export class Repositories {
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
  readonly automationState: AutomationStateRepository;
  readonly ui: UiQueries;
  readonly events: EventRepository;
  /** Server-emitted events, staged by writes and published after they commit. */
  readonly serverEvents: ServerEvents;

  constructor(db: SqliteDb, staging: EventStaging, automationChanges: AutomationChanges = { count: 0 }) {
    this.serverEvents = new ServerEvents(db, staging);
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
    this.automations = new AutomationRepository(db, automationChanges);
    this.automationState = new AutomationStateRepository(db);
    this.ui = new UiQueries(db);
    this.events = new EventRepository(db);
  }
}

/** What a write body is handed: the repositories inside the transaction, and its outbox. */
export interface WriteTx extends Repositories, EventStaging {}

class SqliteWriteTx extends Repositories implements WriteTx {
  constructor(
    db: SqliteDb,
    private readonly outbox: TransactionEvents,
    automationChanges: AutomationChanges,
  ) {
    super(db, outbox, automationChanges);
  }

  stage(...events: Event[]): void {
    this.outbox.stage(...events);
  }
}

export interface StoreOptions {
  /** How long a write waits for another process's write lock before answering busy (503). */
  busyTimeoutMs?: number;
}

/** Prefect's PREFECT_SERVER_DATABASE_TIMEOUT default. */
const DEFAULT_BUSY_TIMEOUT_MS = 10_000;
/** The longest pause between two attempts at a lock another process holds. */
const MAX_BUSY_PAUSE_MS = 25;

export class Store {
  private readonly writeLock = new AsyncLock();
  private readonly outbox = new TransactionEvents();
  private readonly writeTx: SqliteWriteTx;
  private readonly readRepos: Repositories;
  private sink: EventSink = () => {};
  private readonly busyTimeoutMs: number;
  private closed = false;

  private constructor(
    private readonly connections: SqliteConnections,
    options: StoreOptions,
  ) {
    this.busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
    // one count of automation writes, seen by the read side too (the triggers service reloads on a change)
    const automationChanges: AutomationChanges = { count: 0 };
    this.writeTx = new SqliteWriteTx(connections.writer, this.outbox, automationChanges);
    this.readRepos = connections.reader === connections.writer ? this.writeTx : new Repositories(connections.reader, this.outbox, automationChanges);
  }

  static open(path: string, options: StoreOptions = {}): Store {
    return new Store(openSqlite(path), options);
  }

  /** The write connection's Drizzle handle, for tests that arrange rows directly. */
  get db(): SqliteDb {
    return this.connections.writer;
  }

  /** Where committed events go (the event bus). Until connected they are dropped: nobody is listening. */
  publishTo(sink: EventSink): void {
    this.sink = sink;
  }

  /** Runs a read against committed data. */
  read<T>(body: (q: Repositories) => Op<T>): Promise<T> {
    return this.whileBusy(() => complete(body(this.readRepos)));
  }

  /**
   * Runs `body` as one transaction: writes are serialised (one at a time per process,
   * `BEGIN IMMEDIATE` against other processes), the events it staged are published
   * after COMMIT, and a throw rolls back every write and drops every staged event.
   */
  async write<T>(body: (tx: WriteTx) => Op<T>): Promise<T> {
    if (!this.writeLock.tryAcquire()) await this.writeLock.acquire();
    let result: T;
    let committed: Event[];
    try {
      await this.whileBusy(() => this.connections.writer.$client.run("BEGIN IMMEDIATE"));
      const writer = this.connections.writer.$client;
      this.outbox.begin();
      try {
        result = complete(body(this.writeTx));
        writer.run("COMMIT");
        committed = this.outbox.end(true);
      } catch (error) {
        this.outbox.end(false);
        if (writer.inTransaction) writer.run("ROLLBACK");
        throw driverNeutral(error);
      }
    } finally {
      this.writeLock.release();
    }
    if (committed.length > 0) this.sink(committed);
    return result;
  }

  /**
   * Runs `step` (a read, or BEGIN IMMEDIATE); while another process holds the lock it
   * needs, retries on a timer so the event loop stays free, until the busy timeout.
   */
  private async whileBusy<T>(step: () => T): Promise<T> {
    const deadline = performance.now() + this.busyTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        this.ensureOpen();
        return step();
      } catch (error) {
        if (!isBusy(error)) throw driverNeutral(error);
        const pause = Math.min(MAX_BUSY_PAUSE_MS, 2 ** attempt);
        if (performance.now() + pause > deadline) throw new StoreBusyError(1);
        await Bun.sleep(pause);
      }
    }
  }

  private ensureOpen(): void {
    if (this.closed) throw new StoreUnavailableError("the database is closed");
  }

  /** True when the database answers a trivial query (for /ready). */
  isReachable(): boolean {
    try {
      this.ensureOpen();
      this.connections.reader.$client.query("SELECT 1").get();
      return true;
    } catch {
      return false;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.connections.reader !== this.connections.writer) this.connections.reader.$client.close();
    this.connections.writer.$client.close();
  }
}

function isBusy(error: unknown): boolean {
  return error instanceof SQLiteError && (error.code === "SQLITE_BUSY" || error.code === "SQLITE_LOCKED");
}

/** SQLite's errors as the data layer's own; anything else (a domain error thrown by a body) passes through. */
function driverNeutral(error: unknown): unknown {
  if (!(error instanceof SQLiteError)) return error;
  if (error.code?.startsWith("SQLITE_CONSTRAINT")) return new StoreConflictError(error.message);
  if (isBusy(error)) return new StoreBusyError(1);
  return error;
}
