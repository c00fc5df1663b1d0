import { and, asc, count, desc, eq, inArray, isNull, lt, notExists, or, sql, type SQL } from "drizzle-orm";
import type { PgTable } from "drizzle-orm/pg-core";
import { precedingPoolStatusEvent } from "../../../events/server-events";
import { DEFAULT_AGENT_POOL, type WorkerStatus, type WorkPoolStatus, type WorkQueueStatus } from "../../../domain/work-pool-status";
import { MICROS_PER_SECOND, type Micros } from "../../../lib/time";
import type { StateType } from "../../../orchestration/states";
import type { WorkerFilter, WorkPoolFilter, WorkQueueFilter } from "../../../schemas/filters";
import type { ServerEventsRepo, WorkPoolRepo } from "../../repositories";
import {
  capPerQueue,
  legacyFilterSlotHolders,
  type PoolConcurrency,
  type QueueFilterValue,
  type SlotCounting,
  type SlotHolder,
  type WorkerRow,
  type WorkPoolInput,
  type WorkPoolPatch,
  type WorkPoolRow,
  type WorkPoolView,
  type WorkQueueInput,
  type WorkQueuePatch,
  type WorkQueueRow,
  type WorkQueueView,
} from "../../repos/work-pools";
import type { Op } from "../../unit-of-work";
import { byCodePoint, flowRunCond, instantParam, workerCond, workPoolCond, workQueueCond } from "../filters";
import { query } from "../query";
import { flowRun, worker, workPool, workQueue } from "../schema";

const POOL_SLOT_STATES: StateType[] = ["PENDING", "RUNNING"];
const LEGACY_SLOT_STATES: StateType[] = ["PENDING", "RUNNING", "CANCELLING"];

/** An explicit null becomes SQL NULL (not the JSON `null`), so NOT NULL columns refuse it; undefined leaves the column alone. */
const sqlNull = <T>(value: T | null | undefined): T | SQL | undefined => (value === null ? sql`NULL` : value);

const slotHolderColumns = {
  id: flowRun.id,
  name: flowRun.name,
  workQueueId: flowRun.workQueueId,
  stateType: flowRun.stateType,
  stateName: flowRun.stateName,
  startTime: flowRun.startTime,
  stateTimestamp: flowRun.stateTimestamp,
};

function* countOf(table: PgTable, where: SQL | undefined): Op<number> {
  const [row] = yield* query((db) => db.select({ n: count() }).from(table).where(where));
  return row!.n;
}

/**
 * src/db/repos/work-pools.ts on PostgreSQL. A name already taken is found by ON CONFLICT
 * DO NOTHING, not by catching the constraint error: after a failed statement PostgreSQL
 * aborts the whole transaction.
 */
export class PgWorkPoolRepository implements WorkPoolRepo {
  constructor(private readonly events: ServerEventsRepo) {}

