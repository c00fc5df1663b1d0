/**
 * Where work-pool changes reach the worker channels connected to that pool (Prefect's
 * `work-pool-worker-channel-snapshots` topic): an update of a snapshot field or a delete
 * is published once it has committed, and every open channel of the pool hears it.
 */
import type { AppContext } from "../context";

export interface SnapshotInvalidation {
  workPoolId: string;
  reason: string;
  /** The pool is gone: its channels close. */
  deleted: boolean;
}

type Listener = (invalidation: SnapshotInvalidation) => void;

export class WorkerChannelHub {
  private readonly listeners = new Map<string, Set<Listener>>();

  /** Hears the pool's invalidations until the returned function is called. */
  subscribe(workPoolId: string, listener: Listener): () => void {
    let set = this.listeners.get(workPoolId);
    if (!set) this.listeners.set(workPoolId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(workPoolId);
    };
  }

  publish(invalidation: SnapshotInvalidation): void {
    for (const listener of this.listeners.get(invalidation.workPoolId) ?? []) listener(invalidation);
  }
}

const perServer = new WeakMap<AppContext, WorkerChannelHub>();

/** The server's one hub: shared by the routes that change pools and the channels that listen. */
export function workerChannelHub(ctx: AppContext): WorkerChannelHub {
  let hub = perServer.get(ctx);
  if (!hub) perServer.set(ctx, (hub = new WorkerChannelHub()));
  return hub;
}
