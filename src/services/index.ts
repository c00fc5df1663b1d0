/** The background services a server runs (unless started with --no-services). */
import type { AppContext } from "../context";
import { Repossessor } from "./repossessor";
import type { Service } from "./service";

export function createServices(ctx: AppContext): Service[] {
  const { store, clock, logger, config } = ctx;
  return [new Repossessor(store.concurrencyLimits, clock, logger, config.services.repossessorLoopSeconds)];
}
