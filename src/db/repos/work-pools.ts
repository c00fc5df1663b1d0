/**
 * Work pools, their queues and workers (Prefect's models/workers.py and
 * models/work_queues.py): rows and queries. The rules that tie them together (statuses,
 * priorities, default queues) are in src/work-pools/service.ts.
 *
 * Every method runs inside the caller's transaction (`store.write`), so multi-statement
 * operations are atomic.
 */
import { SQLiteError } from "bun:sqlite";
import { and, asc, count, desc, eq, inArray, isNull, lt, notExists, or, sql, type SQL } from "drizzle-orm";
import { precedingPoolStatusEvent } from "../../events/server-events";
import type { JsonObject } from "../../lib/json";
import { MICROS_PER_SECOND, type Micros } from "../../lib/time";
import type { StateType } from "../../orchestration/states";
import type { FlowRunFilter, WorkerFilter, WorkPoolFilter, WorkQueueFilter } from "../../schemas/filters";
import { countWhere, type SqliteDb } from "../client";
import { flowRunCond, workerCond, workPoolCond, workQueueCond } from "../filters";
import { flowRun, worker, workPool, workQueue } from "../schema";
import {
  DEFAULT_AGENT_POOL,
  type WorkerStatus,
  type WorkPoolStatus,
  type WorkQueueStatus,
} from "../../domain/work-pool-status";
import type { ServerEvents } from "./server-events";
import type { Op } from "../unit-of-work";

export type WorkPoolRow = typeof workPool.$inferSelect;
export type WorkQueueRow = typeof workQueue.$inferSelect;
export type WorkerRow = typeof worker.$inferSelect;

/**
 * Which runs hold a queue's concurrency slots. The `/work_pools` routes count
 * PENDING and RUNNING runs of the queue; the legacy `/work_queues` routes also count
 * CANCELLING, and for tag-filtered queues count the runs the filter selects.
 */
export type SlotCounting = "pool" | "legacy";

const POOL_SLOT_STATES: StateType[] = ["PENDING", "RUNNING"];
const LEGACY_SLOT_STATES: StateType[] = ["PENDING", "RUNNING", "CANCELLING"];

export interface WorkPoolView {
  row: WorkPoolRow;
  /** Slot-holding runs in the pool's queues; null when the pool has no concurrency limit. */
  activeSlots: number | null;
}

export interface WorkQueueView {
  row: WorkQueueRow;
  poolName: string;
  /** Slot-holding runs of the queue; null when it has no concurrency limit. */
  activeSlots: number | null;
}

export interface WorkPoolInput {
  name: string;
  description: string | null;
  type: string;
  baseJobTemplate: JsonObject;
  isPaused: boolean;
  concurrencyLimit: number | null;
  storageConfiguration: JsonObject;
}

/** The fields a PATCH sent; an explicit null on a NOT NULL column fails with a constraint error (409), as in Prefect. */
export interface WorkPoolPatch {
  description?: string | null;
  isPaused?: boolean | null;
  baseJobTemplate?: JsonObject | null;
  concurrencyLimit?: number | null;
  storageConfiguration?: JsonObject | null;
}

export interface WorkQueueInput {
  name: string;
  description: string;
  isPaused: boolean;
  concurrencyLimit: number | null;
  /** null: the first free priority. */
  priority: number | null;
  filter: JsonObject | null;
}

export interface WorkQueuePatch {
  name?: string | null;
  description?: string | null;
  isPaused?: boolean;
  concurrencyLimit?: number | null;
  priority?: number | null;
  lastPolled?: Micros | null;
  filter?: JsonObject | null;
}

/** Where a (pool, queue) name pair leads, or Prefect's 404 message when it leads nowhere. */
export type QueueResolution =
  | { found: true; poolId: string; queueId: string; queueName: string }
  | { found: false; detail: string };

/** A flow run holding a concurrency slot, as the concurrency_status routes list it. */
export interface SlotHolder {
  id: string;
  name: string;
  workQueueId: string | null;
  stateType: string | null;
  stateName: string | null;
  startTime: Micros | null;
  stateTimestamp: Micros | null;
}

export interface PoolConcurrency {
  queues: WorkQueueRow[];
  queueCount: number;
  activeSlots: number;
  slotsByQueue: Map<string, number>;
  /** Slot holders of the listed queues, at most `flowRunLimit` per queue, ordered by id. */
  holders: SlotHolder[];
}

