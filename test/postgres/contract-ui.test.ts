/**
 * The repository contract (test/support/contract.ts) for the UI's aggregate reads: deployment
 * counts, next scheduled runs, task-run counts (per run, by state, start times) and observed
 * states.
 */
import { expect } from "bun:test";
import type { FlowRunInsert } from "../../src/db/repos/flow-runs";
import type { TaskRunInsert } from "../../src/db/repos/task-runs";
import type { TransitionOptions } from "../../src/db/repos/transitions";
import { flowRunPolicy, taskRunPolicy } from "../../src/domain/run-policies";
import type { JsonObject } from "../../src/lib/json";
import { MICROS_PER_SECOND, type Micros } from "../../src/lib/time";
import { newState, type StateInit, type StateType } from "../../src/orchestration/states";
import { contractSuite, MISSING, T0, type ContractStore } from "../support/contract";

const SECOND = MICROS_PER_SECOND;
const FORCED: TransitionOptions = { force: true };

const flowRunInsert = (flowId: string, name: string, overrides: Partial<FlowRunInsert> = {}): FlowRunInsert => ({
  flowId,
  workQueueName: null,
  deploymentVersion: null,
  name,
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
});

const taskRunInsert = (flowRunId: string | null, taskKey: string, tags: string[] = []): TaskRunInsert => ({
  id: null,
  name: taskKey,
  flowRunId,
  taskKey,
  dynamicKey: "0",
  cacheKey: null,
  cacheExpiration: null,
  taskVersion: null,
  empiricalPolicy: taskRunPolicy({}) as unknown as JsonObject,
  tags,
  labels: {},
  taskInputs: {},
});

const flowOf = (store: ContractStore, name: string) => store.write((tx) => tx.flows.upsertByName({ name, tags: [], labels: {} }, T0)).then((r) => r.row.id);

const flowRunIn = (store: ContractStore, flowId: string, name: string, type: StateType, at: Micros, init: StateInit = {}, overrides: Partial<FlowRunInsert> = {}) =>
  store.write((tx) => tx.flowRuns.create(flowRunInsert(flowId, name, overrides), newState(type, at, init), FORCED, at)).then((r) => r.run.id);

/** A new PENDING task run moved through `states` (a type, or a type and a name), one second apart from `at`. */
async function taskRunThrough(store: ContractStore, flowRunId: string | null, taskKey: string, at: Micros, states: (StateType | [StateType, string])[], tags: string[] = []) {
  const id = (await store.write((tx) => tx.taskRuns.create(taskRunInsert(flowRunId, taskKey, tags), newState("PENDING", at), FORCED, at))).run.id;
  for (const [i, spec] of states.entries()) {
    const [type, name] = typeof spec === "string" ? [spec, undefined] : spec;
    const when = at + (i + 1) * SECOND;
    await store.write((tx) => tx.taskRuns.setState(id, newState(type, when, { name }), FORCED, when));
  }
  return id;
}

const arrangeDeployment = (store: ContractStore, flowId: string, name: string) => store.write((tx) => tx.deployments.upsert(flowId, name, {}, null, T0));

const entries = <K, V>(map: Map<K, V>) => [...map.entries()].sort((a, b) => String(a[0]).localeCompare(String(b[0])));

