/**
 * Task-run rules (rules/task-runs.ts), one table per rule. Each rule runs alone
 * unless a table names a policy; every row checks the decision, the returned
 * state, the task's run_count (unchanged unless the row says) and the effects.
 */
import { describe, expect, test } from "bun:test";
import type { JsonValue } from "../../src/lib/json";
import type { OrchestrationEffect, ParentFlowRun, TaskRunSnapshot } from "../../src/orchestration/context";
import type { Policy } from "../../src/orchestration/engine";
import { CoreTaskPolicy, MinimalTaskPolicy } from "../../src/orchestration/policies";
import {
  CacheInsertion,
  CacheRetrieval,
  HandleTaskTerminalStateTransitions,
  MAX_CACHE_KEY_LENGTH,
  PreventRunningTasksFromStoppedFlows,
  RetryFailedTasks,
  UpdateFlowRunTrackerOnTasks,
  retryDelaySeconds,
} from "../../src/orchestration/rules/task-runs";
import type { StateDetails } from "../../src/orchestration/states";
import {
  FLOW_RUN_ID,
  NOW,
  PERSISTED,
  TASK_RUN_ID,
  UNPERSISTED,
  aborted,
  accepted,
  expectOutcome,
  only,
  parentFlow,
  rejected,
  rejectedTo,
  runTask,
  s,
  seconds,
  taskRun,
  waited,
  type Outcome,
  type StateSpec,
  type TaskRunInit,
} from "./fixtures";

interface Row {
  name: string;
  initial: StateSpec | null;
  proposed: StateSpec;
  run?: TaskRunInit;
  /** The enclosing flow run; a RUNNING one unless the row says (null: none found). */
  parent?: ParentFlowRun | null;
  cached?: StateSpec;
  expect: Outcome;
  state?: { message?: string | null; data?: JsonValue; state_details?: Partial<StateDetails> };
  /** The task's run_count afterwards, when the rule changes it. */
  runCount?: number;
  effects?: OrchestrationEffect[];
}

function table(policy: Policy<TaskRunSnapshot>, rows: Row[]): void {
  test.each(rows)("$name", (row) => {
    const run = taskRun(row.run);
    const ctx = runTask({ ...row, run }, policy);
    expectOutcome(ctx, row.expect);
    if (row.state) expect(ctx.resultState!).toMatchObject(row.state);
    expect(ctx.run.runCount).toBe(row.runCount ?? taskRun(row.run).runCount);
    expect(ctx.effects).toEqual(row.effects ?? []);
  });
}

const titled = (type: string) => type[0] + type.slice(1).toLowerCase();

describe("policies", () => {
  test("CoreTaskPolicy keeps Prefect's order", () => {
    expect(CoreTaskPolicy.entries.map((entry) => entry.name)).toEqual([
      "CacheRetrieval",
      "HandleTaskTerminalStateTransitions",
      "PreventRunningTasksFromStoppedFlows",
      "SecureTaskConcurrencySlots",
      "CopyScheduledTime",
      "WaitForScheduledTime",
      "RetryFailedTasks",
      "RenameReruns",
      "UpdateFlowRunTrackerOnTasks",
      "CacheInsertion",
      "ReleaseTaskConcurrencySlots",
    ]);
  });

  test("MinimalTaskPolicy (force) only releases tag slots", () => {
    expect(MinimalTaskPolicy.entries.map((entry) => entry.name)).toEqual(["ReleaseTaskConcurrencySlots"]);
  });
});

describe("CacheRetrieval", () => {
  const keyed = (details: Partial<StateDetails> = {}) => s("RUNNING", { details: { cache_key: "k", ...details } });
  const cached = s("COMPLETED", { data: PERSISTED });
  table(only(CacheRetrieval), [
    {
      name: "a cache hit: REJECT with the cached state named Cached",
      initial: s("PENDING"),
      proposed: keyed(),
      cached,
      expect: rejectedTo("COMPLETED/Cached", "Retrieved state from cache"),
      state: { data: PERSISTED, state_details: { cache_key: null } },
    },
    { name: "refresh_cache skips the cache", initial: s("PENDING"), proposed: keyed({ refresh_cache: true }), cached, expect: accepted("RUNNING/Running") },
    { name: "no cache key", initial: s("PENDING"), proposed: s("RUNNING"), cached, expect: accepted("RUNNING/Running") },
    { name: "a cache miss", initial: s("PENDING"), proposed: keyed(), expect: accepted("RUNNING/Running") },
  ]);

  test("the cached state is copied: new id and timestamp, the original untouched", () => {
    const ctx = runTask({ initial: s("PENDING"), proposed: keyed(), cached }, only(CacheRetrieval));
    const original = ctx.extras.cachedState!;
    expect(ctx.validatedState!.id).not.toBe(original.id);
    expect(ctx.validatedState!.timestamp).toBe(NOW);
    expect(original.name).toBe("Completed");
  });

  test("in CoreTaskPolicy a cache hit wins even inside a paused flow", () => {
    const ctx = runTask({ initial: s("PENDING"), proposed: keyed(), cached, parent: parentFlow(s("PAUSED")) });
    expectOutcome(ctx, rejectedTo("COMPLETED/Cached", "Retrieved state from cache"));
  });
});

