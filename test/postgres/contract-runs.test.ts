/**
 * The repository contract (test/support/contract.ts) for flow runs and task runs: creates,
 * idempotent creates, reads, filters, sorts, paging, counts, orchestrated transitions,
 * recorded task runs, run inputs and the background services' selections; deployments and
 * work pools are arranged through their own repositories. Then races that only PostgreSQL can
 * lose (SQLite serialises writes): each must end as if the writes had taken turns.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { flowRun } from "../../src/db/postgres/schema";
import { PgStore, type PgPortedRepositories } from "../../src/db/postgres/store";
import type { DeploymentValues } from "../../src/db/repos/deployments";
import type { FlowRunInsert, FlowRunWithState, ScheduledRunInsert } from "../../src/db/repos/flow-runs";
import type { ReportedTaskRun, TaskRunInsert } from "../../src/db/repos/task-runs";
import type { TransitionOptions } from "../../src/db/repos/transitions";
import { flowRunPolicy, taskRunPolicy } from "../../src/domain/run-policies";
import type { JsonObject } from "../../src/lib/json";
import { MICROS_PER_SECOND, type Micros } from "../../src/lib/time";
import { newState, type State, type StateInit, type StateType } from "../../src/orchestration/states";
import { contractSuite, errorOf, MISSING, T0, type ContractStore } from "../support/contract";
import { createTestDatabase, type TestDatabase } from "../support/postgres";

const SECOND = MICROS_PER_SECOND;
const ORCHESTRATED: TransitionOptions = { force: false };
const FORCED: TransitionOptions = { force: true };

type FlowRunList = Parameters<PgPortedRepositories["flowRuns"]["list"]>;
type TaskRunList = Parameters<PgPortedRepositories["taskRuns"]["list"]>;

const flowOf = (store: ContractStore, name: string, labels: JsonObject = {}) =>
  store.write((tx) => tx.flows.upsertByName({ name, tags: [], labels }, T0)).then((r) => r.row.id);

function flowRunInsert(flowId: string, overrides: Partial<FlowRunInsert> = {}): FlowRunInsert {
  return {
    flowId,
    workQueueName: null,
    deploymentVersion: null,
    name: "run",
    flowVersion: null,
    parameters: {},
    context: {},
    parentTaskRunId: null,
    infrastructureDocumentId: null,
    empiricalPolicy: flowRunPolicy({}) as unknown as JsonObject,
    tags: [],
    labels: {},
    idempotencyKey: null,
    deploymentId: null,
    workQueueId: null,
    jobVariables: null,
    createdBy: null,
    ...overrides,
  };
}

function taskRunInsert(flowRunId: string | null, overrides: Partial<TaskRunInsert> = {}): TaskRunInsert {
  return {
    id: null,
    name: "task",
    flowRunId,
    taskKey: "key",
    dynamicKey: "0",
    cacheKey: null,
    cacheExpiration: null,
    taskVersion: null,
    empiricalPolicy: taskRunPolicy({}) as unknown as JsonObject,
    tags: [],
    labels: {},
    taskInputs: {},
    ...overrides,
  };
}

const state = (type: StateType, at: Micros, init: StateInit = {}) => newState(type, at, init);

function createFlowRun(store: ContractStore, flowId: string, initial: State, overrides: Partial<FlowRunInsert> = {}, now = initial.timestamp) {
  return store.write((tx) => tx.flowRuns.create(flowRunInsert(flowId, overrides), initial, ORCHESTRATED, now));
}

const setFlowRunState = (store: ContractStore, id: string, proposed: State, options = ORCHESTRATED) =>
  store.write((tx) => tx.flowRuns.setState(id, proposed, options, proposed.timestamp));

const names = (runs: { run: { name: string } }[]) => runs.map((r) => r.run.name);

contractSuite("flow runs and task runs", ["flow", "flow_run", "task_run", "log", "work_pool", "deployment", "task_run_state_cache", "concurrency_limit_v2", "concurrency_lease"], {
  async "flow runs: create with the initial state, idempotency keys, get, exists, JSON values and microsecond timestamps"(store) {
    const flowId = await flowOf(store, "etl", { team: "data", "prefect.flow.id": "overridden" });
    const parameters = { nested: { list: [1, 2.5, -3e-7, true, null, "ünï 🚀"], empty: {} }, big: 2 ** 53 - 1 };
    const first = await createFlowRun(store, flowId, state("SCHEDULED", T0 + 1, { state_details: { scheduled_time: T0 + 10 * SECOND } }), {
      name: "first",
      parameters,
      context: { a: [{}] },
      tags: ["prod", "nightly"],
      labels: { own: true },
      idempotencyKey: "k1",
      jobVariables: { image: "x" },
      createdBy: { type: "USER", id: null },
    });
    const again = await createFlowRun(store, flowId, state("PENDING", T0 + 2), { name: "other", idempotencyKey: "k1" });
    // two creates with one key at once: one run, both answer it
    const racing = await Promise.all(
      [0, 1, 2, 3].map((i) => createFlowRun(store, flowId, state("PENDING", T0 + 3 + i), { name: `race${i}`, idempotencyKey: "k2" })),
    );
    const withoutKey = await createFlowRun(store, flowId, state("PENDING", T0 + 9), { name: "nokey" });
    expect(first.created).toBe(true);
    expect(first.run).toMatchObject({ name: "first", parameters, created: T0 + 1, expectedStartTime: T0 + 10 * SECOND, stateType: "SCHEDULED" });
    expect(first.run.labels).toEqual({ team: "data", "prefect.flow.id": flowId, own: true });
    expect(again).toMatchObject({ created: false, run: { id: first.run.id, name: "first" } });
    expect(racing.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(racing.map((r) => r.run.id)).size).toBe(1);
    const got = await store.read((q) => q.flowRuns.get(first.run.id));
    expect(got).toEqual({ run: first.run, state: first.state, workPool: null });
    // which racer wins is up to the scheduler: only that one did is compared
    return {
      first,
      again,
      racedCreated: racing.map((r) => r.created).sort(),
      withoutKey,
      got,
      missing: (await store.read((q) => q.flowRuns.get(MISSING))) ?? null,
      exists: await store.read((q) => q.flowRuns.exists(first.run.id)),
      existsMissing: await store.read((q) => q.flowRuns.exists(MISSING)),
      count: await store.read((q) => q.flowRuns.count({})),
      unknownFlow: await errorOf(createFlowRun(store, MISSING, state("PENDING", T0))),
    };
  },

  async "flow runs: orchestrated transitions, state history, state by id, setStateIfCurrent, state-change events"(store, published) {
    const flowId = await flowOf(store, "etl");
    const { run } = await createFlowRun(store, flowId, state("SCHEDULED", T0, { state_details: { scheduled_time: T0 + SECOND } }));
    const pending = await setFlowRunState(store, run.id, state("PENDING", T0 + 2 * SECOND));
    const pendingAgain = await setFlowRunState(store, run.id, state("PENDING", T0 + 3 * SECOND));
    const running = await setFlowRunState(store, run.id, state("RUNNING", T0 + 4 * SECOND + 7));
    const stale = await store.write((tx) => tx.flowRuns.setStateIfCurrent({ id: run.id, stateId: pending!.state!.id }, state("CANCELLED", T0 + 5 * SECOND), ORCHESTRATED, T0 + 5 * SECOND));
    const current = await store.write((tx) =>
      tx.flowRuns.setStateIfCurrent({ id: run.id, stateId: running!.state!.id }, state("COMPLETED", T0 + 6 * SECOND + 1, { data: { result: [1, "two"] } }), ORCHESTRATED, T0 + 6 * SECOND + 1),
    );
    const forced = await setFlowRunState(store, run.id, state("RUNNING", T0 + 7 * SECOND, { message: "again" }), FORCED);
    const missing = await setFlowRunState(store, MISSING, state("RUNNING", T0));
    const missingIfCurrent = await store.write((tx) => tx.flowRuns.setStateIfCurrent({ id: MISSING, stateId: null }, state("RUNNING", T0), ORCHESTRATED, T0));
    expect(pending!.status).toBe("ACCEPT");
    expect(pendingAgain!.status).not.toBe("ACCEPT");
    expect(running!.status).toBe("ACCEPT");
    expect(stale).toBeNull();
    expect(current!.status).toBe("ACCEPT");
    expect(missing).toBeNull();
    const states = await store.read((q) => q.flowRuns.states(run.id));
    expect(states.map((s) => s.type)).toEqual(["SCHEDULED", "PENDING", "RUNNING", "COMPLETED", "RUNNING"]);
    expect(published).toEqual(["prefect.flow-run.Scheduled", "prefect.flow-run.Pending", "prefect.flow-run.Running", "prefect.flow-run.Completed", "prefect.flow-run.Running"]);
    const after = (await store.read((q) => q.flowRuns.get(run.id)))!;
    expect(after.run).toMatchObject({ stateType: "RUNNING", runCount: 2, startTime: T0 + 4 * SECOND + 7, updated: T0 + 7 * SECOND });
    return {
      pending,
      pendingAgain,
      running,
      current,
      forced,
      missingIfCurrent,
      states,
      stateById: await store.read((q) => q.flowRuns.state(states[3]!.id)),
      stateMissing: await store.read((q) => q.flowRuns.state(MISSING)),
      after,
      published: [...published],
    };
  },

  async "flow runs: filters (nested too), sorts, limits, offsets, counts, ids, run history, average lateness"(store) {
    const etl = await flowOf(store, "etl");
    const other = await flowOf(store, "Other");
    const specs: { name: string; flow: string; tags: string[]; expected: number | null; start: number | null; end?: boolean; type: StateType }[] = [
      { name: "beta", flow: etl, tags: ["prod"], expected: 5, start: 7, end: true, type: "COMPLETED" },
      { name: "Alpha", flow: etl, tags: ["prod", "eu"], expected: 1, start: null, type: "SCHEDULED" },
      { name: "_under", flow: other, tags: [], expected: null, start: null, type: "PENDING" },
      { name: "gamma", flow: other, tags: ["eu"], expected: 3, start: 3, type: "RUNNING" },
      { name: "zeta", flow: etl, tags: [], expected: 9, start: null, type: "SCHEDULED" },
      { name: "delta", flow: other, tags: ["prod"], expected: 2, start: 4, end: true, type: "FAILED" },
    ];
    for (const [i, spec] of specs.entries()) {
      const at = T0 + i;
      const initial =
        spec.expected === null ? state("PENDING", at) : state("SCHEDULED", at, { state_details: { scheduled_time: T0 + spec.expected * SECOND } });
      const { run } = await createFlowRun(store, spec.flow, initial, { name: spec.name, tags: spec.tags, parameters: { i } });
      if (spec.start !== null) {
        await setFlowRunState(store, run.id, state("PENDING", T0 + spec.start * SECOND - 1), FORCED);
        await setFlowRunState(store, run.id, state("RUNNING", T0 + spec.start * SECOND), FORCED);
      }
      if (spec.end) await setFlowRunState(store, run.id, state(spec.type, T0 + (spec.start! + 1) * SECOND + 3), FORCED);
    }
    const list = (filters: FlowRunList[0], sort: FlowRunList[1] = "NAME_ASC", limit = 100, offset = 0) =>
      store.read((q) => q.flowRuns.list(filters, sort, limit, offset)).then(names);
    const observed = {
      nameAsc: await list({}),
      nameDesc: await list({}, "NAME_DESC"),
      idDesc: await list({}, "ID_DESC"),
      expectedAsc: await list({}, "EXPECTED_START_TIME_ASC"),
      expectedDesc: await list({}, "EXPECTED_START_TIME_DESC"),
      startAsc: await list({}, "START_TIME_ASC"),
      startDesc: await list({}, "START_TIME_DESC"),
      nextScheduledAsc: await list({}, "NEXT_SCHEDULED_START_TIME_ASC"),
      endDesc: await list({}, "END_TIME_DESC"),
      page: await list({}, "NAME_ASC", 2, 1),
      pageBeyond: await list({}, "NAME_ASC", 2, 10),
      byState: await list({ flow_runs: { state: { type: { any_: ["SCHEDULED", "RUNNING"] } } } }),
      byStateName: await list({ flow_runs: { state: { name: { any_: ["Completed"] } } } }),
      notState: await list({ flow_runs: { state: { type: { not_any_: ["SCHEDULED"] } } } }),
      tagsAll: await list({ flow_runs: { tags: { all_: ["prod", "eu"] } } }),
      tagsAny: await list({ flow_runs: { tags: { any_: ["eu"] } } }),
      tagsEmpty: await list({ flow_runs: { tags: { is_null_: true } } }),
      nameLike: await list({ flow_runs: { name: { like_: "ALP" } } }),
      startAfter: await list({ flow_runs: { start_time: { after_: "2026-12-03T10:00:04.123457Z" } } }),
      expectedBefore: await list({ flow_runs: { expected_start_time: { before_: "2026-12-03T10:00:03.123457Z" } } }),
      orOfNested: await list({ flow_runs: { operator: "or_", name: { any_: ["zeta"] }, tags: { all_: ["eu"] } } }),
      throughFlow: await list({ flows: { name: { any_: ["Other"] } } }),
      throughFlowAndRun: await list({ flows: { name: { like_: "etl" } }, flow_runs: { state: { type: { any_: ["SCHEDULED"] } } } }),
      count: await store.read((q) => q.flowRuns.count({})),
      countProd: await store.read((q) => q.flowRuns.count({ flow_runs: { tags: { all_: ["prod"] } } })),
      ids: (await store.read((q) => q.flowRuns.ids({ flow_runs: { tags: { any_: ["prod"] } } }, 2))).length,
      history: await store.read((q) => q.flowRuns.historyRows({}, T0 + 2 * SECOND, T0 + 9 * SECOND)),
      lateness: await store.read((q) => q.flowRuns.averageLateness({}, T0 + 20 * SECOND + 3)),
      latenessNone: await store.read((q) => q.flowRuns.averageLateness({ flow_runs: { name: { any_: ["nope"] } } }, T0)),
    };
    expect(observed.nameAsc).toEqual(["Alpha", "_under", "beta", "delta", "gamma", "zeta"]);
    expect(observed.nameLike).toEqual(["Alpha"]);
    expect(observed.tagsAll).toEqual(["Alpha"]);
    expect(observed.throughFlow).toEqual(["_under", "delta", "gamma"]);
    expect(observed.count).toBe(6);
    expect(observed.lateness).toBeGreaterThan(0);
    const sortedHistory = observed.history.sort((a, b) => (a.expectedStartTime ?? 0) - (b.expectedStartTime ?? 0));
    return { ...observed, history: sortedHistory };
  },

  async "flow runs: update, merge labels, delete with logs, bulk delete, subflows"(store) {
    const flowId = await flowOf(store, "etl");
    const parent = await createFlowRun(store, flowId, state("RUNNING", T0), { name: "parent", labels: { a: 1, b: { c: 2 } } });
    const task = await store.write((tx) => tx.taskRuns.create(taskRunInsert(parent.run.id, { name: "subflow-task" }), state("RUNNING", T0 + 1), ORCHESTRATED, T0 + 1));
    const child = await createFlowRun(store, flowId, state("RUNNING", T0 + 2), { name: "child", parentTaskRunId: task.run.id });
    const updated = await store.write((tx) =>
      tx.flowRuns.update(parent.run.id, { name: "renamed", tags: ["x"], parameters: { p: [null] }, infrastructurePid: "pid-1", jobVariables: null }, T0 + 3),
    );
    const merged = await store.write((tx) => tx.flowRuns.mergeLabels(parent.run.id, { b: "replaced", d: [1] }, T0 + 4));
    const mergedMissing = await store.write((tx) => tx.flowRuns.mergeLabels(MISSING, { x: 1 }, T0));
    const afterUpdate = (await store.read((q) => q.flowRuns.get(parent.run.id)))!.run;
    expect(afterUpdate).toMatchObject({ name: "renamed", tags: ["x"], infrastructurePid: "pid-1", updated: T0 + 4 });
    expect(afterUpdate.labels).toEqual({ a: 1, b: "replaced", d: [1], "prefect.flow.id": flowId });
    const subflows = await store.read((q) => q.flowRuns.subflowsByParentTask(parent.run.id));
    expect([...subflows.keys()]).toEqual([task.run.id]);
    await store.write((tx) => tx.flowRuns.setState(parent.run.id, state("CANCELLED", T0 + 5), FORCED, T0 + 5));
    const toCancel = await store.read((q) => q.flowRuns.subflowsOfCancelledRuns(null, 10));
    const toCancelAfter = await store.read((q) => q.flowRuns.subflowsOfCancelledRuns(child.run.id, 10));
    expect(toCancel.map((r) => r.id)).toEqual([child.run.id]);
    for (const i of [1, 2, 3]) await createFlowRun(store, flowId, state("COMPLETED", T0 + 10 + i), { name: `done${i}` });
    const bulk = await store.write((tx) => tx.flowRuns.bulkDelete({ flow_runs: { name: { like_: "done" } } }, 2));
    expect(bulk).toHaveLength(2);
    return {
      updated,
      updateMissing: await store.write((tx) => tx.flowRuns.update(MISSING, { name: "x" }, T0)),
      merged,
      mergedMissing,
      afterUpdate,
      subflows: [...subflows.entries()],
      toCancel,
      toCancelAfter,
      bulk: bulk.length,
      // which two a bulk delete takes is unspecified (no order), as in Prefect
      left: await store.read((q) => q.flowRuns.list({}, "NAME_ASC", 10, 0)).then((runs) => names(runs).map((name) => name.replace(/^done\d$/, "done"))),
      delete: await store.write((tx) => tx.flowRuns.delete(parent.run.id)),
      deleteAgain: await store.write((tx) => tx.flowRuns.delete(parent.run.id)),
      // the parent's task run went with it; the child's parent task run is unset
      childAfter: (await store.read((q) => q.flowRuns.get(child.run.id)))!.run.parentTaskRunId,
      taskAfter: (await store.read((q) => q.taskRuns.get(task.run.id))) ?? null,
    };
  },

  async "flow runs: scheduler inserts, queue counts and polling, late runs, cancellations, expired pauses"(store) {
    const flowId = await flowOf(store, "etl");
    const queueId = "0195f0b4-0000-7000-8000-00000000000a";
    const scheduled = (i: number, key: string, overrides: Partial<ScheduledRunInsert> = {}): ScheduledRunInsert => ({
      ...flowRunInsert(flowId, { name: `scheduled${i}`, idempotencyKey: key, workQueueId: queueId }),
      id: Bun.randomUUIDv7(),
      autoScheduled: true,
      expectedStartTime: T0 + i * SECOND,
      nextScheduledStartTime: T0 + i * SECOND,
      state: state("SCHEDULED", T0, { state_details: { scheduled_time: T0 + i * SECOND } }),
      ...overrides,
    });
    const batch = [scheduled(1, "s1"), scheduled(2, "s2"), scheduled(3, "s3", { empiricalPolicy: { ...flowRunPolicy({}), retry_type: "in_process" } as unknown as JsonObject })];
    const inserted = await store.write((tx) => tx.flowRuns.insertScheduled(batch, T0));
    const again = await store.write((tx) => tx.flowRuns.insertScheduled([scheduled(1, "s1"), scheduled(4, "s4")], T0));
    expect(inserted).toHaveLength(3);
    expect(again).toHaveLength(1);
    const poll = (window: { before: Micros | null; after: Micros | null }, limit = 10) =>
      store.read((q) => q.flowRuns.pollableInQueue(queueId, window, limit)).then(names);
    const running = await createFlowRun(store, flowId, state("RUNNING", T0 + 1), { name: "busy", workQueueId: queueId });
    const cancelling = await createFlowRun(store, flowId, state("CANCELLING", T0 + 2), { name: "cancelling" });
    const cancelled = await createFlowRun(store, flowId, state("RUNNING", T0 + 3), { name: "cancelled" });
    await store.write((tx) => tx.flowRuns.setState(cancelled.run.id, state("CANCELLED", T0 + 5 * SECOND), FORCED, T0 + 5 * SECOND));
    const paused = await createFlowRun(store, flowId, state("PAUSED", T0 + 4, { state_details: { pause_timeout: T0 + 30 * SECOND } }), { name: "paused" });
    const pausedForever = await createFlowRun(store, flowId, state("PAUSED", T0 + 5), { name: "paused-forever" });
    const observed = {
      inserted: inserted.length,
      again: again.length,
      scheduledRun: (await store.read((q) => q.flowRuns.get(inserted[0]!)))!,
      poll: await poll({ before: null, after: null }),
      pollWindow: await poll({ before: T0 + 2 * SECOND, after: T0 + 2 * SECOND }),
      pollLimit: await poll({ before: null, after: null }, 1),
      pollNone: await poll({ before: null, after: null }, 0),
      active: [...(await store.read((q) => q.flowRuns.activeCounts([queueId, MISSING], ["SCHEDULED", "RUNNING"]))).entries()],
      activeNone: [...(await store.read((q) => q.flowRuns.activeCounts([], ["SCHEDULED"]))).entries()],
      late: (await store.read((q) => q.flowRuns.lateRunCandidates(T0 + 2 * SECOND, 10))).sort((a, b) => a.nextScheduledStartTime! - b.nextScheduledStartTime!),
      cancelledSince: await store.read((q) => q.flowRuns.cancelledSince(T0 + 5 * SECOND, null, 10)),
      cancelledLater: await store.read((q) => q.flowRuns.cancelledSince(T0 + 5 * SECOND + 1, null, 10)),
      cancellingSince: await store.read((q) => q.flowRuns.cancellingSince(T0 + 2, null, 10)),
      cancellingBefore: await store.read((q) => q.flowRuns.cancellingSince(T0 + 1, null, 10)),
      expiredPauses: await store.read((q) => q.flowRuns.expiredPauses(T0 + 31 * SECOND, null, 10)),
      notYetExpired: await store.read((q) => q.flowRuns.expiredPauses(T0 + 30 * SECOND, null, 10)),
    };
    expect(observed.poll).toEqual(["scheduled1", "scheduled2", "scheduled4"]);
    expect(observed.pollWindow).toEqual(["scheduled2"]);
    expect(observed.active).toEqual([[queueId, 5]]);
    expect(observed.late.map((r) => r.id)).toEqual(inserted.slice(0, 2));
    expect(observed.cancelledSince).toEqual([{ id: cancelled.run.id }]);
    expect(observed.cancellingSince).toEqual([{ id: cancelling.run.id, stateId: cancelling.state!.id }]);
    expect(observed.expiredPauses.map((r) => r.id)).toEqual([paused.run.id]);
    return { ...observed, running: running.run.name, pausedForever: pausedForever.run.name };
  },

  async "flow runs: inputs (create, duplicate, read, filter, delete) and resume with input"(store) {
    const flowId = await flowOf(store, "etl");
    const { run } = await createFlowRun(store, flowId, state("RUNNING", T0));
    // pausing deletes the inputs its keyset names: a stale schema goes, the one written after stays
    await store.write((tx) => tx.flowRuns.createInput(run.id, "prefix-schema", "{}", null, T0));
    const pause = state("PAUSED", T0 + 1, { state_details: { pause_key: "p", run_input_keyset: { schema: "prefix-schema", response: "prefix-response" } } });
    await setFlowRunState(store, run.id, pause);
    const staleGone = (await store.read((q) => q.flowRuns.readInput(run.id, "prefix-schema"))) ?? null;
    expect(staleGone).toBeNull();
    const created = [];
    for (const [i, key] of ["prefix-a", "prefix-b", "prefix-c", "other", "prefix-schema"].entries()) {
      const value = key === "prefix-schema" ? JSON.stringify({ type: "object", required: ["answer"] }) : JSON.stringify({ i });
      created.push(await store.write((tx) => tx.flowRuns.createInput(run.id, key, value, i % 2 ? "sender" : null, T0 + i)));
    }
    const duplicate = await store.write((tx) => tx.flowRuns.createInput(run.id, "prefix-a", "{}", null, T0));
    const missingRun = await store.write((tx) => tx.flowRuns.createInput(MISSING, "k", "{}", null, T0));
    expect(created).toEqual(["created", "created", "created", "created", "created"]);
    expect([duplicate, missingRun]).toEqual(["duplicate", "missing_run"]);
    const filtered = await store.read((q) => q.flowRuns.filterInputs(run.id, "prefix-", 3, ["prefix-b"]));
    expect(filtered.map((r) => r.key)).toEqual(["prefix-a", "prefix-c", "prefix-schema"]);
    const validate = (value: unknown, schema: object) =>
      (schema as { required: string[] }).required.every((key) => key in (value as object)) ? null : "answer is required";
    const rejected = await store.write((tx) => tx.flowRuns.resume(run.id, { wrong: 1 }, validate, ORCHESTRATED, T0 + 2 * SECOND));
    const resumed = await store.write((tx) => tx.flowRuns.resume(run.id, { answer: 42 }, validate, ORCHESTRATED, T0 + 3 * SECOND));
    const notPaused = await store.write((tx) => tx.flowRuns.resume(run.id, null, validate, ORCHESTRATED, T0 + 4 * SECOND));
    const resumeMissing = await store.write((tx) => tx.flowRuns.resume(MISSING, null, validate, ORCHESTRATED, T0));
    expect(rejected!.status).toBe("REJECT");
    expect(resumed!.status).toBe("ACCEPT");
    expect(notPaused!.status).toBe("ABORT");
    return {
      staleGone,
      created,
      filtered,
      filterNoExclusions: (await store.read((q) => q.flowRuns.filterInputs(run.id, "prefix-", 10, []))).map((r) => r.key),
      read: await store.read((q) => q.flowRuns.readInput(run.id, "other")),
      readMissing: (await store.read((q) => q.flowRuns.readInput(run.id, "nope"))) ?? null,
      rejected,
      resumed,
      notPaused,
      resumeMissing,
      response: await store.read((q) => q.flowRuns.readInput(run.id, "prefix-response")),
      delete: await store.write((tx) => tx.flowRuns.deleteInput(run.id, "other")),
      deleteAgain: await store.write((tx) => tx.flowRuns.deleteInput(run.id, "other")),
    };
  },

  async "flow runs: a run on a work pool's queue reads back the pool"(store) {
    const flowId = await flowOf(store, "etl");
    const queueId = await arrangePoolAndQueue(store, "pool", "queue");
    const { run } = await createFlowRun(store, flowId, state("SCHEDULED", T0), { name: "queued", workQueueId: queueId, workQueueName: "queue" });
    const got = (await store.read((q) => q.flowRuns.get(run.id)))!;
    expect(got.workPool!.name).toBe("pool");
    return { got, listed: await store.read((q) => q.flowRuns.list({ work_pools: { name: { any_: ["pool"] } } }, "ID_DESC", 10, 0)) };
  },

  async "flow runs of a deployment: its labels, and its concurrency limit's slot taken, queued for and released"(store) {
    const flowId = await flowOf(store, "etl", { fromFlow: 1 });
    const deploymentId = await arrangeDeployment(store, flowId, "nightly", { labels: { fromDeployment: true } });
    const limit = (await store.write((tx) =>
      tx.concurrencyLimits.create({ name: "nightly-slots", limit: 1, active: true, activeSlots: 0, deniedSlots: 0, slotDecayPerSecond: 0 }, T0),
    ))!;
    await store.write((tx) => tx.deployments.update(deploymentId, { concurrencyLimitId: limit.id }, T0));
    const ofDeployment = (name: string, at: Micros) =>
      createFlowRun(store, flowId, state("SCHEDULED", at, { state_details: { scheduled_time: at } }), { name, deploymentId, labels: { own: "x" } });
    const first = await ofDeployment("first", T0 + 1);
    const second = await ofDeployment("second", T0 + 2);
    expect(first.run.labels).toEqual({ fromDeployment: true, "prefect.flow.id": flowId, "prefect.deployment.id": deploymentId, own: "x" });
    const firstPending = await setFlowRunState(store, first.run.id, state("PENDING", T0 + SECOND));
    const secondPending = await setFlowRunState(store, second.run.id, state("PENDING", T0 + 2 * SECOND));
    const held = await store.read((q) => q.concurrencyLimits.get({ id: limit.id }));
    await setFlowRunState(store, first.run.id, state("RUNNING", T0 + 3 * SECOND));
    const firstDone = await setFlowRunState(store, first.run.id, state("COMPLETED", T0 + 4 * SECOND));
    const released = await store.read((q) => q.concurrencyLimits.get({ id: limit.id }));
    expect(firstPending!.status).toBe("ACCEPT");
    expect(secondPending!.status).not.toBe("ACCEPT");
    expect(held!.activeSlots).toBe(1);
    expect(released!.activeSlots).toBe(0);
    // the lease id is new on each backend and lives in the state's details
    const withoutLease = <T>(value: T) => JSON.parse(JSON.stringify(value).replace(/"deployment_concurrency_lease_id":"[^"]+"/g, '"deployment_concurrency_lease_id":"<lease>"')) as T;
    const other = await createFlowRun(store, flowId, state("PENDING", T0 + 3), { name: "no-deployment" });
    const throughDeployment = await store.read((q) => q.flowRuns.list({ deployments: { name: { any_: ["nightly"] } } }, "NAME_ASC", 10, 0)).then(names);
    const withoutDeployment = await store.read((q) => q.flowRuns.list({ flow_runs: { deployment_id: { is_null_: true } } }, "NAME_ASC", 10, 0)).then(names);
    expect(throughDeployment).toEqual(["first", "second"]);
    expect(withoutDeployment).toEqual([other.run.name]);
    return withoutLease({
      first,
      second,
      firstPending,
      secondPending,
      held,
      firstDone,
      released,
      secondAfter: await store.read((q) => q.flowRuns.get(second.run.id)),
      throughDeployment,
      withoutDeployment,
      countThroughDeployment: await store.read((q) => q.flowRuns.count({ deployments: { id: { any_: [deploymentId] } } })),
    });
  },

  async "task runs: create (with and without a flow run), idempotent creates, get, labels, set_state, history"(store) {
    const flowId = await flowOf(store, "etl");
    const flow = await createFlowRun(store, flowId, state("RUNNING", T0), { labels: { team: "data" } });
    const first = await store.write((tx) =>
      tx.taskRuns.create(taskRunInsert(flow.run.id, { name: "first", tags: ["t"], labels: { own: 1 }, taskInputs: { x: [{ input_type: "parameter", name: "p" }] } }), state("PENDING", T0 + 1), ORCHESTRATED, T0 + 1),
    );
    const again = await store.write((tx) => tx.taskRuns.create(taskRunInsert(flow.run.id, { name: "again" }), state("RUNNING", T0 + 2), ORCHESTRATED, T0 + 2));
    const racing = await Promise.all(
      [0, 1, 2, 3].map((i) => store.write((tx) => tx.taskRuns.create(taskRunInsert(null, { name: `free${i}`, taskKey: "free" }), state("PENDING", T0 + 3 + i), ORCHESTRATED, T0 + 3 + i))),
    );
    const racingInRun = await Promise.all(
      [0, 1, 2, 3].map((i) => store.write((tx) => tx.taskRuns.create(taskRunInsert(flow.run.id, { name: `in${i}`, taskKey: "raced" }), state("PENDING", T0 + 3 + i), ORCHESTRATED, T0 + 3 + i))),
    );
    const chosenId = "0195f0b4-0000-7000-8000-0000000000c1";
    const withId = await store.write((tx) => tx.taskRuns.create(taskRunInsert(flow.run.id, { id: chosenId, dynamicKey: "1" }), state("PENDING", T0 + 8), ORCHESTRATED, T0 + 8));
    const idTaken = await errorOf(store.write((tx) => tx.taskRuns.create(taskRunInsert(flow.run.id, { id: chosenId, dynamicKey: "2" }), state("PENDING", T0 + 9), ORCHESTRATED, T0 + 9)));
    expect(first.created).toBe(true);
    expect(first.run.labels).toEqual({ team: "data", "prefect.flow.id": flowId, "prefect.flow-run.id": flow.run.id, own: 1 });
    expect(again).toMatchObject({ created: false, run: { id: first.run.id, name: "first" } });
    expect(racing.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(racing.map((r) => r.run.id)).size).toBe(1);
    expect(racingInRun.filter((r) => r.created)).toHaveLength(1);
    expect(withId.run.id).toBe(chosenId);
    expect(idTaken).toBe("StoreConflictError");
    const running = await store.write((tx) => tx.taskRuns.setState(first.run.id, state("RUNNING", T0 + SECOND), ORCHESTRATED, T0 + SECOND));
    const completed = await store.write((tx) => tx.taskRuns.setState(first.run.id, state("COMPLETED", T0 + 2 * SECOND + 5), ORCHESTRATED, T0 + 2 * SECOND + 5));
    const backToPending = await store.write((tx) => tx.taskRuns.setState(first.run.id, state("PENDING", T0 + 3 * SECOND), ORCHESTRATED, T0 + 3 * SECOND));
    const missing = await store.write((tx) => tx.taskRuns.setState(MISSING, state("RUNNING", T0), ORCHESTRATED, T0));
    expect(running!.status).toBe("ACCEPT");
    expect(completed!.status).toBe("ACCEPT");
    // a task run of a flow run that has stopped may not start
    const stopped = await createFlowRun(store, flowId, state("COMPLETED", T0 + 10), { name: "stopped" });
    const orphan = await store.write((tx) => tx.taskRuns.create(taskRunInsert(stopped.run.id), state("PENDING", T0 + 11), ORCHESTRATED, T0 + 11));
    const inStoppedFlow = await store.write((tx) => tx.taskRuns.setState(orphan.run.id, state("RUNNING", T0 + 12), ORCHESTRATED, T0 + 12));
    expect(inStoppedFlow!.status).not.toBe("ACCEPT");
    expect(missing).toBeNull();
    const states = await store.read((q) => q.taskRuns.states(first.run.id));
    expect(states.map((s) => s.type)).toEqual(["PENDING", "RUNNING", "COMPLETED", "PENDING"]);
    const ifCurrent = await store.write((tx) => tx.taskRuns.setStateIfCurrent({ id: first.run.id, stateId: states[3]!.id }, state("FAILED", T0 + 4 * SECOND), FORCED, T0 + 4 * SECOND));
    const ifStale = await store.write((tx) => tx.taskRuns.setStateIfCurrent({ id: first.run.id, stateId: states[3]!.id }, state("RUNNING", T0 + 5 * SECOND), FORCED, T0 + 5 * SECOND));
    expect(ifCurrent!.state!.type).toBe("FAILED");
    expect(ifStale).toBeNull();
    return {
      first,
      again,
      racedCreated: [...racing, ...racingInRun].map((r) => r.created).sort(),
      withId,
      running,
      completed,
      backToPending,
      inStoppedFlow,
      states,
      stateById: await store.read((q) => q.taskRuns.state(states[1]!.id)),
      after: await store.read((q) => q.taskRuns.get(first.run.id)),
      missing: (await store.read((q) => q.taskRuns.get(MISSING))) ?? null,
      ifCurrent,
      ifStale,
      unknownFlowRun: await errorOf(store.write((tx) => tx.taskRuns.create(taskRunInsert(MISSING), state("PENDING", T0), ORCHESTRATED, T0))),
    };
  },

  async "task runs: filters (through the flow run too), sorts, paging, counts, run graph pages, rename, delete, unfinished"(store) {
    const flowId = await flowOf(store, "etl");
    const flowA = await createFlowRun(store, flowId, state("RUNNING", T0), { name: "A", tags: ["a"] });
    const flowB = await createFlowRun(store, flowId, state("COMPLETED", T0), { name: "B" });
    const specs: { name: string; flow: FlowRunWithState | null; tags: string[]; type: StateType; at: number }[] = [
      { name: "beta", flow: flowA, tags: ["x"], type: "RUNNING", at: 3 },
      { name: "Alpha", flow: flowA, tags: ["x", "y"], type: "COMPLETED", at: 1 },
      { name: "_under", flow: flowB, tags: [], type: "SCHEDULED", at: 5 },
      { name: "gamma", flow: null, tags: ["y"], type: "FAILED", at: 2 },
      { name: "zeta", flow: flowA, tags: [], type: "PENDING", at: 4 },
    ];
    const ids: string[] = [];
    for (const [i, spec] of specs.entries()) {
      const initial = spec.type === "SCHEDULED" ? state("SCHEDULED", T0 + i, { state_details: { scheduled_time: T0 + spec.at * SECOND } }) : state("PENDING", T0 + i);
      const created = await store.write((tx) =>
        tx.taskRuns.create(taskRunInsert(spec.flow?.run.id ?? null, { name: spec.name, tags: spec.tags, taskKey: `k${i}` }), initial, ORCHESTRATED, T0 + i),
      );
      ids.push(created.run.id);
      if (spec.type !== "SCHEDULED" && spec.type !== "PENDING") {
        await store.write((tx) => tx.taskRuns.setState(created.run.id, state("RUNNING", T0 + spec.at * SECOND), FORCED, T0 + spec.at * SECOND));
        if (spec.type !== "RUNNING") await store.write((tx) => tx.taskRuns.setState(created.run.id, state(spec.type, T0 + spec.at * SECOND + 9), FORCED, T0 + spec.at * SECOND + 9));
      }
    }
    const list = (filters: TaskRunList[0], sort: TaskRunList[1] = "NAME_ASC", limit = 100, offset = 0) =>
      store.read((q) => q.taskRuns.list(filters, sort, limit, offset)).then(names);
    const observed = {
      nameAsc: await list({}),
      nameDesc: await list({}, "NAME_DESC"),
      idDesc: await list({}, "ID_DESC"),
      expectedAsc: await list({}, "EXPECTED_START_TIME_ASC"),
      expectedDesc: await list({}, "EXPECTED_START_TIME_DESC"),
      nextScheduledAsc: await list({}, "NEXT_SCHEDULED_START_TIME_ASC"),
      endDesc: await list({}, "END_TIME_DESC"),
      page: await list({}, "NAME_ASC", 2, 2),
      byState: await list({ task_runs: { state: { type: { any_: ["RUNNING", "COMPLETED"] } } } }),
      tagsAll: await list({ task_runs: { tags: { all_: ["x", "y"] } } }),
      tagsEmpty: await list({ task_runs: { tags: { is_null_: true } } }),
      nameLike: await list({ task_runs: { name: { like_: "ET" } } }),
      withoutFlowRun: await list({ task_runs: { flow_run_id: { is_null_: true } } }),
      throughFlowRun: await list({ flow_runs: { tags: { all_: ["a"] } } }),
      throughFlowRunState: await list({ flow_runs: { state: { type: { any_: ["COMPLETED"] } } } }),
      startAfter: await list({ task_runs: { start_time: { after_: "2026-12-03T10:00:02.123457Z" } } }),
      count: await store.read((q) => q.taskRuns.count({})),
      countThroughFlow: await store.read((q) => q.taskRuns.count({ flows: { name: { any_: ["etl"] } } })),
      history: (await store.read((q) => q.taskRuns.historyRows({}, T0, T0 + 10 * SECOND))).length,
      graphPage: names(await store.read((q) => q.taskRuns.pageOfFlowRun(flowA.run.id, null, 2))),
      graphNextPage: names(await store.read((q) => q.taskRuns.pageOfFlowRun(flowA.run.id, ids[1]!, 2))),
      unfinished: (await store.read((q) => q.taskRuns.unfinishedOfFlowRun(flowA.run.id, 10))).map((r) => r.id).sort(),
    };
    expect(observed.nameAsc).toEqual(["Alpha", "_under", "beta", "gamma", "zeta"]);
    expect(observed.throughFlowRun).toEqual(["Alpha", "beta", "zeta"]);
    expect(observed.withoutFlowRun).toEqual(["gamma"]);
    expect(observed.graphPage).toEqual(["zeta", "Alpha"]);
    expect(observed.unfinished).toEqual([ids[0]!, ids[4]!].sort());
    return {
      ...observed,
      rename: await store.write((tx) => tx.taskRuns.rename(ids[0]!, "renamed", T0 + 99)),
      renameToNull: await store.write((tx) => tx.taskRuns.rename(ids[1]!, null, T0 + 100)),
      renameMissing: await store.write((tx) => tx.taskRuns.rename(MISSING, "x", T0)),
      renamed: (await store.read((q) => q.taskRuns.get(ids[0]!)))!.run,
      delete: await store.write((tx) => tx.taskRuns.delete(ids[0]!)),
      deleteAgain: await store.write((tx) => tx.taskRuns.delete(ids[0]!)),
      left: await store.read((q) => q.taskRuns.count({})),
    };
  },

  async "task runs: the cache written on COMPLETED and read on RUNNING; tag concurrency slots taken and released"(store) {
    const flowId = await flowOf(store, "etl");
    const flow = await createFlowRun(store, flowId, state("RUNNING", T0));
    const cached = { cache_key: "ck", cache_expiration: T0 + 100 * SECOND };
    const producer = await store.write((tx) => tx.taskRuns.create(taskRunInsert(flow.run.id, { taskKey: "producer" }), state("PENDING", T0 + 1), ORCHESTRATED, T0 + 1));
    await store.write((tx) => tx.taskRuns.setState(producer.run.id, state("RUNNING", T0 + SECOND), ORCHESTRATED, T0 + SECOND));
    const completed = await store.write((tx) =>
      tx.taskRuns.setState(producer.run.id, state("COMPLETED", T0 + 2 * SECOND, { state_details: cached, data: { storage_key: "k" } }), ORCHESTRATED, T0 + 2 * SECOND),
    );
    const consumer = await store.write((tx) => tx.taskRuns.create(taskRunInsert(flow.run.id, { taskKey: "consumer" }), state("PENDING", T0 + 3), ORCHESTRATED, T0 + 3));
    const hit = await store.write((tx) => tx.taskRuns.setState(consumer.run.id, state("RUNNING", T0 + 3 * SECOND, { state_details: cached }), ORCHESTRATED, T0 + 3 * SECOND));
    const late = await store.write((tx) => tx.taskRuns.create(taskRunInsert(flow.run.id, { taskKey: "late" }), state("PENDING", T0 + 4), ORCHESTRATED, T0 + 4));
    const expired = await store.write((tx) =>
      tx.taskRuns.setState(late.run.id, state("RUNNING", T0 + 101 * SECOND, { state_details: cached }), ORCHESTRATED, T0 + 101 * SECOND),
    );
    expect(completed!.status).toBe("ACCEPT");
    expect(hit).toMatchObject({ status: "REJECT", state: { type: "COMPLETED", name: "Cached" } });
    expect(expired!.status).toBe("ACCEPT");

    const limit = await store.write((tx) =>
      tx.concurrencyLimits.create({ name: "tag:db", limit: 1, active: true, activeSlots: 0, deniedSlots: 0, slotDecayPerSecond: 0 }, T0),
    );
    const tagged = (key: string, at: Micros) =>
      store.write((tx) => tx.taskRuns.create(taskRunInsert(flow.run.id, { taskKey: key, tags: ["db", "other"] }), state("PENDING", at), ORCHESTRATED, at));
    const a = await tagged("a", T0 + 5);
    const b = await tagged("b", T0 + 6);
    const aRunning = await store.write((tx) => tx.taskRuns.setState(a.run.id, state("RUNNING", T0 + 10 * SECOND), ORCHESTRATED, T0 + 10 * SECOND));
    const bWaits = await store.write((tx) => tx.taskRuns.setState(b.run.id, state("RUNNING", T0 + 11 * SECOND), ORCHESTRATED, T0 + 11 * SECOND));
    const held = await store.read((q) => q.concurrencyLimits.get({ id: limit!.id }));
    const aDone = await store.write((tx) => tx.taskRuns.setState(a.run.id, state("COMPLETED", T0 + 12 * SECOND), ORCHESTRATED, T0 + 12 * SECOND));
    const bRunning = await store.write((tx) => tx.taskRuns.setState(b.run.id, state("RUNNING", T0 + 13 * SECOND), ORCHESTRATED, T0 + 13 * SECOND));
    expect(aRunning!.status).toBe("ACCEPT");
    expect(bWaits!.status).toBe("WAIT");
    expect(held!.activeSlots).toBe(1);
    expect(bRunning!.status).toBe("ACCEPT");
    return {
      completed,
      hit,
      expired,
      consumer: (await store.read((q) => q.taskRuns.get(consumer.run.id)))!.run,
      aRunning,
      // the wait is a random draw around the limit's occupancy
      bWaits: { ...bWaits, details: { ...bWaits!.details, delay_seconds: "drawn" } },
      held,
      aDone,
      bRunning,
      limitAfter: await store.read((q) => q.concurrencyLimits.get({ id: limit!.id })),
    };
  },

  async "task runs: recorded reports insert, update only when newer, keep states once, refuse a missing flow run"(store) {
    const flowId = await flowOf(store, "etl");
    const flow = await createFlowRun(store, flowId, state("RUNNING", T0));
    const report = (id: string, type: StateType, at: Micros, overrides: Partial<ReportedTaskRun> = {}): ReportedTaskRun => {
      const reported = state(type, at);
      return {
        id,
        flowRunId: flow.run.id,
        taskKey: "recorded",
        dynamicKey: "0",
        columns: { name: "recorded-task", tags: ["r"], runCount: type === "RUNNING" ? 1 : 0, startTime: type === "PENDING" ? null : T0 + SECOND },
        state: { ...reported, id: Bun.randomUUIDv7() },
        ...overrides,
      };
    };
    const runId = "0195f0b4-0000-7000-8000-0000000000d1";
    const running = report(runId, "RUNNING", T0 + 2 * SECOND);
    const first = await store.write((tx) => tx.taskRuns.record([report(runId, "PENDING", T0 + SECOND), running], T0 + 3 * SECOND));
    // late: an older state after the newer one; a re-delivery; a second id for the same keys
    const late = await store.write((tx) => tx.taskRuns.record([report(runId, "PENDING", T0 + SECOND + 1), running], T0 + 4 * SECOND));
    const otherId = await store.write((tx) => tx.taskRuns.record([report("0195f0b4-0000-7000-8000-0000000000d2", "COMPLETED", T0 + 5 * SECOND)], T0 + 5 * SECOND));
    const missingFlowRun = await store.write((tx) => tx.taskRuns.record([report(Bun.randomUUIDv7(), "RUNNING", T0, { flowRunId: MISSING })], T0));
    const withoutFlowRun = await store.write((tx) => tx.taskRuns.record([report("0195f0b4-0000-7000-8000-0000000000d3", "RUNNING", T0, { flowRunId: null })], T0));
    expect(first).toEqual(["recorded", "recorded"]);
    expect(missingFlowRun).toEqual(["missing_flow_run"]);
    const recorded = (await store.read((q) => q.taskRuns.get(runId)))!;
    expect(recorded.run).toMatchObject({ stateType: "COMPLETED", name: "recorded-task", created: T0 + 3 * SECOND, updated: T0 + 5 * SECOND });
    const states = await store.read((q) => q.taskRuns.states(runId));
    expect(states.map((s) => s.type)).toEqual(["PENDING", "PENDING", "RUNNING", "COMPLETED"]);
    return {
      first,
      late,
      otherId,
      missingFlowRun,
      withoutFlowRun,
      recorded,
      states,
      free: await store.read((q) => q.taskRuns.get("0195f0b4-0000-7000-8000-0000000000d3")),
      count: await store.read((q) => q.taskRuns.count({})),
    };
  },
});

/** A work pool with one queue. */
async function arrangePoolAndQueue(store: ContractStore, poolName: string, queueName: string): Promise<string> {
  const pool = { name: poolName, description: null, type: "process", baseJobTemplate: {}, isPaused: false, concurrencyLimit: null, storageConfiguration: {} };
  const poolRow = await store.write((tx) => tx.workPools.insertPoolRow(pool, null, T0));
  const queue = await store.write((tx) => tx.workPools.insertQueueRow(poolRow!.id, { name: queueName, description: "", isPaused: false, concurrencyLimit: null, priority: 1, filter: null }, T0));
  return queue!.id;
}