/** A legacy tag-based queue filter (`WorkQueue.filter`). */
export interface QueueFilterValue {
  tags?: string[] | null;
  deployment_ids?: string[] | null;
}

/** An explicit null becomes SQL NULL (not the JSON text `null`); undefined leaves the column alone. */
const sqlNull = <T>(value: T | null | undefined): T | SQL | undefined => (value === null ? sql`NULL` : value);

/**
 * Runs an insert; false when it failed on a constraint (Prefect maps any IntegrityError of
 * a create to 409). SQLite undoes just the failed statement, so the transaction goes on.
 */
function unlessConflict(insert: () => void): boolean {
  try {
    insert();
    return true;
  } catch (error) {
    if (error instanceof SQLiteError && error.code?.startsWith("SQLITE_CONSTRAINT")) return false;
    throw error;
  }
}

const slotHolderColumns = {
  id: flowRun.id,
  name: flowRun.name,
  workQueueId: flowRun.workQueueId,
  stateType: flowRun.stateType,
  stateName: flowRun.stateName,
  startTime: flowRun.startTime,
  stateTimestamp: flowRun.stateTimestamp,
};

export class WorkPoolRepository {
  private readonly selectPoolByName;
  private readonly selectPoolById;
  private readonly selectQueueById;

  constructor(
    private readonly db: SqliteDb,
    private readonly events: ServerEvents,
  ) {
    this.selectPoolByName = db.select().from(workPool).where(eq(workPool.name, sql.placeholder("name"))).prepare();
    this.selectPoolById = db.select().from(workPool).where(eq(workPool.id, sql.placeholder("id"))).prepare();
    this.selectQueueById = db.select().from(workQueue).where(eq(workQueue.id, sql.placeholder("id"))).prepare();
  }

  // ---------------------------------------------------------------- work pools

  /** Inserts a pool row; undefined when the name is taken. */
  *insertPoolRow(input: WorkPoolInput, status: WorkPoolStatus | null, now: Micros): Op<WorkPoolRow | undefined> {
    const row: WorkPoolRow = {
      id: Bun.randomUUIDv7(),
      created: now,
      updated: now,
      ...input,
      defaultQueueId: null,
      status,
      lastTransitionedStatusAt: null,
      lastStatusEventId: null,
      lastStatusEventAt: null,
    };
    return unlessConflict(() => this.db.insert(workPool).values(row).run()) ? row : undefined;
  }

  *setDefaultQueue(poolId: string, queueId: string): Op<void> {
    this.db.update(workPool).set({ defaultQueueId: queueId }).where(eq(workPool.id, poolId)).run();
  }

  *getPool(name: string): Op<WorkPoolView | undefined> {
    const row = this.selectPoolByName.get({ name });
    return row && this.withPoolSlots([row])[0];
  }

  /** Ordered by name. */
  *listPools(filter: WorkPoolFilter | null | undefined, limit: number, offset: number): Op<WorkPoolView[]> {
    const rows = this.db.select().from(workPool).where(workPoolCond(filter)).orderBy(asc(workPool.name)).limit(limit).offset(offset).all();
    return this.withPoolSlots(rows);
  }

  *countPools(filter: WorkPoolFilter | null | undefined): Op<number> {
    return countWhere(this.db, workPool, workPoolCond(filter));
  }

  /**
   * Writes the fields sent, and the new status when there is one (announced even when it
   * is the status the pool had, as Prefect does for every pause or unpause).
   */
  *updatePoolRow(id: string, patch: WorkPoolPatch, status: WorkPoolStatus | undefined, now: Micros): Op<void> {
    const before = this.selectPoolById.get({ id });
    if (!before) return;
    const statusEventId = Bun.randomUUIDv7();
    this.db
      .update(workPool)
      .set({
        description: patch.description,
        isPaused: sqlNull(patch.isPaused),
        baseJobTemplate: sqlNull(patch.baseJobTemplate),
        concurrencyLimit: patch.concurrencyLimit,
        storageConfiguration: sqlNull(patch.storageConfiguration),
        updated: now,
        ...(status && { status, lastTransitionedStatusAt: now, lastStatusEventId: statusEventId, lastStatusEventAt: now }),
      })
      .where(eq(workPool.id, id))
      .run();
    yield* this.events.workPoolWritten(before, now);
    if (status) yield* this.events.workPoolStatusChanged(id, statusEventId, now, precedingPoolStatusEvent(before, now));
  }

