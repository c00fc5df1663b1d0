/**
 * Global bookkeeping (transforms.ts) through full policies: Core/Minimal flow
 * and task policies together with GlobalFlowPolicy / GlobalTaskPolicy, the way
 * the data layer runs them.
 */
import { describe, expect, test } from "bun:test";
import type { Micros } from "../../src/lib/time";
import type { FlowRunSnapshot, OrchestrationContext, OrchestrationEffect, TaskRunSnapshot } from "../../src/orchestration/context";
import { CoreFlowPolicy, CoreTaskPolicy } from "../../src/orchestration/policies";
import { GlobalFlowPolicy, GlobalTaskPolicy } from "../../src/orchestration/transforms";
import {
  DEPLOYMENT_ID,
  FLOW_RUN_ID,
  FlowLifecycle,
  NOW,
  PARENT_TASK_RUN_ID,
  TASK_RUN_ID,
  TaskLifecycle,
  aborted,
  accepted,
  expectOutcome,
  flowRun,
  label,
  parentFlow,
  rejected,
  rejectedTo,
  runFlow,
  runTask,
  s,
  seconds,
  taskRun,
  waited,
  type FlowRunInit,
  type StateSpec,
} from "./fixtures";

/** Server time `n` seconds after NOW. */
const t = (n: number): Micros => NOW + seconds(n);

interface Step<R> {
  propose: StateSpec;
  /** Seconds after NOW. */
  at: number;
  force?: boolean;
  /** The state the run is in afterwards (`TYPE/Name`). */
  result: string;
  /** Run fields afterwards. */
  run: Partial<R>;
}

function pick<R extends object>(run: R, keys: (keyof R)[]): Partial<R> {
  return Object.fromEntries(keys.map((key) => [key, run[key]])) as Partial<R>;
}

/** Applies the steps in order; a failure names the step. */
function walk<R extends FlowRunSnapshot | TaskRunSnapshot>(
  propose: (step: Step<R>) => OrchestrationContext<R>,
  steps: Step<R>[],
): void {
  for (const step of steps) {
    const name = `${step.propose.type}${step.propose.name ? `/${step.propose.name}` : ""} at +${step.at}s`;
    const ctx = propose(step);
    const actual = { step: name, result: label(ctx.resultState), ...pick(ctx.run, Object.keys(step.run) as (keyof R)[]) };
    expect(actual).toEqual({ step: name, result: step.result, ...step.run });
  }
}

function walkFlow(init: FlowRunInit, steps: Step<FlowRunSnapshot>[]): FlowLifecycle {
  const life = new FlowLifecycle(flowRun(init));
  walk<FlowRunSnapshot>((step) => life.propose(step.propose, t(step.at), { force: step.force }), steps);
  return life;
}

