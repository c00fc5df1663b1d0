/**
 * How the events one replica publishes reach the other replicas on the same database: the
 * data layer's part of the event bus (src/events/bus.ts). On SQLite there is one server
 * process, so nothing is relayed; src/db/postgres/event-relay.ts is PostgreSQL's.
 */
import type { ReceivedEvent } from "../events/model";
import type { Logger } from "../logger";

export interface EventRelay {
  /** Hands the events this replica published to the others, in order; returns at once. */
  send(events: ReceivedEvent[]): void;
  /**
   * From now on, the events the other replicas published go to `receive`, in the order they
   * were relayed, each once; what goes wrong on the way is logged to `logger`.
   */
  connect(receive: (events: ReceivedEvent[]) => void, logger: Logger): void;
}

/** One process: no other replica to relay to. */
export const NO_RELAY: EventRelay = {
  send() {},
  connect() {},
};