  /**
   * Deletes the pool with its queues and workers. Flow runs of those queues lose their
   * `work_queue_id` (Prefect's ON DELETE SET NULL; flow_run has no such foreign key here).
   */
  *deletePool(id: string, now: Micros): Op<boolean> {
    yield* this.events.workPoolDeleting(id, now);
    const queueIds = this.db.select({ id: workQueue.id }).from(workQueue).where(eq(workQueue.workPoolId, id));
    this.db.update(flowRun).set({ workQueueId: null }).where(inArray(flowRun.workQueueId, queueIds)).run();
    return this.db.delete(workPool).where(eq(workPool.id, id)).returning({ id: workPool.id }).all().length > 0;
  }

  // --------------------------------------------------------------- work queues

  /** Inserts a queue row at the given priority; undefined when the name is taken in the pool. */
  *insertQueueRow(poolId: string, input: WorkQueueInput & { priority: number }, now: Micros): Op<{ id: string } | undefined> {
    const id = Bun.randomUUIDv7();
    const values = {
      id,
      created: now,
      updated: now,
      name: input.name,
      description: input.description,
      isPaused: input.isPaused,
      concurrencyLimit: input.concurrencyLimit,
      priority: input.priority,
      filter: input.filter,
      workPoolId: poolId,
    };
    return unlessConflict(() => this.db.insert(workQueue).values(values).run()) ? { id } : undefined;
  }

  /** The pool's queues' priorities, in priority order. */
  *queuePriorities(poolId: string): Op<{ id: string; priority: number }[]> {
    return this.db
      .select({ id: workQueue.id, priority: workQueue.priority })
      .from(workQueue)
      .where(eq(workQueue.workPoolId, poolId))
      .orderBy(asc(workQueue.priority), asc(workQueue.id))
      .all();
  }

  *setPriorities(priorities: ReadonlyMap<string, number>): Op<void> {
    for (const [id, priority] of priorities) this.db.update(workQueue).set({ priority }).where(eq(workQueue.id, id)).run();
  }

  *getQueue(poolName: string, queueName: string): Op<WorkQueueView | undefined> {
    const row = this.queueRowByName(poolName, queueName);
    return row && this.queueView(row.id, "pool");
  }

  *getQueueById(id: string, counting: SlotCounting): Op<WorkQueueView | undefined> {
    return this.queueView(id, counting);
  }

  /** The pool's queues ordered by priority. */
  *listQueues(poolId: string, filter: WorkQueueFilter | null | undefined, limit: number, offset: number): Op<WorkQueueView[]> {
    const rows = this.queueViewQuery()
      .where(and(eq(workQueue.workPoolId, poolId), workQueueCond(filter)))
      .orderBy(asc(workQueue.priority), asc(workQueue.id))
      .limit(limit)
      .offset(offset)
      .all();
    return this.withQueueSlots(rows, "pool");
  }

  /** Writes the fields sent, and the new status when there is one. */
  *updateQueueRow(id: string, patch: WorkQueuePatch, status: WorkQueueStatus | undefined, now: Micros): Op<void> {
    const before = this.selectQueueById.get({ id });
    if (!before) return;
    this.db
      .update(workQueue)
      .set({
        name: sqlNull(patch.name),
        description: sqlNull(patch.description),
        isPaused: patch.isPaused,
        concurrencyLimit: patch.concurrencyLimit,
        priority: sqlNull(patch.priority),
        lastPolled: patch.lastPolled,
        filter: sqlNull(patch.filter),
        status,
        updated: now,
      })
      .where(eq(workQueue.id, id))
      .run();
    yield* this.events.workQueueWritten(before, status !== undefined, now);
  }

  /** Deletes the queue; its flow runs lose their `work_queue_id` (flow_run has no foreign key to it here). */
  *deleteQueue(id: string, now: Micros): Op<void> {
    yield* this.events.workQueueDeleting(id, now);
    this.db.update(flowRun).set({ workQueueId: null }).where(eq(flowRun.workQueueId, id)).run();
    this.db.delete(workQueue).where(eq(workQueue.id, id)).run();
  }

  // ------------------------------------------------------- legacy work queues

  *getLegacyQueueByName(name: string): Op<WorkQueueView | undefined> {
    const row = this.legacyQueueRow(name);
    return row && this.queueView(row.id, "legacy");
  }