describe("HandleTaskTerminalStateTransitions", () => {
  const ran3 = { runCount: 3 };
  /** The task belongs to attempt 1 of a flow run that is now on attempt 2. */
  const flowRetried: Pick<Row, "run" | "parent"> = { run: { runCount: 3, flowRunRunCount: 1 }, parent: parentFlow(s("RUNNING"), 2) };
  table(only(HandleTaskTerminalStateTransitions), [
    ...(
      [
        ["COMPLETED", "CANCELLING"],
        ["COMPLETED", "PAUSED"],
        ["COMPLETED", "CRASHED"],
        ["FAILED", "CRASHED"],
        ["CANCELLED", "PAUSED"],
      ] as const
    ).map(([from, to]): Row => ({
      name: `${from} -> ${to}: ABORT`,
      initial: s(from),
      proposed: s(to),
      run: ran3,
      expect: aborted(`${from}/${titled(from)}`, `Run is already ${from}.`),
    })),
    ...(["RUNNING", "COMPLETED", "FAILED"] as const).map(
      (to): Row => ({
        name: `COMPLETED with persisted data -> ${to}: REJECT`,
        initial: s("COMPLETED", { data: PERSISTED }),
        proposed: s(to),
        run: ran3,
        expect: rejected("COMPLETED/Completed", "This run is already completed."),
      }),
    ),
    {
      name: "COMPLETED unpersisted -> RUNNING: run_count reset",
      initial: s("COMPLETED", { data: UNPERSISTED }),
      proposed: s("RUNNING"),
      run: ran3,
      expect: accepted("RUNNING/Running"),
      runCount: 0,
    },
    {
      name: "COMPLETED with an empty object -> RUNNING: run_count reset",
      initial: s("COMPLETED", { data: {} }),
      proposed: s("RUNNING"),
      run: ran3,
      expect: accepted("RUNNING/Running"),
      runCount: 0,
    },
    { name: "FAILED -> RUNNING: run_count reset", initial: s("FAILED"), proposed: s("RUNNING"), run: ran3, expect: accepted("RUNNING/Running"), runCount: 0 },
    {
      name: "FAILED -> SCHEDULED: run_count reset",
      initial: s("FAILED"),
      proposed: s("SCHEDULED"),
      run: ran3,
      expect: accepted("SCHEDULED/Scheduled"),
      runCount: 0,
    },
    { name: "FAILED -> COMPLETED: run_count kept", initial: s("FAILED"), proposed: s("COMPLETED"), run: ran3, expect: accepted("COMPLETED/Completed") },
    {
      name: "FAILED -> RUNNING in a retried flow run: Retrying",
      initial: s("FAILED"),
      proposed: s("RUNNING"),
      ...flowRetried,
      expect: accepted("RUNNING/Retrying"),
      runCount: 0,
    },
    {
      name: "FAILED -> RUNNING in the same flow attempt: Running",
      initial: s("FAILED"),
      proposed: s("RUNNING"),
      run: { runCount: 3, flowRunRunCount: 2 },
      parent: parentFlow(s("RUNNING"), 2),
      expect: accepted("RUNNING/Running"),
      runCount: 0,
    },
    {
      name: "FAILED -> RUNNING without a flow run: Running",
      initial: s("FAILED"),
      proposed: s("RUNNING"),
      run: { runCount: 3, flowRunId: null },
      parent: null,
      expect: accepted("RUNNING/Running"),
      runCount: 0,
    },
    {
      name: "FAILED -> PENDING in a retried flow run: only RUNNING is renamed",
      initial: s("FAILED"),
      proposed: s("PENDING"),
      ...flowRetried,
      expect: accepted("PENDING/Pending"),
      runCount: 0,
    },
  ]);

  describe("run_count is restored when a later rule refuses the re-run (fizzle)", () => {
    table(CoreTaskPolicy, [
      {
        name: "flow run paused: REJECT with NotReady",
        initial: s("FAILED"),
        proposed: s("RUNNING"),
        run: ran3,
        parent: parentFlow(s("PAUSED")),
        expect: rejectedTo("PAUSED/NotReady", `The flow is paused, new tasks can execute after resuming flow run: ${FLOW_RUN_ID}.`),
      },
      {
        name: "flow run finished: ABORT",
        initial: s("FAILED"),
        proposed: s("RUNNING"),
        run: ran3,
        parent: parentFlow(s("COMPLETED")),
        expect: aborted("FAILED/Failed", "The enclosing flow must be running to begin task execution."),
      },
    ]);
  });
});

