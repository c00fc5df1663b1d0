/**
 * Work pools, their queues and workers (Prefect's models/workers.py and
 * models/work_queues.py): the rules that tie them together. A pool is created with its
 * default queue; pausing and unpausing move pool and queue statuses (src/domain/
 * work-pool-status.ts); a queue's priority is made room for (src/domain/queue-priorities.ts);
 * a heartbeat brings a NOT_READY pool to READY. The repository only reads and writes rows.
 *
 * The generator functions run inside a caller's transaction (deployments and flow runs
 * resolve and create queues in theirs); `WorkPoolService` is what the routes call.
 */
import type { AppContext } from "../context";
import type {
  QueueResolution,
  WorkPoolInput,
  WorkPoolPatch,
  WorkPoolRow,
  WorkPoolView,
  WorkQueueInput,
  WorkQueuePatch,
  WorkQueueRow,
  WorkQueueView,
} from "../db/repos/work-pools";
import type { Repositories, WriteTx } from "../db/store";
import type { Op } from "../db/unit-of-work";
import { Conflict, NotFound } from "../domain/errors";
import { firstFreePriority, rebalancePriorities } from "../domain/queue-priorities";
import {
  AGENT_POOL_TYPE,
  DEFAULT_AGENT_POOL,
  DEFAULT_QUEUE_NAME,
  initialPoolStatus,
  poolStatusAfterPauseChange,
  queueStatusAfterPauseChange,
} from "../domain/work-pool-status";
import type { JsonObject } from "../lib/json";
import type { Micros } from "../lib/time";
import { workerChannelHub } from "./channel-hub";
import { jobVariableDefaultsFailure } from "./job-variables";
import { SNAPSHOT_FIELDS, WorkerChannelSetupError, type WorkerHello } from "./worker-channel";

/** A queue as created on the fly: Prefect's WorkQueueCreate defaults. */
const queueDefaults = (name: string, priority: number | null): WorkQueueInput => ({
  name,
  description: "",
  isPaused: false,
  concurrencyLimit: null,
  priority,
  filter: null,
});

/** Creates the pool and its `default` queue together; undefined when the name is taken. */
export function* insertPool(tx: WriteTx, input: WorkPoolInput, now: Micros): Op<WorkPoolRow | undefined> {
  const row = yield* tx.workPools.insertPoolRow(input, initialPoolStatus(input.type, input.isPaused), now);
  if (!row) return undefined;
  const queue = (yield* insertQueue(tx, row.id, { ...queueDefaults(DEFAULT_QUEUE_NAME, null), description: "The work pool's default queue." }, now))!;
  yield* tx.workPools.setDefaultQueue(row.id, queue.id);
  yield* tx.serverEvents.workPoolCreated(row.id, now);
  return { ...row, defaultQueueId: queue.id };
}

/**
 * Inserts at the requested priority (making room for it) or at the first free one;
 * undefined when the name is taken in the pool. A new queue is NOT_READY even when
 * paused, as in Prefect.
 */
export function* insertQueue(tx: WriteTx, poolId: string, input: WorkQueueInput, now: Micros): Op<WorkQueueRow | undefined> {
  const priority = input.priority ?? firstFreePriority((yield* tx.workPools.queuePriorities(poolId)).map((q) => q.priority));
  const row = yield* tx.workPools.insertQueueRow(poolId, { ...input, priority }, now);
  if (!row) return undefined;
  if (input.priority != null) yield* applyPriorities(tx, poolId, new Map([[row.id, input.priority]]));
  yield* tx.serverEvents.workQueueCreated(row.id, now);
  return (yield* tx.workPools.queueById(row.id))!;
}

/** Gives `targets` their priorities and renumbers the pool's other queues as Prefect does. */
function* applyPriorities(tx: WriteTx, poolId: string, targets: ReadonlyMap<string, number>): Op<void> {
  const queues = yield* tx.workPools.queuePriorities(poolId);
  const next = rebalancePriorities(queues, targets);
  yield* tx.workPools.setPriorities(new Map(queues.filter((q) => next.get(q.id) !== q.priority).map((q) => [q.id, next.get(q.id)!])));
}

/** The pool's queue of that name, created (first free priority) when missing. */
export function* getOrCreateQueue(tx: WriteTx, poolId: string, name: string, now: Micros): Op<WorkQueueRow> {
  return (yield* tx.workPools.queueOfPool(poolId, name)) ?? (yield* insertQueue(tx, poolId, queueDefaults(name, null), now))!;
}

