/**
 * The status machine of work pools and queues (Prefect's models/workers.py and
 * models/work_queues.py): a pool is READY while a worker is ONLINE (or, decision #8,
 * recently polled), a queue while it is polled; pausing overrides both. Agent pools,
 * the home of legacy queues, keep no status.
 */
import { MICROS_PER_SECOND, type Micros } from "../lib/time";

export type WorkPoolStatus = "READY" | "NOT_READY" | "PAUSED";
export type WorkQueueStatus = WorkPoolStatus;
export type WorkerStatus = "ONLINE" | "OFFLINE";

/** The pool legacy `/work_queues` live in, created on first use. */
export const DEFAULT_AGENT_POOL = "default-agent-pool";
/** Legacy agent pools have no status (stored as NULL). */
export const AGENT_POOL_TYPE = "prefect-agent";
export const DEFAULT_QUEUE_NAME = "default";
/** An unpaused queue is READY again only if polled this recently (Prefect's WORK_QUEUE_LAST_POLLED_TIMEOUT). */
export const QUEUE_POLL_FRESHNESS: Micros = 60 * MICROS_PER_SECOND;

/** A new pool's status: none for agent pools, else PAUSED or NOT_READY until a worker shows up. */
export const initialPoolStatus = (type: string, isPaused: boolean): WorkPoolStatus | null =>
  type === AGENT_POOL_TYPE ? null : isPaused ? "PAUSED" : "NOT_READY";

export const queueRecentlyPolled = (lastPolled: Micros | null | undefined, now: Micros): boolean =>
  lastPolled != null && now - lastPolled <= QUEUE_POLL_FRESHNESS;

/**
 * A pool's status after a PATCH that may set `is_paused`: PAUSED when paused; when
 * unpaused, READY if a worker is ONLINE, else NOT_READY. Undefined leaves it as it is
 * (no pause sent, or an agent pool).
 */
export function poolStatusAfterPauseChange(poolType: string, isPaused: boolean | null | undefined, hasOnlineWorker: () => boolean): WorkPoolStatus | undefined {
  if (poolType === AGENT_POOL_TYPE || isPaused == null) return undefined;
  if (isPaused) return "PAUSED";
  return hasOnlineWorker() ? "READY" : "NOT_READY";
}

/** Only a change of pause state moves a queue's status: re-pausing or re-unpausing leaves it as it is. */
export function queueStatusAfterPauseChange(
  status: string,
  isPaused: boolean,
  lastPolled: Micros | null | undefined,
  now: Micros,
): WorkQueueStatus | undefined {
  if (isPaused) return status === "PAUSED" ? undefined : "PAUSED";
  if (status !== "PAUSED") return undefined;
  return queueRecentlyPolled(lastPolled, now) ? "READY" : "NOT_READY";
}