  // ---------------------------------------------------------------- work pools

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
    const inserted = yield* query((db) => db.insert(workPool).values(row).onConflictDoNothing({ target: workPool.name }).returning({ id: workPool.id }));
    return inserted.length > 0 ? row : undefined;
  }

  *setDefaultQueue(poolId: string, queueId: string): Op<void> {
    yield* query((db) => db.update(workPool).set({ defaultQueueId: queueId }).where(eq(workPool.id, poolId)));
  }

  *getPool(name: string): Op<WorkPoolView | undefined> {
    const row = yield* this.poolByName(name);
    return row && (yield* this.withPoolSlots([row]))[0];
  }

  *listPools(filter: WorkPoolFilter | null | undefined, limit: number, offset: number): Op<WorkPoolView[]> {
    const rows = yield* query((db) =>
      db.select().from(workPool).where(workPoolCond(filter)).orderBy(asc(byCodePoint(workPool.name))).limit(limit).offset(offset),
    );
    return yield* this.withPoolSlots(rows);
  }

  *countPools(filter: WorkPoolFilter | null | undefined): Op<number> {
    return yield* countOf(workPool, workPoolCond(filter));
  }

  /** Locks the row first: the events compare with the pool as this write found it. */
  *updatePoolRow(id: string, patch: WorkPoolPatch, status: WorkPoolStatus | undefined, now: Micros): Op<void> {
    const before = yield* this.lockedPool(id);
    if (!before) return;
    const statusEventId = Bun.randomUUIDv7();
    const values = {
      description: patch.description,
      isPaused: sqlNull(patch.isPaused),
      baseJobTemplate: sqlNull(patch.baseJobTemplate),
      concurrencyLimit: patch.concurrencyLimit,
      storageConfiguration: sqlNull(patch.storageConfiguration),
      updated: now,
      ...(status && { status, lastTransitionedStatusAt: now, lastStatusEventId: statusEventId, lastStatusEventAt: now }),
    };
    yield* query((db) => db.update(workPool).set(values).where(eq(workPool.id, id)));
    yield* this.events.workPoolWritten(before, now);
    if (status) yield* this.events.workPoolStatusChanged(id, statusEventId, now, precedingPoolStatusEvent(before, now));
  }

  /** The pool's row is locked first, so of two replicas deleting it only one announces it. */
  *deletePool(id: string, now: Micros): Op<boolean> {
    const [pool] = yield* query((db) => db.select({ id: workPool.id }).from(workPool).where(eq(workPool.id, id)).for("update"));
    if (!pool) return false;
    yield* this.events.workPoolDeleting(id, now);
    yield* query((db) => {
      const queueIds = db.select({ id: workQueue.id }).from(workQueue).where(eq(workQueue.workPoolId, id));
      return db.update(flowRun).set({ workQueueId: null }).where(inArray(flowRun.workQueueId, queueIds));
    });
    return (yield* query((db) => db.delete(workPool).where(eq(workPool.id, id)).returning({ id: workPool.id }))).length > 0;
  }

  // --------------------------------------------------------------- work queues

  *insertQueueRow(poolId: string, input: WorkQueueInput & { priority: number }, now: Micros): Op<{ id: string } | undefined> {
    yield* this.lockPool(eq(workPool.id, poolId));
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
    const inserted = yield* query((db) =>
      db.insert(workQueue).values(values).onConflictDoNothing({ target: [workQueue.workPoolId, workQueue.name] }).returning({ id: workQueue.id }),
    );
    return inserted.length > 0 ? { id } : undefined;
  }

  /**
   * Under the pool's lock: priorities are read, renumbered and written back by one
   * transaction per pool at a time, and the next reader sees the queues the last one added.
   */
  *queuePriorities(poolId: string): Op<{ id: string; priority: number }[]> {
    yield* this.lockPool(eq(workPool.id, poolId));
    return yield* query((db) =>
      db
        .select({ id: workQueue.id, priority: workQueue.priority })
        .from(workQueue)
        .where(eq(workQueue.workPoolId, poolId))
        .orderBy(asc(workQueue.priority), asc(workQueue.id)),
    );
  }

  /** In id order, the order every multi-queue write here locks them in. */
  *setPriorities(priorities: ReadonlyMap<string, number>): Op<void> {
    for (const [id, priority] of [...priorities].sort(([a], [b]) => (a < b ? -1 : 1))) yield* query((db) => db.update(workQueue).set({ priority }).where(eq(workQueue.id, id)));
  }

  *getQueue(poolName: string, queueName: string): Op<WorkQueueView | undefined> {
    const row = yield* this.queueInPool(poolName, queueName);
    return row && (yield* this.queueView(row.id, "pool"));
  }

  *getQueueById(id: string, counting: SlotCounting): Op<WorkQueueView | undefined> {
    return yield* this.queueView(id, counting);
  }

  *listQueues(poolId: string, filter: WorkQueueFilter | null | undefined, limit: number, offset: number): Op<WorkQueueView[]> {
    const rows = yield* this.queueViews(and(eq(workQueue.workPoolId, poolId), workQueueCond(filter)), [asc(workQueue.priority), asc(workQueue.id)], limit, offset);
    return yield* this.withQueueSlots(rows, "pool");
  }

  *updateQueueRow(id: string, patch: WorkQueuePatch, status: WorkQueueStatus | undefined, now: Micros): Op<void> {
    // a new priority is followed by a renumbering, which takes the pool's lock: take it before the queue's
    if (patch.priority != null) yield* this.lockPool(eq(workPool.id, this.poolOfQueue(id)));
    const [before] = yield* query((db) => db.select().from(workQueue).where(eq(workQueue.id, id)).for("no key update"));
    if (!before) return;
    const values = {
      name: sqlNull(patch.name),
      description: sqlNull(patch.description),
      isPaused: patch.isPaused,
      concurrencyLimit: patch.concurrencyLimit,
      priority: sqlNull(patch.priority),
      lastPolled: patch.lastPolled,
      filter: sqlNull(patch.filter),
      status,
      updated: now,
    };
    yield* query((db) => db.update(workQueue).set(values).where(eq(workQueue.id, id)));
    yield* this.events.workQueueWritten(before, status !== undefined, now);
  }

  /** Locks the pool (a renumbering follows), then the queue: of two replicas deleting it, only one announces it. */
  *deleteQueue(id: string, now: Micros): Op<void> {
    yield* this.lockPool(eq(workPool.id, this.poolOfQueue(id)));
    yield* query((db) => db.select({ id: workQueue.id }).from(workQueue).where(eq(workQueue.id, id)).for("update"));
    yield* this.events.workQueueDeleting(id, now);
    yield* query((db) => db.update(flowRun).set({ workQueueId: null }).where(eq(flowRun.workQueueId, id)));
    yield* query((db) => db.delete(workQueue).where(eq(workQueue.id, id)));
  }

  // ------------------------------------------------------- legacy work queues

  *getLegacyQueueByName(name: string): Op<WorkQueueView | undefined> {
    const row = yield* this.legacyQueueByName(name);
    return row && (yield* this.queueView(row.id, "legacy"));
  }

  *listAllQueues(filter: WorkQueueFilter | null | undefined, limit: number, offset: number): Op<WorkQueueView[]> {
    const rows = yield* this.queueViews(workQueueCond(filter), [asc(byCodePoint(workQueue.name)), asc(workQueue.id)], limit, offset);
    return yield* this.withQueueSlots(rows, "legacy");
  }

  *lateRunsCount(queueId: string): Op<number> {
    return yield* countOf(flowRun, and(eq(flowRun.workQueueId, queueId), eq(flowRun.stateName, "Late")));
  }

  // ------------------------------------------------------------------ workers

  /** One INSERT ... ON CONFLICT DO UPDATE: concurrent heartbeats of a new worker make one row. */
  *upsertOnlineWorker(poolId: string, name: string, heartbeatIntervalSeconds: number | null, now: Micros): Op<void> {
    const changes = {
      lastHeartbeatTime: now,
      status: "ONLINE" satisfies WorkerStatus,
      ...(heartbeatIntervalSeconds != null && { heartbeatIntervalSeconds }),
    };
    yield* query((db) =>
      db
        .insert(worker)
        .values({ id: Bun.randomUUIDv7(), created: now, updated: now, workPoolId: poolId, name, ...changes })
        // Prefect's ON CONFLICT update leaves `updated` alone.
        .onConflictDoUpdate({ target: [worker.workPoolId, worker.name], set: changes }),
    );
  }

  *hasOnlineWorker(poolId: string): Op<boolean> {
    return (yield* countOf(worker, and(eq(worker.workPoolId, poolId), eq(worker.status, "ONLINE")))) > 0;
  }

  *setPoolStatus(poolId: string, from: WorkPoolStatus, to: WorkPoolStatus, now: Micros): Op<boolean> {
    return yield* this.movePoolStatus(poolId, from, to, now);
  }

  *listWorkers(poolId: string, filter: WorkerFilter | null | undefined, limit: number, offset: number): Op<WorkerRow[]> {
    return yield* query((db) =>
      db
        .select()
        .from(worker)
        .where(and(eq(worker.workPoolId, poolId), workerCond(filter)))
        .orderBy(desc(worker.lastHeartbeatTime), asc(worker.id))
        .limit(limit)
        .offset(offset),
    );
  }

  *deleteWorker(poolId: string, name: string): Op<boolean> {
    const rows = yield* query((db) =>
      db
        .delete(worker)
        .where(and(eq(worker.workPoolId, poolId), eq(worker.name, name)))
        .returning({ id: worker.id }),
    );
    return rows.length > 0;
  }

  // ----------------------------------------------------- concurrency status

  *poolConcurrency(poolId: string, limit: number, offset: number, flowRunLimit: number): Op<PoolConcurrency> {
    const queues = yield* query((db) =>
      db
        .select()
        .from(workQueue)
        .where(eq(workQueue.workPoolId, poolId))
        .orderBy(asc(workQueue.priority), asc(workQueue.id))
        .limit(limit)
        .offset(offset),
    );
    const slotsByQueue = yield* this.queueSlotCounts(and(eq(workQueue.workPoolId, poolId), inArray(flowRun.stateType, POOL_SLOT_STATES)));
    const queueIds = queues.map((q) => q.id);
    const holders = yield* query((db) =>
      db
        .select(slotHolderColumns)
        .from(flowRun)
        .where(and(inArray(flowRun.workQueueId, queueIds), inArray(flowRun.stateType, POOL_SLOT_STATES)))
        .orderBy(asc(flowRun.id)),
    );
    return {
      queues,
      queueCount: yield* countOf(workQueue, eq(workQueue.workPoolId, poolId)),
      activeSlots: [...slotsByQueue.values()].reduce((a, b) => a + b, 0),
      slotsByQueue,
      holders: capPerQueue(holders, flowRunLimit),
    };
  }

  *queueConcurrency(queue: WorkQueueRow, limit: number, offset: number): Op<{ count: number; holders: SlotHolder[] }> {
    const where = and(
      or(eq(flowRun.workQueueId, queue.id), and(isNull(flowRun.workQueueId), eq(flowRun.workQueueName, queue.name))),
      inArray(flowRun.stateType, LEGACY_SLOT_STATES),
    );
    return {
      count: yield* countOf(flowRun, where),
      holders: yield* query((db) => db.select(slotHolderColumns).from(flowRun).where(where).orderBy(asc(flowRun.id)).limit(limit).offset(offset)),
    };
  }

  // ------------------------------------- helpers for deployment / flow-run code

  *poolByName(name: string): Op<WorkPoolRow | undefined> {
    return (yield* query((db) => db.select().from(workPool).where(eq(workPool.name, name))))[0];
  }

  *allQueues(): Op<WorkQueueRow[]> {
    return yield* query((db) => db.select().from(workQueue).orderBy(asc(workQueue.created), asc(workQueue.id)));
  }

  *queuesOfPool(poolId: string): Op<WorkQueueRow[]> {
    return yield* query((db) => db.select().from(workQueue).where(eq(workQueue.workPoolId, poolId)).orderBy(asc(workQueue.priority)));
  }

  *queueInPool(poolName: string, queueName: string): Op<WorkQueueRow | undefined> {
    const [found] = yield* query((db) =>
      db
        .select({ row: workQueue })
        .from(workQueue)
        .innerJoin(workPool, eq(workPool.id, workQueue.workPoolId))
        .where(and(eq(workPool.name, poolName), eq(workQueue.name, queueName))),
    );
    return found?.row;
  }

  *queueById(id: string): Op<WorkQueueRow | undefined> {
    return (yield* query((db) => db.select().from(workQueue).where(eq(workQueue.id, id))))[0];
  }

  *poolById(id: string): Op<WorkPoolRow | undefined> {
    return (yield* query((db) => db.select().from(workPool).where(eq(workPool.id, id))))[0];
  }

  *queueOfPool(poolId: string, name: string): Op<WorkQueueRow | undefined> {
    return (yield* query((db) => db.select().from(workQueue).where(and(eq(workQueue.workPoolId, poolId), eq(workQueue.name, name)))))[0];
  }

  *legacyQueueByName(name: string): Op<WorkQueueRow | undefined> {
    const agentPool = yield* this.poolByName(DEFAULT_AGENT_POOL);
    const [row] = yield* query((db) =>
      db
        .select()
        .from(workQueue)
        .where(and(eq(workQueue.name, name), agentPool ? eq(workQueue.workPoolId, agentPool.id) : undefined))
        .orderBy(asc(workQueue.created), asc(workQueue.id))
        .limit(1),
    );
    return row;
  }

  /** Reads the statuses under FOR UPDATE: of two polls at once, only the first sees NOT_READY. */
  *markQueuesPolled(queueIds: string[], now: Micros): Op<string[]> {
    if (queueIds.length === 0) return [];
    const polled = yield* query((db) =>
      db.select({ id: workQueue.id, status: workQueue.status }).from(workQueue).where(inArray(workQueue.id, queueIds)).orderBy(asc(workQueue.id)).for("no key update"),
    );
    const becameReady = polled.filter((r) => r.status === "NOT_READY").map((r) => r.id);
    yield* query((db) => db.update(workQueue).set({ lastPolled: now, updated: now }).where(inArray(workQueue.id, queueIds)));
    if (becameReady.length > 0) yield* query((db) => db.update(workQueue).set({ status: "READY" }).where(inArray(workQueue.id, becameReady)));
    yield* this.events.workQueueStatusChanged(becameReady, now);
    return becameReady;
  }

  *markPoolPolled(poolId: string, now: Micros): Op<boolean> {
    const becameReady = yield* this.movePoolStatus(poolId, "NOT_READY", "READY", now);
    if (!becameReady) {
      yield* query((db) =>
        db
          .update(workPool)
          .set({ lastTransitionedStatusAt: now })
          .where(and(eq(workPool.id, poolId), eq(workPool.status, "READY"))),
      );
    }
    return becameReady;
  }

  // ------------------------------------------------------------------ foreman

  /** Silence is compared in exact microseconds (numeric epoch difference), as SQLite compares its integers. */
  *markSilentWorkersOffline(now: Micros, fallbackIntervalSeconds: number, multiple: number): Op<number> {
    const timeout = sql`coalesce(${worker.heartbeatIntervalSeconds}, ${fallbackIntervalSeconds}::numeric) * ${multiple * MICROS_PER_SECOND}::numeric`;
    const silence = sql`extract(epoch from ${instantParam(now)} - ${worker.lastHeartbeatTime}) * 1000000`;
    const rows = yield* query((db) =>
      db
        .update(worker)
        .set({ status: "OFFLINE" satisfies WorkerStatus, updated: now })
        .where(and(eq(worker.status, "ONLINE"), sql`${silence} > ${timeout}`))
        .returning({ id: worker.id }),
    );
    return rows.length;
  }

  /** Locks the pools it moves: a heartbeat or poll that got there first is seen (the lock re-checks the condition). */
  *markUnattendedPoolsNotReady(silentSince: Micros, now: Micros): Op<string[]> {
    const unattended = yield* query((db) => {
      const onlineWorker = db
        .select({ id: worker.id })
        .from(worker)
        .where(and(eq(worker.workPoolId, workPool.id), eq(worker.status, "ONLINE")));
      return db
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
        .for("no key update", { of: workPool });
    });
    for (const pool of unattended) yield* this.stampPoolStatus(pool, "NOT_READY", now);
    return unattended.map((pool) => pool.id);
  }

  *markUnpolledQueuesNotReady(polledBefore: Micros, now: Micros): Op<string[]> {
    const rows = yield* query((db) =>
      db
        .update(workQueue)
        .set({ status: "NOT_READY" satisfies WorkQueueStatus, updated: now })
        .where(and(eq(workQueue.status, "READY"), lt(workQueue.lastPolled, polledBefore)))
        .returning({ id: workQueue.id }),
    );
    const ids = rows.map((r) => r.id);
    yield* this.events.workQueueStatusChanged(ids, now);
    return ids;
  }

  *poolActiveSlots(poolIds: string[]): Op<Map<string, number>> {
    if (poolIds.length === 0) return new Map();
    const rows = yield* query((db) =>
      db
        .select({ poolId: workQueue.workPoolId, n: count() })
        .from(flowRun)
        .innerJoin(workQueue, eq(flowRun.workQueueId, workQueue.id))
        .where(and(inArray(workQueue.workPoolId, poolIds), inArray(flowRun.stateType, POOL_SLOT_STATES)))
        .groupBy(workQueue.workPoolId),
    );
    return new Map(rows.map((r) => [r.poolId, r.n]));
  }

  *queueActiveSlots(queueIds: string[], counting: SlotCounting): Op<Map<string, number>> {
    if (queueIds.length === 0) return new Map();
    if (counting === "pool") return yield* this.queueSlotCounts(and(inArray(flowRun.workQueueId, queueIds), inArray(flowRun.stateType, POOL_SLOT_STATES)));
    const queues = yield* query((db) => db.select({ id: workQueue.id, filter: workQueue.filter }).from(workQueue).where(inArray(workQueue.id, queueIds)));
    const plain = queues.filter((q) => q.filter == null).map((q) => q.id);
    const counts = plain.length
      ? yield* this.queueSlotCounts(and(inArray(flowRun.workQueueId, plain), inArray(flowRun.stateType, LEGACY_SLOT_STATES)))
      : new Map<string, number>();
    for (const q of queues) {
      if (q.filter != null) counts.set(q.id, yield* countOf(flowRun, flowRunCond(legacyFilterSlotHolders(q.filter as QueueFilterValue))));
    }
    return counts;
  }

  // ----------------------------------------------------------------- private

  /**
   * FOR NO KEY UPDATE, which a queue insert's foreign-key check (FOR KEY SHARE) does not
   * wait for. Queue writes that renumber priorities take it before any queue row, so they
   * queue up per pool instead of deadlocking.
   */
  private *lockPool(which: SQL): Op<void> {
    yield* query((db) => db.select({ id: workPool.id }).from(workPool).where(which).for("no key update"));
  }

  private poolOfQueue(queueId: string): SQL {
    return sql`(SELECT ${workQueue.workPoolId} FROM ${workQueue} WHERE ${workQueue.id} = ${queueId})`;
  }

  /** Under the pool's lock: of two heartbeats at once, only the first sees `from` and announces the move. */
  private *movePoolStatus(poolId: string, from: WorkPoolStatus, to: WorkPoolStatus, now: Micros): Op<boolean> {
    const before = yield* this.lockedPool(poolId);
    if (before?.status !== from) return false;
    yield* this.stampPoolStatus(before, to, now);
    return true;
  }

  private *lockedPool(id: string): Op<WorkPoolRow | undefined> {
    const [row] = yield* query((db) => db.select().from(workPool).where(eq(workPool.id, id)).for("no key update"));
    return row;
  }

  /** Gives the (locked) pool its new status and announces it, following the pool's last status event while that is recent. */
  private *stampPoolStatus(before: WorkPoolRow, to: WorkPoolStatus, now: Micros): Op<void> {
    const eventId = Bun.randomUUIDv7();
    yield* query((db) =>
      db
        .update(workPool)
        .set({ status: to, lastTransitionedStatusAt: now, lastStatusEventId: eventId, lastStatusEventAt: now, updated: now })
        .where(eq(workPool.id, before.id)),
    );
    yield* this.events.workPoolStatusChanged(before.id, eventId, now, precedingPoolStatusEvent(before, now));
  }

  private *queueViews(where: SQL | undefined, order: SQL[], limit: number, offset: number): Op<{ row: WorkQueueRow; poolName: string }[]> {
    return yield* query((db) =>
      db
        .select({ row: workQueue, poolName: workPool.name })
        .from(workQueue)
        .innerJoin(workPool, eq(workPool.id, workQueue.workPoolId))
        .where(where)
        .orderBy(...order)
        .limit(limit)
        .offset(offset),
    );
  }

  private *queueView(id: string, counting: SlotCounting): Op<WorkQueueView | undefined> {
    const rows = yield* this.queueViews(eq(workQueue.id, id), [asc(workQueue.id)], 1, 0);
    return rows.length > 0 ? (yield* this.withQueueSlots(rows, counting))[0] : undefined;
  }

  private *withPoolSlots(rows: WorkPoolRow[]): Op<WorkPoolView[]> {
    const counts = yield* this.poolActiveSlots(rows.filter((r) => r.concurrencyLimit != null).map((r) => r.id));
    return rows.map((row) => ({ row, activeSlots: row.concurrencyLimit == null ? null : (counts.get(row.id) ?? 0) }));
  }

  private *withQueueSlots(rows: { row: WorkQueueRow; poolName: string }[], counting: SlotCounting): Op<WorkQueueView[]> {
    const counts = yield* this.queueActiveSlots(rows.filter((r) => r.row.concurrencyLimit != null).map((r) => r.row.id), counting);
    return rows.map((r) => ({ ...r, activeSlots: r.row.concurrencyLimit == null ? null : (counts.get(r.row.id) ?? 0) }));
  }

  /** Runs matching `where` (flow_run joined to its queue), counted per queue. */
  private *queueSlotCounts(where: SQL | undefined): Op<Map<string, number>> {
    const rows = yield* query((db) =>
      db
        .select({ queueId: workQueue.id, n: count() })
        .from(flowRun)
        .innerJoin(workQueue, eq(flowRun.workQueueId, workQueue.id))
        .where(where)
        .groupBy(workQueue.id),
    );
    return new Map(rows.map((r) => [r.queueId, r.n]));
  }
}
