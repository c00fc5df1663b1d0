/**
 * Background (deferred) task runs (orchestration/core_policy.py): `Task.delay()` creates
 * a task run with a deferred SCHEDULED state whose `task_parameters_id` names the stored
 * parameters; the server queues it for the task workers subscribed to its task key.
 */
import { OrchestrationRule, ALL_STATES, states } from "../engine";
import type { TaskRunSnapshot } from "../context";
import type { State } from "../states";

/** SCHEDULED → PENDING → RUNNING keeps the parameters id unless the proposal names its own. */
export class CopyTaskParametersID extends OrchestrationRule<TaskRunSnapshot> {
  static readonly FROM_STATES = states("SCHEDULED", "PENDING");
  static readonly TO_STATES = states("PENDING", "RUNNING");

  override before(initial: State | null, proposed: State | null): void {
    if (!initial || !proposed) return;
    proposed.state_details.task_parameters_id ||= initial.state_details.task_parameters_id;
  }
}

/** A written deferred SCHEDULED state queues the run under its task key (AwaitingRetry on the retry queue). */
export class EnqueueScheduledTasks extends OrchestrationRule<TaskRunSnapshot> {
  static readonly FROM_STATES = ALL_STATES;
  static readonly TO_STATES = states("SCHEDULED");

  override after(_initial: State | null, validated: State | null): void {
    if (!validated?.state_details.deferred) return;
    this.ctx.effects.push({ kind: "enqueue_task_run", retry: validated.name === "AwaitingRetry" });
  }
}
