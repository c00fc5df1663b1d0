/**
 * The repository contract (test/support/contract.ts) for automations, the automations
 * service's state (buckets, held events, child firings, the actions queue) and server-emitted
 * events, and, on PostgreSQL alone, bucket updates and action claims made by many clients at once.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as pgSchema from "../../src/db/postgres/schema";
import { PgStore } from "../../src/db/postgres/store";
import type { AutomationFields, AutomationRow, AutomationSort } from "../../src/db/repos/automations";
import type { BucketKey } from "../../src/db/repos/automation-state";
import * as liteSchema from "../../src/db/schema";
import { SqliteStore } from "../../src/db/store";
import type { Event, ReceivedEvent } from "../../src/events/model";
import type { AutomationFilter } from "../../src/schemas/filters";
import { formatDateTime, MICROS_PER_SECOND } from "../../src/lib/time";
import { newState } from "../../src/orchestration/states";
import { contractSuite, MISSING, T0, type ContractStore } from "../support/contract";
import { createTestDatabase, type TestDatabase } from "../support/postgres";

const SECOND = MICROS_PER_SECOND;

/** Fixed ids, so resource ids (`prefect.flow-run.<id>`) read the same on both backends. */
const fixedId = (kind: number, n: number) => `0195f0b4-${kind.toString().padStart(4, "0")}-7000-8000-${n.toString().padStart(12, "0")}`;

const fields = (name: string, extra: Partial<AutomationFields> = {}): AutomationFields => ({
  name,
  description: "",
  enabled: true,
  tags: [],
  trigger: { type: "event", id: fixedId(9, 1), expect: ["prefect.flow-run.Completed"], posture: "Reactive", threshold: 1, within: 0 },
  actions: [{ type: "do-nothing" }],
  actionsOnTrigger: [],
  actionsOnResolve: [],
  ...extra,
});

const runDeployment = (deploymentId: string, source = "selected") => ({ type: "run-deployment", source, deployment_id: deploymentId, parameters: null });

async function createAutomation(store: ContractStore, name: string, at: number, extra: Partial<AutomationFields> = {}, ownerResource: string | null = null) {
  return store.write((tx) => tx.automations.create({ ...fields(name, extra), ownerResource }, at));
}

/** Every event the store publishes from here on (the harness's `published` keeps names only). */
function capture(store: ContractStore): Event[] {
  const events: Event[] = [];
  store.publishTo((committed) => events.push(...committed));
  return events;
}

const receivedEvent = (n: number, occurred: number): ReceivedEvent => ({
  id: fixedId(8, n),
  occurred,
  event: "prefect.flow-run.Completed",
  resource: { "prefect.resource.id": `prefect.flow-run.${n}` },
  related: [],
  payload: { n, nested: { list: [1, null, "x"] } },
  follows: null,
  received: occurred + 1,
});