  /** Queues of every pool, ordered by name (the legacy listing). */
  *listAllQueues(filter: WorkQueueFilter | null | undefined, limit: number, offset: number): Op<WorkQueueView[]> {
    const rows = this.queueViewQuery()
      .where(workQueueCond(filter))
      .orderBy(asc(workQueue.name), asc(workQueue.id))
      .limit(limit)
      .offset(offset)
      .all();
    return this.withQueueSlots(rows, "legacy");
  }

  /** Runs of the queue whose current state is named `Late`. */
  *lateRunsCount(queueId: string): Op<number> {
    return countWhere(this.db, flowRun, and(eq(flowRun.workQueueId, queueId), eq(flowRun.stateName, "Late")));
  }

  // ------------------------------------------------------------------ workers

  /** The worker, upserted ONLINE with last_heartbeat_time = now (its interval kept when none is sent). */
  *upsertOnlineWorker(poolId: string, name: string, heartbeatIntervalSeconds: number | null, now: Micros): Op<void> {
    const changes = {
      lastHeartbeatTime: now,
      status: "ONLINE" satisfies WorkerStatus,
      ...(heartbeatIntervalSeconds != null && { heartbeatIntervalSeconds }),
    };
    this.db
      .insert(worker)
      .values({ id: Bun.randomUUIDv7(), created: now, updated: now, workPoolId: poolId, name, ...changes })
      // Prefect's ON CONFLICT update leaves `updated` alone.
      .onConflictDoUpdate({ target: [worker.workPoolId, worker.name], set: changes })
      .run();
  }

  /** By the stored status, which heartbeats set and the foreman clears. */
  *hasOnlineWorker(poolId: string): Op<boolean> {
    return countWhere(this.db, worker, and(eq(worker.workPoolId, poolId), eq(worker.status, "ONLINE"))) > 0;
  }

  /** Moves the pool from one status to another; true when it was in `from`. */
  *setPoolStatus(poolId: string, from: WorkPoolStatus, to: WorkPoolStatus, now: Micros): Op<boolean> {
    return yield* this.movePoolStatus(poolId, from, to, now);
  }

  /** The pool's workers, newest heartbeat first. */
  *listWorkers(poolId: string, filter: WorkerFilter | null | undefined, limit: number, offset: number): Op<WorkerRow[]> {
    return this.db
      .select()
      .from(worker)
      .where(and(eq(worker.workPoolId, poolId), workerCond(filter)))
      .orderBy(desc(worker.lastHeartbeatTime), asc(worker.id))
      .limit(limit)
      .offset(offset)
      .all();
  }

  *deleteWorker(poolId: string, name: string): Op<boolean> {
    return (
      this.db
        .delete(worker)
        .where(and(eq(worker.workPoolId, poolId), eq(worker.name, name)))
        .returning({ id: worker.id })
        .all().length > 0
    );
  }

  // ----------------------------------------------------- concurrency status

  /** The pool's slot usage with a page of its queues (by priority) and their slot holders. */
  *poolConcurrency(poolId: string, limit: number, offset: number, flowRunLimit: number): Op<PoolConcurrency> {
    const queues = this.db
      .select()
      .from(workQueue)
      .where(eq(workQueue.workPoolId, poolId))
      .orderBy(asc(workQueue.priority), asc(workQueue.id))
      .limit(limit)
      .offset(offset)
      .all();
    const slotsByQueue = this.queueSlotCounts(
      and(eq(workQueue.workPoolId, poolId), inArray(flowRun.stateType, POOL_SLOT_STATES)),
    );
    const holders = this.db
      .select(slotHolderColumns)
      .from(flowRun)
      .where(and(inArray(flowRun.workQueueId, queues.map((q) => q.id)), inArray(flowRun.stateType, POOL_SLOT_STATES)))
      .orderBy(asc(flowRun.id))
      .all();
    return {
      queues,
      queueCount: countWhere(this.db, workQueue, eq(workQueue.workPoolId, poolId)),
      activeSlots: [...slotsByQueue.values()].reduce((a, b) => a + b, 0),
      slotsByQueue,
      holders: capPerQueue(holders, flowRunLimit),
    };
  }