describe("PreventRunningTasksFromStoppedFlows", () => {
  const notRunning = "The enclosing flow must be running to begin task execution.";
  const timeout = NOW + seconds(600);
  const notReady = `The flow is paused, new tasks can execute after resuming flow run: ${FLOW_RUN_ID}.`;
  table(only(PreventRunningTasksFromStoppedFlows), [
    { name: "no enclosing flow run", initial: s("PENDING"), proposed: s("RUNNING"), run: { flowRunId: null }, parent: null, expect: accepted("RUNNING/Running") },
    { name: "flow run RUNNING", initial: s("PENDING"), proposed: s("RUNNING"), parent: parentFlow(s("RUNNING")), expect: accepted("RUNNING/Running") },
    {
      name: "flow run without a state: ABORT",
      initial: s("PENDING"),
      proposed: s("RUNNING"),
      parent: parentFlow(null),
      expect: aborted("PENDING/Pending", notRunning),
    },
    {
      name: "flow run suspended: Paused(NotReady) carrying its timeout and reschedule flag",
      initial: s("PENDING"),
      proposed: s("RUNNING"),
      parent: parentFlow(s("PAUSED", { name: "Suspended", details: { pause_timeout: timeout, pause_reschedule: true, pause_key: "k" } })),
      expect: rejectedTo("PAUSED/NotReady", notReady),
      state: { state_details: { pause_timeout: timeout, pause_reschedule: true, pause_key: null } },
    },
    {
      name: "flow run paused (blocking)",
      initial: s("PENDING"),
      proposed: s("RUNNING"),
      parent: parentFlow(s("PAUSED")),
      expect: rejectedTo("PAUSED/NotReady", notReady),
      state: { state_details: { pause_timeout: null, pause_reschedule: false } },
    },
    ...(["SCHEDULED", "PENDING", "CANCELLING", "COMPLETED", "FAILED", "CANCELLED", "CRASHED"] as const).map(
      (type): Row => ({
        name: `flow run ${type}: ABORT`,
        initial: s("PENDING"),
        proposed: s("RUNNING"),
        parent: parentFlow(s(type)),
        expect: aborted("PENDING/Pending", notRunning),
      }),
    ),
  ]);
});

describe("RetryFailedTasks", () => {
  const failing = s("FAILED", { message: "boom", data: PERSISTED });
  const retrying = (runCount: number, retry_delay: number | number[] | null = 10, retries = 3): TaskRunInit => ({
    runCount,
    empiricalPolicy: { retries, retry_delay },
  });
  const awaitingRetry = rejectedTo("SCHEDULED/AwaitingRetry", "Retrying");
  const retryAt = (secs: number) => ({ state_details: { scheduled_time: NOW + seconds(secs) } });
  const LIST = [1, 5, 30];
  table(only(RetryFailedTasks), [
    { name: "no retries configured: FAILED", initial: s("RUNNING"), proposed: failing, run: { runCount: 1 }, expect: accepted("FAILED/Failed") },
    {
      name: "retries left: AwaitingRetry after retry_delay, message and data kept",
      initial: s("RUNNING"),
      proposed: failing,
      run: retrying(1),
      expect: awaitingRetry,
      state: { message: "boom", data: PERSISTED, ...retryAt(10) },
    },
    { name: "run_count == retries: still retries", initial: s("RUNNING"), proposed: failing, run: retrying(3), expect: awaitingRetry },
    { name: "retries exhausted: FAILED", initial: s("RUNNING"), proposed: failing, run: retrying(4), expect: accepted("FAILED/Failed") },
    { name: "retries = 0: FAILED", initial: s("RUNNING"), proposed: failing, run: retrying(1, 10, 0), expect: accepted("FAILED/Failed") },
    {
      name: "retriable = false (retry_condition_fn said no): FAILED",
      initial: s("RUNNING"),
      proposed: s("FAILED", { details: { retriable: false } }),
      run: retrying(1),
      expect: accepted("FAILED/Failed"),
    },
    { name: "no retry_delay: scheduled now", initial: s("RUNNING"), proposed: failing, run: retrying(1, null), expect: awaitingRetry, state: retryAt(0) },
    { name: "list delays: first retry", initial: s("RUNNING"), proposed: failing, run: retrying(1, LIST), expect: awaitingRetry, state: retryAt(1) },
    { name: "list delays: second retry", initial: s("RUNNING"), proposed: failing, run: retrying(2, LIST), expect: awaitingRetry, state: retryAt(5) },
    { name: "list delays: third retry", initial: s("RUNNING"), proposed: failing, run: retrying(3, LIST), expect: awaitingRetry, state: retryAt(30) },
    {
      name: "list delays: past the end, the last one",
      initial: s("RUNNING"),
      proposed: failing,
      run: retrying(4, LIST, 5),
      expect: awaitingRetry,
      state: retryAt(30),
    },
    {
      name: "list delays with run_count 0: the last one (Python's index -1)",
      initial: s("RUNNING"),
      proposed: failing,
      run: retrying(0, LIST),
      expect: awaitingRetry,
      state: retryAt(30),
    },
  ]);

  test("with a jitter factor the retry lands within Prefect's clamped bounds", () => {
    for (let i = 0; i < 50; i++) {
      const run = taskRun({ runCount: 1, empiricalPolicy: { retries: 1, retry_delay: 10, retry_jitter_factor: 0.5 } });
      const ctx = runTask({ initial: s("RUNNING"), proposed: failing, run }, only(RetryFailedTasks));
      const delay = ctx.validatedState!.state_details.scheduled_time! - NOW;
      expect(delay).toBeGreaterThanOrEqual(seconds(6.293968));
      expect(delay).toBeLessThanOrEqual(seconds(15));
    }
  });
});

