/**
 * Prefect's EventPersister (events/services/event_persister.py): every event on the
 * bus is written to the `events` tables, where `/events/filter`, `/events/count-by`
 * and the `/events/out` backfill read them. Events are written once a batch is full
 * (PREFECT_SERVER_SERVICES_EVENT_PERSISTER_BATCH_SIZE, 20), together with every other
 * event that arrived in the same event-loop turn, and on every flush interval (5 s);
 * a failed write is retried on the next flush, and after five
 * failures in a row its events are dropped so one bad batch cannot grow the queue
 * forever.
 */
import type { AppContext } from "../context";
import { EventConsumer } from "./event-consumer";
import type { ReceivedEvent } from "../events/model";

/** PREFECT_SERVER_SERVICES_EVENT_PERSISTER_QUEUE_MAX_SIZE: beyond this, new events are dropped. */
const QUEUE_MAX_SIZE = 50_000;
/**
 * A burst is written in pieces of at most about this many events, without waiting for the
 * end of the event-loop turn: it bounds the queue and how long one flush holds the write lock.
 */
const LARGE_BATCH = 2_000;
/** PREFECT_SERVER_SERVICES_EVENT_PERSISTER_MAX_FLUSH_RETRIES */
const MAX_FLUSH_RETRIES = 5;

export class EventPersister extends EventConsumer<ReceivedEvent> {
  readonly name = "EventPersister";
  private failures = 0;

  constructor(ctx: AppContext) {
    super(ctx, ctx.config.services.eventPersisterFlushInterval, ctx.config.services.eventPersisterBatchSize);
  }

  protected enqueue(event: ReceivedEvent): boolean {
    if (this.queue.length >= QUEUE_MAX_SIZE) {
      this.logger.warning(`Event queue full (${this.queue.length}/${QUEUE_MAX_SIZE}), dropping event id=${event.id}`);
      return false;
    }
    this.queue.push(event);
    if (this.queue.length === LARGE_BATCH) queueMicrotask(() => void this.flush());
    return true;
  }

  /**
   * After the I/O callbacks of this event-loop turn: every event a burst on `/events/in`
   * delivered joins the batch, so a flush is one large insert rather than one per 20 events.
   */
  protected override scheduleFlush(flush: () => void): void {
    setImmediate(flush);
  }

  protected flushFullBatches(): Promise<number> {
    return this.flush();
  }

  /** Writes everything queued in one transaction (after the writes already started); returns how many events were new. */
  flush(): Promise<number> {
    return this.inTurn(() => this.writeQueued());
  }

  private async writeQueued(): Promise<number> {
    if (this.queue.length === 0) return 0;
    const batch = this.queue;
    this.queue = [];
    try {
      const written = await this.ctx.store.write((tx) => tx.events.write(batch, this.clock.now()));
      this.failures = 0;
      return written;
    } catch (error) {
      this.failures++;
      if (this.failures >= MAX_FLUSH_RETRIES) {
        this.logger.error(`Max flush retries (${MAX_FLUSH_RETRIES}) reached, dropping ${batch.length} events`, error);
        this.failures = 0;
      } else {
        this.logger.warning(`Error flushing events (attempt ${this.failures}/${MAX_FLUSH_RETRIES}), restoring to queue`, error);
        this.queue = batch.concat(this.queue).slice(0, QUEUE_MAX_SIZE);
      }
      return 0;
    }
  }
}
