/** BackgroundTaskPolicy (deferred proposals), CopyTaskParametersID, EnqueueScheduledTasks, and the task queue. */
import { describe, expect, test } from "bun:test";
import { OrchestrationContext } from "../../src/orchestration/context";
import { orchestrate } from "../../src/orchestration/engine";
import { BackgroundTaskPolicy } from "../../src/orchestration/policies";
import { newState, type StateType } from "../../src/orchestration/states";
import { GlobalTaskPolicy } from "../../src/orchestration/transforms";
import { TaskQueues, TaskWorkerTracker } from "../../src/runs/background-tasks";
import { NOW, seconds, taskRun } from "./fixtures";

interface Row {
  name: string;
  from: { type: StateType; name?: string; params?: string } | null;
  to: { type: StateType; name?: string; params?: string };
  expect: { status: string; params?: string | null; enqueue: { retry: boolean } | null };
}

function run(row: Row) {
  const initial = row.from && newState(row.from.type, NOW - seconds(60), { name: row.from.name, state_details: { deferred: true, task_parameters_id: row.from.params ?? null } });
  const proposed = newState(row.to.type, NOW, { name: row.to.name, state_details: { deferred: true, task_parameters_id: row.to.params ?? null, scheduled_time: NOW } });
  const ctx = new OrchestrationContext(taskRun({ flowRunId: null, stateType: row.from?.type ?? null }), initial, proposed, NOW, {});
  orchestrate(ctx, BackgroundTaskPolicy, GlobalTaskPolicy);
  const enqueue = ctx.effects.find((e) => e.kind === "enqueue_task_run");
  return { status: ctx.status as string, params: ctx.validatedState?.state_details.task_parameters_id, enqueue: enqueue ? { retry: enqueue.retry } : null };
}

const rows: Row[] = [
  { name: "the initial deferred Scheduled state is queued", from: null, to: { type: "SCHEDULED", params: "p" }, expect: { status: "ACCEPT", params: "p", enqueue: { retry: false } } },
  { name: "Scheduled → Pending copies the parameters id", from: { type: "SCHEDULED", params: "p" }, to: { type: "PENDING" }, expect: { status: "ACCEPT", params: "p", enqueue: null } },
  { name: "Pending → Running copies it too", from: { type: "PENDING", params: "p" }, to: { type: "RUNNING" }, expect: { status: "ACCEPT", params: "p", enqueue: null } },
  { name: "a proposal's own parameters id wins", from: { type: "SCHEDULED", params: "p" }, to: { type: "PENDING", params: "q" }, expect: { status: "ACCEPT", params: "q", enqueue: null } },
  { name: "a second claim (Pending → Pending) aborts", from: { type: "PENDING", params: "p" }, to: { type: "PENDING" }, expect: { status: "ABORT", enqueue: null } },
  { name: "a claim of a running run aborts", from: { type: "RUNNING" }, to: { type: "PENDING" }, expect: { status: "ABORT", enqueue: null } },
  { name: "AwaitingRetry goes on the retry queue", from: { type: "RUNNING" }, to: { type: "SCHEDULED", name: "AwaitingRetry" }, expect: { status: "ACCEPT", enqueue: { retry: true } } },
];

describe("BackgroundTaskPolicy", () => {
  test.each(rows)("$name", (row) => {
    const got = run(row);
    expect({ status: got.status, enqueue: got.enqueue, ...(row.expect.params !== undefined ? { params: got.params } : {}) }).toEqual(row.expect);
  });

  test("the policy's order (CoreTaskPolicy without tag concurrency, with the background rules)", () => {
    expect(BackgroundTaskPolicy.entries.map((e) => e.name)).toEqual([
      "PreventPendingTransitions",
      "CacheRetrieval",
      "HandleTaskTerminalStateTransitions",
      "CopyScheduledTime",
      "CopyTaskParametersID",
      "WaitForScheduledTime",
      "RetryFailedTasks",
      "RenameReruns",
      "UpdateFlowRunTrackerOnTasks",
      "CacheInsertion",
      "ReleaseTaskConcurrencySlots",
      "EnqueueScheduledTasks",
    ]);
  });
});

describe("TaskQueues", () => {
  test("each key's retries first, keys in the subscriber's order; a waiting taker gets a new run at once", async () => {
    const queues = new TaskQueues();
    queues.enqueue("a", "a1", false);
    queues.enqueue("b", "b1", false);
    queues.enqueue("b", "b-retry", true);
    expect(await queues.take(["b", "a"]).promise).toBe("b-retry");
    expect(await queues.take(["b", "a"]).promise).toBe("b1");
    expect(await queues.take(["b", "a"]).promise).toBe("a1");
    const waiting = queues.take(["c"]);
    queues.enqueue("a", "a2", false); // not its key
    queues.enqueue("c", "c1", false);
    expect(await waiting.promise).toBe("c1");
    expect(queues.size("a")).toBe(1);
  });

  test("a cancelled take leaves the run queued", () => {
    const queues = new TaskQueues();
    queues.take(["k"]).cancel();
    queues.enqueue("k", "r", false);
    expect(queues.size("k")).toBe(1);
  });
});

describe("TaskWorkerTracker", () => {
  test("observes keys per worker, filters by any key, forgets", () => {
    const tracker = new TaskWorkerTracker();
    tracker.observe(["a", "b"], "w1", NOW);
    tracker.observe(["c"], "w2", NOW);
    tracker.observe(["c"], "w1", NOW + 1);
    expect(tracker.list(null)).toEqual([
      { identifier: "w1", taskKeys: ["a", "b", "c"], timestamp: NOW + 1 },
      { identifier: "w2", taskKeys: ["c"], timestamp: NOW },
    ]);
    expect(tracker.list(["a"]).map((w) => w.identifier)).toEqual(["w1"]);
    expect(tracker.list([]).length).toBe(2);
    tracker.forget("w1");
    expect(tracker.list(["c"]).map((w) => w.identifier)).toEqual(["w2"]);
  });
});
