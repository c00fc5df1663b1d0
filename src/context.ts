import type { Clock } from "./clock";
import type { Config } from "./config";
import type { Store } from "./db/store";
import type { EventBus } from "./events/bus";
import type { Logger } from "./logger";

/** What every route module and service is built from; `S` is the concrete store where a test needs it. */
export interface AppContext<S extends Store = Store> {
  config: Config;
  store: S;
  clock: Clock;
  logger: Logger;
  /** Events received from clients and emitted by committed writes. */
  events: EventBus;
}
