/**
 * The in-process events bus (Prefect's `events` topic on its in-memory broker).
 * Publishing stamps `received` and hands each event to every subscriber at once:
 * the persister, the task-run recorder and each `/events/out` websocket. Like
 * Prefect's publisher it drops events it has seen in the last five minutes (a
 * client re-sends unconfirmed events after reconnecting) and events too large
 * to keep.
 *
 * With several replicas on one database (PostgreSQL), what a replica publishes is
 * relayed to the others (the store's `eventRelay`), whose buses deliver it to the
 * subscribers that serve clients (`/events/out`). Subscribers that write what they
 * see (the persister, the task-run recorder, the automation triggers) subscribe with
 * `relayed: false`: each event is then consumed once, by the replica that received it.
 */
import type { Clock } from "../clock";
import { NO_RELAY, type EventRelay } from "../db/event-relay";
import type { Micros } from "../lib/time";
import type { Logger } from "../logger";
import { eventJson, MAX_EVENT_SIZE_BYTES, receive, type Event, type ReceivedEvent } from "./model";

/** The memory broker's deduplication window. */
const DEDUPLICATION_MICROS = 5 * 60 * 1_000_000;

export type EventHandler = (event: ReceivedEvent) => void;

export interface SubscribeOptions {
  /** Also the events other replicas published (default); false for only this replica's own. */
  relayed?: boolean;
}

export class EventBus {
  private readonly handlers = new Set<EventHandler>();
  /** Subscribers to this replica's own events only. */
  private readonly localHandlers = new Set<EventHandler>();
  private readonly closers = new Set<() => void>();
  /** Ids published within the window, oldest first (Map keeps insertion order). */
  private readonly recent = new Map<string, Micros>();

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly relay: EventRelay = NO_RELAY,
  ) {}

  /** Returns the events that were published (new and not too large). */
  publish(events: Event[]): ReceivedEvent[] {
    const now = this.clock.now();
    this.forgetBefore(now - DEDUPLICATION_MICROS);
    const published: ReceivedEvent[] = [];
    for (const event of events) {
      if (this.recent.has(event.id)) continue;
      const received = receive(event, now);
      const size = Buffer.byteLength(JSON.stringify(eventJson(received)));
      if (size > MAX_EVENT_SIZE_BYTES) {
        this.logger.warning(`Refusing to publish event ${event.id} (${event.event.slice(0, 100)}) of size ${size}`);
        continue;
      }
      this.recent.set(event.id, now);
      published.push(received);
      this.deliver(received, this.localHandlers);
      this.deliver(received, this.handlers);
    }
    if (published.length > 0) this.relay.send(published);
    return published;
  }

  /**
   * Delivers events another replica published (already stamped and checked there) to the
   * subscribers of relayed events. Each counts as seen here too: a client re-sending it to
   * this replica does not publish it twice.
   */
  receiveRelayed(events: ReceivedEvent[]): void {
    const now = this.clock.now();
    this.forgetBefore(now - DEDUPLICATION_MICROS);
    for (const event of events) {
      if (this.recent.has(event.id)) continue;
      this.recent.set(event.id, now);
      this.deliver(event, this.handlers);
    }
  }

  /**
   * Calls `handler` with every event published from now on, here and (unless
   * `relayed: false`) on the other replicas; returns the unsubscribe function.
   */
  subscribe(handler: EventHandler, { relayed = true }: SubscribeOptions = {}): () => void {
    const handlers = relayed ? this.handlers : this.localHandlers;
    handlers.add(handler);
    return () => void handlers.delete(handler);
  }

  /**
   * Runs `callback` when the server shuts the stream down. Open websockets register
   * here: a connected client would otherwise hold a graceful shutdown open forever.
   */
  onClose(callback: () => void): () => void {
    this.closers.add(callback);
    return () => void this.closers.delete(callback);
  }

  /** Shuts the stream down: every `onClose` callback runs and subscribers are dropped. */
  close(): void {
    for (const callback of [...this.closers]) callback();
    this.closers.clear();
    this.handlers.clear();
    this.localHandlers.clear();
  }

  private deliver(event: ReceivedEvent, handlers: Set<EventHandler>): void {
    for (const handler of handlers) {
      // one failing subscriber must not keep the event from the others
      try {
        handler(event);
      } catch (error) {
        this.logger.error(`event subscriber failed on ${event.event} ${event.id}`, error);
      }
    }
  }

  private forgetBefore(cutoff: Micros): void {
    for (const [id, at] of this.recent) {
      if (at >= cutoff) break;
      this.recent.delete(id);
    }
  }
}

/** Where committed writes announce their events, and how events cross replicas (the data layer's Store). */
export interface CommittedEvents {
  publishTo(sink: (events: Event[]) => void): void;
  readonly eventRelay: EventRelay;
}

/**
 * The bus of a server: committed writes of `store` publish their events on it, and the
 * events other replicas publish arrive through the store's relay.
 */
export function createEventBus(store: CommittedEvents, clock: Clock, logger: Logger): EventBus {
  const bus = new EventBus(clock, logger, store.eventRelay);
  store.publishTo((events) => bus.publish(events));
  store.eventRelay.connect((events) => bus.receiveRelayed(events), logger);
  return bus;
}