  /**
   * Runs holding the queue's slots (PENDING, RUNNING, CANCELLING), also those that only
   * name the queue, ordered by id: the total and one page.
   */
  *queueConcurrency(queue: WorkQueueRow, limit: number, offset: number): Op<{ count: number; holders: SlotHolder[] }> {
    const where = and(
      or(eq(flowRun.workQueueId, queue.id), and(isNull(flowRun.workQueueId), eq(flowRun.workQueueName, queue.name))),
      inArray(flowRun.stateType, LEGACY_SLOT_STATES),
    );
    return {
      count: countWhere(this.db, flowRun, where),
      holders: this.db.select(slotHolderColumns).from(flowRun).where(where).orderBy(asc(flowRun.id)).limit(limit).offset(offset).all(),
    };
  }

  // ------------------------------------- helpers for deployment / flow-run code

  *poolByName(name: string): Op<WorkPoolRow | undefined> {
    return this.selectPoolByName.get({ name });
  }

  /** Every queue of every pool, oldest first. */
  *allQueues(): Op<WorkQueueRow[]> {
    return this.db.select().from(workQueue).orderBy(asc(workQueue.created), asc(workQueue.id)).all();
  }

  /** A pool's queues in priority order (what worker polling walks). */
  *queuesOfPool(poolId: string): Op<WorkQueueRow[]> {
    return this.db.select().from(workQueue).where(eq(workQueue.workPoolId, poolId)).orderBy(asc(workQueue.priority)).all();
  }

  /** The queue with this name in the pool, if any. */
  *queueInPool(poolName: string, queueName: string): Op<WorkQueueRow | undefined> {
    return this.queueRowByName(poolName, queueName);
  }

  *queueById(id: string): Op<WorkQueueRow | undefined> {
    return this.selectQueueById.get({ id });
  }

  *poolById(id: string): Op<WorkPoolRow | undefined> {
    return this.selectPoolById.get({ id });
  }

  /** The pool's queue of that name, if any. */
  *queueOfPool(poolId: string, name: string): Op<WorkQueueRow | undefined> {
    return this.db
      .select()
      .from(workQueue)
      .where(and(eq(workQueue.workPoolId, poolId), eq(workQueue.name, name)))
      .get();
  }

  /**
   * A legacy name lookup: the queue in the default agent pool. While that pool does not
   * exist Prefect falls back to the first queue of that name in any pool.
   */
  *legacyQueueByName(name: string): Op<WorkQueueRow | undefined> {
    return this.legacyQueueRow(name);
  }

  /**
   * Records a poll of these queues: last_polled = now, and NOT_READY ones become READY
   * (paused queues stay PAUSED). Returns the ids that became READY.
   */
  *markQueuesPolled(queueIds: string[], now: Micros): Op<string[]> {
    if (queueIds.length === 0) return [];

    const becameReady = this.db
      .select({ id: workQueue.id })
      .from(workQueue)
      .where(and(inArray(workQueue.id, queueIds), eq(workQueue.status, "NOT_READY")))
      .all()
      .map((r) => r.id);
    this.db.update(workQueue).set({ lastPolled: now, updated: now }).where(inArray(workQueue.id, queueIds)).run();
    if (becameReady.length > 0) {
      this.db.update(workQueue).set({ status: "READY" }).where(inArray(workQueue.id, becameReady)).run();
    }
    yield* this.events.workQueueStatusChanged(becameReady, now);
    return becameReady;
  }

  /**
   * Decision #8: a poll is a sign of life. A READY or NOT_READY pool becomes READY and
   * `last_transitioned_status_at` becomes now, so for a READY pool that column is "last
   * heartbeat-driven transition or poll", which the foreman compares with its timeout.
   * PAUSED and agent pools are left alone. Returns true when the pool was NOT_READY.
   */
  *markPoolPolled(poolId: string, now: Micros): Op<boolean> {
    const becameReady = yield* this.movePoolStatus(poolId, "NOT_READY", "READY", now);
    if (!becameReady) {
      this.db
        .update(workPool)
        .set({ lastTransitionedStatusAt: now })
        .where(and(eq(workPool.id, poolId), eq(workPool.status, "READY")))
        .run();
    }
    return becameReady;
  }

  // ------------------------------------------------------------------ foreman

