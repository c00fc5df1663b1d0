/**
 * Prefect's InstrumentFlowRunStateTransitions (orchestration/instrumentation_policies.py):
 * every flow-run state a policy writes is announced as a `prefect.flow-run.<state name>`
 * event; runners and workers learn of cancellation this way. The transform stays free
 * of I/O: it records the change, and the data layer publishes the event after commit.
 */
import type { FlowRunSnapshot } from "./context";
import type { UniversalTransform } from "./engine";

export const InstrumentFlowRunStateTransitions: UniversalTransform<FlowRunSnapshot> = {
  name: "InstrumentFlowRunStateTransitions",
  after(ctx, validated) {
    ctx.stateChanges.push({ initialState: ctx.initialState, validatedState: validated });
  },
};