contractSuite("ui", ["flow", "flow_run", "task_run", "deployment"], {
  async "deployment counts and each flow's next scheduled run (the last read on a tie)"(store) {
    const etl = await flowOf(store, "etl");
    const other = await flowOf(store, "other");
    const idle = await flowOf(store, "idle");
    await arrangeDeployment(store, etl, "a");
    await arrangeDeployment(store, etl, "b");
    await arrangeDeployment(store, other, "c");
    const scheduledAt = (seconds: number) => ({ state_details: { scheduled_time: T0 + seconds * SECOND } });
    await flowRunIn(store, etl, "later", "SCHEDULED", T0 + 1, scheduledAt(20));
    await flowRunIn(store, etl, "soonest", "SCHEDULED", T0 + 2, scheduledAt(10));
    const tieFirst = await flowRunIn(store, other, "tie-1", "SCHEDULED", T0 + 3, scheduledAt(5));
    const tieLast = await flowRunIn(store, other, "tie-2", "SCHEDULED", T0 + 4, scheduledAt(5));
    await flowRunIn(store, idle, "running", "RUNNING", T0 + 5);
    const counts = await store.read((q) => q.ui.deploymentCounts([etl, other, idle, MISSING]));
    const next = await store.read((q) => q.ui.nextScheduledRuns([etl, other, idle]));
    expect(entries(counts).map(([, n]) => n).sort()).toEqual([1, 2]);
    expect(next.get(etl)).toMatchObject({ name: "soonest", stateType: "SCHEDULED", nextScheduledStartTime: T0 + 10 * SECOND });
    expect(next.get(other)!.id).toBe(tieLast > tieFirst ? tieLast : tieFirst);
    expect(next.has(idle)).toBe(false);
    return {
      counts: [counts.get(etl), counts.get(other), counts.get(idle) ?? null],
      next: [next.get(etl), next.get(other), next.get(idle) ?? null],
      none: entries(await store.read((q) => q.ui.deploymentCounts([]))),
    };
  },

  async "task-run counts per flow run (subflow trackers left out), by state, start times, through flow-run filters"(store) {
    const flowId = await flowOf(store, "etl");
    const parent = await flowRunIn(store, flowId, "parent", "RUNNING", T0, {}, { tags: ["p"] });
    const sibling = await flowRunIn(store, flowId, "sibling", "RUNNING", T0 + 1);
    await taskRunThrough(store, parent, "done", T0 + 2, ["RUNNING", "COMPLETED"], ["x"]);
    await taskRunThrough(store, parent, "failed", T0 + 3, ["RUNNING", "FAILED"]);
    await taskRunThrough(store, parent, "waiting", T0 + 4, []);
    const tracker = await taskRunThrough(store, parent, "subflow", T0 + 5, ["RUNNING"]);
    await flowRunIn(store, flowId, "child", "RUNNING", T0 + 6, {}, { parentTaskRunId: tracker });
    await taskRunThrough(store, sibling, "other", T0 + 7, ["RUNNING"], ["x"]);
    await taskRunThrough(store, null, "free", T0 + 8, ["RUNNING", "COMPLETED"]);
    const perRun = await store.read((q) => q.ui.taskRunCounts([parent, sibling, MISSING]));
    const byState = await store.read((q) => q.ui.taskRunCountsByState({}));
    const byStateOfParent = await store.read((q) => q.ui.taskRunCountsByState({ flow_runs: { tags: { all_: ["p"] } } }));
    const byStateTagged = await store.read((q) => q.ui.taskRunCountsByState({ task_runs: { tags: { all_: ["x"] } } }));
    const starts = await store.read((q) => q.ui.taskRunStarts({}));
    const startsOfSibling = await store.read((q) => q.ui.taskRunStarts({ flow_runs: { name: { any_: ["sibling"] } } }));
    expect(perRun.get(parent)).toBe(3);
    expect(perRun.get(sibling)).toBe(1);
    expect(byState.get("RUNNING")).toBe(2);
    expect(byStateOfParent.get("PENDING")).toBe(1);
    expect(starts).toHaveLength(5);
    const sortedStarts = (rows: { startTime: Micros; stateType: string | null }[]) => [...rows].sort((a, b) => a.startTime - b.startTime);
    return {
      perRun: [perRun.get(parent), perRun.get(sibling), perRun.get(MISSING) ?? null],
      byState: entries(byState),
      byStateOfParent: entries(byStateOfParent),
      byStateTagged: entries(byStateTagged),
      starts: sortedStarts(starts),
      startsOfSibling: sortedStarts(startsOfSibling),
    };
  },

  async "observed states: first and last seen, prefixes (case-insensitive, wildcards literal), both orders, limits"(store) {
    const flowId = await flowOf(store, "etl");
    const run = await flowRunIn(store, flowId, "run", "SCHEDULED", T0 + 1);
    await store.write((tx) => tx.flowRuns.setState(run, newState("PENDING", T0 + 2 * SECOND), FORCED, T0 + 2 * SECOND));
    await store.write((tx) => tx.flowRuns.setState(run, newState("RUNNING", T0 + 3 * SECOND + 1, { name: "running_50%" }), FORCED, T0 + 3 * SECOND + 1));
    await store.write((tx) => tx.flowRuns.setState(run, newState("RUNNING", T0 + 4 * SECOND + 2, { name: "Running" }), FORCED, T0 + 4 * SECOND + 2));
    await taskRunThrough(store, run, "t", T0 + 5 * SECOND, ["RUNNING", "COMPLETED", ["COMPLETED", "Cached"]]);
    const observed = (prefix: string | null, order: "NAME_ASC" | "LAST_SEEN_DESC" = "NAME_ASC", limit = 100) =>
      store.read((q) => q.ui.observedStates(prefix, order, limit));
    const all = await observed(null);
    expect(all.map((s) => `${s.stateType}/${s.stateName}`)).toEqual([
      "COMPLETED/Cached",
      "COMPLETED/Completed",
      "PENDING/Pending",
      "RUNNING/Running",
      "RUNNING/running_50%",
      "SCHEDULED/Scheduled",
    ]);
    expect(all.find((s) => s.stateName === "Pending")).toMatchObject({ firstSeen: T0 + 2 * SECOND, lastSeen: T0 + 5 * SECOND });
    expect((await observed("running_50%")).map((s) => s.stateName)).toEqual(["running_50%"]);
    expect(await observed("run%")).toEqual([]);
    return {
      all,
      lastSeen: await observed(null, "LAST_SEEN_DESC"),
      limited: await observed(null, "LAST_SEEN_DESC", 2),
      prefixCaseInsensitive: await observed("RUN"),
      prefixOnType: await observed("comp"),
      percentAndUnderscoreMatchThemselves: await observed("running_50%"),
      percentIsNoWildcard: await observed("run%"),
      underscoreIsNoWildcard: await observed("r_n"),
      none: await observed("zzz"),
    };
  },
});
