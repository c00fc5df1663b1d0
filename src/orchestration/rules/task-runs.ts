/** Task-run rules of Prefect's CoreTaskPolicy (orchestration/core_policy.py). */
import { ALL_STATES, OrchestrationRule, states } from "../engine";
import type { TaskRunSnapshot } from "../context";
import { clampedPoissonInterval } from "../../lib/poisson";
import {
  TERMINAL_STATES,
  carriesPersistedResult,
  freshCopy,
  isFinal,
  newState,
  type State,
  type StateType,
} from "../states";

/** Prefect's default PREFECT_SERVER_TASKS_MAX_CACHE_KEY_LENGTH. */
export const MAX_CACHE_KEY_LENGTH = 2000;

/** A RUNNING proposal with a cache key is answered with the cached COMPLETED state when one is valid. */
export class CacheRetrieval extends OrchestrationRule<TaskRunSnapshot> {
  static readonly FROM_STATES = ALL_STATES;
  static readonly TO_STATES = states("RUNNING");

  override before(_initial: State | null, proposed: State | null): void {
    if (!proposed?.state_details.cache_key || proposed.state_details.refresh_cache) return;
    const cached = this.ctx.extras.cachedState;
    if (cached) {
      this.reject({ ...freshCopy(cached, this.ctx.now), name: "Cached" }, "Retrieved state from cache");
    }
  }
}

/** Terminal task runs may not be paused, cancelled or crashed; re-running resets the retry count. */
export class HandleTaskTerminalStateTransitions extends OrchestrationRule<TaskRunSnapshot> {
  static readonly FROM_STATES = new Set<StateType | null>(TERMINAL_STATES);
  static readonly TO_STATES = ALL_STATES;
  private originalRunCount = 0;

  override before(initial: State | null, proposed: State | null): void {
    if (!initial || !proposed) return;
    this.originalRunCount = this.ctx.run.runCount;
    if (proposed.type === "CANCELLING" || proposed.type === "PAUSED" || proposed.type === "CRASHED") {
      return this.abort(`Run is already ${initial.type}.`);
    }
    if (initial.type === "COMPLETED" && carriesPersistedResult(initial)) {
      return this.reject(null, "This run is already completed.");
    }
    if (!isFinal(proposed.type)) this.ctx.run.runCount = 0;
    const flowRun = this.ctx.extras.parentFlowRun;
    if (proposed.type === "RUNNING" && flowRun && this.ctx.run.flowRunRunCount < flowRun.runCount) {
      this.rename("Retrying");
    }
  }

  override cleanup(): void {
    this.ctx.run.runCount = this.originalRunCount;
  }
}

/** Tasks only run inside a running flow; inside a paused flow they wait as Paused("NotReady"). */
export class PreventRunningTasksFromStoppedFlows extends OrchestrationRule<TaskRunSnapshot> {
  static readonly FROM_STATES = ALL_STATES;
  static readonly TO_STATES = states("RUNNING");

  override before(): void {
    const flowRun = this.ctx.extras.parentFlowRun;
    if (!flowRun) return;
    const flowState = flowRun.state;
    if (!flowState) return this.abort("The enclosing flow must be running to begin task execution.");
    if (flowState.type === "PAUSED") {
      const paused = newState("PAUSED", this.ctx.now, {
        name: "NotReady",
        state_details: {
          pause_timeout: flowState.state_details.pause_timeout,
          pause_reschedule: flowState.state_details.pause_reschedule,
        },
      });
      return this.reject(paused, `The flow is paused, new tasks can execute after resuming flow run: ${flowRun.id}.`);
    }
    if (flowState.type !== "RUNNING") this.abort("The enclosing flow must be running to begin task execution.");
  }
}

/** A failing task with retries left is answered with AwaitingRetry after its (jittered) delay. */
export class RetryFailedTasks extends OrchestrationRule<TaskRunSnapshot> {
  static readonly FROM_STATES = states("RUNNING");
  static readonly TO_STATES = states("FAILED");

  override before(initial: State | null, proposed: State | null): void {
    if (!initial || !proposed) return;
    const { runCount, empiricalPolicy: policy } = this.ctx.run;
    if (proposed.state_details.retriable === false) return;
    if (policy.retries == null || runCount > policy.retries) return;
    const delaySeconds = retryDelaySeconds(policy.retry_delay, policy.retry_jitter_factor, runCount);
    const retry = newState("SCHEDULED", this.ctx.now, {
      name: "AwaitingRetry",
      message: proposed.message,
      data: proposed.data,
      state_details: { scheduled_time: this.ctx.now + Math.round(delaySeconds * 1_000_000) },
    });
    this.reject(retry, "Retrying");
  }
}

/** The delay before retry number `runCount`: list delays are indexed, jitter is Prefect's clamped Poisson. */
export function retryDelaySeconds(
  retryDelay: number | number[] | null,
  jitterFactor: number | null,
  runCount: number,
  random: () => number = Math.random,
): number {
  const base = Array.isArray(retryDelay)
    ? (retryDelay.at(Math.min(runCount - 1, retryDelay.length - 1)) ?? 0) // negative index as in Python
    : (retryDelay ?? 0);
  if (!jitterFactor || base <= 0) return base;
  return clampedPoissonInterval(base, jitterFactor, random);
}

/** Remember which flow-run attempt this task attempt belongs to (drives task "Retrying" names). */
export class UpdateFlowRunTrackerOnTasks extends OrchestrationRule<TaskRunSnapshot> {
  static readonly FROM_STATES = ALL_STATES;
  static readonly TO_STATES = states("RUNNING");

  override after(): void {
    if (this.ctx.run.flowRunId === null) return;
    const flowRun = this.ctx.extras.parentFlowRun;
    if (!flowRun) {
      throw new Error(
        `Unable to read flow run associated with task run: ${this.ctx.run.id}, this flow run might have been deleted`,
      );
    }
    this.ctx.run.flowRunRunCount = flowRun.runCount;
  }
}

/** COMPLETED states with a cache key are remembered; overlong keys are refused. */
export class CacheInsertion extends OrchestrationRule<TaskRunSnapshot> {
  static readonly FROM_STATES = ALL_STATES;
  static readonly TO_STATES = states("COMPLETED");

  override before(_initial: State | null, proposed: State | null): void {
    const key = proposed?.state_details.cache_key;
    if (proposed && key && key.length > MAX_CACHE_KEY_LENGTH) {
      this.reject(proposed, `Cache key exceeded maximum allowed length of ${MAX_CACHE_KEY_LENGTH} characters.`);
    }
  }

  override after(_initial: State | null, validated: State | null): void {
    const key = validated?.state_details.cache_key;
    if (!validated || !key) return;
    this.ctx.effects.push({
      kind: "insert_cache",
      cacheKey: key,
      cacheExpiration: validated.state_details.cache_expiration,
      stateId: validated.id,
    });
  }
}
