/**
 * The repository contract (test/support/contract.ts) for work pools, their queues and
 * workers: rows, filters, orders, priorities, legacy queue look-ups, heartbeats, the
 * foreman's status changes, concurrency slots, deletes, and what concurrent writers end with.
 */
import { expect } from "bun:test";
import { firstFreePriority, rebalancePriorities } from "../../src/domain/queue-priorities";
import type { WorkPoolStatus } from "../../src/domain/work-pool-status";
import type { PgPortedRepositories } from "../../src/db/postgres/store";
import type { WorkPoolInput, WorkQueueInput } from "../../src/db/repos/work-pools";
import type { JsonObject } from "../../src/lib/json";
import { MICROS_PER_SECOND } from "../../src/lib/time";
import { contractSuite, errorOf, MISSING, T0, type ContractStore } from "../support/contract";
import { insertRun, runsOf, type RunSeed } from "../support/contract-runs";

type WorkPools = PgPortedRepositories["workPools"];

const pool = (name: string, extra: Partial<WorkPoolInput> = {}): WorkPoolInput => ({
  name,
  description: null,
  type: "process",
  baseJobTemplate: { job_configuration: { command: "{{ command }}" }, variables: { properties: {} } },
  isPaused: false,
  concurrencyLimit: null,
  storageConfiguration: {},
  ...extra,
});

const queue = (name: string, priority: number, extra: Partial<WorkQueueInput> = {}): WorkQueueInput & { priority: number } => ({
  name,
  description: "",
  isPaused: false,
  concurrencyLimit: null,
  filter: null,
  ...extra,
  priority,
});

async function insertPool(store: ContractStore, input: WorkPoolInput, status: WorkPoolStatus | null = "NOT_READY", at = 0): Promise<string> {
  return (await store.write((tx) => tx.workPools.insertPoolRow(input, status, T0 + at)))!.id;
}

async function insertQueue(store: ContractStore, poolId: string, input: WorkQueueInput & { priority: number }, at = 0): Promise<string> {
  return (await store.write((tx) => tx.workPools.insertQueueRow(poolId, input, T0 + at)))!.id;
}


/** A map keyed by ids as sorted entries: the harness renames ids in values only, and GROUP BY orders differ. */
const entries = (map: Map<string, number>) => [...map].sort(([a], [b]) => (a < b ? -1 : 1));

async function flowId(store: ContractStore): Promise<string> {
  return (await store.write((tx) => tx.flows.upsertByName({ name: "f", tags: [], labels: {} }, T0))).row.id;
}

