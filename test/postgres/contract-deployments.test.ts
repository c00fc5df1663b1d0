/**
 * The repository contract (test/support/contract.ts) for deployments: upserts, reads,
 * filters, sorts, schedules, concurrency limits, deletes, the scheduler's and the foreman's
 * queries, and what concurrent writers end with.
 */
import { expect } from "bun:test";
import type { PgPortedRepositories } from "../../src/db/postgres/store";
import type { DeploymentValues, DeploymentView, ScheduleInsert } from "../../src/db/repos/deployments";
import type { Event } from "../../src/events/model";
import { emptyStateDetails, type State } from "../../src/orchestration/states";
import { contractSuite, errorOf, MISSING, T0, type ContractStore } from "../support/contract";
import { insertRun, runsOf, type RunSeed } from "../support/contract-runs";

type Deployments = PgPortedRepositories["deployments"];
type Filters = Parameters<Deployments["list"]>[0];

const FULL: DeploymentValues = {
  version: "1.2.3",
  description: "ünïcödé 🚀 \"quoted\" \\ backslash",
  paused: false,
  workQueueName: "legacy-name",
  jobVariables: { image: "x:1", env: { A: "1" }, nested: [1, 2.5, null, true] },
  path: "/srv/flows",
  entrypoint: "flows.py:etl",
  concurrencyOptions: { collision_strategy: "ENQUEUE" },
  tags: ["prod", "etl"],
  labels: { team: "data", n: 1 },
  parameters: { x: 1, y: { z: [null, "s"] } },
  pullSteps: [{ "prefect.deployments.steps.git_clone": { repository: "r" } }],
  parameterOpenapiSchema: { type: "object", properties: { x: { type: "integer" } } },
  enforceParameterSchema: false,
  updatedBy: { id: "u", type: "USER", display_value: "me" },
  storageDocumentId: null,
  infrastructureDocumentId: null,
  versionInfo: { type: "git", version: "abc" },
};

const schedule = (n: number, slug: string | null, active = true): ScheduleInsert => ({
  schedule: { interval: 60 * n, anchor_date: "2026-01-01T00:00:00Z", timezone: "UTC" },
  active,
  maxScheduledRuns: n % 2 === 0 ? null : n,
  parameters: { n },
  slug,
});

async function flowId(store: ContractStore, name: string, labels = {}): Promise<string> {
  return (await store.write((tx) => tx.flows.upsertByName({ name, tags: [], labels }, T0))).row.id;
}

async function upsert(store: ContractStore, flow: string, name: string, values: DeploymentValues, at: number): Promise<string> {
  return (await store.write((tx) => tx.deployments.upsert(flow, name, values, { id: "c", type: "USER" }, T0 + at))).id;
}

async function poolWithQueue(store: ContractStore, pool: string, queue: string): Promise<string> {
  return store.write(function* (tx) {
    const row = (yield* tx.workPools.insertPoolRow(
      { name: pool, description: null, type: "process", baseJobTemplate: {}, isPaused: false, concurrencyLimit: null, storageConfiguration: {} },
      "READY",
      T0,
    ))!;
    const inserted = (yield* tx.workPools.insertQueueRow(
      row.id,
      { name: queue, description: "", isPaused: false, concurrencyLimit: null, priority: 1, filter: null },
      T0,
    ))!;
    return inserted.id;
  });
}

const summary = (v: DeploymentView | undefined) =>
  v && { name: v.row.name, workQueueName: v.workQueueName, workPoolName: v.workPoolName, limit: v.concurrencyLimit?.limit ?? null, schedules: v.schedules.map((s) => s.slug) };