contractSuite("automations, automation state, server events", ["automation", "automation_action", "flow", "work_pool", "concurrency_limit_v2"], {
  async "automations: create, read, sorts in code-point order, filters, pages, counts, snapshot"(store) {
    const names = ["beta", "Alpha", "_under", "alpha", "émoji", "Zeta"];
    const created: AutomationRow[] = [];
    for (const [i, name] of names.entries()) {
      created.push(await createAutomation(store, name, T0 + i * 1_000_001, { tags: i % 2 === 0 ? ["prod", `n${i}`] : [], enabled: i !== 3, trigger: { type: "event", nested: { i, list: [true, null, 2.5] } } }));
    }
    expect(created[0]).toMatchObject({ name: "beta", created: T0, updated: T0, ownerResource: null });
    const list = (filter: AutomationFilter | null, sort: AutomationSort = "NAME_ASC", limit = 100, offset = 0) =>
      store.read((q) => q.automations.list(filter, sort, limit, offset)).then((rows) => rows.map((r) => r.name));
    const observed = {
      created,
      get: await store.read((q) => q.automations.get(created[1]!.id)),
      missing: (await store.read((q) => q.automations.get(MISSING))) ?? null,
      nameAsc: await list(null),
      nameDesc: await list(null, "NAME_DESC"),
      createdDesc: await list(null, "CREATED_DESC"),
      updatedDescPage: await list(null, "UPDATED_DESC", 2, 1),
      byName: await list({ name: { any_: ["alpha", "Zeta", "nope"] } }),
      byId: await list({ id: { any_: [created[0]!.id, created[5]!.id] } }),
      // inclusive: the automation created at exactly the instant is in
      createdBefore: await list({ created: { before_: formatDateTime(T0 + 2 * 1_000_001) } }),
      tagsAll: await list({ tags: { all_: ["prod", "n2"] } }),
      tagsEmpty: await list({ tags: { is_null_: true } }),
      orNameOrTag: await list({ operator: "or_", name: { any_: ["Zeta"] }, tags: { all_: ["n4"] } }),
      count: await store.read((q) => q.automations.count(null)),
      countProd: await store.read((q) => q.automations.count({ tags: { all_: ["prod"] } })),
      enabled: (await store.read((q) => q.automations.enabled())).map((r) => r.name),
      snapshot: await store.read((q) => q.automations.snapshot()),
    };
    expect(observed.nameAsc).toEqual(["Alpha", "Zeta", "_under", "alpha", "beta", "émoji"]);
    expect(observed.createdBefore).toEqual(["_under", "Alpha", "beta"].sort());
    expect(observed.enabled).toEqual(["beta", "Alpha", "_under", "émoji", "Zeta"]);
    expect(observed.snapshot).toBe(`${T0 + 5 * 1_000_001}/6`);
    return observed;
  },

  async "automations: updates, deletes, related resources, owned deletions; revision moves with each write"(store) {
    const revision0 = await store.read((q) => q.automations.revision());
    const deployment = fixedId(3, 1);
    const owned = await createAutomation(store, "owned", T0, {}, `prefect.deployment.${deployment}`);
    const runs = await createAutomation(store, "runs it", T0 + 1, { actions: [{ type: "do-nothing" }, runDeployment(deployment)] });
    await createAutomation(store, "runs it, inferred", T0 + 2, { actions: [runDeployment(deployment, "inferred")] });
    const another = await createAutomation(store, "runs another", T0 + 3, { actions: [runDeployment(fixedId(3, 2))] });
    await createAutomation(store, "owned later", T0 + 10, {}, `prefect.deployment.${deployment}`);
    await createAutomation(store, "owned by a flow", T0, {}, "prefect.flow.x");
    const updated = await store.write((tx) => tx.automations.update(runs.id, { name: "renamed", enabled: false, tags: ["t"], trigger: { type: "compound", triggers: [] } }, T0 + 20));
    const afterUpdate = await store.read((q) => q.automations.get(runs.id));
    expect(afterUpdate).toMatchObject({ name: "renamed", enabled: false, tags: ["t"], created: T0 + 1, updated: T0 + 20, description: "" });
    const related = (await store.read((q) => q.automations.relatedTo(`prefect.deployment.${deployment}`))).map((r) => r.name);
    expect(related).toEqual(["owned", "renamed", "owned later"]);
    const ownedDeleted = await store.write((tx) => tx.automations.deleteOwnedBy(`prefect.deployment.${deployment}`, T0 + 9));
    expect(ownedDeleted).toEqual([owned.id]);
    const observed = {
      updated,
      updateMissing: await store.write((tx) => tx.automations.update(MISSING, { name: "x" }, T0)),
      afterUpdate,
      related,
      relatedToFlow: (await store.read((q) => q.automations.relatedTo("prefect.flow.x"))).map((r) => r.name),
      relatedToNothing: await store.read((q) => q.automations.relatedTo("prefect.deployment.nope")),
      ownedDeleted,
      ownedAtTheInstant: await store.write((tx) => tx.automations.deleteOwnedBy(`prefect.deployment.${deployment}`, T0 + 10)),
      delete: await store.write((tx) => tx.automations.delete(another.id)),
      deleteAgain: await store.write((tx) => tx.automations.delete(another.id)),
      left: (await store.read((q) => q.automations.list(null, "CREATED_DESC", 100, 0))).map((r) => r.name),
      // create 6, update 2, deleteOwnedBy 2, delete 2
      revisions: (await store.read((q) => q.automations.revision())) - revision0,
    };
    expect(observed.revisions).toBe(12);
    return observed;
  },

  async "buckets: ensure, increment, start anew, list, thresholds, sweeps"(store) {
    const automation = await createAutomation(store, "a", T0);
    const key = (bucketingKey: string[]): BucketKey => ({ automationId: automation.id, triggerId: fixedId(9, 1), bucketingKey });
    const first = receivedEvent(1, T0 + 5);
    const ensured = await store.write((tx) => tx.automationState.ensureBucket(key(["x", "ü"]), { start: T0, end: T0 + 10 * SECOND, count: 0, lastEvent: first }, T0 + 1));
    const ensuredAgain = await store.write((tx) => tx.automationState.ensureBucket(key(["x", "ü"]), { start: T0 + 1, end: T0 + 1, count: 9, lastEvent: null }, T0 + 2));
    expect(ensuredAgain).toEqual(ensured);
    const incremented = await store.write((tx) => tx.automationState.incrementBucket(ensured, 2, receivedEvent(2, T0 + 6), T0 + 3));
    const keptLastEvent = await store.write((tx) => tx.automationState.incrementBucket(incremented, 1, null, T0 + 4));
    expect(keptLastEvent).toMatchObject({ count: 3, lastEvent: { id: fixedId(8, 2) } });
    const incrementedMissing = await store.write((tx) => tx.automationState.incrementBucket({ ...ensured, bucketingKey: ["new"] }, 4, null, T0 + 5));
    const restarted = await store.write((tx) => tx.automationState.startNewBucket(key(["x", "ü"]), { start: T0 + 10 * SECOND, end: T0 + 20 * SECOND, count: 1, lastEvent: null }, T0 + 6));
    const startedFresh = await store.write((tx) => tx.automationState.startNewBucket(key([]), { start: T0 - SECOND, end: T0 + SECOND, count: 5, lastEvent: first }, T0 + 7));
    const buckets = await store.read((q) => q.automationState.bucketsOf(automation.id, fixedId(9, 1)));
    expect(buckets.map((b) => b.bucketingKey)).toEqual([[], ["new"], ["x", "ü"]]);
    await store.write((tx) => tx.automationState.removeBucketsAtThreshold(automation.id, fixedId(9, 1), 5));
    const afterThreshold = (await store.read((q) => q.automationState.bucketsOf(automation.id, fixedId(9, 1)))).map((b) => b.bucketingKey);
    expect(afterThreshold).toEqual([["new"], ["x", "ü"]]);
    await store.write((tx) => tx.automationState.sweepClosedBuckets(T0 + 10 * SECOND));
    const afterSweep = (await store.read((q) => q.automationState.bucketsOf(automation.id, fixedId(9, 1)))).map((b) => b.bucketingKey);
    await store.write((tx) => tx.automationState.removeBucket(key(["x", "ü"])));
    return {
      ensured,
      ensuredAgain,
      incremented,
      keptLastEvent,
      incrementedMissing,
      restarted,
      startedFresh,
      buckets,
      afterThreshold,
      afterSweep,
      removed: await store.read((q) => q.automationState.readBucket(key(["x", "ü"]))),
      otherTrigger: await store.read((q) => q.automationState.bucketsOf(automation.id, MISSING)),
    };
  },

  async "held events: hold, trim to the slot's ends, count windows, sweep unless a bucket is open"(store) {
    const automation = await createAutomation(store, "a", T0);
    const key: BucketKey = { automationId: automation.id, triggerId: fixedId(9, 1), bucketingKey: ["k"] };
    const within = 10 * SECOND;
    const slot = Math.floor(T0 / within) * within;
    const hold = (n: number, occurred: number, at = T0) =>
      store.write((tx) => tx.automationState.holdEvent(key, { id: fixedId(8, n), occurred }, within, 2, 3600 * SECOND, at));
    for (let n = 1; n <= 6; n++) await hold(n, slot + n * SECOND);
    await hold(3, slot + 3 * SECOND);
    await hold(7, slot + within + 1);
    const held = async () => Promise.all(Array.from({ length: 8 }, (_, i) => store.read((q) => q.automationState.isHeld(key, fixedId(8, i + 1)))));
    const afterTrim = await held();
    // the first two and last two of the slot stay
    expect(afterTrim).toEqual([true, true, false, false, true, true, true, false]);
    const windows = {
      slot: await store.read((q) => q.automationState.heldEventsInWindow(key, slot, slot + within)),
      half: await store.read((q) => q.automationState.heldEventsInWindow(key, slot + 2 * SECOND, slot + 5 * SECOND)),
      after: await store.read((q) => q.automationState.heldEventsInWindow(key, slot + within, slot + 2 * within)),
      otherKey: await store.read((q) => q.automationState.heldEventsInWindow({ ...key, bucketingKey: [] }, slot, slot + 2 * within)),
    };
    expect(windows).toEqual({ slot: 4, half: 1, after: 1, otherKey: 0 });
    // past the horizon the oldest go
    await hold(8, slot + 3600 * SECOND + 2 * SECOND + 1, T0 + 5);
    const afterHorizon = await held();
    await store.write((tx) => tx.automationState.ensureBucket(key, { start: T0, end: T0 + 7200 * SECOND, count: 0, lastEvent: null }, T0));
    await store.write((tx) => tx.automationState.sweepHeldEvents(T0 + 100, 50));
    const sweptWithOpenBucket = await held();
    expect(sweptWithOpenBucket).toEqual(afterHorizon);
    await store.write((tx) => tx.automationState.removeBucket(key));
    await store.write((tx) => tx.automationState.sweepHeldEvents(T0 + 100, 96));
    const swept = await held();
    expect(swept).toEqual([false, false, false, false, false, false, false, true]);
    return { afterTrim, windows, afterHorizon, sweptWithOpenBucket, swept };
  },

  async "child firings: latest per child, clear old ones, clear by id"(store) {
    const automation = await createAutomation(store, "a", T0);
    const parent = fixedId(9, 100);
    const firing = (n: number, child: number, firedAt: number) => ({ firingId: fixedId(7, n), triggerId: fixedId(9, child), firedAt, firing: { n, labels: { a: "b" }, list: [null, 1.5] } });
    const upsert = (n: number, child: number, firedAt: number) => store.write((tx) => tx.automationState.upsertChildFiring(automation.id, parent, firing(n, child, firedAt), T0 + n));
    await upsert(1, 1, T0 + 1);
    await upsert(2, 2, T0 + 2);
    await upsert(3, 1, T0 + 3);
    await upsert(4, 3, T0 + 4);
    const read = async () => (await store.read((q) => q.automationState.childFirings(automation.id, parent))).sort((a, b) => (a.triggerId < b.triggerId ? -1 : 1));
    const latest = await read();
    expect(latest.map((f) => f.firing.n)).toEqual([3, 2, 4]);
    await store.write((tx) => tx.automationState.clearOldChildFirings(automation.id, parent, T0 + 3));
    const afterOld = await read();
    const cleared = await store.write((tx) => tx.automationState.clearChildFirings(automation.id, parent, [fixedId(7, 3), fixedId(7, 1), MISSING]));
    expect(cleared).toEqual([fixedId(7, 3)]);
    return {
      latest,
      afterOld,
      cleared,
      clearedNone: await store.write((tx) => tx.automationState.clearChildFirings(automation.id, parent, [])),
      left: await read(),
      otherParent: await store.read((q) => q.automationState.childFirings(automation.id, MISSING)),
    };
  },

  async "actions queue: enqueue once, claim due ones oldest first, finish once, retry, sweep"(store) {
    const automation = fixedId(6, 1);
    const action = (n: number) => ({ id: fixedId(5, n), automationId: automation, actionIndex: n, triggeredAction: { action: { type: "do-nothing" }, n } });
    await store.write((tx) => tx.automationState.enqueueActions([action(3), action(1)], T0 + 2));
    await store.write((tx) => tx.automationState.enqueueActions([action(2), action(1)], T0 + 1));
    await store.write((tx) => tx.automationState.enqueueActions([], T0));
    const claimed = await store.write((tx) => tx.automationState.claimDueActions(T0 + 2, T0 + 60 * SECOND, 2));
    expect(claimed.map((a) => a.actionIndex)).toEqual([2, 1]);
    expect(claimed[0]).toMatchObject({ attempts: 1, nextAttemptAt: T0 + 60 * SECOND, status: "PENDING", created: T0 + 1, updated: T0 + 2 });
    const claimedRest = await store.write((tx) => tx.automationState.claimDueActions(T0 + 3, T0 + 60 * SECOND, 10));
    const nothingDue = await store.write((tx) => tx.automationState.claimDueActions(T0 + 4, T0 + 60 * SECOND, 10));
    const finished = await store.write((tx) => tx.automationState.finishAction(fixedId(5, 1), "EXECUTED", null, T0 + 5));
    const finishedAgain = await store.write((tx) => tx.automationState.finishAction(fixedId(5, 1), "FAILED", "late", T0 + 6));
    const failed = await store.write((tx) => tx.automationState.finishAction(fixedId(5, 2), "FAILED", "boom ✗", T0 + 7));
    await store.write((tx) => tx.automationState.retryActionAt(fixedId(5, 3), T0 + 10, "try again", T0 + 8));
    const retried = await store.write((tx) => tx.automationState.claimDueActions(T0 + 10, T0 + 20, 10));
    expect([finished, finishedAgain, failed]).toEqual([true, false, true]);
    expect(retried).toMatchObject([{ actionIndex: 3, attempts: 2, lastError: "try again" }]);
    await store.write((tx) => tx.automationState.sweepFinishedActions(T0 + 6));
    const afterSweep = (await store.write((tx) => tx.automationState.claimDueActions(T0 + 3600 * SECOND, T0 + 3601 * SECOND, 10))).map((a) => a.actionIndex);
    await store.write((tx) => tx.automationState.sweepFinishedActions(T0 + 3600 * SECOND));
    return { claimed, claimedRest, nothingDue, finished, finishedAgain, failed, retried, afterSweep };
  },

  async "server events: flow-run states, deployments, work pools and queues, named as their rows were"(store) {
    const events = capture(store);
    const ids = { flow: fixedId(1, 1), pool: fixedId(2, 1), queue: fixedId(2, 2), otherQueue: fixedId(2, 3), deployment: fixedId(3, 1), run: fixedId(4, 1), parentRun: fixedId(4, 2), task: fixedId(4, 3), limit: fixedId(4, 4) };
    await arrange(store, ids);
    const pending = newState("PENDING", T0 + 1, { message: "starting ✓" });
    const running = newState("RUNNING", T0 + 2);
    await store.write((tx) => tx.serverEvents.flowRunStateChanged(ids.run, [{ initialState: null, validatedState: pending }, { initialState: pending, validatedState: running }]));
    await store.write((tx) => tx.serverEvents.flowRunStateChanged(ids.parentRun, [{ initialState: null, validatedState: pending }]));
    await store.write((tx) => tx.serverEvents.flowRunStateChanged(MISSING, [{ initialState: null, validatedState: pending }]));
    await store.write((tx) => tx.serverEvents.flowRunStateChanged(ids.run, []));
    const snapshot = await store.read((q) => q.serverEvents.deploymentSnapshot(ids.deployment));
    expect(snapshot).toMatchObject({ paused: false, tags: ["d"], parameters: { x: { y: [1, null] } }, work_queue_id: ids.queue });
    await store.write((tx) => tx.serverEvents.deploymentWritten(ids.deployment, null, T0 + 3));
    await store.write((tx) => tx.serverEvents.deploymentWritten(ids.deployment, snapshot, T0 + 4));
    await store.write((tx) => tx.serverEvents.deploymentWritten(ids.deployment, { ...snapshot!, paused: true, description: "old" }, T0 + 5));
    await store.write((tx) => tx.serverEvents.deploymentStatusChanged([ids.deployment, MISSING], "READY", T0 + 6));
    await store.write((tx) => tx.serverEvents.deploymentStatusChanged([ids.deployment], "NOT_READY", T0 + 7));
    await store.write((tx) => tx.serverEvents.deploymentDeleting(ids.deployment, T0 + 8));
    await store.write((tx) => tx.serverEvents.workPoolCreated(ids.pool, T0 + 9));
    await store.write((tx) => tx.serverEvents.workQueueCreated(ids.queue, T0 + 10));
    await store.write((tx) => tx.serverEvents.workQueueDeleting(ids.otherQueue, T0 + 11));
    await store.write((tx) => tx.serverEvents.workPoolDeleting(ids.pool, T0 + 12));
    for (const missing of ["workPoolCreated", "workPoolDeleting", "workQueueCreated", "workQueueDeleting", "deploymentDeleting"] as const) {
      await store.write((tx) => tx.serverEvents[missing](MISSING, T0));
    }
    const readOnly = await store.read((q) => q.serverEvents.workPoolCreated(ids.pool, T0)).then(
      () => "staged",
      (error: Error) => error.message,
    );
    expect(readOnly).toBe("events can only be staged inside store.write");
    expect(events.map((e) => e.event)).toEqual([
      "prefect.flow-run.Pending",
      "prefect.flow-run.Running",
      "prefect.flow-run.Pending",
      "prefect.deployment.created",
      "prefect.deployment.updated",
      "prefect.deployment.ready",
      "prefect.deployment.not-ready",
      "prefect.deployment.deleted",
      "prefect.work-pool.created",
      "prefect.work-queue.created",
      "prefect.work-queue.deleted",
      "prefect.work-queue.deleted",
      "prefect.work-queue.deleted",
      "prefect.work-pool.deleted",
    ]);
    return { snapshot, missingSnapshot: await store.read((q) => q.serverEvents.deploymentSnapshot(MISSING)), events };
  },
});

