/**
 * The SQLite backend of the data layer: every repository over one database, and the
 * only place that opens its transactions. Code outside `src/db` reads with
 * `store.read(q => ...)` and writes with `store.write(function* (tx) { ... })` through
 * the backend-neutral `Store` (src/db/repositories.ts); src/db/postgres/store.ts is the
 * PostgreSQL one.
 */
import { SQLiteError } from "bun:sqlite";
import type { Event } from "../events/model";
import { openSqlite, type SqliteConnections, type SqliteDb } from "./client";
import { NO_RELAY, type EventRelay } from "./event-relay";
import { StoreBusyError, StoreConflictError, StoreUnavailableError } from "./errors";
import { soleLeadership } from "./leadership";
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
import type { Repositories, Store, WriteTx } from "./repositories";
import { complete, AsyncLock, TransactionEvents, type EventSink, type EventStaging, type Op } from "./unit-of-work";

export type { Repositories, Store, WriteTx } from "./repositories";

/**
 * Every SQLite repository over one connection: what a read body is handed. Each is built on
 * first use (building one prepares its statements), so start-up and an idle server pay only
 * for the repositories requests have needed.
 */
class SqliteRepositories implements Repositories {
  #configuration?: ConfigurationRepository;
  #flows?: FlowRepository;
  #flowRuns?: FlowRunRepository;
  #taskRuns?: TaskRunRepository;
  #transitions?: RunTransitions;
  #variables?: VariableRepository;
  #logs?: LogRepository;
  #blocks?: BlockRepository;
  #workPools?: WorkPoolRepository;
  #concurrencyLimits?: ConcurrencyLimitRepository;
  #deployments?: DeploymentRepository;
  #artifacts?: ArtifactRepository;
  #savedSearches?: SavedSearchRepository;
  #automations?: AutomationRepository;
  #automationState?: AutomationStateRepository;
  #ui?: UiQueries;
  #events?: EventRepository;
  #serverEvents?: ServerEvents;

  constructor(
    private readonly db: SqliteDb,
    private readonly staging: EventStaging,
    private readonly automationChanges: AutomationChanges = { count: 0 },
  ) {}

  get configuration(): ConfigurationRepository {
    return (this.#configuration ??= new ConfigurationRepository(this.db));
  }
  get flows(): FlowRepository {
    return (this.#flows ??= new FlowRepository(this.db));
  }
  get flowRuns(): FlowRunRepository {
    return (this.#flowRuns ??= new FlowRunRepository(this.db, this.transitions));
  }
  get taskRuns(): TaskRunRepository {
    return (this.#taskRuns ??= new TaskRunRepository(this.db, this.transitions));
  }
  private get transitions(): RunTransitions {
    return (this.#transitions ??= new RunTransitions(this.db, this.concurrencyLimits, this.serverEvents));
  }
  get variables(): VariableRepository {
    return (this.#variables ??= new VariableRepository(this.db));
  }
  get logs(): LogRepository {
    return (this.#logs ??= new LogRepository(this.db));
  }
  get blocks(): BlockRepository {
    return (this.#blocks ??= new BlockRepository(this.db));
  }
  get workPools(): WorkPoolRepository {
    return (this.#workPools ??= new WorkPoolRepository(this.db, this.serverEvents));
  }
  get concurrencyLimits(): ConcurrencyLimitRepository {
    return (this.#concurrencyLimits ??= new ConcurrencyLimitRepository(this.db));
  }
  get deployments(): DeploymentRepository {
    return (this.#deployments ??= new DeploymentRepository(this.db, this.serverEvents));
  }
  get artifacts(): ArtifactRepository {
    return (this.#artifacts ??= new ArtifactRepository(this.db));
  }
  get savedSearches(): SavedSearchRepository {
    return (this.#savedSearches ??= new SavedSearchRepository(this.db));
  }
  get automations(): AutomationRepository {
    return (this.#automations ??= new AutomationRepository(this.db, this.automationChanges));
  }
  get automationState(): AutomationStateRepository {
    return (this.#automationState ??= new AutomationStateRepository(this.db));
  }
  get ui(): UiQueries {
    return (this.#ui ??= new UiQueries(this.db));
  }
  get events(): EventRepository {
    return (this.#events ??= new EventRepository(this.db));
  }
  /** Server-emitted events, staged by writes and published after they commit. */
  get serverEvents(): ServerEvents {
    return (this.#serverEvents ??= new ServerEvents(this.db, this.staging));
  }
}

class SqliteWriteTx extends SqliteRepositories implements WriteTx {
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

export class SqliteStore implements Store {
  /** One server process per database file serves its clients' events: nothing to relay. */
  readonly eventRelay: EventRelay = NO_RELAY;
  private readonly writeLock = new AsyncLock();
  private readonly outbox = new TransactionEvents();
  private readonly writeTx: SqliteWriteTx;
  private readonly readRepos: Repositories;
  private sink: EventSink = () => {};
  private readonly busyTimeoutMs: number;
  private closed = false;
  readonly leadership = soleLeadership;

  private constructor(
    private readonly connections: SqliteConnections,
    options: StoreOptions,
  ) {
    this.busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
    // one count of automation writes, seen by the read side too (the triggers service reloads on a change)
    const automationChanges: AutomationChanges = { count: 0 };
    this.writeTx = new SqliteWriteTx(connections.writer, this.outbox, automationChanges);
    this.readRepos = connections.reader === connections.writer ? this.writeTx : new SqliteRepositories(connections.reader, this.outbox, automationChanges);
  }

  static open(path: string, options: StoreOptions = {}): SqliteStore {
    return new SqliteStore(openSqlite(path), options);
  }

  /** The write connection's Drizzle handle, for tests that arrange rows directly. */
  get db(): SqliteDb {
    return this.connections.writer;
  }

  publishTo(sink: EventSink): void {
    this.sink = sink;
  }

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

  async isReachable(): Promise<boolean> {
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