contractSuite("work pools, work queues, workers", ["worker", "work_queue", "work_pool", "flow_run", "flow"], {
  async "pools: insert, name conflicts, default queue, read, filters, code-point order, pages, counts, updates and their events, NOT NULL"(store, published, events) {
    const names = ["beta", "Alpha", "_under", "zeta", "default-agent-pool"];
    const ids: string[] = [];
    for (const [i, name] of names.entries()) {
      ids.push(await insertPool(store, pool(name, { type: i % 2 === 0 ? "process" : "kubernetes", concurrencyLimit: i === 0 ? 2 : null, description: i === 1 ? "ünïcödé 🚀" : null }), i === 4 ? null : "NOT_READY", i));
    }
    const duplicate = await store.write((tx) => tx.workPools.insertPoolRow(pool("beta"), "READY", T0));
    expect(duplicate).toBeUndefined();
    const queueId = await insertQueue(store, ids[0]!, queue("default", 1));
    await store.write((tx) => tx.workPools.setDefaultQueue(ids[0]!, queueId));
    const list = (filter: Parameters<WorkPools["listPools"]>[0], limit = 100, offset = 0) =>
      store.read((q) => q.workPools.listPools(filter, limit, offset)).then((views) => views.map((v) => v.row.name));
    const observed = {
      get: await store.read((q) => q.workPools.getPool("beta")),
      getMissing: await store.read((q) => q.workPools.getPool("nope")),
      byName: await store.read((q) => q.workPools.poolByName("Alpha")),
      byId: await store.read((q) => q.workPools.poolById(ids[2]!)),
      byIdMissing: await store.read((q) => q.workPools.poolById(MISSING)),
      all: await list(null),
      page: await list(null, 2, 1),
      byType: await list({ type: { any_: ["kubernetes"] } }),
      byNameAny: await list({ name: { any_: ["zeta", "beta", "nope"] } }),
      byIdUppercase: await list({ id: { any_: [ids[3]!.toUpperCase()] } }),
      orOperator: await list({ operator: "or_", name: { any_: ["zeta"] }, type: { any_: ["kubernetes"] } }),
      count: await store.read((q) => q.workPools.countPools(null)),
      countProcess: await store.read((q) => q.workPools.countPools({ type: { any_: ["process"] } })),
    };
    expect(observed.all).toEqual(["Alpha", "_under", "beta", "default-agent-pool", "zeta"]);
    expect(observed.get).toMatchObject({ row: { defaultQueueId: queueId, created: T0, concurrencyLimit: 2 }, activeSlots: 0 });
    await store.write((tx) => tx.workPools.updatePoolRow(ids[1]!, { description: null, concurrencyLimit: 7, baseJobTemplate: { replaced: [true] }, storageConfiguration: { bundle: "s3" } }, "PAUSED", T0 + 10));
    await store.write((tx) => tx.workPools.updatePoolRow(ids[2]!, { isPaused: true }, undefined, T0 + 11));
    const nullPaused = await errorOf(store.write((tx) => tx.workPools.updatePoolRow(ids[2]!, { isPaused: null }, undefined, T0 + 12)));
    const nullTemplate = await errorOf(store.write((tx) => tx.workPools.updatePoolRow(ids[2]!, { baseJobTemplate: null }, undefined, T0 + 12)));
    expect([nullPaused, nullTemplate]).toEqual(["StoreConflictError", "StoreConflictError"]);
    // the failed writes' events are dropped with them; setting is_paused alone changes no event field
    expect(published).toEqual(["prefect.work-pool.updated", "prefect.work-pool.paused"]);
    expect(events[0]!.payload).toEqual({
      updated_fields: ["description", "base_job_template", "concurrency_limit", "storage_configuration"],
      updates: {
        description: { from: "ünïcödé 🚀", to: null },
        base_job_template: { from: pool("x").baseJobTemplate, to: { replaced: [true] } },
        concurrency_limit: { from: null, to: 7 },
        storage_configuration: { from: pool("x").storageConfiguration, to: { bundle: "s3" } },
      },
    });
    return {
      ...observed,
      events: [...events],
      duplicate: duplicate ?? null,
      updated: await store.read((q) => q.workPools.poolById(ids[1]!)),
      paused: await store.read((q) => q.workPools.poolById(ids[2]!)),
    };
  },

  async "queues: priorities, reads by name and id, filters, orders, updates, rename conflicts, deletes, legacy look-ups"(store, published) {
    const poolId = await insertPool(store, pool("main"));
    const otherPool = await insertPool(store, pool("other"));
    const ids: string[] = [];
    for (const [i, name] of ["default", "High", "low", "_batch"].entries()) {
      ids.push(await insertQueue(store, poolId, queue(name, [3, 1, 4, 2][i]!, { concurrencyLimit: i === 1 ? 5 : null, filter: i === 2 ? { tags: ["x"], deployment_ids: null } : null }), i));
    }
    const elsewhere = await insertQueue(store, otherPool, queue("low", 1), 10);
    const duplicate = await store.write((tx) => tx.workPools.insertQueueRow(poolId, queue("low", 9), T0));
    const sameNameOtherPool = await store.write((tx) => tx.workPools.insertQueueRow(otherPool, queue("default", 2), T0 + 11));
    expect(duplicate).toBeUndefined();
    expect(sameNameOtherPool).toBeDefined();
    const priorities = await store.read((q) => q.workPools.queuePriorities(poolId));
    expect(priorities.map((p) => p.priority)).toEqual([1, 2, 3, 4]);
    await store.write((tx) => tx.workPools.setPriorities(new Map([[ids[0]!, 1], [ids[1]!, 3]])));
    const list = (filter: Parameters<WorkPools["listQueues"]>[1], limit = 100, offset = 0) =>
      store.read((q) => q.workPools.listQueues(poolId, filter, limit, offset)).then((views) => views.map((v) => v.row.name));
    const observed = {
      priorities,
      afterSetPriorities: await store.read((q) => q.workPools.queuePriorities(poolId)),
      list: await list(null),
      page: await list(null, 2, 1),
      byName: await list({ name: { any_: ["low", "High"] } }),
      byPrefix: await list({ name: { startswith_: ["h", "LO"] } }),
      // Prefect leaves the prefix's wildcards in: `_` is any one character
      byPrefixWildcard: await list({ name: { startswith_: ["_o"] } }),
      byId: await list({ id: { any_: [ids[3]!] } }),
      all: await store.read((q) => q.workPools.listAllQueues(null, 100, 0)).then((views) => views.map((v) => [v.poolName, v.row.name])),
      allPage: await store.read((q) => q.workPools.listAllQueues({ name: { any_: ["low", "default"] } }, 2, 1)).then((views) => views.map((v) => v.poolName)),
      getQueue: await store.read((q) => q.workPools.getQueue("main", "High")),
      getQueueMissing: await store.read((q) => q.workPools.getQueue("other", "High")),
      getById: await store.read((q) => q.workPools.getQueueById(ids[2]!, "legacy")),
      getByIdMissing: await store.read((q) => q.workPools.getQueueById(MISSING, "pool")),
      queueById: await store.read((q) => q.workPools.queueById(ids[0]!)),
      queueInPool: await store.read((q) => q.workPools.queueInPool("other", "low")).then((r) => r?.id === elsewhere),
      queueOfPool: await store.read((q) => q.workPools.queueOfPool(poolId, "low")).then((r) => r?.id === ids[2]),
      queueOfPoolMissing: await store.read((q) => q.workPools.queueOfPool(poolId, "nope")),
      queuesOfPool: await store.read((q) => q.workPools.queuesOfPool(poolId)).then((rows) => rows.map((r) => r.name)),
      allQueues: await store.read((q) => q.workPools.allQueues()).then((rows) => rows.map((r) => r.name)),
      // no default agent pool: the first queue of that name in any pool
      legacyNoAgentPool: await store.read((q) => q.workPools.legacyQueueByName("low")).then((r) => r?.id === ids[2]),
    };
    expect(observed.list).toEqual(["default", "_batch", "High", "low"]);
    expect(observed.byPrefix).toEqual(["High", "low"]);
    expect(observed.byPrefixWildcard).toEqual(["low"]);
    expect(observed.all).toEqual([["main", "High"], ["main", "_batch"], ["main", "default"], ["other", "default"], ["main", "low"], ["other", "low"]]);
    const agentPool = await insertPool(store, pool("default-agent-pool", { type: "prefect-agent" }), null, 20);
    const agentLow = await insertQueue(store, agentPool, queue("low", 1), 21);
    const legacyWithAgentPool = await store.read((q) => q.workPools.getLegacyQueueByName("low"));
    expect(legacyWithAgentPool?.row.id).toBe(agentLow);
    await store.write((tx) => tx.workPools.updateQueueRow(ids[1]!, { name: "Highest", description: "new", isPaused: true, concurrencyLimit: null, priority: 9, lastPolled: T0 + 30, filter: { tags: ["y"] } }, "PAUSED", T0 + 31));
    await store.write((tx) => tx.workPools.updateQueueRow(ids[3]!, { filter: null, description: undefined }, undefined, T0 + 32));
    const rename = await errorOf(store.write((tx) => tx.workPools.updateQueueRow(ids[3]!, { name: "low" }, undefined, T0 + 33)));
    const nullName = await errorOf(store.write((tx) => tx.workPools.updateQueueRow(ids[3]!, { name: null }, undefined, T0 + 33)));
    const nullPriority = await errorOf(store.write((tx) => tx.workPools.updateQueueRow(ids[3]!, { priority: null }, undefined, T0 + 33)));
    expect([rename, nullName, nullPriority]).toEqual(["StoreConflictError", "StoreConflictError", "StoreConflictError"]);
    const flow = await flowId(store);
    await insertRun(store, { name: "in-low", flowId: flow, workQueueId: ids[2]!, stateType: "SCHEDULED", stateName: "Late" }, T0);
    await insertRun(store, { name: "in-high", flowId: flow, workQueueId: ids[1]!, stateType: "SCHEDULED", stateName: "Late" }, T0);
    const late = await store.read((q) => q.workPools.lateRunsCount(ids[2]!));
    await store.write((tx) => tx.workPools.deleteQueue(ids[2]!, T0 + 40));
    await store.write((tx) => tx.workPools.deleteQueue(ids[2]!, T0 + 41));
    expect(await store.read((q) => q.workPools.queueById(ids[2]!))).toBeUndefined();
    return {
      ...observed,
      duplicate: duplicate ?? null,
      sameNameOtherPool: sameNameOtherPool !== undefined,
      legacyWithAgentPool,
      legacyMissing: await store.read((q) => q.workPools.getLegacyQueueByName("nope")),
      updated: await store.read((q) => q.workPools.queueById(ids[1]!)),
      filterCleared: await store.read((q) => q.workPools.queueById(ids[3]!)),
      late,
      lateAfterDelete: await store.read((q) => q.workPools.lateRunsCount(ids[2]!)),
      runs: await runsOf(store),
      published: [...published],
    };
  },

  async "workers: heartbeat upserts keep the interval, filters, order, deletes, the foreman's silence to the microsecond"(store) {
    const poolId = await insertPool(store, pool("main"), "READY");
    const otherPool = await insertPool(store, pool("other"), "READY");
    await store.write((tx) => tx.workPools.upsertOnlineWorker(poolId, "w-interval", 30, T0));
    await store.write((tx) => tx.workPools.upsertOnlineWorker(poolId, "w-fallback", null, T0 + 1));
    await store.write((tx) => tx.workPools.upsertOnlineWorker(poolId, "w-fresh", 10, T0 + 2));
    await store.write((tx) => tx.workPools.upsertOnlineWorker(otherPool, "w-interval", 5, T0 + 100 * MICROS_PER_SECOND));
    // a later heartbeat without an interval keeps the stored one and leaves `updated` alone
    await store.write((tx) => tx.workPools.upsertOnlineWorker(poolId, "w-fresh", null, T0 + 100 * MICROS_PER_SECOND));
    const list = (filter: Parameters<WorkPools["listWorkers"]>[1], limit = 100, offset = 0) =>
      store.read((q) => q.workPools.listWorkers(poolId, filter, limit, offset));
    const workers = await list(null);
    expect(workers.map((w) => [w.name, w.heartbeatIntervalSeconds, w.updated])).toEqual([
      ["w-fresh", 10, T0 + 2],
      ["w-fallback", null, T0 + 1],
      ["w-interval", 30, T0],
    ]);
    // w-interval: 30 s x 2 = 60 s; w-fallback: 20 s x 2 = 40 s, silent for exactly that at T0 + 40 s + 1 µs
    const atBoundary = await store.write((tx) => tx.workPools.markSilentWorkersOffline(T0 + 1 + 40 * MICROS_PER_SECOND, 20, 2));
    const pastBoundary = await store.write((tx) => tx.workPools.markSilentWorkersOffline(T0 + 2 + 40 * MICROS_PER_SECOND, 20, 2));
    // half an interval: w-interval (15 s) and the other pool's worker (2.5 s, silent for 2.5 s + 1 µs) go, w-fresh (5 s) stays
    const fractional = await store.write((tx) => tx.workPools.markSilentWorkersOffline(T0 + 1 + 102.5 * MICROS_PER_SECOND, 20, 0.5));
    expect([atBoundary, pastBoundary, fractional]).toEqual([0, 1, 2]);
    const observed = {
      workers,
      page: (await list(null, 1, 1)).map((w) => w.name),
      online: (await list({ status: { any_: ["ONLINE"] } })).map((w) => w.name),
      notOffline: (await list({ status: { not_any_: ["OFFLINE"] } })).map((w) => w.name),
      heartbeatAfter: (await list({ last_heartbeat_time: { after_: "2026-12-03T10:00:00.123458Z" } })).map((w) => w.name),
      heartbeatBefore: (await list({ last_heartbeat_time: { before_: "2026-12-03T10:00:00.123458Z" } })).map((w) => w.name),
      atBoundary,
      pastBoundary,
      fractional,
      hasOnline: await store.read((q) => q.workPools.hasOnlineWorker(poolId)),
      otherHasOnline: await store.read((q) => q.workPools.hasOnlineWorker(otherPool)),
      afterOffline: await list(null),
    };
    expect(observed.heartbeatAfter).toEqual(["w-fresh", "w-fallback"]);
    const deleted = await store.write((tx) => tx.workPools.deleteWorker(poolId, "w-fresh"));
    const deletedAgain = await store.write((tx) => tx.workPools.deleteWorker(poolId, "w-fresh"));
    expect([deleted, deletedAgain]).toEqual([true, false]);
    return {
      ...observed,
      deleted,
      deletedAgain,
      hasOnlineAfterDelete: await store.read((q) => q.workPools.hasOnlineWorker(poolId)),
      otherPoolWorkers: await store.read((q) => q.workPools.listWorkers(otherPool, null, 10, 0)),
    };
  },

  async "statuses and their events: pool moves, polls of pools and queues, the foreman's NOT_READY for unattended pools and unpolled queues"(store, published, events) {
    const ready = await insertPool(store, pool("ready"), "READY");
    const attended = await insertPool(store, pool("attended"), "READY");
    const polledLately = await insertPool(store, pool("polled-lately"), "READY");
    const notReady = await insertPool(store, pool("not-ready"), "NOT_READY");
    const paused = await insertPool(store, pool("paused"), "PAUSED");
    await store.write((tx) => tx.workPools.upsertOnlineWorker(attended, "w", null, T0));
    const moved = await store.write((tx) => tx.workPools.setPoolStatus(paused, "PAUSED", "NOT_READY", T0 + 1));
    const notMoved = await store.write((tx) => tx.workPools.setPoolStatus(paused, "PAUSED", "READY", T0 + 2));
    const polledNotReady = await store.write((tx) => tx.workPools.markPoolPolled(notReady, T0 + 3));
    const polledReady = await store.write((tx) => tx.workPools.markPoolPolled(polledLately, T0 + 50));
    expect([moved, notMoved, polledNotReady, polledReady]).toEqual([true, false, true, false]);
    const unattended = (await store.write((tx) => tx.workPools.markUnattendedPoolsNotReady(T0 + 10, T0 + 60))).sort();
    expect(unattended).toEqual([ready, notReady].sort());
    const queues = [
      await insertQueue(store, attended, queue("never-polled", 1)),
      await insertQueue(store, attended, queue("stale", 2)),
      await insertQueue(store, attended, queue("fresh", 3)),
      await insertQueue(store, attended, queue("paused", 4, { isPaused: true })),
    ];
    await store.write((tx) => tx.workPools.updateQueueRow(queues[3]!, {}, "PAUSED", T0));
    const becameReady = (await store.write((tx) => tx.workPools.markQueuesPolled(queues.slice(1), T0 + 5))).sort();
    const again = await store.write((tx) => tx.workPools.markQueuesPolled(queues.slice(1), T0 + 6));
    await store.write((tx) => tx.workPools.markQueuesPolled([queues[2]!], T0 + 20));
    const none = await store.write((tx) => tx.workPools.markQueuesPolled([], T0 + 20));
    expect(becameReady).toEqual(queues.slice(1, 3));
    const unpolled = await store.write((tx) => tx.workPools.markUnpolledQueuesNotReady(T0 + 20, T0 + 70));
    expect(unpolled).toEqual([queues[1]!]);
    expect(published).toEqual([
      "prefect.work-pool.not-ready",
      "prefect.work-pool.ready",
      "prefect.work-pool.not-ready",
      "prefect.work-pool.not-ready",
      "prefect.work-queue.paused",
      "prefect.work-queue.ready",
      "prefect.work-queue.ready",
      "prefect.work-queue.not-ready",
    ]);
    const [, polledEvent, , unattendedNotReady] = events;
    // the foreman's NOT_READY follows the poll's READY, 57 µs before; a pool's first status event follows nothing
    expect(unattendedNotReady).toMatchObject({ resource: { "prefect.resource.id": `prefect.work-pool.${notReady}` }, follows: polledEvent!.id, occurred: T0 + 60 });
    expect(events[0]!.follows).toBeNull();
    return {
      events: [...events],
      moved,
      notMoved,
      polledNotReady,
      polledReady,
      unattended,
      pools: await store.read((q) => q.workPools.listPools(null, 10, 0)).then((views) => views.map((v) => v.row)),
      becameReady,
      again,
      none,
      unpolled,
      queues: await store.read((q) => q.workPools.listQueues(attended, null, 10, 0)).then((views) => views.map((v) => v.row)),
    };
  },

  async "concurrency: slots per pool and queue, pool and legacy counting, tag-filtered queues, slot holders"(store) {
    const flow = await flowId(store);
    const limited = await insertPool(store, pool("limited", { concurrencyLimit: 3 }));
    const open = await insertPool(store, pool("open"));
    const q1 = await insertQueue(store, limited, queue("q1", 1, { concurrencyLimit: 2 }));
    const q2 = await insertQueue(store, limited, queue("q2", 2));
    const tagged = await insertQueue(store, open, queue("tagged", 1, { concurrencyLimit: 1, filter: { tags: ["gpu"], deployment_ids: null } as JsonObject }));
    const run = (name: string, seed: Partial<RunSeed>) => insertRun(store, { name, flowId: flow, stateTimestamp: T0 + 7, startTime: T0 + 8, ...seed }, T0);
    await run("a-pending", { workQueueId: q1, stateType: "PENDING", stateName: "Pending" });
    await run("b-running", { workQueueId: q1, stateType: "RUNNING", stateName: "Running" });
    await run("c-cancelling", { workQueueId: q1, stateType: "CANCELLING", stateName: "Cancelling" });
    await run("d-running", { workQueueId: q2, stateType: "RUNNING", stateName: "Running" });
    await run("e-scheduled", { workQueueId: q2, stateType: "SCHEDULED", stateName: "Scheduled" });
    await run("f-named-only", { workQueueId: null, workQueueName: "q1", stateType: "RUNNING", stateName: "Running" });
    await run("g-gpu", { deploymentId: MISSING, tags: ["gpu", "x"], stateType: "RUNNING", stateName: "Running" });
    await run("h-gpu-no-deployment", { tags: ["gpu"], stateType: "RUNNING", stateName: "Running" });
    const q1Row = (await store.read((q) => q.workPools.queueById(q1)))!;
    const observed = {
      poolView: await store.read((q) => q.workPools.getPool("limited")).then((v) => v!.activeSlots),
      openPoolView: await store.read((q) => q.workPools.getPool("open")).then((v) => v!.activeSlots),
      poolActiveSlots: entries(await store.read((q) => q.workPools.poolActiveSlots([limited, open]))),
      poolActiveSlotsNone: (await store.read((q) => q.workPools.poolActiveSlots([]))).size,
      queuePool: entries(await store.read((q) => q.workPools.queueActiveSlots([q1, q2, tagged], "pool"))),
      queueLegacy: entries(await store.read((q) => q.workPools.queueActiveSlots([q1, q2, tagged], "legacy"))),
      queueNone: (await store.read((q) => q.workPools.queueActiveSlots([], "legacy"))).size,
      viewPool: await store.read((q) => q.workPools.getQueueById(q1, "pool")).then((v) => v!.activeSlots),
      viewLegacy: await store.read((q) => q.workPools.getQueueById(q1, "legacy")).then((v) => v!.activeSlots),
      viewTagged: await store.read((q) => q.workPools.getLegacyQueueByName("tagged")).then((v) => v!.activeSlots),
      viewUnlimited: await store.read((q) => q.workPools.getQueue("limited", "q2")).then((v) => v!.activeSlots),
      poolConcurrency: await store.read((q) => q.workPools.poolConcurrency(limited, 10, 0, 1)),
      poolConcurrencyPage: await store.read((q) => q.workPools.poolConcurrency(limited, 1, 1, 10)),
      queueConcurrency: await store.read((q) => q.workPools.queueConcurrency(q1Row, 10, 0)),
      queueConcurrencyPage: await store.read((q) => q.workPools.queueConcurrency(q1Row, 1, 2)),
    };
    expect(observed.poolView).toBe(3);
    expect(observed.queueLegacy).toEqual(entries(new Map([[q1, 3], [q2, 1], [tagged, 1]])));
    expect(observed.poolConcurrency.holders.map((h) => h.name)).toEqual(["a-pending", "d-running"]);
    expect(observed.queueConcurrency.count).toBe(4);
    return { ...observed, poolConcurrency: { ...observed.poolConcurrency, slotsByQueue: entries(observed.poolConcurrency.slotsByQueue) }, poolConcurrencyPage: { ...observed.poolConcurrencyPage, slotsByQueue: entries(observed.poolConcurrencyPage.slotsByQueue) } };
  },

  async "delete pool: its queues and workers go, their runs lose the queue, events name the queues; a second delete finds nothing"(store, published) {
    const flow = await flowId(store);
    const doomed = await insertPool(store, pool("doomed"));
    const kept = await insertPool(store, pool("kept"));
    const q = await insertQueue(store, doomed, queue("q", 1));
    const other = await insertQueue(store, kept, queue("q", 1));
    await store.write((tx) => tx.workPools.setDefaultQueue(doomed, q));
    await store.write((tx) => tx.workPools.upsertOnlineWorker(doomed, "w", null, T0));
    await insertRun(store, { name: "doomed-run", flowId: flow, workQueueId: q, stateType: "SCHEDULED" }, T0);
    await insertRun(store, { name: "kept-run", flowId: flow, workQueueId: other, stateType: "SCHEDULED" }, T0);
    const deleted = await store.write((tx) => tx.workPools.deletePool(doomed, T0 + 1));
    const deletedAgain = await store.write((tx) => tx.workPools.deletePool(doomed, T0 + 2));
    expect([deleted, deletedAgain]).toEqual([true, false]);
    expect(published).toEqual(["prefect.work-queue.deleted", "prefect.work-pool.deleted"]);
    return {
      deleted,
      deletedAgain,
      published: [...published],
      queues: await store.read((q) => q.workPools.allQueues()).then((rows) => rows.map((r) => r.id)),
      workers: await store.read((q) => q.workPools.listWorkers(doomed, null, 10, 0)),
      runs: await runsOf(store),
    };
  },

  async "concurrent writers: distinct priorities (inserts and reshuffles), one worker per name, one READY per poll, one delete"(store, published) {
    const poolId = await insertPool(store, pool("main"), "NOT_READY");
    await insertQueue(store, poolId, queue("default", 1));
    // five queues created at once, each at the first free priority, as the work-pool service does
    await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        store.write(function* (tx) {
          const priority = firstFreePriority((yield* tx.workPools.queuePriorities(poolId)).map((q) => q.priority));
          return yield* tx.workPools.insertQueueRow(poolId, queue(`q${i}`, priority), T0 + i);
        }),
      ),
    );
    const priorities = (await store.read((q) => q.workPools.queuePriorities(poolId))).map((q) => q.priority);
    expect(priorities).toEqual([1, 2, 3, 4, 5, 6]);
    const queueIds = (await store.read((q) => q.workPools.allQueues())).map((q) => q.id);
    // every queue moved to the top at once, each renumbering the pool as the work-pool service does
    await Promise.all(
      queueIds.map((id, i) =>
        store.write(function* (tx) {
          yield* tx.workPools.updateQueueRow(id, { priority: 1 }, undefined, T0 + i);
          const queues = yield* tx.workPools.queuePriorities(poolId);
          const next = rebalancePriorities(queues, new Map([[id, 1]]));
          yield* tx.workPools.setPriorities(new Map(queues.filter((q) => next.get(q.id) !== q.priority).map((q) => [q.id, next.get(q.id)!])));
        }),
      ),
    );
    const reshuffled = (await store.read((q) => q.workPools.queuePriorities(poolId))).map((q) => q.priority);
    expect(reshuffled).toEqual([1, 2, 3, 4, 5, 6]);
    await Promise.all(Array.from({ length: 4 }, (_, i) => store.write((tx) => tx.workPools.upsertOnlineWorker(poolId, "w", i === 0 ? 30 : null, T0 + i))));
    const workers = await store.read((q) => q.workPools.listWorkers(poolId, null, 10, 0));
    expect(workers).toHaveLength(1);
    const polls = await Promise.all(Array.from({ length: 4 }, () => store.write((tx) => tx.workPools.markQueuesPolled(queueIds, T0 + 10))));
    expect(polls.flat()).toHaveLength(queueIds.length);
    const poolPolls = await Promise.all(Array.from({ length: 4 }, () => store.write((tx) => tx.workPools.markPoolPolled(poolId, T0 + 10))));
    expect(poolPolls.filter(Boolean)).toHaveLength(1);
    // which queue was already first when its writer came is a race: the priority updates are left out
    const statusEvents = published.splice(0).filter((name) => name !== "prefect.work-queue.updated");
    // one READY per queue and one for the pool, however many polls raced
    expect(statusEvents).toEqual([...Array<string>(6).fill("prefect.work-queue.ready"), "prefect.work-pool.ready"]);
    await Promise.all(Array.from({ length: 3 }, () => store.write((tx) => tx.workPools.deleteQueue(queueIds[1]!, T0 + 15))));
    expect(published).toEqual(["prefect.work-queue.deleted"]);
    const deletes = await Promise.all(Array.from({ length: 3 }, () => store.write((tx) => tx.workPools.deletePool(poolId, T0 + 20))));
    expect(deletes.filter(Boolean)).toHaveLength(1);
    // the pool's five other queues are announced with it, each once
    expect(published).toEqual([...Array<string>(6).fill("prefect.work-queue.deleted"), "prefect.work-pool.deleted"]);
    return { statusEvents, published: [...published], priorities, reshuffled, workers: workers.length, becameReady: polls.flat().length, poolPolls: poolPolls.filter(Boolean).length, deletes: deletes.filter(Boolean).length };
  },
});