/** The rows server events look up, written straight into either backend (their repositories are ported elsewhere). */
async function arrange(store: ContractStore, ids: Record<"flow" | "pool" | "queue" | "otherQueue" | "deployment" | "run" | "parentRun" | "task" | "limit", string>): Promise<void> {
  const at = { created: T0, updated: T0 };
  const flow = { id: ids.flow, ...at, name: "etl", tags: ["f"], labels: {} };
  const pool = { id: ids.pool, ...at, name: "pool", type: "process", baseJobTemplate: {}, defaultQueueId: ids.queue, storageConfiguration: {} };
  const queues = [
    { id: ids.queue, ...at, name: "default", priority: 1, workPoolId: ids.pool },
    { id: ids.otherQueue, ...at, name: "other", priority: 2, workPoolId: ids.pool },
  ];
  const limit = { id: ids.limit, ...at, name: `deployment:${ids.deployment}`, limit: 1 };
  const deployment = {
    id: ids.deployment,
    ...at,
    name: "nightly",
    description: "the nightly run",
    flowId: ids.flow,
    workQueueName: "default",
    workQueueId: ids.queue,
    jobVariables: { env: { A: "1" } },
    concurrencyLimitId: ids.limit,
    concurrencyOptions: { collision_strategy: "ENQUEUE" },
    tags: ["d"],
    labels: { team: "data" },
    parameters: { x: { y: [1, null] } },
    pullSteps: [{ step: { directory: "/x" } }],
  };
  const run = (id: string, name: string, parentTaskRunId: string | null) => ({
    id,
    ...at,
    name,
    flowId: ids.flow,
    deploymentId: parentTaskRunId ? null : ids.deployment,
    workQueueId: parentTaskRunId ? null : ids.queue,
    parameters: {},
    context: {},
    empiricalPolicy: {},
    tags: ["r", name],
    labels: {},
    runCount: 2,
    createdBy: parentTaskRunId ? null : { id: null, type: "SCHEDULE", display_value: "cron" },
    parentTaskRunId,
  });
  const task = { id: ids.task, ...at, name: "task-1", flowRunId: ids.run, taskKey: "k", dynamicKey: "0", empiricalPolicy: {}, tags: ["t"], labels: {}, taskInputs: {} };
  if (store instanceof PgStore) {
    const db = store.db;
    await db.insert(pgSchema.flow).values(flow);
    await db.insert(pgSchema.workPool).values(pool);
    await db.insert(pgSchema.workQueue).values(queues);
    await db.insert(pgSchema.concurrencyLimitV2).values(limit);
    await db.insert(pgSchema.deployment).values(deployment);
    await db.insert(pgSchema.flowRun).values(run(ids.run, "run", null));
    await db.insert(pgSchema.taskRun).values(task);
    await db.insert(pgSchema.flowRun).values(run(ids.parentRun, "subflow", ids.task));
  } else if (store instanceof SqliteStore) {
    const db = store.db;
    db.insert(liteSchema.flow).values(flow).run();
    db.insert(liteSchema.workPool).values(pool).run();
    db.insert(liteSchema.workQueue).values(queues).run();
    db.insert(liteSchema.concurrencyLimitV2).values(limit).run();
    db.insert(liteSchema.deployment).values(deployment).run();
    db.insert(liteSchema.flowRun).values(run(ids.run, "run", null)).run();
    db.insert(liteSchema.taskRun).values(task).run();
    db.insert(liteSchema.flowRun).values(run(ids.parentRun, "subflow", ids.task)).run();
  } else {
    throw new Error("a contract store is SQLite or PostgreSQL");
  }
}