  /**
   * ONLINE workers silent for longer than their heartbeat interval (or the fallback)
   * times `multiple` go OFFLINE. Returns how many did.
   */
  *markSilentWorkersOffline(now: Micros, fallbackIntervalSeconds: number, multiple: number): Op<number> {
    const timeout = sql`coalesce(${worker.heartbeatIntervalSeconds}, ${fallbackIntervalSeconds}) * ${multiple * MICROS_PER_SECOND}`;
    return this.db
      .update(worker)
      .set({ status: "OFFLINE" satisfies WorkerStatus, updated: now })
      .where(and(eq(worker.status, "ONLINE"), sql`${now} - ${worker.lastHeartbeatTime} > ${timeout}`))
      .returning({ id: worker.id })
      .all().length;
  }

  /**
   * READY pools with no ONLINE worker go NOT_READY, unless a heartbeat or a poll moved
   * `last_transitioned_status_at` to `silentSince` or later (decision #8: a poll is a
   * sign of life too). Returns their ids.
   */
  *markUnattendedPoolsNotReady(silentSince: Micros, now: Micros): Op<string[]> {
    const onlineWorker = this.db
      .select({ id: worker.id })
      .from(worker)
      .where(and(eq(worker.workPoolId, workPool.id), eq(worker.status, "ONLINE")));
    const unattended = this.db
      .select()
      .from(workPool)
      .where(
        and(
          eq(workPool.status, "READY"),
          notExists(onlineWorker),
          or(isNull(workPool.lastTransitionedStatusAt), lt(workPool.lastTransitionedStatusAt, silentSince)),
        ),
      )
      .orderBy(asc(workPool.id))
      .all();
    for (const pool of unattended) yield* this.stampPoolStatus(pool, "NOT_READY", now);
    return unattended.map((pool) => pool.id);
  }

  /** READY queues last polled before `polledBefore` go NOT_READY (never-polled ones are left alone). Returns their ids. */
  *markUnpolledQueuesNotReady(polledBefore: Micros, now: Micros): Op<string[]> {
    const ids = this.db
      .update(workQueue)
      .set({ status: "NOT_READY" satisfies WorkQueueStatus, updated: now })
      .where(and(eq(workQueue.status, "READY"), lt(workQueue.lastPolled, polledBefore)))
      .returning({ id: workQueue.id })
      .all()
      .map((r) => r.id);
    yield* this.events.workQueueStatusChanged(ids, now);
    return ids;
  }

  /** PENDING and RUNNING runs in each pool's queues (pools without such runs are absent). */
  *poolActiveSlots(poolIds: string[]): Op<Map<string, number>> {
    return this.activeSlotsByPool(poolIds);
  }

  /** Slot-holding runs per queue, counted as `counting` says (see SlotCounting). */
  *queueActiveSlots(queueIds: string[], counting: SlotCounting): Op<Map<string, number>> {
    return this.activeSlotsByQueue(queueIds, counting);
  }

  // ----------------------------------------------------------------- private

  private activeSlotsByPool(poolIds: string[]): Map<string, number> {
    if (poolIds.length === 0) return new Map();
    const rows = this.db
      .select({ poolId: workQueue.workPoolId, n: count() })
      .from(flowRun)
      .innerJoin(workQueue, eq(flowRun.workQueueId, workQueue.id))
      .where(and(inArray(workQueue.workPoolId, poolIds), inArray(flowRun.stateType, POOL_SLOT_STATES)))
      .groupBy(workQueue.workPoolId)
      .all();
    return new Map(rows.map((r) => [r.poolId, r.n]));
  }

  private activeSlotsByQueue(queueIds: string[], counting: SlotCounting): Map<string, number> {
    if (queueIds.length === 0) return new Map();
    if (counting === "pool") return this.queueSlotCounts(and(inArray(flowRun.workQueueId, queueIds), inArray(flowRun.stateType, POOL_SLOT_STATES)));
    const queues = this.db.select({ id: workQueue.id, filter: workQueue.filter }).from(workQueue).where(inArray(workQueue.id, queueIds)).all();
    const plain = queues.filter((q) => q.filter == null).map((q) => q.id);
    const counts = plain.length
      ? this.queueSlotCounts(and(inArray(flowRun.workQueueId, plain), inArray(flowRun.stateType, LEGACY_SLOT_STATES)))
      : new Map<string, number>();
    for (const q of queues) {
      if (q.filter != null) counts.set(q.id, countWhere(this.db, flowRun, flowRunCond(legacyFilterSlotHolders(q.filter as QueueFilterValue))));
    }
    return counts;
  }