describe("flow run life cycles", () => {
  test("deployment run: scheduled, submitted, run, completed", () => {
    walkFlow({ deploymentId: DEPLOYMENT_ID }, [
      {
        propose: s("SCHEDULED", { details: { scheduled_time: t(100) } }),
        at: 0,
        force: true,
        result: "SCHEDULED/Scheduled",
        run: {
          stateType: "SCHEDULED",
          stateName: "Scheduled",
          stateTimestamp: t(0),
          expectedStartTime: t(100),
          nextScheduledStartTime: t(100),
          startTime: null,
        },
      },
      {
        propose: s("PENDING"),
        at: 100,
        result: "PENDING/Pending",
        run: { stateType: "PENDING", expectedStartTime: t(100), nextScheduledStartTime: null, startTime: null, runCount: 0 },
      },
      { propose: s("PENDING", "Submitting"), at: 101, result: "PENDING/Submitting", run: { stateName: "Submitting", stateTimestamp: t(101) } },
      { propose: s("RUNNING"), at: 110, result: "RUNNING/Running", run: { startTime: t(110), runCount: 1, endTime: null, totalRunTime: 0 } },
      {
        propose: s("COMPLETED"),
        at: 150,
        result: "COMPLETED/Completed",
        run: { stateType: "COMPLETED", startTime: t(110), endTime: t(150), totalRunTime: seconds(40), runCount: 1 },
      },
    ]);
  });

  test("in-process retries: run time accumulates across RUNNING stints, start time stays, end time is cleared on re-run", () => {
    walkFlow({ empiricalPolicy: { retries: 1, retry_delay: 0 } }, [
      { propose: s("PENDING"), at: 0, force: true, result: "PENDING/Pending", run: { expectedStartTime: t(0), runCount: 0 } },
      { propose: s("RUNNING"), at: 10, result: "RUNNING/Running", run: { startTime: t(10), runCount: 1 } },
      {
        propose: s("FAILED"),
        at: 20,
        result: "SCHEDULED/AwaitingRetry",
        run: { stateType: "SCHEDULED", stateName: "AwaitingRetry", totalRunTime: seconds(10), nextScheduledStartTime: t(20), endTime: null },
      },
      { propose: s("RUNNING"), at: 25, result: "RUNNING/Running", run: { runCount: 2, startTime: t(10), nextScheduledStartTime: null } },
      { propose: s("FAILED"), at: 40, result: "FAILED/Failed", run: { endTime: t(40), totalRunTime: seconds(25), runCount: 2 } },
      { propose: s("RUNNING"), at: 100, result: "RUNNING/Running", run: { endTime: null, startTime: t(10), runCount: 3, totalRunTime: seconds(25) } },
      { propose: s("COMPLETED"), at: 130, result: "COMPLETED/Completed", run: { endTime: t(130), totalRunTime: seconds(55) } },
    ]);
  });

  test("a run that ends without running gets start time = end time", () => {
    walkFlow({}, [
      { propose: s("PENDING"), at: 0, force: true, result: "PENDING/Pending", run: { startTime: null } },
      { propose: s("CANCELLED"), at: 5, result: "CANCELLED/Cancelled", run: { startTime: t(5), endTime: t(5), totalRunTime: 0 } },
    ]);
  });

  test("forced final -> final keeps the first end time", () => {
    walkFlow({}, [
      { propose: s("RUNNING"), at: 0, force: true, result: "RUNNING/Running", run: { startTime: t(0) } },
      { propose: s("FAILED"), at: 10, force: true, result: "FAILED/Failed", run: { endTime: t(10) } },
      { propose: s("COMPLETED"), at: 20, force: true, result: "COMPLETED/Completed", run: { endTime: t(10), totalRunTime: seconds(10) } },
    ]);
  });

  test("suspend and resume: resuming is set by the resume and consumed by the next RUNNING, which is not counted", () => {
    const life = walkFlow({ deploymentId: DEPLOYMENT_ID }, [
      { propose: s("RUNNING"), at: 0, force: true, result: "RUNNING/Running", run: { runCount: 1 } },
      {
        propose: s("PAUSED", { name: "Suspended", details: { pause_key: "p1", pause_reschedule: true } }),
        at: 10,
        result: "PAUSED/Suspended",
        run: { runCount: 1, totalRunTime: seconds(10) },
      },
      { propose: s("SCHEDULED", "Resuming"), at: 20, result: "SCHEDULED/Resuming", run: { nextScheduledStartTime: t(20) } },
      { propose: s("PENDING"), at: 21, result: "PENDING/Pending", run: { runCount: 1 } },
    ]);
    expect(life.run.empiricalPolicy).toMatchObject({ resuming: true, pause_keys: ["p1"] });
    life.propose(s("RUNNING"), t(22));
    expect(life.run).toMatchObject({ runCount: 1, startTime: t(0), stateName: "Running" });
    expect(life.run.empiricalPolicy.resuming).toBe(false);
  });

  // Prefect sets `resuming` only in HandleResumingPausedFlows' after-hook, i.e. after
  // IncrementFlowRunCount has run, so a blocking pause's PAUSED -> RUNNING does count.
  test("blocking pause: PAUSED -> RUNNING counts a run and leaves resuming set until a final state", () => {
    const life = walkFlow({}, [
      { propose: s("RUNNING"), at: 0, force: true, result: "RUNNING/Running", run: { runCount: 1 } },
      { propose: s("PAUSED", { details: { pause_key: "p1" } }), at: 10, result: "PAUSED/Paused", run: { runCount: 1 } },
      { propose: s("RUNNING"), at: 20, result: "RUNNING/Running", run: { runCount: 2, totalRunTime: seconds(10) } },
    ]);
    expect(life.run.empiricalPolicy).toMatchObject({ resuming: true, pause_keys: ["p1"] });
    life.propose(s("COMPLETED"), t(30));
    expect(life.run.empiricalPolicy.resuming).toBe(false);
    expect(life.run.totalRunTime).toBe(seconds(20));
  });
});

