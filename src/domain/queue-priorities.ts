/**
 * Work-queue priorities within a pool (1 = highest), as Prefect assigns them:
 * unique positive integers, changed as little as possible. Pure functions; the
 * repository reads and writes the rows.
 */

export interface RankedQueue {
  id: string;
  priority: number;
}

/**
 * The priority of a queue created without one: the first gap in 1, 2, 3, ...,
 * else one past the highest (Prefect's create_work_queue).
 */
export function firstFreePriority(taken: number[]): number {
  const sorted = [...taken].sort((a, b) => a - b);
  for (const [i, priority] of sorted.entries()) {
    if (priority !== i + 1) return i + 1;
  }
  return (sorted.at(-1) ?? 0) + 1;
}

/**
 * Prefect's bulk_update_work_queue_priorities: gives each queue in `targets` its
 * requested priority and pushes the queues at or after that point down just far
 * enough to keep priorities unique and in their previous order. Gaps are kept, and a
 * target beyond every other queue keeps its value (Prefect does not renumber it).
 *
 * `queues` must be ordered by priority; returns every queue's resulting priority.
 */
export function rebalancePriorities(queues: RankedQueue[], targets: ReadonlyMap<string, number>): Map<string, number> {
  const ordered = queues.filter((q) => !targets.has(q.id)).map((q) => ({ ...q }));
  const result = new Map<string, number>();
  const moved = queues
    .filter((q) => targets.has(q.id))
    .map((q) => ({ id: q.id, priority: targets.get(q.id)! }))
    .sort((a, b) => a.priority - b.priority);
  for (const { id, priority } of moved) {
    result.set(id, priority);
    const at = ordered.findIndex((q) => q.priority >= priority);
    if (at >= 0) ordered.splice(at, 0, { id, priority });
  }
  let last = 0;
  for (const queue of ordered) {
    last = queue.priority <= last ? last + 1 : queue.priority;
    result.set(queue.id, last);
  }
  return result;
}