/** The `default-agent-pool` (type prefect-agent), created with its default queue when missing. */
export function* getOrCreateDefaultAgentPool(tx: WriteTx, now: Micros): Op<{ pool: WorkPoolRow; created: boolean }> {
  const existing = yield* tx.workPools.poolByName(DEFAULT_AGENT_POOL);
  if (existing) return { pool: existing, created: false };
  const pool = yield* insertPool(
    tx,
    {
      name: DEFAULT_AGENT_POOL,
      description: null,
      type: AGENT_POOL_TYPE,
      baseJobTemplate: {},
      isPaused: false,
      concurrencyLimit: null,
      storageConfiguration: {},
    },
    now,
  );
  return { pool: pool!, created: true };
}

/**
 * Prefect's ensure_work_queue_exists, for a deployment given only a queue name: the
 * legacy queue of that name, else one created in the default agent pool at priority 1
 * (moving the others down), or that pool's default queue for `default`.
 */
export function* ensureLegacyQueue(tx: WriteTx, name: string, now: Micros): Op<WorkQueueRow> {
  const existing = yield* tx.workPools.legacyQueueByName(name);
  if (existing) return existing;
  const { pool } = yield* getOrCreateDefaultAgentPool(tx, now);
  if (name === DEFAULT_QUEUE_NAME) return (yield* tx.workPools.queueById(pool.defaultQueueId!))!;
  return (yield* insertQueue(tx, pool.id, queueDefaults(name, 1), now))!;
}

/**
 * Resolves a pool name and optional queue name to ids (Prefect's WorkerLookups). No
 * queue name means the pool's default queue. Not-found answers carry Prefect's 404
 * detail: `Work pool "p" not found.` or `Work pool queue 'p/q' not found.`
 */
export function* resolveQueue(q: Repositories, poolName: string, queueName: string | null): Op<QueueResolution> {
  if (queueName == null) {
    const pool = yield* q.workPools.poolByName(poolName);
    if (!pool) return poolMissing(poolName);
    const queue = (yield* q.workPools.queueById(pool.defaultQueueId!))!;
    return { found: true, poolId: pool.id, queueId: queue.id, queueName: queue.name };
  }
  const existing = yield* q.workPools.queueInPool(poolName, queueName);
  if (existing) return { found: true, poolId: existing.workPoolId, queueId: existing.id, queueName };
  return { found: false, detail: `Work pool queue '${poolName}/${queueName}' not found.` };
}

/** As resolveQueue, but a missing queue of an existing pool is created. */
export function* resolveOrCreateQueue(tx: WriteTx, poolName: string, queueName: string | null, now: Micros): Op<QueueResolution> {
  const resolved = yield* resolveQueue(tx, poolName, queueName);
  if (resolved.found || queueName == null) return resolved;
  const pool = yield* tx.workPools.poolByName(poolName);
  if (!pool) return poolMissing(poolName);
  const queue = yield* getOrCreateQueue(tx, pool.id, queueName, now);
  return { found: true, poolId: pool.id, queueId: queue.id, queueName };
}

/** What a worker channel is set up with: its pool (after the hello's heartbeat) and the queues it serves. */
export interface WorkerChannelSetup {
  pool: WorkPoolView;
  queues: WorkQueueRow[];
}

const isReserved = (name: string) => name.toLowerCase().startsWith("prefect");

/** Prefect's validate_job_variable_defaults_for_work_pool: a 422 there ends the channel with a protocol error. */
function checkTemplateDefaults(template: JsonObject): void {
  const failure = jobVariableDefaultsFailure(template);
  if (failure) throw new WorkerChannelSetupError("protocol_error", `Validation failed for work pool's job variable defaults: ${failure}`);
}

const poolMissing = (poolName: string) => ({ found: false, detail: `Work pool "${poolName}" not found.` }) as const;

export class WorkPoolService {
  constructor(private readonly ctx: AppContext) {}

  private get store() {
    return this.ctx.store;
  }

  private now(): Micros {
    return this.ctx.clock.now();
  }

  async createPool(input: WorkPoolInput): Promise<WorkPoolView> {
    const now = this.now();
    const row = await this.store.write(function* (tx) {
      const created = yield* insertPool(tx, input, now);
      // Only this route announces a new pool's first status; the pool keeps no id for it to be followed.
      if (created) yield* tx.serverEvents.workPoolStatusChanged(created.id, Bun.randomUUIDv7(), now, null);
      return created;
    });
    if (!row) throw new Conflict("A work pool with this name already exists.");
    return { row, activeSlots: row.concurrencyLimit == null ? null : 0 };
  }

