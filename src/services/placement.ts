/**
 * Where each background service runs when several replicas share one PostgreSQL database
 * (issue 9; README "Services on several replicas"). The one place this is decided.
 *
 * - "leader": the loop ticks only on the replica holding the service's leadership (an advisory
 *   lock on PostgreSQL, asked before every pass; SQLite's one process always leads). A standby
 *   takes over at its first pass after the lock is released, so within one loop interval.
 *   Each is also safe when a pass of the old leader overlaps the new one's, as the why says.
 * - "every replica": it works on what only this replica received, and is idempotent by
 *   construction, so the replicas never need to agree who runs it.
 */
import type { Leadership } from "../db/leadership";
import { PeriodicService, type Service } from "./service";

export type Placement = "leader" | "every replica";

export const SERVICE_PLACEMENT: Readonly<Record<string, { runsOn: Placement; why: string }>> = {
  Scheduler: {
    runsOn: "leader",
    why: "each pass reads every deployment running low; a run's idempotency key (unique per flow) keeps an overlapping pass from adding a duplicate",
  },
  RecentDeploymentsScheduler: { runsOn: "leader", why: "as Scheduler, for the deployments changed in the last seconds" },
  MarkLateRuns: { runsOn: "leader", why: "a sweep of all scheduled runs; each mark is set only if the run is still in the state read" },
  Foreman: { runsOn: "leader", why: "sweeps every worker, pool, queue and deployment; each update applies only to what is still ONLINE or READY, so a second pass changes nothing" },
  CancellationCleanup: {
    runsOn: "leader",
    why: "sweeps cancelled and cancelling runs; each cancellation is set only if the run is still in the state read, so a run's teardown is queued once",
  },
  FailExpiredPauses: { runsOn: "leader", why: "a sweep of paused runs; each failure is set only if the run is still in the state read" },
  Repossessor: { runsOn: "leader", why: "a sweep of leases; each is revoked in its own transaction that checks it is still expired" },
  EventRetention: { runsOn: "leader", why: "deletes old events in batches; on PostgreSQL rows another delete holds are skipped" },
  AutomationTriggers: {
    runsOn: "leader",
    why: "proactive triggers and the bucket sweeps are evaluated by the leader only; every replica still evaluates the events it received (buckets are updated FOR UPDATE)",
  },
  EventPersister: {
    runsOn: "every replica",
    why: "writes the events this replica received; an event's id is its key (ON CONFLICT DO NOTHING), so one sent twice or to two replicas is stored once",
  },
  TaskRunRecorder: {
    runsOn: "every replica",
    why: "records the task-run events this replica received; a state is keyed by its event's id and a run takes only a newer state, so events of one run may arrive on any replica in any order",
  },
  AutomationActions: {
    runsOn: "every replica",
    why: "each queued action is claimed under a lease (FOR UPDATE SKIP LOCKED on PostgreSQL), so it runs on one replica however many look",
  },
};

/** Hands the leader-only services the store's leadership; fails on a service missing from the table. */
export function placeServices(services: Service[], leadership: Leadership): Service[] {
  for (const service of services) {
    const placement = SERVICE_PLACEMENT[service.name];
    if (!placement) throw new Error(`${service.name} has no placement in SERVICE_PLACEMENT`);
    if (placement.runsOn !== "leader") continue;
    if (!(service instanceof PeriodicService)) throw new Error(`${service.name} runs on the leader but has no loop that asks for leadership`);
    service.ledBy(leadership);
  }
  return services;
}