describe("single transitions", () => {
  const rows: {
    name: string;
    run?: FlowRunInit;
    initial: StateSpec | null;
    proposed: StateSpec;
    apiVersion?: string;
    expected: Partial<FlowRunSnapshot> & { resuming?: boolean };
  }[] = [
    // expected_start_time
    {
      name: "first state SCHEDULED: expected start = its scheduled time",
      initial: null,
      proposed: s("SCHEDULED", { details: { scheduled_time: t(300) } }),
      expected: { expectedStartTime: t(300) },
    },
    { name: "first state PENDING: expected start = its timestamp", initial: null, proposed: s("PENDING"), expected: { expectedStartTime: NOW } },
    { name: "first state RUNNING: expected start = its timestamp", initial: null, proposed: s("RUNNING"), expected: { expectedStartTime: NOW } },
    {
      name: "an expected start time once set is kept",
      run: { expectedStartTime: t(-500) },
      initial: s("SCHEDULED", { details: { scheduled_time: t(-500) } }),
      proposed: s("PENDING"),
      expected: { expectedStartTime: t(-500) },
    },
    // next_scheduled_start_time
    {
      name: "entering SCHEDULED sets the next scheduled start",
      initial: null,
      proposed: s("SCHEDULED", { details: { scheduled_time: t(60) } }),
      expected: { nextScheduledStartTime: t(60) },
    },
    {
      name: "leaving SCHEDULED clears it",
      run: { nextScheduledStartTime: t(-60) },
      initial: s("SCHEDULED", { details: { scheduled_time: t(-60) } }),
      proposed: s("PENDING"),
      expected: { nextScheduledStartTime: null },
    },
    {
      name: "Scheduled -> Late keeps it",
      run: { nextScheduledStartTime: t(-60) },
      initial: s("SCHEDULED", { details: { scheduled_time: t(-60) } }),
      proposed: s("SCHEDULED", { name: "Late", details: { scheduled_time: t(-60) } }),
      expected: { nextScheduledStartTime: t(-60) },
    },
    {
      name: "a new schedule replaces it",
      run: { nextScheduledStartTime: t(-60), deploymentId: DEPLOYMENT_ID },
      initial: s("SCHEDULED", { details: { scheduled_time: t(-60) } }),
      proposed: s("SCHEDULED", { details: { scheduled_time: t(600) } }),
      expected: { nextScheduledStartTime: t(600) },
    },
    {
      name: "other transitions leave it alone",
      run: { nextScheduledStartTime: t(-60) },
      initial: s("PENDING"),
      proposed: s("RUNNING"),
      expected: { nextScheduledStartTime: t(-60) },
    },
    // run_count and resuming
    { name: "entering RUNNING counts a run", run: { runCount: 1 }, initial: s("PENDING"), proposed: s("RUNNING"), expected: { runCount: 2 } },
    { name: "entering PENDING does not", run: { runCount: 1 }, initial: s("SCHEDULED", { at: t(-60) }), proposed: s("PENDING"), expected: { runCount: 1 } },
    {
      name: "resuming: RUNNING is not counted and clears the flag",
      run: { runCount: 1, empiricalPolicy: { resuming: true } },
      initial: s("PENDING"),
      proposed: s("RUNNING"),
      expected: { runCount: 1, resuming: false },
    },
    {
      name: "resuming: a final state clears the flag",
      run: { runCount: 1, empiricalPolicy: { resuming: true } },
      initial: s("RUNNING"),
      proposed: s("COMPLETED"),
      expected: { runCount: 1, resuming: false },
    },
    {
      name: "resuming: a SCHEDULED state keeps it",
      run: { runCount: 1, empiricalPolicy: { resuming: true }, deploymentId: DEPLOYMENT_ID },
      initial: s("PENDING"),
      proposed: s("SCHEDULED"),
      expected: { resuming: true },
    },
    {
      name: "API 0.8.3 knows no resuming: RUNNING is counted, the flag left alone",
      run: { runCount: 1, empiricalPolicy: { resuming: true } },
      initial: s("PENDING"),
      proposed: s("RUNNING"),
      apiVersion: "0.8.3",
      expected: { runCount: 2, resuming: true },
    },
  ];
  test.each(rows)("$name", ({ run, initial, proposed, apiVersion, expected }) => {
    const ctx = runFlow({ initial, proposed, run: flowRun(run), apiVersion }, CoreFlowPolicy, GlobalFlowPolicy);
    expect(ctx.status).toBe("ACCEPT");
    const { resuming, ...fields } = expected;
    expect(ctx.run).toMatchObject(fields);
    if (resuming !== undefined) expect(ctx.run.empiricalPolicy.resuming).toBe(resuming);
  });
});

