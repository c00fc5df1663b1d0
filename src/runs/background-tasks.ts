/**
 * Background task runs' delivery (Prefect's server/task_queue.py and
 * models/task_workers.py): an in-memory queue per task key, with a retry queue that
 * is served first, and the task workers currently subscribed. Like Prefect's, both
 * live in the server process only: queued runs are not restored after a restart.
 */
import type { AppContext } from "../context";
import type { Micros } from "../lib/time";

interface KeyQueue {
  retry: string[];
  scheduled: string[];
}

interface Waiter {
  keys: readonly string[];
  resolve(taskRunId: string): void;
}

/** A pending `take`: resolves with the next task run id; `cancel` gives up the place. */
export interface Take {
  promise: Promise<string>;
  cancel(): void;
}

export class TaskQueues {
  private readonly queues = new Map<string, KeyQueue>();
  private readonly waiters: Waiter[] = [];

  private queue(key: string): KeyQueue {
    let queue = this.queues.get(key);
    if (!queue) this.queues.set(key, (queue = { retry: [], scheduled: [] }));
    return queue;
  }

  /** Queues a task run under its key; a waiting subscriber of that key gets it at once. */
  enqueue(taskKey: string, taskRunId: string, retry: boolean): void {
    const waiter = this.waiters.findIndex((w) => w.keys.includes(taskKey));
    if (waiter >= 0) return this.waiters.splice(waiter, 1)[0]!.resolve(taskRunId);
    const queue = this.queue(taskKey);
    (retry ? queue.retry : queue.scheduled).push(taskRunId);
  }

  /** The next run under any of `keys`, in their order, each key's retries first (Prefect's MultiQueue). */
  take(keys: readonly string[]): Take {
    for (const key of keys) {
      const queue = this.queues.get(key);
      const next = queue?.retry.shift() ?? queue?.scheduled.shift();
      if (next !== undefined) return { promise: Promise.resolve(next), cancel() {} };
    }
    let waiter!: Waiter;
    const promise = new Promise<string>((resolve) => (waiter = { keys, resolve }));
    this.waiters.push(waiter);
    return {
      promise,
      cancel: () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
      },
    };
  }

  /** How many runs wait under the key (tests and diagnostics). */
  size(taskKey: string): number {
    const queue = this.queues.get(taskKey);
    return queue ? queue.retry.length + queue.scheduled.length : 0;
  }
}

export interface TaskWorker {
  identifier: string;
  taskKeys: string[];
  /** When the worker was last seen (subscribed or acknowledged a run). */
  timestamp: Micros;
}

/** The task workers with an open subscription (InMemoryTaskWorkerTracker). */
export class TaskWorkerTracker {
  private readonly workers = new Map<string, { keys: Set<string>; seen: Micros }>();

  observe(taskKeys: readonly string[], workerId: string, now: Micros): void {
    const worker = this.workers.get(workerId);
    this.workers.set(workerId, { keys: new Set([...(worker?.keys ?? []), ...taskKeys]), seen: now });
  }

  forget(workerId: string): void {
    this.workers.delete(workerId);
  }

  /** Every worker, or those serving any of `taskKeys`. */
  list(taskKeys: readonly string[] | null): TaskWorker[] {
    return [...this.workers]
      .filter(([, worker]) => !taskKeys?.length || taskKeys.some((key) => worker.keys.has(key)))
      .map(([identifier, worker]) => ({ identifier, taskKeys: [...worker.keys], timestamp: worker.seen }));
  }
}

export interface BackgroundTasks {
  queues: TaskQueues;
  workers: TaskWorkerTracker;
}

const perServer = new WeakMap<AppContext, BackgroundTasks>();

/** The server's one queue and tracker: shared by the routes that fill and serve them. */
export function backgroundTasks(ctx: AppContext): BackgroundTasks {
  let found = perServer.get(ctx);
  if (!found) perServer.set(ctx, (found = { queues: new TaskQueues(), workers: new TaskWorkerTracker() }));
  return found;
}