/** Resource ids embed a row's id (`prefect.flow.<id>`): split it out, so the harness can rename it like any other id. */
const idsApart = (value: unknown): unknown =>
  JSON.parse(JSON.stringify(value), (_key, v: unknown) => {
    const match = typeof v === "string" ? /^(.+?)([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/.exec(v) : null;
    return match ? [match[1], match[2]] : v;
  });

contractSuite("deployments", ["deployment_schedule", "deployment", "concurrency_limit_v2", "flow_run", "work_queue", "work_pool", "flow"], {
  async "upsert: every column on insert, only what is sent on update, created_by kept, JSON values, timestamps to the microsecond"(store) {
    const flow = await flowId(store, "etl", { owner: "ops" });
    const first = await store.write((tx) => tx.deployments.upsert(flow, "nightly", FULL, { id: "creator", type: "USER" }, T0 + 1));
    const minimal = await store.write((tx) => tx.deployments.upsert(flow, "bare", {}, null, T0 + 2));
    const again = await store.write((tx) => tx.deployments.upsert(flow, "nightly", { tags: ["changed"], paused: true }, { id: "other" }, T0 + 3));
    expect(first.created).toBe(true);
    expect(again).toEqual({ id: first.id, created: false });
    const sameTransaction = await store.write(function* (tx) {
      const a = yield* tx.deployments.upsert(flow, "twice", {}, null, T0);
      const b = yield* tx.deployments.upsert(flow, "twice", { version: "2" }, null, T0 + 4);
      return [a.created, b.created, a.id === b.id];
    });
    expect(sameTransaction).toEqual([true, false, true]);
    const read = await store.read((q) => q.deployments.get(first.id));
    expect(read!.row).toMatchObject({ ...FULL, tags: ["changed"], paused: true, createdBy: { id: "creator", type: "USER" }, created: T0 + 1, updated: T0 + 3 });
    const bare = await store.read((q) => q.deployments.get(minimal.id));
    expect(bare!.row).toMatchObject({ jobVariables: {}, tags: [], pullSteps: [], status: "NOT_READY", enforceParameterSchema: true, createdBy: null });
    const updated = await store.write((tx) => tx.deployments.update(minimal.id, { description: "now described", concurrencyOptions: null }, T0 + 5));
    const touched = await store.write(function* (tx) {
      yield* tx.deployments.touch(first.id, T0 + 6);
      return (yield* tx.deployments.get(first.id))!.row.updated;
    });
    expect(touched).toBe(T0 + 6);
    return {
      first,
      minimal,
      again,
      sameTransaction,
      read,
      bare,
      updated,
      afterUpdate: await store.read((q) => q.deployments.get(minimal.id)),
      updateMissing: await store.write((tx) => tx.deployments.update(MISSING, { version: "x" }, T0)),
      getByName: summary(await store.read((q) => q.deployments.getByName("etl", "nightly"))),
      getByNameMissing: await store.read((q) => q.deployments.getByName("etl", "nope")),
      getByWrongFlow: await store.read((q) => q.deployments.getByName("nope", "nightly")),
      getMissing: await store.read((q) => q.deployments.get(MISSING)),
      idByName: await store.read((q) => q.deployments.idByName(flow, "bare")),
      idByNameMissing: await store.read((q) => q.deployments.idByName(flow, "nope")),
      flowLabels: await store.read((q) => q.deployments.flowLabels(flow)),
      flowLabelsMissing: await store.read((q) => q.deployments.flowLabels(MISSING)),
      snapshot: await store.read((q) => q.serverEvents.deploymentSnapshot(first.id)),
      unknownFlow: await errorOf(store.write((tx) => tx.deployments.upsert(MISSING, "orphan", {}, null, T0))),
    };
  },

  async "list: filters (nested flow, run, pool and queue ones too), sorts, pages, counts"(store) {
    const etl = await flowId(store, "etl");
    const backfill = await flowId(store, "Backfill");
    const queueId = await poolWithQueue(store, "k8s", "high");
    const otherQueue = await poolWithQueue(store, "docker", "low");
    const names = ["beta", "Alpha", "_under", "Zeta", "alpha-2", "per%cent"];
    const ids: string[] = [];
    for (const [i, name] of names.entries()) {
      ids.push(
        await upsert(
          store,
          i % 2 === 0 ? etl : backfill,
          name,
          {
            tags: i % 3 === 0 ? [] : i % 3 === 1 ? ["red"] : ["red", "blue"],
            paused: i === 3,
            workQueueId: i < 2 ? queueId : i === 2 ? otherQueue : null,
            workQueueName: i < 2 ? "high" : i === 4 ? "legacy" : null,
          },
          i * 1_000_001,
        ),
      );
    }
    await store.write((tx) => tx.deployments.touch(ids[0]!, T0 + 99_000_000));
    await insertRun(store, { name: "r1", flowId: etl, deploymentId: ids[2]!, stateType: "COMPLETED", stateName: "Completed" }, T0);
    const list = (filters: Filters, sort: Parameters<Deployments["list"]>[1] = "NAME_ASC", limit = 100, offset = 0) =>
      store.read((q) => q.deployments.list(filters, sort, limit, offset)).then((rows) => rows.map((r) => r.row.name));
    const observed = {
      nameAsc: await list({}),
      nameDesc: await list({}, "NAME_DESC"),
      createdDesc: await list({}, "CREATED_DESC"),
      updatedDesc: await list({}, "UPDATED_DESC"),
      page: await list({}, "NAME_ASC", 2, 1),
      pagePastEnd: await list({}, "NAME_ASC", 5, 10),
      nameLike: await list({ deployments: { name: { like_: "ALPHA" } } }),
      nameLikePercent: await list({ deployments: { name: { like_: "r%c" } } }),
      nameAny: await list({ deployments: { name: { any_: ["beta", "Zeta", "nope"] } } }),
      idNotAny: await list({ deployments: { id: { not_any_: [ids[0]!, ids[1]!] } } }),
      flowOrDeploymentName: await list({ deployments: { flow_or_deployment_name: { like_: "backf" } } }),
      paused: await list({ deployments: { paused: { eq_: true } } }),
      tagsAll: await list({ deployments: { tags: { all_: ["red", "blue"] } } }),
      tagsAny: await list({ deployments: { tags: { any_: ["blue", "none"] } } }),
      tagsEmpty: await list({ deployments: { tags: { is_null_: true } } }),
      workQueueName: await list({ deployments: { work_queue_name: { any_: ["legacy", "high"] } } }),
      orOperator: await list({ deployments: { operator: "or_", paused: { eq_: true }, name: { any_: ["beta"] } } }),
      byFlow: await list({ flows: { name: { any_: ["Backfill"] } } }),
      byFlowEmptyFilter: await list({ flows: {} }),
      withRuns: await list({ flow_runs: {} }),
      withCompletedRuns: await list({ flow_runs: { state: { type: { any_: ["COMPLETED"] } } } }),
      withFailedRuns: await list({ flow_runs: { state: { type: { any_: ["FAILED"] } } } }),
      byPool: await list({ work_pools: { name: { any_: ["k8s"] } } }),
      byPoolType: await list({ work_pools: { type: { any_: ["process"] } } }),
      byQueuePrefix: await list({ work_pool_queues: { name: { startswith_: ["LO"] } } }),
      byPoolAndQueue: await list({ work_pools: { name: { any_: ["docker"] } }, work_pool_queues: { name: { any_: ["high"] } } }),
      count: await store.read((q) => q.deployments.count({})),
      countRed: await store.read((q) => q.deployments.count({ deployments: { tags: { all_: ["red"] } } })),
      countByPool: await store.read((q) => q.deployments.count({ work_pools: {} })),
      views: (await store.read((q) => q.deployments.list({ deployments: { id: { any_: ids.slice(0, 5) } } }, "NAME_ASC", 10, 0))).map(summary),
    };
    expect(observed.nameAsc).toEqual(["Alpha", "Zeta", "_under", "alpha-2", "beta", "per%cent"]);
    expect(observed.updatedDesc[0]).toBe("beta");
    expect(observed.nameLike).toEqual(["Alpha", "alpha-2"]);
    expect(observed.byPool).toEqual(["Alpha", "beta"]);
    expect(observed.withCompletedRuns).toEqual(["_under"]);
    expect(observed.count).toBe(6);
    return observed;
  },

  async "schedules: replace, create, update by id and by slug, clear slugs, delete, slug conflicts"(store) {
    const flow = await flowId(store, "etl");
    const id = await upsert(store, flow, "d", {}, 0);
    const other = await upsert(store, flow, "other", {}, 0);
    const firstSet = await store.write((tx) => tx.deployments.replaceSchedules(id, [schedule(1, "a"), schedule(2, null), schedule(3, "b", false)], T0 + 1));
    expect(firstSet).toHaveLength(3);
    await store.write((tx) => tx.deployments.createSchedules(other, [schedule(4, "a")], T0 + 1));
    const replaced = await store.write((tx) => tx.deployments.replaceSchedules(id, [schedule(5, "a"), schedule(6, null), schedule(7, null)], T0 + 2));
    const afterReplace = await store.read((q) => q.deployments.schedules(id));
    expect(afterReplace.map((s) => s.parameters)).toEqual([{ n: 7 }, { n: 6 }, { n: 5 }]);
    const byId = await store.write((tx) => tx.deployments.updateSchedule(id, { id: replaced[1]!.id }, { active: false, schedule: { cron: "0 * * * *" } }, T0 + 3));
    const bySlug = await store.write((tx) => tx.deployments.updateSchedule(id, { slug: "a" }, { maxScheduledRuns: 9, parameters: {} }, T0 + 4));
    const wrongDeployment = await store.write((tx) => tx.deployments.updateSchedule(other, { id: replaced[1]!.id }, { active: false }, T0 + 4));
    const slugClash = await errorOf(store.write((tx) => tx.deployments.updateSchedule(id, { id: replaced[2]!.id }, { slug: "a" }, T0 + 5)));
    const createClash = await errorOf(store.write((tx) => tx.deployments.createSchedules(id, [schedule(8, "a")], T0 + 5)));
    expect([slugClash, createClash]).toEqual(["StoreConflictError", "StoreConflictError"]);
    const slugId = await store.read((q) => q.deployments.scheduleIdBySlug(id, "a"));
    expect(slugId).toBe(replaced[0]!.id);
    await store.write((tx) => tx.deployments.clearScheduleSlugs(id, ["a", "nope"]));
    await store.write((tx) => tx.deployments.clearScheduleSlugs(id, []));
    const deleted = await store.write((tx) => tx.deployments.deleteSchedule(id, replaced[2]!.id));
    return {
      firstSet,
      replaced,
      afterReplace,
      byId,
      bySlug,
      wrongDeployment,
      slugClash,
      createClash,
      slugId,
      slugIdAfterClear: await store.read((q) => q.deployments.scheduleIdBySlug(id, "a")),
      otherKeepsItsSlug: await store.read((q) => q.deployments.scheduleIdBySlug(other, "a")),
      deleted,
      deletedAgain: await store.write((tx) => tx.deployments.deleteSchedule(id, replaced[2]!.id)),
      deleteOthers: await store.write((tx) => tx.deployments.deleteSchedule(other, replaced[0]!.id)),
      final: await store.read((q) => q.deployments.schedules(id)),
      emptyReplace: await store.write((tx) => tx.deployments.replaceSchedules(other, [], T0 + 6)),
      view: await store.read((q) => q.deployments.get(id)).then((v) => v!.schedules),
    };
  },

  async "concurrency limits: create, change, clear; the view embeds the limit"(store) {
    const flow = await flowId(store, "etl");
    const id = await upsert(store, flow, "d", {}, 0);
    await store.write((tx) => tx.deployments.setConcurrencyLimit(id, 3, T0 + 1));
    const created = await store.read((q) => q.deployments.get(id));
    await store.write((tx) => tx.deployments.setConcurrencyLimit(id, 5, T0 + 2));
    const changed = await store.read((q) => q.deployments.get(id));
    expect(changed!.concurrencyLimit).toMatchObject({ id: created!.concurrencyLimit!.id, name: `deployment:${id}`, limit: 5, created: T0 + 1, updated: T0 + 2 });
    const exists = await store.read((q) => q.deployments.concurrencyLimitExists(created!.concurrencyLimit!.id));
    await store.write((tx) => tx.deployments.setConcurrencyLimit(id, null, T0 + 3));
    const cleared = await store.read((q) => q.deployments.get(id));
    expect(cleared!.concurrencyLimit).toBeNull();
    // the limit's name embeds the deployment's id, which differs between the two runs
    const named = (v: DeploymentView | undefined) => v && { ...v, concurrencyLimit: v.concurrencyLimit && { ...v.concurrencyLimit, name: v.concurrencyLimit.name === `deployment:${id}` } };
    return {
      created: named(created),
      changed: named(changed),
      exists,
      cleared,
      existsAfterClear: await store.read((q) => q.deployments.concurrencyLimitExists(created!.concurrencyLimit!.id)),
      clearAgain: await store.write((tx) => tx.deployments.setConcurrencyLimit(id, null, T0 + 4)),
    };
  },

  async "delete and bulk delete: never-run scheduled runs and the deployment's limit go, events announce it"(store, published) {
    const flow = await flowId(store, "etl");
    const queueId = await poolWithQueue(store, "pool", "q");
    const ids: string[] = [];
    for (const [i, name] of ["a", "b", "c", "d"].entries()) ids.push(await upsert(store, flow, name, { tags: i < 2 ? ["old"] : [], workQueueId: queueId }, i));
    await store.write((tx) => tx.deployments.setConcurrencyLimit(ids[0]!, 1, T0));
    const limitId = (await store.read((q) => q.deployments.get(ids[0]!)))!.concurrencyLimit!.id;
    const run = (name: string, deploymentId: string, extra: Partial<RunSeed>) =>
      insertRun(store, { name, flowId: flow, deploymentId, stateType: "SCHEDULED", stateName: "Scheduled", nextScheduledStartTime: T0 + 10, ...extra }, T0);
    await run("a-scheduled", ids[0]!, {});
    await run("a-awaiting", ids[0]!, { stateName: "AwaitingConcurrencySlot" });
    await run("a-rerun", ids[0]!, { runCount: 1 });
    await run("a-running", ids[0]!, { stateType: "RUNNING", stateName: "Running" });
    await run("c-auto-future", ids[2]!, { autoScheduled: true });
    await run("c-auto-past", ids[2]!, { autoScheduled: true, nextScheduledStartTime: T0 - 10 });
    await run("c-manual-future", ids[2]!, {});
    await store.write((tx) => tx.deployments.deleteScheduledRuns(ids[2]!, { autoScheduledOnly: true, futureOnly: true }, T0));
    const afterCleanUp = await runsOf(store);
    expect(afterCleanUp.map((r) => r.name)).not.toContain("c-auto-future");
    const deleted = await store.write((tx) => tx.deployments.delete(ids[0]!, T0 + 1));
    const deletedAgain = await store.write((tx) => tx.deployments.delete(ids[0]!, T0 + 2));
    expect([deleted, deletedAgain]).toEqual([true, false]);
    const bulk = await store.write((tx) => tx.deployments.bulkDelete({ deployments: { tags: { is_null_: true } } }, 10, T0 + 3));
    expect(bulk).toHaveLength(2);
    return {
      afterCleanUp,
      deleted,
      deletedAgain,
      runsAfterDelete: await runsOf(store),
      limitExists: await store.read((q) => q.deployments.concurrencyLimitExists(limitId)),
      bulk: [...bulk].sort(),
      left: await store.read((q) => q.deployments.list({}, "NAME_ASC", 10, 0)).then((rows) => rows.map((r) => r.row.name)),
      published: [...published],
    };
  },

  async "getMany: the deployments that exist, in the order asked, with their schedules"(store) {
    const flow = await flowId(store, "many");
    const [a, b] = [await upsert(store, flow, "a", {}, 1), await upsert(store, flow, "b", {}, 2)];
    await store.write((tx) => tx.deployments.createSchedules(b, [schedule(1, null, true)], T0));
    const views = await store.read((q) => q.deployments.getMany([b, MISSING, a, b]));
    expect(views.map((v) => v.row.name)).toEqual(["b", "a", "b"]);
    return { views, none: await store.read((q) => q.deployments.getMany([])) };
  },

  async "scheduler: deployments needing runs, recently updated ones, in id order after a cursor"(store) {
    const flow = await flowId(store, "etl");
    const ids: string[] = [];
    for (const [i, name] of ["few-runs", "enough-runs", "short-horizon", "paused", "inactive", "no-schedule", "manual-runs"].entries()) {
      ids.push(await upsert(store, flow, name, { paused: name === "paused" }, i));
    }
    const schedules = new Map<string, string>();
    for (const [i, id] of ids.entries()) {
      if (i === 5) continue;
      const [row] = await store.write((tx) => tx.deployments.createSchedules(id, [schedule(i + 1, null, i !== 4)], T0));
      schedules.set(id, row!.id);
    }
    const future = (i: number, n: number, until: number, auto = true) =>
      Promise.all(
        Array.from({ length: n }, (_, k) =>
          insertRun(
            store,
            { name: `r${i}-${k}`, flowId: flow, deploymentId: ids[i]!, stateType: "SCHEDULED", nextScheduledStartTime: T0 + until - k, autoScheduled: auto, createdBy: { id: schedules.get(ids[i]!)!, type: "SCHEDULE" } },
            T0,
          ),
        ),
      );
    await future(0, 1, 1_000_000_000);
    await future(1, 3, 1_000_000_000);
    await future(2, 3, 5);
    await future(3, 0, 0);
    await future(6, 3, 1_000_000_000, false);
    const horizon = T0 + 1_000;
    const needing = await store.read((q) => q.deployments.needingRuns(T0, 3, horizon, 100, null));
    const afterCursor = await store.read((q) => q.deployments.needingRuns(T0, 3, horizon, 1, needing[0]!));
    // a run at exactly `now` counts as a future one; one microsecond earlier does not
    const atNow = await store.read((q) => q.deployments.needingRuns(T0 + 1_000_000_000, 1, T0, 100, null));
    const justAfter = await store.read((q) => q.deployments.needingRuns(T0 + 1_000_000_001, 1, T0, 100, null));
    await store.write((tx) => tx.deployments.touch(ids[4]!, T0 + 50));
    await store.write((tx) => tx.deployments.touch(ids[1]!, T0 + 50));
    const updatedSince = await store.read((q) => q.deployments.updatedSince(T0 + 50, 100, null));
    expect(needing.map((id) => ids.indexOf(id))).toEqual([0, 2, 6]);
    expect(updatedSince).toEqual([ids[1]!]);
    return {
      needing,
      afterCursor,
      atNow,
      justAfter,
      updatedSince,
      updatedSinceBefore: await store.read((q) => q.deployments.updatedSince(T0 + 2, 2, null)),
      updatedSinceCursor: await store.read((q) => q.deployments.updatedSince(T0, 100, ids[2]!)),
    };
  },

  async "polling: READY and last_polled without bumping updated, NOT_READY when unpolled, scheduled runs of served deployments"(store, published) {
    const flow = await flowId(store, "etl");
    const queueId = await poolWithQueue(store, "pool", "q");
    const ids: string[] = [];
    for (const [i, name] of ["served", "queued", "idle", "stale"].entries()) ids.push(await upsert(store, flow, name, { workQueueId: i === 1 ? queueId : null }, i));
    await store.write((tx) => tx.deployments.markPolled([ids[0]!, ids[3]!], T0 + 10));
    await store.write((tx) => tx.deployments.markPolledByQueues([queueId], T0 + 11));
    await store.write((tx) => tx.deployments.markPolled([], T0 + 12));
    await store.write((tx) => tx.deployments.markPolledByQueues([], T0 + 12));
    const afterPolls = await store.read((q) => q.deployments.list({}, "NAME_ASC", 10, 0));
    expect(afterPolls.map((v) => [v.row.name, v.row.status, v.row.lastPolled])).toEqual([
      ["idle", "NOT_READY", null],
      ["queued", "READY", T0 + 11],
      ["served", "READY", T0 + 10],
      ["stale", "READY", T0 + 10],
    ]);
    const publishedAfterPolls = [...published];
    await store.write((tx) => tx.deployments.markPolled([ids[0]!], T0 + 20));
    expect(published).toEqual(publishedAfterPolls);
    await store.write((tx) => tx.workPools.markQueuesPolled([queueId], T0 + 30));
    // "served" polled at T0+20 is kept, "stale" (T0+10) goes, "queued" is saved by its queue's poll
    const notReady = await store.write((tx) => tx.deployments.markUnpolledNotReady(T0 + 15, T0 + 40));
    expect(notReady).toEqual([ids[3]!]);
    const boundary = await store.write((tx) => tx.deployments.markUnpolledNotReady(T0 + 20, T0 + 41));
    for (const [i, at] of [T0 + 5, T0 + 3, T0 + 9, T0 + 1].entries()) {
      await insertRun(store, { name: `s${i}`, flowId: flow, deploymentId: ids[i % 2]!, stateType: "SCHEDULED", nextScheduledStartTime: at }, T0);
    }
    await insertRun(store, { name: "running", flowId: flow, deploymentId: ids[0]!, stateType: "RUNNING", nextScheduledStartTime: T0 }, T0);
    const scheduled = (deploymentIds: string[], before: number | null, limit: number) =>
      store.read((q) => q.deployments.scheduledRunIds(deploymentIds, before, limit)).then((runIds) => runIds.length);
    return {
      afterPolls: afterPolls.map((v) => ({ name: v.row.name, status: v.row.status, lastPolled: v.row.lastPolled, updated: v.row.updated })),
      notReady,
      boundary,
      published: [...published],
      scheduledAll: await store.read((q) => q.deployments.scheduledRunIds([ids[0]!, ids[1]!], null, 10)),
      scheduledBefore: await scheduled([ids[0]!, ids[1]!], T0 + 5, 10),
      scheduledLimit: await scheduled([ids[0]!, ids[1]!], null, 2),
      scheduledNone: await scheduled([], null, 10),
      runs: await runsOf(store),
    };
  },

  async "server events: what deployment, work pool, work queue and flow-run changes announce, in full"(store, published) {
    // the harness's sink records names only: capture whole events here, then hand the sink back as it was
    const events: Event[] = [];
    store.publishTo((batch) => events.push(...batch));
    try {
      const flow = await flowId(store, "etl");
      const queueId = await poolWithQueue(store, "pool", "q");
      const poolId = (await store.read((q) => q.workPools.queueById(queueId)))!.workPoolId;
      await store.write((tx) => tx.serverEvents.workPoolCreated(poolId, T0 + 1));
      await store.write((tx) => tx.serverEvents.workQueueCreated(queueId, T0 + 2));
      const id = await store.write(function* (tx) {
        const { id } = yield* tx.deployments.upsert(flow, "d", { ...FULL, workQueueId: queueId }, null, T0 + 3);
        yield* tx.serverEvents.deploymentWritten(id, null, T0 + 3);
        return id;
      });
      const before = await store.read((q) => q.serverEvents.deploymentSnapshot(id));
      await store.write(function* (tx) {
        yield* tx.deployments.update(id, { tags: ["new"], paused: true, parameters: { x: [1] } }, T0 + 4);
        yield* tx.serverEvents.deploymentWritten(id, before, T0 + 4);
      });
      // nothing changed: nothing to announce
      await store.write((tx) => tx.serverEvents.deploymentWritten(id, before === null ? null : { ...before, tags: ["new"], paused: true, parameters: { x: [1] } }, T0 + 5));
      await store.write((tx) => tx.serverEvents.deploymentStatusChanged([id, MISSING], "READY", T0 + 6));
      const runId = await insertRun(store, { name: "r", flowId: flow, deploymentId: id, workQueueId: queueId, tags: ["t"], createdBy: { id: "s", type: "SCHEDULE" } }, T0);
      const state = (type: State["type"], name: string, at: number): State => ({
        id: Bun.randomUUIDv7(),
        type,
        name,
        timestamp: T0 + at,
        message: "why",
        data: null,
        state_details: emptyStateDetails(),
      });
      await store.write((tx) =>
        tx.serverEvents.flowRunStateChanged(runId, [
          { initialState: null, validatedState: state("SCHEDULED", "Scheduled", 7) },
          { initialState: state("SCHEDULED", "Scheduled", 7), validatedState: state("PENDING", "Pending", 8) },
        ]),
      );
      await store.write((tx) => tx.serverEvents.flowRunStateChanged(MISSING, [{ initialState: null, validatedState: state("RUNNING", "Running", 9) }]));
      await store.write((tx) => tx.serverEvents.flowRunStateChanged(runId, []));
      await store.write((tx) => tx.serverEvents.deploymentDeleting(id, T0 + 10));
      await store.write((tx) => tx.serverEvents.workQueueDeleting(queueId, T0 + 11));
      await store.write((tx) => tx.serverEvents.workPoolDeleting(poolId, T0 + 12));
      const readThrows = await store.read((q) => q.serverEvents.workPoolCreated(poolId, T0)).then(
        () => "no error",
        (error: Error) => error.message,
      );
      expect(readThrows).toBe("events can only be staged inside store.write");
      expect(events.map((e) => e.event)).toEqual([
        "prefect.work-pool.created",
        "prefect.work-queue.created",
        "prefect.deployment.created",
        "prefect.deployment.updated",
        "prefect.deployment.ready",
        "prefect.flow-run.Scheduled",
        "prefect.flow-run.Pending",
        "prefect.deployment.deleted",
        "prefect.work-queue.deleted",
        "prefect.work-queue.deleted",
        "prefect.work-pool.deleted",
      ]);
      expect(events[3]!.payload).toEqual({
        updated_fields: ["tags", "parameters", "paused"],
        updates: { tags: { from: ["prod", "etl"], to: ["new"] }, parameters: { from: FULL.parameters!, to: { x: [1] } }, paused: { from: false, to: true } },
      });
      return { before, events: idsApart(events), readThrows };
    } finally {
      store.publishTo((batch) => published.push(...batch.map((e) => e.event)));
    }
  },

  async "concurrent writers: one deployment per name, one set of schedules, one announcement per poll"(store, published) {
    const flow = await flowId(store, "etl");
    const upserts = await Promise.all(
      Array.from({ length: 4 }, (_, i) => store.write((tx) => tx.deployments.upsert(flow, "same", { version: `${i}` }, null, T0 + i))),
    );
    expect(upserts.filter((u) => u.created)).toHaveLength(1);
    expect(new Set(upserts.map((u) => u.id)).size).toBe(1);
    const id = upserts[0]!.id;
    await Promise.all(
      Array.from({ length: 4 }, (_, i) => store.write((tx) => tx.deployments.replaceSchedules(id, [schedule(i + 1, `slug-${i}`), schedule(i + 1, null)], T0 + i))),
    );
    const schedules = await store.read((q) => q.deployments.schedules(id));
    expect(schedules).toHaveLength(2);
    await Promise.all(Array.from({ length: 4 }, (_, i) => store.write((tx) => tx.deployments.setConcurrencyLimit(id, i + 1, T0 + i))));
    await Promise.all(Array.from({ length: 4 }, () => store.write((tx) => tx.deployments.markPolled([id], T0 + 10))));
    expect(published.filter((e) => e === "prefect.deployment.ready")).toHaveLength(1);
    const deletes = await Promise.all(Array.from({ length: 3 }, () => store.write((tx) => tx.deployments.delete(id, T0 + 20))));
    expect(deletes.filter(Boolean)).toHaveLength(1);
    return {
      created: upserts.filter((u) => u.created).length,
      schedules: schedules.length,
      slugs: schedules.filter((s) => s.slug !== null).length,
      published: [...published],
      deletes: deletes.filter(Boolean).length,
      count: await store.read((q) => q.deployments.count({})),
    };
  },
});
