/**
 * The background services a server runs (unless started with --no-services); which of them
 * run on one replica at a time is decided in ./placement.ts.
 */
import type { AppContext } from "../context";
import { EventPersister } from "./event-persister";
import { EventRetention } from "./event-retention";
import { CancellationCleanup } from "./cancellation-cleanup";
import { Foreman } from "./foreman";
import { MarkLateRuns } from "./late-runs";
import { FailExpiredPauses } from "./pause-expirations";
import { Repossessor } from "./repossessor";
import { RecentDeploymentsScheduler, Scheduler } from "./scheduler";
import { TaskRunRecorder } from "./task-run-recorder";
import { placeServices } from "./placement";
import type { Service } from "./service";
import { AutomationActions, AutomationTriggers } from "../automations/service";

export function createServices(ctx: AppContext): Service[] {
  const { store, clock, logger, config } = ctx;
  const services: Service[] = [
    new Scheduler(ctx),
    new RecentDeploymentsScheduler(ctx),
    new MarkLateRuns(ctx),
    new Foreman(ctx),
    new CancellationCleanup(ctx),
    new FailExpiredPauses(ctx),
    new Repossessor(store, clock, logger, config.services.repossessorLoopSeconds),
    new EventPersister(ctx),
    new TaskRunRecorder(ctx),
    new EventRetention(ctx),
    new AutomationTriggers(ctx),
    new AutomationActions(ctx),
  ];
  return placeServices(services, store.leadership);
}
