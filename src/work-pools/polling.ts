/**
 * Worker polling (models/workers.get_scheduled_flow_runs and the legacy
 * work_queues get_runs): which SCHEDULED runs a worker may pick up, and the
 * side effects of a poll. Nothing changes state here: the worker then proposes
 * PENDING and orchestration arbitrates races between workers.
 */
import type { FlowRunWithState } from "../db/repos/flow-runs";
import type { WorkPoolRow, WorkQueueRow } from "../db/repos/work-pools";
import type { Store } from "../db/store";
import type { Micros } from "../lib/time";

export interface PollWindow {
  before: Micros | null;
  after: Micros | null;
}

export interface PolledRun {
  workPoolId: string;
  workQueueId: string;
  run: FlowRunWithState;
}

/** Slots left under a limit given how many runs hold one; unlimited when there is no limit. */
const available = (limit: number | null, used: number): number => (limit === null ? Infinity : Math.max(0, limit - used));

/**
 * Walks the queues in priority order, each giving its soonest runs up to its own free
 * slots, until `limit` or the pool's free slots are used up. Paused pools and queues give nothing.
 */
export function selectScheduledRuns(
  store: Store,
  pool: WorkPoolRow,
  queues: WorkQueueRow[],
  window: PollWindow,
  limit: number,
): PolledRun[] {
  if (pool.isPaused) return [];
  const open = queues.filter((q) => !q.isPaused).sort((a, b) => a.priority - b.priority);
  const allQueueIds = store.workPools.queuesOfPoolSync(pool.id).map((q) => q.id);
  const active = store.flowRuns.activeCountsSync(allQueueIds, ["PENDING", "RUNNING"]);
  const poolUsed = [...active.values()].reduce((a, b) => a + b, 0);
  let remaining = Math.min(limit, available(pool.concurrencyLimit, poolUsed));
  const selected: PolledRun[] = [];
  for (const queue of open) {
    if (remaining <= 0) break;
    const take = Math.min(remaining, available(queue.concurrencyLimit, active.get(queue.id) ?? 0));
    for (const run of store.flowRuns.pollableInQueueSync(queue.id, window, take)) {
      selected.push({ workPoolId: pool.id, workQueueId: queue.id, run });
    }
    remaining = Math.min(limit, available(pool.concurrencyLimit, poolUsed)) - selected.length;
  }
  return selected;
}

/**
 * The legacy `/work_queues/{id}/get_runs` selection (query_components.get_scheduled_flow_runs_from_work_queues):
 * one queue, nothing when it is paused, its slots counting PENDING, RUNNING and CANCELLING runs; the
 * pool's pause and limit play no part there. In-process retries stay excluded, as for workers.
 */
export function selectLegacyQueueRuns(store: Store, queue: WorkQueueRow, window: PollWindow, limit: number): FlowRunWithState[] {
  if (queue.isPaused) return [];
  const used = store.flowRuns.activeCountsSync([queue.id], ["PENDING", "RUNNING", "CANCELLING"]).get(queue.id) ?? 0;
  return store.flowRuns.pollableInQueueSync(queue.id, window, Math.min(limit, available(queue.concurrencyLimit, used)));
}

/**
 * A poll is a sign of life: the polled queues record `last_polled` (NOT_READY ones
 * become READY), the pool becomes READY (decisions.md #8) and the queues' deployments
 * become READY at once (decisions.md #9).
 */
export function recordPoll(store: Store, poolId: string, queueIds: string[], now: Micros): void {
  store.workPools.markQueuesPolledSync(queueIds, now);
  store.workPools.markPoolPolledSync(poolId, now);
  store.deployments.markPolledByQueuesSync(queueIds, now);
}