describe("retryDelaySeconds", () => {
  const rows: { name: string; delay: number | number[] | null; jitter: number | null; runCount: number; expected: number }[] = [
    { name: "a fixed delay", delay: 10, jitter: null, runCount: 1, expected: 10 },
    { name: "jitter factor 0 means none", delay: 10, jitter: 0, runCount: 1, expected: 10 },
    { name: "no delay", delay: null, jitter: null, runCount: 1, expected: 0 },
    { name: "no delay, with jitter", delay: 0, jitter: 0.5, runCount: 1, expected: 0 },
    { name: "list, second retry", delay: [1, 5, 30], jitter: null, runCount: 2, expected: 5 },
    { name: "list, beyond its end", delay: [1, 5, 30], jitter: null, runCount: 9, expected: 30 },
    { name: "list, run_count 0", delay: [1, 5, 30], jitter: null, runCount: 0, expected: 30 },
    { name: "empty list", delay: [], jitter: null, runCount: 1, expected: 0 },
  ];
  test.each(rows)("$name", ({ delay, jitter, runCount, expected }) => {
    expect(retryDelaySeconds(delay, jitter, runCount)).toBe(expected);
  });

  // Expected values from prefect.utilities.math.clamped_poisson_interval with random() fixed.
  const jittered: { average: number; factor: number; random: number; expected: number }[] = [
    { average: 10, factor: 0.5, random: 0, expected: 6.293968733822199 },
    { average: 10, factor: 0.5, random: 0.5, expected: 9.72803838526652 },
    { average: 10, factor: 0.5, random: 0.75, expected: 12.02054979002865 },
    { average: 4, factor: 1, random: 0, expected: 1.6601499971153748 },
    { average: 4, factor: 1, random: 0.5, expected: 3.686968243010904 },
    { average: 4, factor: 1, random: 0.75, expected: 5.288318437329408 },
  ];
  test.each(jittered)("jitter: average $average, factor $factor, random $random", ({ average, factor, random, expected }) => {
    expect(retryDelaySeconds(average, factor, 1, () => random)).toBeCloseTo(expected, 9);
  });

  test("jittered delays stay within [average * lower clamp, average * (1 + factor)]", () => {
    for (let i = 0; i < 1000; i++) {
      const delay = retryDelaySeconds(4, 1, 1);
      expect(delay).toBeGreaterThanOrEqual(1.6601499971153748 - 1e-9);
      expect(delay).toBeLessThanOrEqual(8);
    }
  });
});