  /**
   * Writes the fields sent. Pausing makes the pool PAUSED; unpausing makes it READY if a
   * worker is ONLINE, else NOT_READY (agent pools keep no status).
   */
  async updatePool(id: string, patch: WorkPoolPatch): Promise<void> {
    const now = this.now();
    const updated = await this.store.write(function* (tx) {
      const current = yield* tx.workPools.poolById(id);
      if (!current) return false;
      const online = patch.isPaused === false ? yield* tx.workPools.hasOnlineWorker(id) : false;
      const status = poolStatusAfterPauseChange(current.type, patch.isPaused, () => online);
      yield* tx.workPools.updatePoolRow(id, patch, status, now);
      return true;
    });
    if (updated && SNAPSHOT_FIELDS.some((field) => patch[field] !== undefined)) {
      workerChannelHub(this.ctx).publish({ workPoolId: id, reason: "work_pool_updated", deleted: false });
    }
  }

  async deletePool(id: string): Promise<void> {
    const now = this.now();
    if (await this.store.write((tx) => tx.workPools.deletePool(id, now))) {
      workerChannelHub(this.ctx).publish({ workPoolId: id, reason: "work_pool_deleted", deleted: true });
    }
  }

  /**
   * A worker channel's hello (Prefect's _build_worker_ready_frame), in one transaction: the
   * pool (created from the hello when it may be), the queues the worker named (all of the
   * pool's when none), the hello's base job template on a pool that has none, and the
   * worker's first heartbeat. Throws WorkerChannelSetupError, rolling all of it back.
   */
  async connectWorker(poolName: string, hello: WorkerHello): Promise<WorkerChannelSetup> {
    const now = this.now();
    const { setup, templateFilled } = await this.store.write(function* (tx) {
      let pool = yield* tx.workPools.poolByName(poolName);
      if (!pool) {
        if (!hello.createPoolIfNotFound) throw new WorkerChannelSetupError("authorization_failed", "work_pool_not_found");
        if (isReserved(poolName)) throw new WorkerChannelSetupError("authorization_failed", "work_pool_creation_unauthorized");
        checkTemplateDefaults(hello.defaultBaseJobTemplate);
        const input: WorkPoolInput = {
          name: poolName,
          description: null,
          type: hello.workerType,
          baseJobTemplate: hello.defaultBaseJobTemplate,
          isPaused: false,
          concurrencyLimit: null,
          storageConfiguration: { bundle_upload_step: null, bundle_execution_step: null, default_result_storage_block_id: null },
        };
        pool = (yield* insertPool(tx, input, now)) ?? (yield* tx.workPools.poolByName(poolName))!;
      }
      const queues = yield* channelQueues(tx, pool.id, hello.workQueueNames);
      const templateFilled = Object.keys(pool.baseJobTemplate).length === 0 && Object.keys(hello.defaultBaseJobTemplate).length > 0;
      if (templateFilled) {
        checkTemplateDefaults(hello.defaultBaseJobTemplate);
        yield* tx.workPools.updatePoolRow(pool.id, { baseJobTemplate: hello.defaultBaseJobTemplate }, undefined, now);
      }
      yield* recordHeartbeat(tx, pool.id, hello.workerName, hello.heartbeatIntervalSeconds, now);
      const view = (yield* tx.workPools.getPool(poolName))!;
      return { setup: { pool: view, queues }, templateFilled };
    });
    if (templateFilled) workerChannelHub(this.ctx).publish({ workPoolId: setup.pool.row.id, reason: "work_pool_updated", deleted: false });
    return setup;
  }

  /**
   * A heartbeat over the worker channel; the pool's `updated` as it was before it (the
   * channel sends a fresh snapshot when that differs from its last one). Throws when the
   * pool is gone.
   */
  async channelHeartbeat(poolName: string, workerName: string, heartbeatIntervalSeconds: number): Promise<Micros> {
    const now = this.now();
    return this.store.write(function* (tx) {
      const pool = yield* tx.workPools.poolByName(poolName);
      if (!pool) throw new NotFound("Worker channel work pool no longer exists");
      yield* recordHeartbeat(tx, pool.id, workerName, heartbeatIntervalSeconds, now);
      return pool.updated;
    });
  }