describe("a decision that writes nothing leaves the run as it was", () => {
  const run = () =>
    flowRun({
      deploymentId: DEPLOYMENT_ID,
      stateType: "SCHEDULED",
      stateName: "Scheduled",
      stateTimestamp: t(-60),
      runCount: 1,
      expectedStartTime: t(30),
      nextScheduledStartTime: t(30),
      empiricalPolicy: { resuming: true },
    });
  test.each([
    {
      name: "WAIT",
      initial: s("SCHEDULED", { details: { scheduled_time: t(30) } }),
      proposed: s("RUNNING"),
      outcome: waited("SCHEDULED/Scheduled", 30),
    },
    {
      name: "REJECT without a state",
      initial: s("SCHEDULED", "Late"),
      proposed: s("SCHEDULED", "Late"),
      outcome: rejected("SCHEDULED/Late", "This flow run is already marked late."),
    },
    {
      name: "ABORT",
      initial: s("PENDING"),
      proposed: s("PENDING"),
      outcome: aborted("PENDING/Pending", "This run is in a PENDING state and cannot transition to a PENDING state."),
    },
  ])("$name", ({ initial, proposed, outcome }) => {
    const before = run();
    const ctx = runFlow({ initial, proposed, run: run() }, CoreFlowPolicy, GlobalFlowPolicy);
    expectOutcome(ctx, outcome);
    expect(ctx.run).toEqual(before);
  });
});

describe("state details", () => {
  test.each([
    { name: "flow run", run: flowRun(), flow_run_id: FLOW_RUN_ID, task_run_id: null },
    {
      name: "subflow: the parent's tracking task",
      run: flowRun({ parentTaskRunId: PARENT_TASK_RUN_ID }),
      flow_run_id: FLOW_RUN_ID,
      task_run_id: PARENT_TASK_RUN_ID,
    },
  ])("$name", ({ run, flow_run_id, task_run_id }) => {
    const proposed = s("RUNNING", { details: { flow_run_id: "client-sent", task_run_id: null } });
    const ctx = runFlow({ initial: s("PENDING"), proposed, run }, CoreFlowPolicy, GlobalFlowPolicy);
    expect(ctx.validatedState!.state_details).toMatchObject({ flow_run_id, task_run_id });
  });

  test.each([
    { name: "task run", run: taskRun(), flow_run_id: FLOW_RUN_ID },
    { name: "task run without a flow run", run: taskRun({ flowRunId: null }), flow_run_id: null },
  ])("$name", ({ run, flow_run_id }) => {
    const proposed = s("COMPLETED", { details: { flow_run_id: "client-sent", task_run_id: "client-sent" } });
    const ctx = runTask({ initial: s("RUNNING"), proposed, run, parent: null }, CoreTaskPolicy, GlobalTaskPolicy);
    expect(ctx.validatedState!.state_details).toMatchObject({ flow_run_id, task_run_id: TASK_RUN_ID });
  });
});

type ParentTaskEffect = Extract<OrchestrationEffect, { kind: "set_parent_task_state" }>;