describe("UpdateFlowRunTrackerOnTasks", () => {
  const tracker = (flowRunRunCount: number, parent: ParentFlowRun | null, flowRunId: string | null = FLOW_RUN_ID) => ({
    initial: s("PENDING"),
    proposed: s("RUNNING"),
    run: taskRun({ flowRunRunCount, flowRunId }),
    parent,
  });

  test("entering RUNNING records the flow run's attempt", () => {
    const ctx = runTask(tracker(1, parentFlow(s("RUNNING"), 3)), only(UpdateFlowRunTrackerOnTasks));
    expect(ctx.run.flowRunRunCount).toBe(3);
  });

  test("a task without a flow run is left alone", () => {
    const ctx = runTask(tracker(0, null, null), only(UpdateFlowRunTrackerOnTasks));
    expect(ctx.status).toBe("ACCEPT");
    expect(ctx.run.flowRunRunCount).toBe(0);
  });

  test("a flow run that vanished is an error", () => {
    expect(() => runTask(tracker(1, null), only(UpdateFlowRunTrackerOnTasks))).toThrow(
      `Unable to read flow run associated with task run: ${TASK_RUN_ID}, this flow run might have been deleted`,
    );
  });

  test.each([
    {
      name: "a WAIT",
      t: { ...tracker(1, parentFlow(s("RUNNING"), 3)), initial: s("SCHEDULED", { details: { scheduled_time: NOW + seconds(30) } }) },
      outcome: waited("SCHEDULED/Scheduled", 30),
    },
    {
      name: "a cache hit",
      t: { ...tracker(1, parentFlow(s("RUNNING"), 3)), proposed: s("RUNNING", { details: { cache_key: "k" } }), cached: s("COMPLETED") },
      outcome: rejectedTo("COMPLETED/Cached", "Retrieved state from cache"),
    },
  ])("in CoreTaskPolicy, $name leaves the tracker alone", ({ t, outcome }) => {
    const ctx = runTask(t);
    expectOutcome(ctx, outcome);
    expect(ctx.run.flowRunRunCount).toBe(1);
  });
});

describe("CacheInsertion", () => {
  const expiration = NOW + seconds(3600);
  const maxKey = "x".repeat(MAX_CACHE_KEY_LENGTH);
  const tooLong = maxKey + "x";
  const rows: { name: string; key: string | null; expect: Outcome }[] = [
    { name: "a completed state with a cache key is cached", key: "k", expect: accepted("COMPLETED/Completed") },
    { name: "without a cache key nothing is cached", key: null, expect: accepted("COMPLETED/Completed") },
    { name: "a key of the maximum length is fine", key: maxKey, expect: accepted("COMPLETED/Completed") },
    // Prefect rejects with the proposal itself, so the rule stays valid and its after-hook still caches it.
    {
      name: "an overlong key: REJECT with the proposal, which is still cached",
      key: tooLong,
      expect: rejectedTo("COMPLETED/Completed", `Cache key exceeded maximum allowed length of ${MAX_CACHE_KEY_LENGTH} characters.`),
    },
  ];
  test.each(rows)("$name", ({ key, expect: outcome }) => {
    const proposed = s("COMPLETED", { details: { cache_key: key, cache_expiration: expiration } });
    const ctx = runTask({ initial: s("RUNNING"), proposed }, only(CacheInsertion));
    expectOutcome(ctx, outcome);
    const stateId = ctx.validatedState!.id;
    expect(ctx.effects).toEqual(key === null ? [] : [{ kind: "insert_cache", cacheKey: key, cacheExpiration: expiration, stateId }]);
  });

  test("in CoreTaskPolicy, a refused completion caches nothing", () => {
    const proposed = s("COMPLETED", { details: { cache_key: "k", cache_expiration: expiration } });
    const ctx = runTask({ initial: s("COMPLETED", { data: PERSISTED }), proposed });
    expectOutcome(ctx, rejected("COMPLETED/Completed", "This run is already completed."));
    expect(ctx.effects).toEqual([]);
  });
});

describe("CoreTaskPolicy: retry naming end to end", () => {
  table(CoreTaskPolicy, [
    {
      name: "AwaitingRetry -> RUNNING: Retrying",
      initial: s("SCHEDULED", "AwaitingRetry"),
      proposed: s("RUNNING"),
      run: { runCount: 1 },
      expect: accepted("RUNNING/Retrying"),
    },
    {
      name: "FAILED -> RUNNING in a retried flow run: Retrying (run_count reset)",
      initial: s("FAILED"),
      proposed: s("RUNNING"),
      run: { runCount: 2, flowRunRunCount: 1 },
      parent: parentFlow(s("RUNNING"), 2),
      expect: accepted("RUNNING/Retrying"),
      runCount: 0,
    },
    {
      name: "FAILED -> RUNNING in the same flow attempt: Running (run_count reset)",
      initial: s("FAILED"),
      proposed: s("RUNNING"),
      run: { runCount: 2, flowRunRunCount: 1 },
      parent: parentFlow(s("RUNNING"), 1),
      expect: accepted("RUNNING/Running"),
      runCount: 0,
    },
  ]);
});