describe("PostgreSQL: automation state updated by many clients at once", () => {
  let database: TestDatabase;
  let pg: PgStore;

  beforeAll(async () => {
    database = await createTestDatabase();
    pg = await PgStore.open(database.settings({ poolSize: 10 }));
  });
  afterAll(async () => {
    await pg?.close();
    await database?.drop();
  });

  test("20 concurrent read-modify-writes of one bucket: none is lost", async () => {
    const automation = await pg.write((tx) => tx.automations.create({ ...fields("a"), ownerResource: null }, T0));
    const key: BucketKey = { automationId: automation.id, triggerId: fixedId(9, 1), bucketingKey: ["k"] };
    await pg.write((tx) => tx.automationState.ensureBucket(key, { start: T0, end: T0 + SECOND, count: 0, lastEvent: null }, T0));
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        pg.write(function* (tx) {
          const bucket = (yield* tx.automationState.readBucket(key))!;
          return yield* tx.automationState.startNewBucket(key, { start: bucket.start, end: bucket.end, count: bucket.count + 1, lastEvent: receivedEvent(i, T0) }, T0 + i);
        }),
      ),
    );
    expect((await pg.read((q) => q.automationState.readBucket(key)))!.count).toBe(20);
  });

  test("10 concurrent claimers of 30 due actions: each action is claimed once", async () => {
    const actions = Array.from({ length: 30 }, (_, n) => ({ id: fixedId(5, n), automationId: fixedId(6, 1), actionIndex: n, triggeredAction: { n } }));
    await pg.write((tx) => tx.automationState.enqueueActions(actions, T0));
    const claims = await Promise.all(Array.from({ length: 10 }, () => pg.write((tx) => tx.automationState.claimDueActions(T0 + 1, T0 + 60 * SECOND, 5))));
    // a claimer may stop short of its limit while others hold rows; whatever is left is claimed after
    const rest = await pg.write((tx) => tx.automationState.claimDueActions(T0 + 1, T0 + 60 * SECOND, 30));
    const claimed = [...claims.flat(), ...rest].map((a) => a.actionIndex);
    expect(claimed.toSorted((a, b) => a - b)).toEqual(actions.map((a) => a.actionIndex));
  });
});