describe("subflows mirror their state onto the parent's tracking task", () => {
  const subflow = (init: FlowRunInit = {}) => flowRun({ parentTaskRunId: PARENT_TASK_RUN_ID, ...init });
  const rows: { name: string; run: FlowRunSnapshot; initial: StateSpec; proposed: StateSpec; mirrored: string | null }[] = [
    { name: "an accepted state", run: subflow(), initial: s("PENDING"), proposed: s("RUNNING"), mirrored: "RUNNING/Running" },
    {
      name: "a replacement state",
      run: subflow({ runCount: 1, empiricalPolicy: { retries: 1 } }),
      initial: s("RUNNING"),
      proposed: s("FAILED"),
      mirrored: "SCHEDULED/AwaitingRetry",
    },
    {
      name: "nothing on WAIT",
      run: subflow(),
      initial: s("SCHEDULED", { details: { scheduled_time: t(30) } }),
      proposed: s("RUNNING"),
      mirrored: null,
    },
    { name: "nothing on a REJECT without a state", run: subflow(), initial: s("RUNNING"), proposed: s("PENDING"), mirrored: null },
    { name: "nothing for a top-level flow run", run: flowRun(), initial: s("PENDING"), proposed: s("RUNNING"), mirrored: null },
  ];
  test.each(rows)("$name", ({ run, initial, proposed, mirrored }) => {
    const ctx = runFlow({ initial, proposed, run }, CoreFlowPolicy, GlobalFlowPolicy);
    const effects = ctx.effects.filter((e): e is ParentTaskEffect => e.kind === "set_parent_task_state");
    expect(effects.map((e) => label(e.state))).toEqual(mirrored ? [mirrored] : []);
    for (const effect of effects) expect(effect.taskRunId).toBe(PARENT_TASK_RUN_ID);
  });

  test("the mirrored state is a fresh copy naming the child flow run", () => {
    const ctx = runFlow({ initial: s("PENDING"), proposed: s("RUNNING"), run: subflow(), now: t(5) }, CoreFlowPolicy, GlobalFlowPolicy);
    expectOutcome(ctx, accepted("RUNNING/Running"));
    const [effect] = ctx.effects;
    if (effect?.kind !== "set_parent_task_state") throw new Error(`expected a parent-task effect, got ${effect?.kind}`);
    const validated = ctx.validatedState!;
    expect(effect.state.id).not.toBe(validated.id);
    expect(effect.state.timestamp).toBe(t(5));
    expect(effect.state.state_details).toMatchObject({
      child_flow_run_id: FLOW_RUN_ID,
      flow_run_id: FLOW_RUN_ID,
      task_run_id: PARENT_TASK_RUN_ID,
    });
    expect(validated.state_details.child_flow_run_id).toBeNull();
  });
});

describe("task run life cycle", () => {
  test("run_count, retries, names, times and the flow-run tracker", () => {
    const life = new TaskLifecycle(taskRun({ flowRunRunCount: 0, empiricalPolicy: { retries: 1, retry_delay: 0 } }));
    const steps: Step<TaskRunSnapshot>[] = [
      { propose: s("PENDING"), at: 0, result: "PENDING/Pending", run: { runCount: 0, expectedStartTime: t(0), startTime: null } },
      { propose: s("RUNNING"), at: 1, result: "RUNNING/Running", run: { runCount: 1, startTime: t(1), flowRunRunCount: 1 } },
      { propose: s("FAILED"), at: 3, result: "SCHEDULED/AwaitingRetry", run: { totalRunTime: seconds(2), endTime: null, nextScheduledStartTime: t(3) } },
      { propose: s("RUNNING"), at: 4, result: "RUNNING/Retrying", run: { runCount: 2, startTime: t(1), nextScheduledStartTime: null } },
      { propose: s("FAILED"), at: 6, result: "FAILED/Failed", run: { runCount: 2, endTime: t(6), totalRunTime: seconds(4) } },
    ];
    walk<TaskRunSnapshot>((step) => life.propose(step.propose, t(step.at)), steps);

    // The flow run retries (attempt 2) and runs the task again: a fresh count.
    life.parent = parentFlow(s("RUNNING"), 2);
    walk<TaskRunSnapshot>((step) => life.propose(step.propose, t(step.at)), [
      { propose: s("RUNNING"), at: 10, result: "RUNNING/Retrying", run: { runCount: 1, endTime: null, flowRunRunCount: 2 } },
    ]);
  });

  test("a cached result completes the task without counting a run", () => {
    const ctx = runTask(
      { initial: s("PENDING"), proposed: s("RUNNING", { details: { cache_key: "k" } }), cached: s("COMPLETED") },
      CoreTaskPolicy,
      GlobalTaskPolicy,
    );
    expectOutcome(ctx, rejectedTo("COMPLETED/Cached", "Retrieved state from cache"));
    expect(ctx.run).toMatchObject({ runCount: 0, stateType: "COMPLETED", stateName: "Cached", startTime: NOW, endTime: NOW });
  });
});