  async createQueue(poolId: string, input: WorkQueueInput): Promise<WorkQueueView> {
    const now = this.now();
    const view = await this.store.write(function* (tx) {
      const row = yield* insertQueue(tx, poolId, input, now);
      return row && (yield* tx.workPools.getQueueById(row.id, "pool"));
    });
    // Prefect's message is a plain string with the placeholder left in, verbatim.
    if (!view) throw new Conflict("A work queue with this name already exists in work pool {work_pool_name!r}.");
    return view;
  }

  /** A legacy queue: created in the default agent pool (created first if needed). */
  async createLegacyQueue(input: WorkQueueInput): Promise<WorkQueueView> {
    const now = this.now();
    const view = await this.store.write(function* (tx) {
      const { pool, created } = yield* getOrCreateDefaultAgentPool(tx, now);
      // Asking for `default` right when that pool is created returns the pool's own default queue.
      const row = created && input.name === DEFAULT_QUEUE_NAME ? yield* tx.workPools.queueById(pool.defaultQueueId!) : yield* insertQueue(tx, pool.id, input, now);
      return row && (yield* tx.workPools.getQueueById(row.id, "legacy"));
    });
    if (!view) throw new Conflict("A work queue with this name already exists.");
    return view;
  }

  /**
   * Writes the fields sent. Pausing makes the queue PAUSED; unpausing a PAUSED queue makes
   * it READY if it was polled within the last minute, else NOT_READY. A new priority is
   * made room for (Prefect's legacy route skips this and can leave two queues at one
   * priority). Throws NotFound(`notFound`) when the queue does not exist.
   */
  async updateQueue(id: string, patch: WorkQueuePatch, notFound: string): Promise<void> {
    const now = this.now();
    const updated = await this.store.write(function* (tx) {
      const current = yield* tx.workPools.queueById(id);
      if (!current) return false;
      const lastPolled = patch.lastPolled === undefined ? current.lastPolled : patch.lastPolled;
      const status = patch.isPaused === undefined ? undefined : queueStatusAfterPauseChange(current.status, patch.isPaused, lastPolled, now);
      yield* tx.workPools.updateQueueRow(id, patch, status, now);
      if (patch.priority != null) yield* applyPriorities(tx, current.workPoolId, new Map([[id, patch.priority]]));
      return true;
    });
    if (!updated) throw new NotFound(notFound);
  }

  /**
   * Deletes the queue; its flow runs lose their `work_queue_id`. A pool's default queue
   * cannot be deleted (Prefect's foreign key refuses it).
   */
  async deleteQueue(id: string): Promise<"deleted" | "not-found" | "default-queue"> {
    const now = this.now();
    return this.store.write(function* (tx) {
      const queue = yield* tx.workPools.queueById(id);
      if (!queue) return "not-found";
      if ((yield* tx.workPools.poolById(queue.workPoolId))?.defaultQueueId === id) return "default-queue";
      yield* tx.workPools.deleteQueue(id, now);
      yield* applyPriorities(tx, queue.workPoolId, new Map());
      return "deleted";
    });
  }

  async heartbeat(poolId: string, name: string, heartbeatIntervalSeconds: number | null): Promise<void> {
    const now = this.now();
    await this.store.write((tx) => recordHeartbeat(tx, poolId, name, heartbeatIntervalSeconds, now));
  }
}

/** The worker is upserted ONLINE with last_heartbeat_time = now, and a NOT_READY pool becomes READY. */
function* recordHeartbeat(tx: WriteTx, poolId: string, name: string, heartbeatIntervalSeconds: number | null, now: Micros): Op<void> {
  yield* tx.workPools.upsertOnlineWorker(poolId, name, heartbeatIntervalSeconds, now);
  yield* tx.workPools.setPoolStatus(poolId, "NOT_READY", "READY", now);
}

/** The queues a channel serves: those named (each once, in order; all must exist), else all of the pool's. */
function* channelQueues(tx: WriteTx, poolId: string, names: string[]): Op<WorkQueueRow[]> {
  if (names.length === 0) return yield* tx.workPools.queuesOfPool(poolId);
  const queues: WorkQueueRow[] = [];
  for (const name of new Set(names)) {
    const queue = yield* tx.workPools.queueOfPool(poolId, name);
    if (!queue) throw new WorkerChannelSetupError("authorization_failed", "work_queue_not_found");
    queues.push(queue);
  }
  return queues;
}