const arrangeDeployment = (store: ContractStore, flowId: string, name: string, values: DeploymentValues = {}) =>
  store.write((tx) => tx.deployments.upsert(flowId, name, values, null, T0)).then((r) => r.id);

describe("flow runs on PostgreSQL under concurrency", () => {
  let database: TestDatabase;
  let store: PgStore;

  beforeAll(async () => {
    database = await createTestDatabase();
    store = await PgStore.open(database.settings());
  });
  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });

  test("100 writes each reading the run FOR UPDATE and moving it SCHEDULED -> PENDING only if still SCHEDULED: exactly one moves it", async () => {
    const flowId = (await store.write((tx) => tx.flows.upsertByName({ name: "raced", tags: [], labels: {} }, T0))).row.id;
    const { run } = await store.write((tx) => tx.flowRuns.create(flowRunInsert(flowId), state("SCHEDULED", T0), ORCHESTRATED, T0));
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => store.write((tx) => tx.flowRuns.setState(run.id, state("PENDING", T0 + SECOND + i), ORCHESTRATED, T0 + SECOND + i))),
    );
    expect(results.filter((r) => r!.status === "ACCEPT")).toHaveLength(1);
    const states = await store.read((q) => q.flowRuns.states(run.id));
    expect(states.map((s) => s.type)).toEqual(["SCHEDULED", "PENDING"]);
    const rows = await store.db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM flow_run_state WHERE flow_run_id = ${run.id}`);
    expect(rows[0]!.n).toBe(2);
    expect((await store.db.select({ stateType: flowRun.stateType }).from(flowRun))[0]!.stateType).toBe("PENDING");
  });

  test("10 recorders reporting one new task run at once: one run, every state kept once, the newest current", async () => {
    const flowId = (await store.write((tx) => tx.flows.upsertByName({ name: "recorded", tags: [], labels: {} }, T0))).row.id;
    const { run } = await store.write((tx) => tx.flowRuns.create(flowRunInsert(flowId), state("RUNNING", T0), ORCHESTRATED, T0));
    const taskRunId = Bun.randomUUIDv7();
    const types: StateType[] = ["PENDING", "RUNNING", "RUNNING", "RUNNING", "RUNNING", "RUNNING", "RUNNING", "RUNNING", "RUNNING", "COMPLETED"];
    const reports: ReportedTaskRun[] = types.map((type, i) => ({
      id: taskRunId,
      flowRunId: run.id,
      taskKey: "reported",
      dynamicKey: "0",
      columns: { name: "reported" },
      state: state(type, T0 + (i + 1) * SECOND),
    }));
    const outcomes = await Promise.all(reports.map((report) => store.write((tx) => tx.taskRuns.record([report], T0 + 20 * SECOND))));
    expect(outcomes.flat()).toEqual(Array(10).fill("recorded"));
    expect(await store.read((q) => q.taskRuns.count({}))).toBe(1);
    expect((await store.read((q) => q.taskRuns.states(taskRunId))).length).toBe(10);
    expect((await store.read((q) => q.taskRuns.get(taskRunId)))!.run.stateType).toBe("COMPLETED");
  });

  test("10 clients creating one flow-run input key at once: one is created, the others are duplicates", async () => {
    const flowId = (await store.write((tx) => tx.flows.upsertByName({ name: "inputs", tags: [], labels: {} }, T0))).row.id;
    const { run } = await store.write((tx) => tx.flowRuns.create(flowRunInsert(flowId), state("RUNNING", T0), ORCHESTRATED, T0));
    const outcomes = await Promise.all(Array.from({ length: 10 }, (_, i) => store.write((tx) => tx.flowRuns.createInput(run.id, "answer", `${i}`, null, T0))));
    expect(outcomes.filter((o) => o === "created")).toHaveLength(1);
    expect(outcomes.filter((o) => o === "duplicate")).toHaveLength(9);
  });

  test("20 runs of a deployment with a limit of 1 racing PENDING: exactly one takes the slot", async () => {
    const flowId = (await store.write((tx) => tx.flows.upsertByName({ name: "limited", tags: [], labels: {} }, T0))).row.id;
    const limit = (await store.write((tx) =>
      tx.concurrencyLimits.create({ name: "one-at-a-time", limit: 1, active: true, activeSlots: 0, deniedSlots: 0, slotDecayPerSecond: 0 }, T0),
    ))!;
    const deploymentId = await arrangeDeployment(store, flowId, "d", { concurrencyLimitId: limit.id });
    const runs = [];
    for (let i = 0; i < 20; i++) {
      runs.push((await store.write((tx) => tx.flowRuns.create(flowRunInsert(flowId, { name: `r${i}`, deploymentId }), state("SCHEDULED", T0 + i), ORCHESTRATED, T0 + i))).run.id);
    }
    const results = await Promise.all(runs.map((id, i) => store.write((tx) => tx.flowRuns.setState(id, state("PENDING", T0 + SECOND + i), ORCHESTRATED, T0 + SECOND + i))));
    expect(results.filter((r) => r!.status === "ACCEPT")).toHaveLength(1);
    expect((await store.read((q) => q.concurrencyLimits.get({ id: limit.id })))!.activeSlots).toBe(1);
  });

  test("20 task runs tagged with a limit of 1 racing RUNNING: exactly one takes the slot", async () => {
    const flowId = (await store.write((tx) => tx.flows.upsertByName({ name: "tagged", tags: [], labels: {} }, T0))).row.id;
    const { run } = await store.write((tx) => tx.flowRuns.create(flowRunInsert(flowId), state("RUNNING", T0), ORCHESTRATED, T0));
    const limit = (await store.write((tx) =>
      tx.concurrencyLimits.create({ name: "tag:scarce", limit: 1, active: true, activeSlots: 0, deniedSlots: 0, slotDecayPerSecond: 0 }, T0),
    ))!;
    const tasks = [];
    for (let i = 0; i < 20; i++) {
      const insert = taskRunInsert(run.id, { taskKey: `t${i}`, tags: ["scarce"] });
      tasks.push((await store.write((tx) => tx.taskRuns.create(insert, state("PENDING", T0 + i), ORCHESTRATED, T0 + i))).run.id);
    }
    const results = await Promise.all(tasks.map((id, i) => store.write((tx) => tx.taskRuns.setState(id, state("RUNNING", T0 + SECOND + i), ORCHESTRATED, T0 + SECOND + i))));
    expect(results.filter((r) => r!.status === "ACCEPT")).toHaveLength(1);
    expect((await store.read((q) => q.concurrencyLimits.get({ id: limit.id })))!.activeSlots).toBe(1);
  });
});
