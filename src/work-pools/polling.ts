/**
 * Worker polling (models/workers.get_scheduled_flow_runs and the legacy
 * work_queues get_runs): which SCHEDULED runs a worker may pick up, and the
 * side effects of a poll. Nothing changes state here: the worker then proposes
 * PENDING and orchestration arbitrates races between workers.
 */
import type { FlowRunWithState } from "../db/repos/flow-runs";
import type { WorkPoolRow, WorkQueueRow } from "../db/repos/work-pools";
import type { Store, WriteTx } from "../db/store";
import type { Op } from "../db/unit-of-work";
import { NotFound } from "../domain/errors";
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

/** A worker's poll of a pool (`/work_pools/{name}/get_scheduled_flow_runs`): the runs it may take, and the poll recorded, in one transaction. */
export function pollWorkPool(store: Store, poolName: string, queueNames: string[] | null | undefined, window: PollWindow, limit: number, now: Micros): Promise<PolledRun[]> {
  return store.write(function* (tx) {
    const pool = yield* tx.workPools.poolByName(poolName);
    if (!pool) throw new NotFound(`Work pool "${poolName}" not found.`);
    const queues: WorkQueueRow[] = [];
    if (queueNames?.length) {
      for (const name of queueNames) {
        const queue = yield* tx.workPools.queueInPool(poolName, name);
        if (!queue) throw new NotFound(`Work pool queue '${poolName}/${name}' not found.`);
        queues.push(queue);
      }
    } else {
      queues.push(...(yield* tx.workPools.queuesOfPool(pool.id)));
    }
    const runs = yield* selectScheduledRuns(tx, pool, queues, window, limit);
    yield* recordPoll(tx, pool.id, queues.map((q) => q.id), now);
    return runs;
  });
}

/** The legacy `/work_queues/{id}/get_runs`; a poll is recorded unless `recordsPoll` is false (the UI's preview). */
export function pollLegacyQueue(store: Store, queueId: string, window: PollWindow, limit: number, recordsPoll: boolean, now: Micros): Promise<FlowRunWithState[]> {
  return store.write(function* (tx) {
    const queue = yield* tx.workPools.queueById(queueId);
    // models/work_queues.get_runs_in_work_queue raises ObjectNotFoundError
    if (!queue) throw new NotFound(`Work queue with id ${queueId} not found.`, "exception_message");
    const selected = yield* selectLegacyQueueRuns(tx, queue, window, limit);
    if (recordsPoll) yield* recordPoll(tx, queue.workPoolId, [queue.id], now);
    return selected;
  });
}

/**
 * Walks the queues in priority order, each giving its soonest runs up to its own free
 * slots, until `limit` or the pool's free slots are used up. Paused pools and queues give nothing.
 */
function* selectScheduledRuns(tx: WriteTx, pool: WorkPoolRow, queues: WorkQueueRow[], window: PollWindow, limit: number): Op<PolledRun[]> {
  if (pool.isPaused) return [];
  const open = queues.filter((q) => !q.isPaused).sort((a, b) => a.priority - b.priority);
  const allQueueIds = (yield* tx.workPools.queuesOfPool(pool.id)).map((q) => q.id);
  const active = yield* tx.flowRuns.activeCounts(allQueueIds, ["PENDING", "RUNNING"]);
  const poolUsed = [...active.values()].reduce((a, b) => a + b, 0);
  let remaining = Math.min(limit, available(pool.concurrencyLimit, poolUsed));
  const selected: PolledRun[] = [];
  for (const queue of open) {
    if (remaining <= 0) break;
    const take = Math.min(remaining, available(queue.concurrencyLimit, active.get(queue.id) ?? 0));
    for (const run of yield* tx.flowRuns.pollableInQueue(queue.id, window, take)) {
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
function* selectLegacyQueueRuns(tx: WriteTx, queue: WorkQueueRow, window: PollWindow, limit: number): Op<FlowRunWithState[]> {
  if (queue.isPaused) return [];
  const used = (yield* tx.flowRuns.activeCounts([queue.id], ["PENDING", "RUNNING", "CANCELLING"])).get(queue.id) ?? 0;
  return yield* tx.flowRuns.pollableInQueue(queue.id, window, Math.min(limit, available(queue.concurrencyLimit, used)));
}

/**
 * A poll is a sign of life: the polled queues record `last_polled` (NOT_READY ones
 * become READY), the pool becomes READY (decisions.md #8) and the queues' deployments
 * become READY at once (decisions.md #9).
 */
function* recordPoll(tx: WriteTx, poolId: string, queueIds: string[], now: Micros): Op<void> {
  yield* tx.workPools.markQueuesPolled(queueIds, now);
  yield* tx.workPools.markPoolPolled(poolId, now);
  yield* tx.deployments.markPolledByQueues(queueIds, now);
}
