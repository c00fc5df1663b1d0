/** Timestamp uniqueness is applied to the proposal that survives the rules (the first global transform). */
import { describe, expect, test } from "bun:test";
import type { Micros } from "../../src/lib/time";
import { OrchestrationContext } from "../../src/orchestration/context";
import { orchestrate } from "../../src/orchestration/engine";
import { CoreFlowPolicy, CoreTaskPolicy } from "../../src/orchestration/policies";
import { newState, type State } from "../../src/orchestration/states";
import { GlobalFlowPolicy, GlobalTaskPolicy } from "../../src/orchestration/transforms";
import { NOW, flowRun, parentFlow, seconds, taskRun } from "./fixtures";

function flow(initial: State, proposed: State, taken: Micros[]) {
  const ctx = new OrchestrationContext(flowRun({ stateType: initial.type }), initial, proposed, NOW, { takenTimestamps: new Set(taken) });
  orchestrate(ctx, CoreFlowPolicy, GlobalFlowPolicy);
  return ctx;
}

describe("EnsureFlowRunStateTimestampIsUnique", () => {
  test.each([
    { name: "a free timestamp is kept", taken: [NOW - 1], at: NOW, expected: NOW },
    { name: "a taken one moves one microsecond on", taken: [NOW], at: NOW, expected: NOW + 1 },
    { name: "past a run of taken ones", taken: [NOW, NOW + 1, NOW + 2], at: NOW, expected: NOW + 3 },
    { name: "a backdated one stays near its time", taken: [NOW - seconds(5)], at: NOW - seconds(5), expected: NOW - seconds(5) + 1 },
  ] as { name: string; taken: Micros[]; at: Micros; expected: Micros }[])("$name", ({ taken, at, expected }) => {
    const ctx = flow(newState("PENDING", NOW - seconds(60)), newState("RUNNING", at), taken);
    expect(ctx.validatedState!.timestamp).toBe(expected);
    // The run's bookkeeping reads the adjusted timestamp.
    expect(ctx.run.stateTimestamp).toBe(expected);
    expect(ctx.run.startTime).toBe(expected);
  });

  test("a replacement state written by a rule is made unique, not the client's proposal", () => {
    // RetryFailedFlows replaces FAILED with AwaitingRetry minted at the decision time, which is taken.
    const initial = newState("RUNNING", NOW - seconds(60));
    const run = flowRun({ stateType: "RUNNING", runCount: 1, empiricalPolicy: { retries: 1, max_retries: 1 } });
    const proposed = newState("FAILED", NOW - seconds(1));
    const ctx = new OrchestrationContext(run, initial, proposed, NOW, { takenTimestamps: new Set([NOW - seconds(1) + 1, NOW]) });
    orchestrate(ctx, CoreFlowPolicy, GlobalFlowPolicy);
    expect(ctx.validatedState).toMatchObject({ type: "SCHEDULED", name: "AwaitingRetry", timestamp: NOW + 1 });
  });

  test("it is first among the global transforms", () => {
    expect(GlobalFlowPolicy[0]!.name).toBe("EnsureFlowRunStateTimestampIsUnique");
    expect(GlobalTaskPolicy[0]!.name).toBe("EnsureTaskRunStateTimestampIsUnique");
  });

  test("task runs too (their (task_run_id, timestamp) is unique as well)", () => {
    const ctx = new OrchestrationContext(taskRun(), newState("PENDING", NOW - seconds(60)), newState("RUNNING", NOW), NOW, {
      parentFlowRun: parentFlow(),
      takenTimestamps: new Set([NOW]),
    });
    orchestrate(ctx, CoreTaskPolicy, GlobalTaskPolicy);
    expect(ctx.validatedState!.timestamp).toBe(NOW + 1);
    expect(ctx.run.startTime).toBe(NOW + 1);
  });
});
