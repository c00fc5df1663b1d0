/** The background services a server runs (unless started with --no-services). */
import type { AppContext } from "../context";
import { Repossessor } from "./repossessor";
import { RecentDeploymentsScheduler, Scheduler } from "./scheduler";
import type { Service } from "./service";

export function createServices(ctx: AppContext): Service[] {
  const { store, clock, logger, config } = ctx;
  return [
    new Scheduler(ctx),
    new RecentDeploymentsScheduler(ctx),
    new Repossessor(store.concurrencyLimits, clock, logger, config.services.repossessorLoopSeconds),
  ];
}