  /** Moves the pool from one status to another and announces it; true when it was in `from`. */
  private *movePoolStatus(poolId: string, from: WorkPoolStatus, to: WorkPoolStatus, now: Micros): Op<boolean> {
    const before = this.selectPoolById.get({ id: poolId });
    if (before?.status !== from) return false;
    yield* this.stampPoolStatus(before, to, now);
    return true;
  }

  /** Gives the pool its new status and announces it, following the pool's last status event while that is recent. */
  private *stampPoolStatus(before: WorkPoolRow, to: WorkPoolStatus, now: Micros): Op<void> {
    const eventId = Bun.randomUUIDv7();
    this.db
      .update(workPool)
      .set({ status: to, lastTransitionedStatusAt: now, lastStatusEventId: eventId, lastStatusEventAt: now, updated: now })
      .where(eq(workPool.id, before.id))
      .run();
    yield* this.events.workPoolStatusChanged(before.id, eventId, now, precedingPoolStatusEvent(before, now));
  }

  private queueRowByName(poolName: string, queueName: string): WorkQueueRow | undefined {
    return this.db
      .select({ row: workQueue })
      .from(workQueue)
      .innerJoin(workPool, eq(workPool.id, workQueue.workPoolId))
      .where(and(eq(workPool.name, poolName), eq(workQueue.name, queueName)))
      .get()?.row;
  }

  private legacyQueueRow(name: string): WorkQueueRow | undefined {
    const agentPool = this.selectPoolByName.get({ name: DEFAULT_AGENT_POOL });
    return this.db
      .select()
      .from(workQueue)
      .where(and(eq(workQueue.name, name), agentPool ? eq(workQueue.workPoolId, agentPool.id) : undefined))
      .orderBy(asc(workQueue.created), asc(workQueue.id))
      .get();
  }

  private queueViewQuery() {
    return this.db.select({ row: workQueue, poolName: workPool.name }).from(workQueue).innerJoin(workPool, eq(workPool.id, workQueue.workPoolId));
  }

  private queueView(id: string, counting: SlotCounting): WorkQueueView | undefined {
    const row = this.queueViewQuery().where(eq(workQueue.id, id)).get();
    return row && this.withQueueSlots([row], counting)[0];
  }

  private withPoolSlots(rows: WorkPoolRow[]): WorkPoolView[] {
    const counts = this.activeSlotsByPool(rows.filter((r) => r.concurrencyLimit != null).map((r) => r.id));
    return rows.map((row) => ({ row, activeSlots: row.concurrencyLimit == null ? null : (counts.get(row.id) ?? 0) }));
  }

  private withQueueSlots(rows: { row: WorkQueueRow; poolName: string }[], counting: SlotCounting): WorkQueueView[] {
    const counts = this.activeSlotsByQueue(rows.filter((r) => r.row.concurrencyLimit != null).map((r) => r.row.id), counting);
    return rows.map((r) => ({ ...r, activeSlots: r.row.concurrencyLimit == null ? null : (counts.get(r.row.id) ?? 0) }));
  }

  /** Runs matching `where` (flow_run joined to its queue), counted per queue. */
  private queueSlotCounts(where: SQL | undefined): Map<string, number> {
    const rows = this.db
      .select({ queueId: workQueue.id, n: count() })
      .from(flowRun)
      .innerJoin(workQueue, eq(flowRun.workQueueId, workQueue.id))
      .where(where)
      .groupBy(workQueue.id)
      .all();
    return new Map(rows.map((r) => [r.queueId, r.n]));
  }
}

/** The filter of the PENDING/RUNNING runs a tag-based legacy queue selects: all its tags, one of its deployments (any, but one). */
export function legacyFilterSlotHolders(filter: QueueFilterValue): FlowRunFilter {
  return {
    tags: { all_: filter.tags ?? null },
    deployment_id: { any_: filter.deployment_ids ?? null, is_null_: false },
    state: { type: { any_: ["PENDING", "RUNNING"] } },
  };
}

/** At most `limit` holders per queue, keeping their order. */
export function capPerQueue(holders: SlotHolder[], limit: number): SlotHolder[] {
  const taken = new Map<string | null, number>();
  return holders.filter((h) => {
    const n = taken.get(h.workQueueId) ?? 0;
    taken.set(h.workQueueId, n + 1);
    return n < limit;
  });
}
