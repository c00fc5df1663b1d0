/**
 * The in-process events bus (Prefect's `events` topic on its in-memory broker).
 * Publishing stamps `received` and hands each event to every subscriber at once:
 * the persister, the task-run recorder and each `/events/out` websocket. Like
 * Prefect's publisher it drops events it has seen in the last five minutes (a
 * client re-sends unconfirmed events after reconnecting) and events too large
 * to keep.
 */
import type { Clock } from "../clock";
import type { Micros } from "../lib/time";
import type { Logger } from "../logger";
import { eventJson, MAX_EVENT_SIZE_BYTES, receive, type Event, type ReceivedEvent } from "./model";

/** The memory broker's deduplication window. */
const DEDUPLICATION_MICROS = 5 * 60 * 1_000_000;

export type EventHandler = (event: ReceivedEvent) => void;

export class EventBus {
  private readonly handlers = new Set<EventHandler>();
  private readonly closers = new Set<() => void>();
  /** Ids published within the window, oldest first (Map keeps insertion order). */
  private readonly recent = new Map<string, Micros>();

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
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
      for (const handler of this.handlers) {
        // one failing subscriber must not keep the event from the others
        try {
          handler(received);
        } catch (error) {
          this.logger.error(`event subscriber failed on ${event.event} ${event.id}`, error);
        }
      }
    }
    return published;
  }

  /** Calls `handler` with every event published from now on; returns the unsubscribe function. */
  subscribe(handler: EventHandler): () => void {
    this.handlers.add(handler);
    return () => void this.handlers.delete(handler);
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
  }

  private forgetBefore(cutoff: Micros): void {
    for (const [id, at] of this.recent) {
      if (at >= cutoff) break;
      this.recent.delete(id);
    }
  }
}

/** Where committed writes announce their events (the data layer's Store). */
export interface CommittedEvents {
  publishTo(sink: (events: Event[]) => void): void;
}

/** The bus of a server: committed writes of `store` publish their events on it. */
export function createEventBus(store: CommittedEvents, clock: Clock, logger: Logger): EventBus {
  const bus = new EventBus(clock, logger);
  store.publishTo((events) => bus.publish(events));
  return bus;
}
